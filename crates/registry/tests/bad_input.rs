//! Every bad input named by the registry issue, through the public reader:
//! each yields an error naming file, line and field, and nothing panics.

use std::path::Path;

use shouwang_registry::io::{Limits, read_json, read_path};
use shouwang_registry::{Bundle, Known, validate};

const REGIONS: &str = "code,name_zh,name_en,level,parent\nP1,云岭省,Yunling,province,\nC1,青川市,Qingchuan,city,P1\n";
const UNITS: &str = "code,name_zh,kind,region\nU1,青川市第一中学,school,C1\n";

fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(d.path().join(name), body).unwrap();
    }
    d
}

/// Reads and validates; returns all messages (empty = accepted).
fn errors(files: &[(&str, &[u8])]) -> Vec<String> {
    let d = dir_with(files);
    match read_path(d.path(), Limits::default()) {
        Err(errs) => errs.iter().map(|e| strip(d.path(), &e.to_string())).collect(),
        Ok(b) => validate(&b, &Known::default()).iter().map(|e| strip(d.path(), &e.to_string())).collect(),
    }
}

fn strip(dir: &Path, s: &str) -> String {
    s.replace(&format!("{}/", dir.display()), "")
}

fn assets(rows: &str) -> Vec<String> {
    let body = format!("unit,kind,value\n{rows}");
    errors(&[("regions.csv", REGIONS.as_bytes()), ("units.csv", UNITS.as_bytes()), ("assets.csv", body.as_bytes())])
}

#[test]
fn malformed_cidrs_name_line_and_field() {
    let e = assets("U1,cidr,10.0.0.0/24\nU1,cidr,10.0.0.0/33\nU1,cidr,1.2.3\nU1,cidr,10.1.2.3/8\n");
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].starts_with("assets.csv:3:value: prefix length `33`"), "{}", e[0]);
    assert!(e[1].starts_with("assets.csv:4:value: `1.2.3` is not an IPv4"), "{}", e[1]);
    assert!(e[2].starts_with("assets.csv:5:value:") && e[2].contains("host bits set") && e[2].contains("10.0.0.0/8"), "{}", e[2]);
}

#[test]
fn backwards_range() {
    let e = assets("U1,range,192.0.2.20-192.0.2.10\n");
    assert_eq!(e, vec!["assets.csv:2:value: range `192.0.2.20-192.0.2.10` runs backwards (start is above end)"]);
}

#[test]
fn duplicate_units_and_unknown_parents() {
    let units = "code,name_zh,kind,region,supervisor\nU1,甲,school,C1,\nU1,乙,school,C1,\nU2,丙,school,C9,\nU3,丁,school,C1,U404\n";
    let e = errors(&[("regions.csv", REGIONS.as_bytes()), ("units.csv", units.as_bytes())]);
    assert_eq!(
        e,
        vec![
            "units.csv:3:code: duplicate unit `U1` (first at units.csv:2)",
            "units.csv:4:region: unknown region `C9`",
            "units.csv:5:supervisor: unknown supervising unit `U404`",
        ]
    );
    let regions = "code,name_zh,level,parent\nC1,青川市,city,P404\n";
    let e = errors(&[("regions.csv", regions.as_bytes())]);
    assert_eq!(e, vec!["regions.csv:2:parent: unknown parent region `P404`"]);
}

#[test]
fn cycles_in_both_hierarchies() {
    let units = "code,name_zh,kind,region,supervisor\nA,甲,other,C1,B\nB,乙,other,C1,C\nC,丙,other,C1,A\nD,丁,other,C1,A\n";
    let e = errors(&[("regions.csv", REGIONS.as_bytes()), ("units.csv", units.as_bytes())]);
    assert_eq!(e.len(), 3, "{e:?}");
    assert_eq!(e[0], "units.csv:2:supervisor: supervision has a cycle: A → B → C → A");
    let regions = "code,name_zh,level,parent\nX,甲,city,Y\nY,乙,district,X\n";
    let e = errors(&[("regions.csv", regions.as_bytes())]);
    assert!(e.iter().any(|m| m.contains("region hierarchy has a cycle: X → Y → X")), "{e:?}");
}

#[test]
fn invalid_utf8_names_the_field() {
    let units = b"code,name_zh,kind,region\nU1,\xe9\x9d\x92\xff,school,C1\n";
    let e = errors(&[("regions.csv", REGIONS.as_bytes()), ("units.csv", units)]);
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("units.csv:2:name_zh: is not valid UTF-8 (bad byte at offset 3)"), "{}", e[0]);
}

#[test]
fn gbk_file_from_excel_gets_a_fix_it_hint() {
    // "青川" in GBK, as Excel on Chinese Windows saves CSV by default.
    let units = b"code,name_zh,kind,region\nU1,\xc7\xe0\xb4\xa8,school,C1\n";
    let e = errors(&[("regions.csv", REGIONS.as_bytes()), ("units.csv", units)]);
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("units.csv:2:name_zh: is not valid UTF-8") && e[0].contains("GBK"), "{}", e[0]);
}

#[test]
fn spreadsheet_formulas_are_neutralised_on_export_and_round_trip() {
    let units = "code,name_zh,kind,region,sector\nU1,=HYPERLINK(\"http://x\"),school,C1,'quoted\n";
    let contacts = "unit,role,name,phone\nU1,security,@SUM(A1),+86 531 0000 0000\n";
    let d = dir_with(&[("regions.csv", REGIONS.as_bytes()), ("units.csv", units.as_bytes()), ("contacts.csv", contacts.as_bytes())]);
    let b = read_path(d.path(), Limits::default()).unwrap();
    // A leading ' in a file is the spreadsheet text marker and is dropped.
    assert_eq!(b.units[0].1.sector, "quoted");
    let out = tempfile::tempdir().unwrap();
    shouwang_registry::io::write_csv_dir(&b, out.path()).unwrap();
    let written = std::fs::read_to_string(out.path().join("units.csv")).unwrap();
    assert!(written.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{written}");
    let written = std::fs::read_to_string(out.path().join("contacts.csv")).unwrap();
    assert!(written.contains(",'@SUM(A1),'+86 531 0000 0000,"), "{written}");
    let b2 = read_path(out.path(), Limits::default()).unwrap();
    assert_eq!(b2.units[0].1.name_zh, "=HYPERLINK(\"http://x\")");
    assert_eq!(b2.contacts[0].1.phone.as_deref(), Some("+86 531 0000 0000"));
}

#[test]
fn bom_is_accepted() {
    let units = format!("\u{feff}{UNITS}");
    assert_eq!(errors(&[("regions.csv", REGIONS.as_bytes()), ("units.csv", units.as_bytes())]), Vec::<String>::new());
}

#[test]
fn wrong_and_missing_columns() {
    let e = errors(&[("units.csv", b"code,name_zh,colour,region\nU1,x,red,C1\n")]);
    assert!(e.iter().any(|m| m.starts_with("units.csv:1: unknown column `colour`")), "{e:?}");
    assert!(e.iter().any(|m| m == "units.csv:1: missing required column `kind`"), "{e:?}");
    let e = errors(&[("regions.csv", REGIONS.as_bytes()), ("units.csv", b"code,name_zh,kind,region\nU1,x,school\n")]);
    assert_eq!(e, vec!["units.csv:2: has 3 fields, the header has 4"]);
}

#[test]
fn ten_gigabyte_file_is_refused_unread() {
    let d = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(d.path().join("assets.csv")).unwrap();
    f.set_len(10 * 1024 * 1024 * 1024).unwrap(); // sparse: no disk used
    let e = read_path(&d.path().join("assets.csv"), Limits::default()).unwrap_err();
    assert!(e[0].to_string().contains("is 10737418240 bytes, over the import limit"), "{}", e[0]);
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let doc = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = read_json("deep.json".into(), doc.as_bytes()).unwrap_err();
    assert!(e[0].to_string().starts_with("deep.json:1: invalid JSON: recursion limit exceeded"), "{}", e[0]);
}

#[test]
fn json_errors_name_the_record() {
    let doc = r#"{"format":"shouwang-registry","version":1,
      "units":[{"code":"U1","name_zh":"甲","kind":"school","region":"C1"},{"code":"U2","name_zh":"乙","kind":"spaceship","region":"C1"},{"code":"U3","colour":"red"}]}"#;
    let e = read_json("r.json".into(), doc.as_bytes()).unwrap_err();
    let e: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert!(e[0].starts_with("r.json:units:#1:kind: `spaceship` is not one of"), "{e:?}");
    assert_eq!(e[1], "r.json:units:#2:colour: unknown field");
}

#[test]
fn csv_and_json_round_trip() {
    let assets = "unit,kind,value,mlps_level,mlps_filing,cii,cii_department,system\n\
        U1,system,教务系统,3,37010099999-00001,true,省教育厅,\n\
        U1,cidr,192.0.2.0/24,,,,,教务系统\n\
        U1,domain,*.school.example.test,,,,,\n\
        U1,url,https://portal.example.test/app,,,,,\n";
    let contacts = "unit,role,name,phone,email\nU1,第一责任人,张三,+86 531 0000 0000,head@school.example.test\n";
    let d = dir_with(&[
        ("regions.csv", REGIONS.as_bytes()),
        ("units.csv", UNITS.as_bytes()),
        ("contacts.csv", contacts.as_bytes()),
        ("assets.csv", assets.as_bytes()),
    ]);
    let b = read_path(d.path(), Limits::default()).unwrap();
    assert!(validate(&b, &Known::default()).is_empty());
    let out = tempfile::tempdir().unwrap();
    shouwang_registry::io::write_csv_dir(&b, out.path()).unwrap();
    let b2 = read_path(out.path(), Limits::default()).unwrap();
    assert_same(&b, &b2);
    let json = serde_json::to_vec_pretty(&shouwang_registry::io::to_json(&b2)).unwrap();
    let b3 = read_json("x.json".into(), &json).unwrap();
    assert_same(&b, &b3);
    // Writing the re-read bundle gives the same bytes.
    let out2 = tempfile::tempdir().unwrap();
    shouwang_registry::io::write_csv_dir(&b3, out2.path()).unwrap();
    for f in ["regions.csv", "units.csv", "contacts.csv", "assets.csv"] {
        assert_eq!(std::fs::read(out.path().join(f)).unwrap(), std::fs::read(out2.path().join(f)).unwrap(), "{f}");
    }
}

fn assert_same(a: &Bundle, b: &Bundle) {
    let strip = |v: &[(shouwang_registry::Origin, shouwang_registry::Asset)]| v.iter().map(|(_, x)| x.clone()).collect::<Vec<_>>();
    assert_eq!(strip(&a.assets), strip(&b.assets));
    assert_eq!(a.units.iter().map(|x| &x.1).collect::<Vec<_>>(), b.units.iter().map(|x| &x.1).collect::<Vec<_>>());
    assert_eq!(a.contacts.iter().map(|x| &x.1).collect::<Vec<_>>(), b.contacts.iter().map(|x| &x.1).collect::<Vec<_>>());
    assert_eq!(a.regions.iter().map(|x| &x.1).collect::<Vec<_>>(), b.regions.iter().map(|x| &x.1).collect::<Vec<_>>());
}

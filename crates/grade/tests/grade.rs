//! Categories, the category map and levels, through the public API.

use shouwang_grade::{Categories, CategoryMap, GradingTable, Impact, Importance, Label, LabelSource, Level, Loss};
use shouwang_registry::{Criticality, PortalTier};

#[test]
fn the_built_in_category_table_is_the_shared_one() {
    let c = Categories::builtin();
    assert_eq!((c.edition.as_str(), c.len()), ("GB/T 20986-2023", 76));
    let parents: std::collections::BTreeSet<&str> = c.iter().map(|x| x.parent_code.as_str()).collect();
    assert_eq!(parents.len(), 10, "ten categories: {parents:?}");
    let e = c.get("NAEXPLOIT").unwrap();
    assert_eq!((e.name_zh.as_str(), e.parent_zh.as_str()), ("漏洞利用事件", "网络攻击事件"));
    // The product ships its own copy; it must be the domain brief's table.
    let shared = shouwang_demo::shared_dir().unwrap_or_else(|e| panic!("{e}")).join("domain/gbt20986-2023.csv");
    assert_eq!(std::fs::read_to_string(shared).unwrap(), include_str!("../data/gbt20986-2023.csv"));
    assert!(Categories::from_csv("x", "a,b,c,d,e,f\nNA,x,y,,z,w\n").is_err(), "an empty code is refused");
    // GB/Z 20986-2007 names lead into the 2023 table.
    let (cat, edition) = c.by_name("漏洞攻击事件").unwrap();
    assert_eq!((cat.code.as_str(), edition), ("NAEXPLOIT", "GB/Z 20986-2007"));
    assert_eq!(c.by_name("信息泄漏事件").unwrap().0.code, "DSDATALEAK");
    assert_eq!(c.by_name("灾害性事件").unwrap().0.code, "FOCDISASTER");
    assert_eq!(c.by_name("漏洞利用事件").unwrap(), (c.get("NAEXPLOIT").unwrap(), "GB/T 20986-2023"));
    let mut x = Categories::builtin();
    let e = x.add_aliases("old", "category_zh,subcategory_zh,code_2023\n网络攻击事件,漏洞攻击事件,NADOS\n").unwrap_err().to_string();
    assert!(e.contains("`漏洞攻击事件` already leads to `NAEXPLOIT`"), "{e}");
    assert!(x.add_aliases("old", "a,b,c\nx,y,NOPE\n").unwrap_err().to_string().contains("`NOPE` is not a GB/T 20986-2023 subcategory"));
    assert!(
        Categories::from_csv("x", "a,b,c,d,e,f\nNA,x,y,C1,z,w\nNA,x,y,C1,z,w\n").err().unwrap().to_string().contains("duplicate code `C1`")
    );
}

#[test]
fn detections_are_classified_by_the_first_matching_entry_with_a_reason() {
    let cats = Categories::builtin();
    let map = CategoryMap::builtin(&cats);
    let tag = |v| Label { source: LabelSource::Tag, value: v };
    let webshell = map.classify(&[tag("attack.persistence"), tag("attack.t1505.003")]).unwrap();
    assert_eq!(webshell.code, "NABACKIMPL");
    assert!(webshell.reason.contains("rule tag `attack.t1505.003` matches `attack.t1505.003`"), "{}", webshell.reason);
    assert_eq!(map.classify(&[tag("attack.t1110.001")]).unwrap().code, "NACRED");
    assert_eq!(map.classify(&[tag("cve.2021-44228"), tag("attack.initial-access")]).unwrap().code, "NAEXPLOIT");
    let suri = |v| Label { source: LabelSource::Suricata, value: v };
    assert_eq!(map.classify(&[suri("A Network Trojan was detected")]).unwrap().code, "MPTROJ");
    let ss = |v| Label { source: LabelSource::Shadowserver, value: v };
    assert_eq!(map.classify(&[ss("scan_rdp")]).unwrap().code, "SHEVULN");
    assert_eq!(map.classify(&[ss("event4_sinkhole_http")]).unwrap().code, "MPZOMB");
    assert_eq!(map.classify(&[ss("blocklist")]).unwrap().code, "SHEOTH");
    // An indicator's tag is more specific than a rule's tactic.
    let both = map
        .classify(&[tag("attack.command-and-control"), Label { source: LabelSource::IndicatorTag, value: "Ransomware-LockBit" }])
        .unwrap();
    assert_eq!(both.code, "MPRANS");
    assert_eq!(map.classify(&[tag("attack.discovery"), suri("Misc activity")]), None, "nothing is guessed");
    // A tag that names a subcategory in Chinese, in this edition or the
    // 2007 one (`其它` or `其他`), gives it directly.
    let itag = |v| Label { source: LabelSource::IndicatorTag, value: v };
    let worm = map.classify(&[tag("attack.t1486"), itag("蠕虫事件")]).unwrap();
    assert_eq!((worm.code.as_str(), worm.reason.as_str()), ("MPWORM", "indicator tag `蠕虫事件` is the GB/Z 20986-2007 name of MPWORM"));
    assert_eq!(
        map.classify(&[itag(" 数据泄露事件 ")]).unwrap().reason,
        "indicator tag ` 数据泄露事件 ` is the GB/T 20986-2023 name of DSDATALEAK"
    );
    assert_eq!(map.classify(&[itag("其它有害程序事件")]).unwrap().code, "MPOTH");
    assert_eq!(map.classify(&[itag("有害程序事件")]), None, "a 2007 category with subcategories names none of them");
    let bad = "version = \"x\"\n[[map]]\nsource = \"tag\"\nmatch = \"a\"\ncategory = \"NOPE\"\n";
    assert!(CategoryMap::from_toml(bad, &cats).err().unwrap().to_string().contains("`NOPE` is not a GB/T 20986-2023 subcategory"));
}

#[test]
fn the_same_alert_grades_higher_on_more_important_assets() {
    let t = GradingTable::builtin();
    let cii = Criticality { cii: true, cii_department: Some("省通信管理局".into()), ..Default::default() };
    let portal = Criticality { portal_tier: Some(PortalTier::Provincial), ..Default::default() };
    let mlps3 = Criticality { mlps_level: Some(3), ..Default::default() };
    let school_test = Criticality { mlps_level: Some(1), ..Default::default() };
    let none = Impact::default();
    let g = |c: Option<&Criticality>, sev: &str| t.grade(c, sev, &none);
    // A web shell (Sigma level high, critical for a confirmed one).
    assert_eq!(g(Some(&cii), "high").level, Level::III);
    assert_eq!(g(Some(&cii), "critical").level, Level::II);
    assert_eq!(g(Some(&portal), "critical").level, Level::II);
    assert_eq!(g(Some(&mlps3), "critical").level, Level::III);
    assert_eq!(g(Some(&school_test), "critical").level, Level::IV);
    assert_eq!(g(None, "critical").level, Level::IV);
    let r = g(Some(&cii), "critical");
    assert_eq!((r.importance, r.loss, r.table.as_str()), (Importance::ParticularlyImportant, Loss::Serious, "GBT20986-2023/CAC-2025"));
    assert_eq!(
        r.reasons,
        ["asset cii → importance 特别重要", "severity `critical` → presumed loss 严重", "特别重要 × 严重 → level II 重大"]
    );

    // Measured impact raises the level (CAC-2025), and says by which rule.
    let impact = |f: fn(&mut Impact)| {
        let mut i = Impact::default();
        f(&mut i);
        i
    };
    let r = t.grade(Some(&portal), "medium", &impact(|i| i.outage_hours = Some(30.0)));
    assert_eq!(r.level, Level::I);
    assert!(
        r.reasons.last().unwrap().contains("outage_hours 30 ≥ 24 for portal:provincial or key_news_site → at least level I"),
        "{:?}",
        r.reasons
    );
    let municipal = Criticality { portal_tier: Some(PortalTier::Municipal), ..Default::default() };
    assert_eq!(t.grade(Some(&municipal), "low", &impact(|i| i.outage_hours = Some(3.0))).level, Level::III);
    assert_eq!(
        t.grade(Some(&school_test), "low", &impact(|i| i.outage_hours = Some(30.0))).level,
        Level::IV,
        "outage triggers are for portals and CII"
    );
    assert_eq!(t.grade(Some(&cii), "low", &impact(|i| i.main_function_outage_hours = Some(7.0))).level, Level::II);
    assert_eq!(t.grade(None, "low", &impact(|i| i.pi_records_leaked = Some(2e6))).level, Level::III);
    assert_eq!(t.grade(None, "low", &impact(|i| i.direct_loss_yuan = Some(1.5e8))).level, Level::I);
    // An analyst's loss assessment replaces the presumed one.
    let r = t.grade(Some(&mlps3), "low", &impact(|i| i.loss = Some(Loss::ParticularlySerious)));
    assert_eq!((r.level, r.reasons[1].as_str()), (Level::II, "loss assessed as 特别严重"));

    for (bad, why) in [
        (include_str!("../data/grading.toml").replace("\"mlps>=3\"", "\"mlps>=three\""), "`three` is not a number"),
        (
            include_str!("../data/grading.toml").replace("\"cii\", \"portal:provincial\"", "\"cii\", \"portal:national\""),
            "unknown condition `portal:national`",
        ),
        (
            include_str!("../data/grading.toml").replace("metric = \"direct_loss_yuan\"", "metric = \"loss_usd\""),
            "`loss_usd` is not one of",
        ),
        (
            include_str!("../data/grading.toml").replace(", minor = \"IV\" }\nimportant", " }\nimportant"),
            "no level for ParticularlyImportant × Minor",
        ),
    ] {
        let e = GradingTable::from_toml(&bad).err().unwrap().to_string();
        assert!(e.contains(why), "{e}");
    }
}

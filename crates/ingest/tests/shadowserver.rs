use shouwang_ingest::Reason;
use shouwang_ingest::parse::{Parser, Shadowserver};

use crate::ctx;

const SCAN_RDP: &str = "\u{feff}\"timestamp\",\"severity\",\"ip\",\"protocol\",\"port\",\"hostname\",\"tag\",\"asn\",\"geo\",\"region\",\"city\",\"naics\",\"sic\",\"rdp_protocol\",\"cert_issuer\",\"sector\"
\"2026-11-21 03:12:45\",\"high\",\"10.4.14.43\",\"tcp\",3389,\"oa.u00042.yunling.example\",\"rdp\",64500,\"CN\",\"YUNLING\",\"QINGCHUAN\",0,0,\"RDP\",\"CN=oa, O=\"\"Qingchuan, No.1\"\"\",\"Government\"
\"2026-11-21 03:12:46\",\"high\",\"10.4.14.44\",\"tcp\",3389,,\"rdp\",64500,\"CN\",\"YUNLING\",\"QINGCHUAN\",0,0,\"RDP\",,\"\"
";

const SINKHOLE: &str = "timestamp,protocol,src_ip,src_port,src_asn,src_geo,src_hostname,dst_ip,dst_port,dst_asn,dst_hostname,infection,family,tag,application,event_id
2026-11-21 04:00:00,tcp,10.9.1.7,49152,64500,CN,pc-17.u00042.yunling.example,198.51.100.66,443,64511,sinkhole.test,andromeda,andromeda,\"botnet,sinkhole\",https,ev-1
";

fn rows(csv: &str) -> (Shadowserver, Vec<&str>) {
    let mut lines = csv.lines();
    let report = Shadowserver::report_from_file_name("reports/2026-11-21-scan_rdp-yunling-prov.csv");
    assert_eq!(report, "scan_rdp");
    assert_eq!(Shadowserver::report_from_file_name("custom.csv"), "custom");
    let p = Shadowserver::from_header(lines.next().unwrap().as_bytes(), &report).unwrap();
    (p, lines.collect())
}

#[test]
fn scan_report_columns_map_by_name_and_the_rest_become_labels() {
    let (p, rows) = rows(SCAN_RDP);
    let e = p.parse(rows[0].as_bytes(), &ctx()).unwrap();
    assert_eq!(e.timestamp.to_string(), "2026-11-21T03:12:45Z");
    assert_eq!(e.event.dataset, "shadowserver.scan_rdp");
    assert_eq!(e.event.severity, Some(8));
    let s = e.source.as_ref().unwrap();
    assert_eq!(
        (s.ip.unwrap().to_string().as_str(), s.port, s.domain.as_deref()),
        ("10.4.14.43", Some(3389), Some("oa.u00042.yunling.example"))
    );
    assert_eq!(e.network.as_ref().unwrap().transport.as_deref(), Some("tcp"));
    assert_eq!(e.rule.as_ref().unwrap().category.as_deref(), Some("rdp"));
    assert_eq!(e.labels["asn"], "64500");
    assert_eq!(e.labels["cert_issuer"], "CN=oa, O=\"Qingchuan, No.1\"", "quoted commas and quotes survive");
    // Empty cells are absent, not empty strings.
    let e = p.parse(rows[1].as_bytes(), &ctx()).unwrap();
    assert!(e.source.unwrap().domain.is_none() && !e.labels.contains_key("sector"));
}

#[test]
fn event_report_has_both_ends() {
    let (p, rows) = rows(SINKHOLE);
    let e = p.parse(rows[0].as_bytes(), &ctx()).unwrap();
    assert_eq!(e.source.as_ref().unwrap().ip.unwrap().to_string(), "10.9.1.7");
    let d = e.destination.as_ref().unwrap();
    assert_eq!((d.ip.unwrap().to_string().as_str(), d.port, d.domain.as_deref()), ("198.51.100.66", Some(443), Some("sinkhole.test")));
    let r = e.rule.as_ref().unwrap();
    assert_eq!((r.name.as_deref(), r.category.as_deref()), (Some("andromeda"), Some("botnet,sinkhole")));
    assert_eq!(e.labels["family"], "andromeda");
}

#[test]
fn bad_rows_and_headers_have_reasons() {
    let (p, _) = rows(SINKHOLE);
    let good = "2026-11-21 04:00:00,tcp,10.9.1.7,49152,64500,CN,h,198.51.100.66,443,64511,s,i,f,t,a,e";
    assert!(p.parse(good.as_bytes(), &ctx()).is_ok());
    let cases: &[(&str, Reason, &str)] = &[
        ("2026-11-21 04:00:00,tcp,10.9.1.7", Reason::Malformed, "row has 3 fields, the header has 16"),
        (&format!("{good},extra"), Reason::Malformed, "row has 17 fields"),
        (&good.replace("10.9.1.7", "10.9.1"), Reason::BadValue, "src_ip `10.9.1`"),
        (&good.replace("49152", "http"), Reason::BadValue, "src_port `http`"),
        (&good.replace("2026-11-21 04:00:00", "21/11/2026 04:00"), Reason::BadTimestamp, "21/11/2026"),
        (&good.replace("2026-11-21 04:00:00", "2126-11-21 04:00:00"), Reason::BadTimestamp, "outside 1970"),
        (&good.replace("2026-11-21 04:00:00", ""), Reason::MissingField, "empty timestamp"),
        (&good.replace("10.9.1.7", ""), Reason::MissingField, "empty ip"),
        ("2026-11-21 04:00:00,\"unterminated", Reason::Malformed, "row has 2 fields"),
    ];
    for (row, reason, needle) in cases {
        let r = p.parse(row.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(r.reason, *reason, "{row} -> {r}");
        assert!(r.to_string().contains(needle), "`{r}` should mention `{needle}`");
    }
    assert_eq!(Shadowserver::from_header(b"timestamp,port", "x").err().unwrap().reason, Reason::MissingField);
    assert_eq!(Shadowserver::from_header(b"ip,port", "x").err().unwrap().reason, Reason::MissingField);
    assert_eq!(Shadowserver::from_header(b"", "x").err().unwrap().reason, Reason::Malformed);
}

use serde_json::json;
use shouwang_ingest::parse::{Eve, Parser};
use shouwang_ingest::{Event, Reason};

use crate::ctx;

fn parse(line: &str) -> Result<Event, shouwang_ingest::Reject> {
    Eve.parse(line.as_bytes(), &ctx())
}

/// An alert in the shape of Suricata's EVE documentation.
const ALERT: &str = r#"{"timestamp":"2026-11-21T15:04:05.123456+0800","flow_id":1676750115612680,"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.7","src_port":54321,"dest_ip":"10.1.2.3","dest_port":80,"proto":"TCP","community_id":"1:abc=","host":"sensor-qc-01","alert":{"action":"allowed","gid":1,"signature_id":2024897,"rev":3,"signature":"ET USER_AGENTS Go HTTP Client User-Agent","category":"Potentially Bad Traffic","severity":2},"http":{"hostname":"portal.u00042.yunling.example","url":"/login?next=%2F","http_user_agent":"Go-http-client/1.1","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":512},"app_proto":"http","flow":{"pkts_toserver":4,"pkts_toclient":3,"bytes_toserver":400,"bytes_toclient":900,"start":"2026-11-21T15:04:05.000000+0800"},"payload_printable":"GET /login"}"#;

#[test]
fn alert_maps_to_ecs() {
    let e = parse(ALERT).unwrap();
    assert_eq!(e.timestamp.to_string(), "2026-11-21T07:04:05.123456Z");
    assert_eq!((e.event.kind.as_str(), e.event.dataset.as_str()), ("alert", "suricata.alert"));
    assert_eq!(e.event.severity, Some(5));
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["@timestamp"], "2026-11-21T07:04:05.123456Z");
    assert_eq!(v["source"], json!({"ip": "203.0.113.7", "port": 54321}));
    assert_eq!(v["destination"], json!({"ip": "10.1.2.3", "port": 80, "domain": "portal.u00042.yunling.example"}));
    assert_eq!(v["network"], json!({"transport": "tcp", "protocol": "http", "community_id": "1:abc=", "bytes": 1300, "packets": 7}));
    assert_eq!(
        v["rule"],
        json!({"id": "2024897", "name": "ET USER_AGENTS Go HTTP Client User-Agent", "category": "Potentially Bad Traffic"})
    );
    assert_eq!(v["url"]["full"], "http://portal.u00042.yunling.example/login?next=%2F");
    assert_eq!(v["observer"]["hostname"], "sensor-qc-01");
    assert_eq!(v["event"]["original"], ALERT, "the original record is kept verbatim");
    assert_eq!((v["shouwang"]["parser"].as_str(), v["shouwang"]["source"].as_str()), (Some("suricata_eve"), Some("test")));
    // ECS JSON reads back to the same event.
    assert_eq!(serde_json::from_value::<Event>(v).unwrap(), e);
}

#[test]
fn dns_v2_and_v3_tls_fileinfo_flow_anomaly_and_others() {
    let base =
        r#""timestamp":"2026-11-21T15:04:05+0800","src_ip":"10.1.2.3","src_port":5353,"dest_ip":"192.0.2.53","dest_port":53,"proto":"UDP""#;
    let v2 =
        parse(&format!(r#"{{{base},"event_type":"dns","dns":{{"type":"query","id":1,"rrname":"c2.bad.test","rrtype":"A"}}}}"#)).unwrap();
    assert_eq!(v2.dns.as_ref().unwrap().question.name, "c2.bad.test");
    let v3 = parse(&format!(
        r#"{{{base},"event_type":"dns","dns":{{"type":"request","queries":[{{"rrname":"c2.bad.test","rrtype":"AAAA"}}]}}}}"#
    ))
    .unwrap();
    assert_eq!(v3.dns.as_ref().unwrap().question.r#type.as_deref(), Some("AAAA"));
    let tls = parse(&format!(r#"{{{base},"event_type":"tls","tls":{{"sni":"www.u00042.yunling.example","version":"TLS 1.3"}}}}"#)).unwrap();
    assert_eq!(tls.tls.unwrap().server_name.as_deref(), Some("www.u00042.yunling.example"));
    let file = parse(&format!(r#"{{{base},"event_type":"fileinfo","fileinfo":{{"filename":"/a.exe","size":42,"sha256":"ab"}}}}"#)).unwrap();
    assert_eq!(file.file.unwrap().size, Some(42));
    let flow = parse(&format!(
        r#"{{{base},"event_type":"flow","flow":{{"bytes_toserver":1,"bytes_toclient":2,"pkts_toserver":3,"pkts_toclient":4}}}}"#
    ))
    .unwrap();
    assert_eq!(flow.network.unwrap().bytes, Some(3));
    let anomaly = parse(&format!(r#"{{{base},"event_type":"anomaly","anomaly":{{"type":"decode","event":"ipv4.trunc_pkt"}}}}"#)).unwrap();
    assert_eq!(anomaly.event.action.as_deref(), Some("ipv4.trunc_pkt"));
    let stats = parse(r#"{"timestamp":"2026-11-21T15:04:05+0800","event_type":"stats","stats":{"uptime":1}}"#).unwrap();
    assert_eq!(stats.event.dataset, "suricata.stats");
    assert!(stats.source.is_none());
}

#[test]
fn every_bad_input_has_a_reason() {
    let cases: Vec<(Vec<u8>, Reason, &str)> = vec![
        (ALERT.as_bytes()[..ALERT.len() / 2].to_vec(), Reason::Malformed, "EOF while parsing"),
        (b"{\"timestamp\":\"2026-11-21T15:04:05Z\",\"event_type\":\"alert\",\"src_ip\":\"\xc7\xe0\"}".to_vec(), Reason::NotUtf8, "GBK"),
        (b"{\"timestamp\":\"2026-11-21T15:04:05Z\",\0\"event_type\":\"alert\"}".to_vec(), Reason::NulByte, "offset 36"),
        (br#"{"event_type":"alert"}"#.to_vec(), Reason::MissingField, "no timestamp"),
        (br#"{"timestamp":"2026-11-21T15:04:05Z"}"#.to_vec(), Reason::MissingField, "no event_type"),
        (br#"{"timestamp":"2026-13-01T00:00:00Z","event_type":"alert"}"#.to_vec(), Reason::BadTimestamp, "2026-13-01"),
        (br#"{"timestamp":"1700000000","event_type":"alert"}"#.to_vec(), Reason::BadTimestamp, "1700000000"),
        (br#"{"timestamp":"1969-12-31T23:59:59Z","event_type":"alert"}"#.to_vec(), Reason::BadTimestamp, "outside 1970"),
        (br#"{"timestamp":"2201-01-01T00:00:00Z","event_type":"alert"}"#.to_vec(), Reason::BadTimestamp, "outside 1970"),
        (
            br#"{"timestamp":"2026-11-21T15:04:05Z","event_type":"alert","src_ip":"999.1.1.1"}"#.to_vec(),
            Reason::BadValue,
            "src_ip `999.1.1.1`",
        ),
        (br#"{"timestamp":"2026-11-21T15:04:05Z","event_type":"alert","src_port":"eighty"}"#.to_vec(), Reason::BadValue, "invalid type"),
        (br#"{"timestamp":"2026-11-21T15:04:05Z","event_type":"alert","dest_port":70000}"#.to_vec(), Reason::BadValue, "70000"),
        (b"[[[[[[[[[[".repeat(1000), Reason::Malformed, "one JSON object per line"),
        (
            [&b"{\"timestamp\":\"2026-11-21T15:04:05Z\",\"event_type\":\"alert\",\"x\":"[..], &b"[".repeat(10_000)].concat(),
            Reason::Malformed,
            "EOF while parsing a list",
        ),
        (b"not json at all".to_vec(), Reason::Malformed, "one JSON object per line"),
    ];
    for (input, reason, needle) in cases {
        let r = Eve.parse(&input, &crate::ctx()).unwrap_err();
        assert_eq!(r.reason, reason, "{} -> {r}", String::from_utf8_lossy(&input[..input.len().min(80)]));
        assert!(r.to_string().contains(needle), "`{r}` should mention `{needle}`");
    }
}

#[test]
fn deep_nesting_in_an_ignored_field_is_skipped_without_recursion() {
    let deep = format!(r#"{{"timestamp":"2026-11-21T15:04:05Z","event_type":"alert","x":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(parse(&deep).unwrap().event.dataset, "suricata.alert");
}

#[test]
fn a_100_megabyte_line_is_refused_without_parsing() {
    let mut huge = Vec::with_capacity(100 * 1024 * 1024 + 64);
    huge.extend_from_slice(br#"{"timestamp":"2026-11-21T15:04:05Z","event_type":"alert","payload":""#);
    huge.resize(100 * 1024 * 1024, b'A');
    huge.extend_from_slice(br#""}"#);
    let r = Eve.parse(&huge, &crate::ctx()).unwrap_err();
    assert_eq!(r.reason, Reason::TooLarge);
    assert!(r.detail.contains("104857602 bytes, over the 1048576-byte record limit"), "{r}");
}

#[test]
fn valid_records_around_bad_ones_still_parse() {
    let stream = format!("{ALERT}\n{{\"truncated\":\n\n{ALERT}\n\u{0}\n{ALERT}\n");
    let mut ok = 0;
    let mut by_reason = std::collections::BTreeMap::new();
    for line in stream.lines() {
        match Eve.parse(line.as_bytes(), &crate::ctx()) {
            Ok(_) => ok += 1,
            Err(r) => *by_reason.entry(r.reason.as_str()).or_insert(0) += 1,
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(by_reason, [("malformed", 2), ("nul_byte", 1)].into_iter().collect());
}

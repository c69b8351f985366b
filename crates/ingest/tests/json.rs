use shouwang_ingest::Reason;
use shouwang_ingest::parse::{FieldMap, JsonLines, Parser};

use crate::ctx;

#[test]
fn ecs_documents_pass_through_and_cannot_forge_provenance() {
    let p = JsonLines::ecs("sensor.ecs");
    let line = r#"{"@timestamp":"2026-11-21T01:02:03Z","event":{"kind":"alert","dataset":"zeek.notice","original":"forged"},"source":{"ip":"203.0.113.7","port":4444},"rule":{"name":"Scan::Port_Scan"},"shouwang":{"units":["U00042"],"source":"forged"}}"#;
    let e = p.parse(line.as_bytes(), &ctx()).unwrap();
    assert_eq!((e.event.kind.as_str(), e.event.dataset.as_str()), ("alert", "zeek.notice"));
    assert_eq!(e.source.as_ref().unwrap().port, Some(4444));
    assert!(e.shouwang.units.is_empty(), "a sender cannot attribute its own events");
    assert_eq!(e.shouwang.source, "test");
    assert_eq!(e.event.original.as_deref(), Some(line), "event.original is the record, not the sender's claim");
    let e = p.parse(br#"{"message":"no time, no kind"}"#, &ctx()).unwrap();
    assert_eq!((e.timestamp, e.event.kind.as_str(), e.event.dataset.as_str()), (ctx().received, "event", "sensor.ecs"));
}

#[test]
fn a_field_map_turns_any_json_into_ecs() {
    let map = FieldMap::new(
        "vendor.waf",
        [("time", "@timestamp"), ("srcip", "source.ip"), ("sport", "source.port"), ("sig.name", "rule.name"), ("sid", "rule.id")],
    )
    .unwrap();
    let p = JsonLines::mapped(map.into());
    let line = r#"{"time":"2026-11-21T01:02:03+08:00","srcip":"203.0.113.7","sport":"4444","sig":{"name":"SQLi"},"sid":942100,"vendor_field":"abc","blocked":true,"nested":{"x":1}}"#;
    let e = p.parse(line.as_bytes(), &ctx()).unwrap();
    assert_eq!(e.timestamp.to_string(), "2026-11-20T17:02:03Z");
    assert_eq!(e.source.as_ref().unwrap().port, Some(4444), "\"4444\" is coerced for a port");
    let r = e.rule.as_ref().unwrap();
    assert_eq!((r.id.as_deref(), r.name.as_deref()), (Some("942100"), Some("SQLi")));
    assert_eq!(e.labels.get("vendor_field").map(String::as_str), Some("abc"));
    assert_eq!(e.labels.get("blocked").map(String::as_str), Some("true"));
    assert!(!e.labels.contains_key("nested") && !e.labels.contains_key("sig"));
    assert_eq!(e.event.dataset, "vendor.waf");
    let err = FieldMap::new("x", [("a", "source.ipp")]).unwrap_err();
    assert!(err.contains("`source.ipp` is not a supported ECS field"), "{err}");
    assert!(FieldMap::new("bad dataset", [("a", "source.ip")]).unwrap_err().contains("dataset"));
    assert!(FieldMap::new::<&str>("x", []).unwrap_err().contains("maps no fields"));
    assert!(FieldMap::new("x", [("a", "source.ip")]).unwrap().with_utc_offset("Beijing").is_err());
    let mut maps = shouwang_ingest::parse::FieldMaps::default();
    assert!(maps.insert("Bad Name", FieldMap::new("x", [("a", "source.ip")]).unwrap()).is_err());
}

#[test]
fn mapped_times_in_every_common_form() {
    let map = FieldMap::new("fw.x", [("t", "@timestamp"), ("src", "source.ip"), ("source_ip", "source.ip")])
        .unwrap()
        .with_utc_offset("+08:00")
        .unwrap();
    let p = JsonLines::mapped(map.into());
    let cases: &[(&str, &str)] = &[
        (r#""2026-11-21T01:02:03Z""#, "2026-11-21T01:02:03Z"),
        (r#""2026-11-21 09:02:03""#, "2026-11-21T01:02:03Z"),
        (r#""2026-11-21T09:02:03.5""#, "2026-11-21T01:02:03.5Z"),
        (r#""2026/11/21 09:02:03""#, "2026-11-21T01:02:03Z"),
        ("1795222923", "2026-11-21T01:02:03Z"),
        (r#""1795222923""#, "2026-11-21T01:02:03Z"),
        ("1795222923000", "2026-11-21T01:02:03Z"),
        ("1795222923.9", "2026-11-21T01:02:03Z"),
    ];
    for (raw, want) in cases {
        let line = format!(r#"{{"t":{raw},"source_ip":"192.0.2.9"}}"#);
        let e = p.parse(line.as_bytes(), &ctx()).unwrap_or_else(|r| panic!("{raw}: {r}"));
        assert_eq!(e.timestamp.to_string(), *want, "{raw}");
        assert_eq!(
            e.source.unwrap().ip.unwrap().to_string(),
            "192.0.2.9",
            "the second source of source.ip is used when the first is absent"
        );
    }
    // The first source present wins; the other is kept as a label.
    let e = p.parse(br#"{"t":1795222923,"src":"192.0.2.1","source_ip":"192.0.2.9"}"#, &ctx()).unwrap();
    assert_eq!(e.source.unwrap().ip.unwrap().to_string(), "192.0.2.1");
    assert_eq!(e.labels.get("source_ip").map(String::as_str), Some("192.0.2.9"));
    for bad in [r#""21/11/2026""#, r#""2026-13-01 00:00:00""#, "true", r#""99999999999999999""#, "-99999999999999999"] {
        let line = format!(r#"{{"t":{bad}}}"#);
        let r = p.parse(line.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(r.reason, Reason::BadTimestamp, "{bad} -> {r}");
        assert!(r.to_string().contains("@timestamp"), "{r}");
    }
}

#[test]
fn every_bad_input_names_the_field() {
    let p = JsonLines::ecs("x");
    let cases: &[(&[u8], Reason, &str)] = &[
        (br#"{"source":{"ip":"999.1.1.1"}}"#, Reason::BadValue, "source.ip: invalid IP address syntax"),
        (br#"{"source":{"port":70000}}"#, Reason::BadValue, "source.port"),
        (br#"{"@timestamp":"yesterday"}"#, Reason::BadTimestamp, "@timestamp"),
        (br#"{"@timestamp":"9999-01-01T00:00:00Z"}"#, Reason::BadTimestamp, "outside 1970"),
        (br#"{"event":{"severity":"very"}}"#, Reason::BadValue, "event.severity"),
        (br#"{"message":"trunc"#, Reason::Malformed, "EOF"),
        (br#"["not","an","object"]"#, Reason::Malformed, "one JSON object per line"),
        (b"{\"message\":\"\xc7\xe0\"}", Reason::NotUtf8, "not valid UTF-8"),
    ];
    for (input, reason, needle) in cases {
        let r = p.parse(input, &ctx()).unwrap_err();
        assert_eq!(r.reason, *reason, "{} -> {r}", String::from_utf8_lossy(input));
        assert!(r.to_string().contains(needle), "`{r}` should mention `{needle}`");
    }
}

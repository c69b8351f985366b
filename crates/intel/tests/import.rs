//! Importers: good records load, every bad one is reported with where it is
//! and why, and the records around it still load.

use shouwang_intel::import::{Defaults, csv, stix};
use shouwang_intel::{Indicator, IntelBuilder, Kind, Observable, Tlp};

fn collect(
    r: impl FnOnce(&mut dyn FnMut(Indicator)) -> Result<shouwang_intel::import::ImportReport, String>,
) -> (Vec<Indicator>, shouwang_intel::import::ImportReport) {
    let mut got = Vec::new();
    let report = r(&mut |i| got.push(i)).unwrap();
    (got, report)
}

#[test]
fn csv_rows_load_and_bad_ones_are_reported_by_line() {
    let mut text = String::from("\u{feff}Type,Value,Source,Confidence,TLP,Valid_From,Valid_Until,Tags\n");
    text.push_str("ip,192.0.2.1,cert-a,90,TLP:RED,2026-01-01,,c2;botnet\n"); // 2
    text.push_str("ip-dst,::ffff:198.51.100.7,,,,,,\n"); // 3: IPv4-mapped
    text.push_str("cidr,203.0.113.0/24,,,green,,,\n"); // 4
    text.push_str("domain,Bücher.Example.,,,,,,\n"); // 5: IDN, trailing dot
    text.push_str("url,HTTP://evil.example:80/a%2Fb?x=1#top,,,,,,\n"); // 6
    text.push_str("sha256,ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789,,,,,,\n"); // 7
    text.push_str("ip,999.1.1.1,,,,,,\n"); // 8: bad address
    text.push_str("ip,10.1.2.3/8,,,,,,\n"); // 9: host bits
    text.push_str("md5,xyz,,,,,,\n"); // 10
    text.push_str("registry-key,HKLM\\Run,,,,,,\n"); // 11: unknown type
    text.push_str("ip,192.0.2.9,,150,,,,\n"); // 12: confidence
    text.push_str("ip,192.0.2.10,,,purple,,,\n"); // 13: tlp
    text.push_str("ip,192.0.2.11,,,,yesterday,,\n"); // 14: time
    text.push_str("ip,192.0.2.12,,,,2026-02-01,2026-01-01,\n"); // 15: until before from
    text.push_str("email,Boss@Example.TEST,,,,,,\n"); // 16
    text.push_str("hostname,\"unclosed,,,,,,\n"); // 17: broken quoting runs to the end
    let (got, report) = collect(|add| csv::read(text.as_bytes(), &Defaults::new("file.csv"), add));
    let values: Vec<(Kind, &str)> = got.iter().map(|i| (i.kind, i.value.as_str())).collect();
    assert_eq!(
        values,
        [
            (Kind::Ip, "192.0.2.1/32"),
            (Kind::Ip, "198.51.100.7/32"),
            (Kind::Ip, "203.0.113.0/24"),
            (Kind::Domain, "xn--bcher-kva.example"),
            (Kind::Url, "http://evil.example/a%2Fb?x=1"),
            (Kind::Sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"),
            (Kind::Email, "boss@example.test"),
        ]
    );
    assert_eq!((got[0].source.as_str(), got[0].confidence, got[0].tlp), ("cert-a", 90, Tlp::Red));
    assert_eq!(got[0].tags, ["c2", "botnet"]);
    assert_eq!((got[1].source.as_str(), got[1].confidence, got[1].tlp), ("file.csv", 50, Tlp::Amber), "defaults");
    assert_eq!(got[2].tlp, Tlp::Green);
    let at: Vec<(&str, &str)> = report.rejected.iter().map(|r| (r.at.as_str(), r.reason.as_str())).collect();
    let expect = [
        ("line 8", "not an IPv4 or IPv6 address"),
        ("line 9", "host bits"),
        ("line 10", "32 hexadecimal"),
        ("line 11", "unknown type `registry-key`"),
        ("line 12", "confidence `150`"),
        ("line 13", "tlp `purple`"),
        ("line 14", "`yesterday` is not an RFC 3339 time"),
        ("line 15", "is not after valid from"),
        ("line 17", ""),
    ];
    for (line, why) in expect {
        assert!(at.iter().any(|(l, r)| *l == line && r.contains(why)), "{line}: {why} not in {at:#?}");
    }
    assert_eq!((report.loaded, report.rejected_total()), (7, report.read - 7));
    assert_eq!(report.rejected_by_reason.get("`…` is not an IPv4 or IPv6 address"), Some(&1), "{:?}", report.rejected_by_reason);

    // Not UTF-8 (GBK) in one row: that row, not the file. Line 4 splits one
    // character (中, E4 B8 AD) across two fields: each is invalid alone.
    let gbk = b"type,value,tags,source\nip,192.0.2.1,\xc4\xe3\xba\xc3\nip,192.0.2.2,ok\nip,192.0.2.3,\xe4,\xb8\xad\n";
    let (got, report) = collect(|add| csv::read(&gbk[..], &Defaults::new("gbk.csv"), add));
    assert_eq!(got.len(), 1);
    let at: Vec<(&str, &str)> = report.rejected.iter().map(|r| (r.at.as_str(), r.reason.as_str())).collect();
    assert_eq!(at, [("line 2", "not UTF-8 (convert GBK files to UTF-8)"), ("line 4", "not UTF-8 (convert GBK files to UTF-8)")]);

    let e = csv::read(&b"kind,val\nip,1.2.3.4\n"[..], &Defaults::new("x"), &mut |_| {}).unwrap_err();
    assert!(e.contains("must name `type` and `value`"), "{e}");
}

const BUNDLE: &str = r#"{
  "type": "bundle",
  "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
  "objects": [
    {"type": "identity", "spec_version": "2.1", "id": "identity--b38dfe21-7477-40d1-aa90-5c8671ce51ca", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "Peer CERT", "identity_class": "organization"},
    {"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--3a1d8f2e-5b7c-4e9a-8d6f-0c2b4a6e8f10", "created": "2026-01-01T00:00:00.000Z", "name": "TLP:AMBER+STRICT", "definition_type": "statement", "definition": {"statement": "TLP:AMBER+STRICT: recipients only, not their clients"}},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
     "created_by_ref": "identity--b38dfe21-7477-40d1-aa90-5c8671ce51ca",
     "pattern": "[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '198.51.100.0/24'] OR [domain-name:value = 'evil.example']",
     "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z", "confidence": 85,
     "indicator_types": ["malicious-activity"], "labels": ["c2"],
     "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
     "pattern": "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
     "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
     "object_marking_refs": ["marking-definition--3a1d8f2e-5b7c-4e9a-8d6f-0c2b4a6e8f10"]},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--11111111-1111-4111-8111-111111111111", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
     "pattern": "[ipv4-addr:value = '192.0.2.1' AND ipv4-addr:value = '192.0.2.2']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--22222222-2222-4222-8222-222222222222", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
     "pattern": "[url:value = 'http://xn--bcher-kva.example/dl'] OR [windows-registry-key:key = 'HKLM\\\\Run'] OR [ipv6-addr:value = 'fe80::zz']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--33333333-3333-4333-8333-333333333333", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
     "pattern": "rule x { condition: true }", "pattern_type": "yara", "valid_from": "2026-01-01T00:00:00Z"},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--44444444-4444-4444-8444-444444444444", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
     "pattern": "[ipv4-addr:value = '192.0.2.99']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "confidence": 101}
  ]
}"#;

#[test]
fn stix_bundles_load_simple_patterns_and_report_the_rest() {
    let (got, report) = collect(|add| stix::read(BUNDLE.as_bytes(), &Defaults::new("peer.json"), add));
    let values: Vec<(Kind, &str, Tlp)> = got.iter().map(|i| (i.kind, i.value.as_str(), i.tlp)).collect();
    assert_eq!(
        values,
        [
            (Kind::Ip, "198.51.100.1/32", Tlp::Amber),
            (Kind::Ip, "198.51.100.0/24", Tlp::Amber),
            (Kind::Domain, "evil.example", Tlp::Amber),
            (Kind::Sha256, "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", Tlp::AmberStrict),
            (Kind::Url, "http://xn--bcher-kva.example/dl", Tlp::Amber),
        ]
    );
    assert_eq!((got[0].confidence, got[0].tags.clone()), (85, vec!["c2".to_string(), "malicious-activity".to_string()]));
    assert!(got[0].source.contains("identity--b38dfe21"), "{}", got[0].source);
    assert_eq!(got[0].valid_until.unwrap().to_string(), "2027-01-01T00:00:00Z");
    let why: Vec<(&str, &str)> = report.rejected.iter().map(|r| (r.at.as_str(), r.reason.as_str())).collect();
    for (at, reason) in [
        ("objects[4]", "AND"),
        ("objects[5]", "`windows-registry-key:key` is not an observable"),
        ("objects[5]", "not an IPv4 or IPv6 address"),
        ("objects[6]", "pattern_type `yara` is not stix"),
        ("objects[7]", "confidence `101`"),
    ] {
        assert!(why.iter().any(|(a, r)| *a == at && r.contains(reason)), "{at}: {reason} not in {why:#?}");
    }
    assert_eq!((report.read, report.skipped, report.loaded), (8, 2, 5));

    // What loaded is found, with all its metadata.
    let mut b = IntelBuilder::default();
    got.into_iter().for_each(|i| b.add(i));
    let intel = b.build(jiff::Timestamp::from_second(1_780_000_000).unwrap());
    let at = jiff::Timestamp::from_second(1_780_000_000).unwrap();
    assert_eq!(intel.lookup(Observable::Ip("198.51.100.1".parse().unwrap()), at).next().unwrap().value, "198.51.100.1/32");
    assert_eq!(intel.lookup(Observable::Ip("198.51.100.2".parse().unwrap()), at).next().unwrap().value, "198.51.100.0/24");
    assert_eq!(intel.lookup(Observable::Name("CDN.Evil.Example"), at).count(), 1, "a domain covers its subdomains");
    assert_eq!(intel.lookup(Observable::Name("notevil.example"), at).count(), 0);
    assert_eq!(intel.lookup(Observable::Url("http://bücher.example/dl"), at).count(), 1, "IDN URLs compare as punycode");
    let later = jiff::Timestamp::from_second(1_900_000_000).unwrap();
    assert_eq!(intel.lookup(Observable::Ip("198.51.100.1".parse().unwrap()), later).count(), 0, "expired for events after valid_until");

    assert!(stix::read(&b"{\"type\": \"not-a-bundle\"}"[..], &Defaults::new("x"), &mut |_| {}).unwrap_err().contains("not a STIX bundle"));
    assert!(stix::read(&b"{\"type\": \"bundle\", "[..], &Defaults::new("x"), &mut |_| {}).unwrap_err().contains("not JSON"));
}

const MISP_EVENT: &str = r#"{"Event": {
  "uuid": "5f2f6a1e-1c2b-4a6e-9d1f-0a1b2c3d4e5f", "info": "Emotet wave", "Orgc": {"name": "CIRCL"},
  "Tag": [{"name": "tlp:green"}, {"name": "misp-galaxy:malware=\"emotet\""}],
  "Attribute": [
    {"type": "ip-dst", "value": "192.0.2.66", "to_ids": true},
    {"type": "domain|ip", "value": "Evil.Example|198.51.100.66", "to_ids": true},
    {"type": "ip-dst|port", "value": "203.0.113.66|8443", "to_ids": "1"},
    {"type": "url", "value": "https://evil.example/gate.php", "to_ids": true, "Tag": [{"name": "tlp:red"}, {"name": "kill-chain:c2"}]},
    {"type": "comment", "value": "seen in phishing", "to_ids": false},
    {"type": "ip-src", "value": "192.0.2.67", "to_ids": false},
    {"type": "ip-dst", "value": "300.1.1.1", "to_ids": true},
    {"type": "domain|ip", "value": "only-one-part.example", "to_ids": true},
    {"type": "hostname", "value": "cdn.evil.example", "to_ids": true, "first_seen": "last week"},
    {"type": "filename|md5", "value": "dropper.exe|0CC175B9C0F1B6A831C399E269772661", "to_ids": true}
  ],
  "Object": [{"name": "file", "Attribute": [
    {"type": "sha256", "object_relation": "sha256", "value": "AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F", "to_ids": true},
    {"type": "filename", "object_relation": "filename", "value": "invoice.doc", "to_ids": false},
    {"type": "size-in-bytes", "object_relation": "size-in-bytes", "value": "4096", "to_ids": false}
  ]}]
}}"#;

#[test]
fn misp_events_and_feeds_load_detection_attributes() {
    let (got, report) = collect(|add| shouwang_intel::import::misp::read_event(MISP_EVENT.as_bytes(), &Defaults::new("misp"), add));
    let values: Vec<(Kind, &str, Tlp)> = got.iter().map(|i| (i.kind, i.value.as_str(), i.tlp)).collect();
    assert_eq!(
        values,
        [
            (Kind::Ip, "192.0.2.66/32", Tlp::Green),
            (Kind::Domain, "evil.example", Tlp::Green),
            (Kind::Ip, "198.51.100.66/32", Tlp::Green),
            (Kind::Ip, "203.0.113.66/32", Tlp::Green),
            (Kind::Url, "https://evil.example/gate.php", Tlp::Red),
            (Kind::Md5, "0cc175b9c0f1b6a831c399e269772661", Tlp::Green),
            (Kind::Sha256, "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", Tlp::Green),
        ]
    );
    assert_eq!(got[0].source, "misp (CIRCL, event 5f2f6a1e-1c2b-4a6e-9d1f-0a1b2c3d4e5f)");
    assert_eq!(got[4].tags, ["misp-galaxy:malware=\"emotet\"", "kill-chain:c2"]);
    let why: Vec<(&str, &str)> = report.rejected.iter().map(|r| (r.at.as_str(), r.reason.as_str())).collect();
    for (at, reason) in [
        ("Event.Attribute[6]", "not an IPv4 or IPv6 address"),
        ("Event.Attribute[7]", "needs `|`-separated parts"),
        ("Event.Attribute[8]", "first_seen"),
    ] {
        assert!(why.iter().any(|(a, r)| *a == at && r.contains(reason)), "{at}: {reason} not in {why:#?}");
    }
    assert_eq!((report.read, report.skipped, report.loaded, report.rejected_total()), (13, 4, 7, 3));

    // A feed: manifest.json and one file per event; a missing file and a
    // hostile uuid are reported, the good event loads.
    let dir = tempfile::tempdir().unwrap();
    let good = "5f2f6a1e-1c2b-4a6e-9d1f-0a1b2c3d4e5f";
    std::fs::write(dir.path().join(format!("{good}.json")), MISP_EVENT).unwrap();
    let manifest =
        format!(r#"{{"{good}": {{"info": "Emotet wave"}}, "0b0b0b0b-0000-4000-8000-000000000000": {{}}, "../../etc/passwd": {{}}}}"#);
    std::fs::write(dir.path().join("manifest.json"), manifest).unwrap();
    let (got, report) = collect(|add| shouwang_intel::import::misp::read_feed(dir.path(), &Defaults::new("feed"), add));
    assert_eq!(got.len(), 7);
    let why: Vec<&str> = report.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert!(why.iter().any(|r| r.contains("cannot read `0b0b0b0b-0000-4000-8000-000000000000.json`")), "{why:#?}");
    assert!(why.iter().any(|r| r.contains("is not an event uuid")), "{why:#?}");
    assert!(shouwang_intel::import::misp::read_feed(&dir.path().join("nope"), &Defaults::new("feed"), &mut |_| {}).is_err());
}

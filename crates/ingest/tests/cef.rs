use shouwang_ingest::parse::{Cef, Parser};
use shouwang_ingest::{Event, Reason};

use crate::ctx;

fn parse(line: &str) -> Result<Event, shouwang_ingest::Reject> {
    Cef.parse(line.as_bytes(), &ctx())
}

#[test]
fn a_firewall_record_behind_a_syslog_prefix() {
    let line = r"<134>Nov 21 15:04:05 fw-qc-01 CEF:0|Hillstone|StoneOS|5.5R9|200001|Port scan \| sweep|High|rt=Nov 21 2026 07:04:05 src=203.0.113.7 spt=4444 dst=10.1.2.3 dpt=22 proto=TCP act=deny msg=scan of 22=ssh from outside|inside cat=/Attack/Scan dhost=oa.u00042.yunling.example request=https://oa.u00042.yunling.example/x?a\=1";
    let e = parse(line).unwrap();
    assert_eq!(e.timestamp.to_string(), "2026-11-21T07:04:05Z");
    assert_eq!(e.event.severity, Some(8));
    assert_eq!(e.event.action.as_deref(), Some("deny"));
    let rule = e.rule.as_ref().unwrap();
    assert_eq!(
        (rule.id.as_deref(), rule.name.as_deref(), rule.category.as_deref()),
        (Some("200001"), Some("Port scan | sweep"), Some("/Attack/Scan"))
    );
    // Unescaped `=` and `|` inside a value stay in the value.
    assert_eq!(e.message.as_deref(), Some("scan of 22=ssh from outside|inside"));
    assert_eq!(e.source.as_ref().unwrap().ip.unwrap().to_string(), "203.0.113.7");
    let d = e.destination.as_ref().unwrap();
    assert_eq!((d.port, d.domain.as_deref()), (Some(22), Some("oa.u00042.yunling.example")));
    assert_eq!(e.network.as_ref().unwrap().transport.as_deref(), Some("tcp"));
    assert_eq!(e.url.as_ref().unwrap().full.as_deref(), Some("https://oa.u00042.yunling.example/x?a=1"));
    assert_eq!(e.observer.as_ref().unwrap().vendor.as_deref(), Some("Hillstone"));
}

#[test]
fn no_time_of_its_own_means_the_receive_time() {
    let e = parse("CEF:0|V|P|1|1|n|3|src=192.0.2.1").unwrap();
    assert_eq!(e.timestamp, crate::ctx().received);
    let e = parse("CEF:0|V|P|1|1|n|3|").unwrap();
    assert!(e.source.is_none());
}

#[test]
fn every_bad_input_has_a_reason() {
    let cases: &[(&[u8], Reason, &str)] = &[
        (b"Nov 21 host sshd: not cef", Reason::Malformed, "no `CEF:` header"),
        (b"CEF:0|V|P|1|1|name", Reason::Malformed, "5 of the 7"),
        (b"CEF:7|V|P|1|1|n|3|src=1.2.3.4", Reason::BadValue, "version `7`"),
        (b"CEF:0|V|P|1|1|n|urgent|src=1.2.3.4", Reason::BadValue, "severity `urgent`"),
        (b"CEF:0|V|P|1|1|n|3|src=1.2.3.999", Reason::BadValue, "src `1.2.3.999`"),
        (b"CEF:0|V|P|1|1|n|3|spt=99999", Reason::BadValue, "spt `99999`"),
        (b"CEF:0|V|P|1|1|n|3|rt=32nd of June", Reason::BadTimestamp, "32nd of June"),
        (b"CEF:0|V|P|1|1|n|3|rt=4133980800000", Reason::BadTimestamp, "outside 1970"),
        (b"CEF:0|V|P|1|1|n|3|garbage src=1.2.3.4", Reason::Malformed, "before its first key"),
        (b"CEF:0|V|P|1|1|\xc7\xe0|3|src=1.2.3.4", Reason::NotUtf8, "not valid UTF-8"),
        (b"CEF:0|V|P|1|1|n|3|msg=a\0b", Reason::NulByte, "NUL"),
    ];
    for (input, reason, needle) in cases {
        let r = Cef.parse(input, &crate::ctx()).unwrap_err();
        assert_eq!(r.reason, *reason, "{} -> {r}", String::from_utf8_lossy(input));
        assert!(r.to_string().contains(needle), "`{r}` should mention `{needle}`");
    }
}

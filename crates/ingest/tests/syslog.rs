use shouwang_ingest::parse::{Ctx, Parser, Syslog};
use shouwang_ingest::{Event, Reason};

use crate::ctx;

fn parse(line: &str) -> Event {
    Syslog::default().parse(line.as_bytes(), &ctx()).unwrap_or_else(|r| panic!("{line}: {r}"))
}

#[test]
fn rfc5424_with_structured_data() {
    let line = r#"<165>1 2026-11-21T15:04:05.003+08:00 fw-qc-01.yunling.example sshd 8710 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] Failed password for root from 203.0.113.7 port 4444"#;
    let e = parse(line);
    assert_eq!(e.timestamp.to_string(), "2026-11-21T07:04:05.003Z");
    assert_eq!(e.event.dataset, "syslog.rfc5424");
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["log"]["syslog"]["facility"], serde_json::json!({"code": 20, "name": "local4"}));
    assert_eq!(v["log"]["syslog"]["severity"], serde_json::json!({"code": 5, "name": "notice"}));
    assert_eq!(v["log"]["syslog"]["priority"], 165);
    assert_eq!(v["log"]["syslog"]["structured_data"]["exampleSDID@32473"]["eventSource"], "Application");
    assert_eq!(v["host"]["hostname"], "fw-qc-01.yunling.example");
    assert_eq!(v["process"], serde_json::json!({"name": "sshd", "pid": 8710}));
    assert_eq!(e.message.as_deref(), Some("Failed password for root from 203.0.113.7 port 4444"));
    assert_eq!(e.event.original.as_deref(), Some(line));
}

#[test]
fn rfc3164_year_and_zone_come_from_the_source() {
    // Received 2026-11-22 08:00Z; a November line is this year, a December one last year.
    let e = parse("<34>Nov 21 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(e.timestamp.to_string(), "2026-11-21T22:14:15Z");
    assert_eq!(e.event.dataset, "syslog.rfc3164");
    assert_eq!(e.event.severity, Some(8), "crit");
    let e = parse("<34>Dec 31 23:59:59 mymachine su: x");
    assert_eq!(e.timestamp.to_string(), "2025-12-31T23:59:59Z");
    let beijing = Syslog { offset: chrono::FixedOffset::east_opt(8 * 3600).unwrap() };
    let e = beijing.parse(b"<34>Nov 21 22:14:15 mymachine su: x", &ctx()).unwrap();
    assert_eq!(e.timestamp.to_string(), "2026-11-21T14:14:15Z");
}

#[test]
fn free_text_is_still_a_message_and_bad_bytes_are_rejected() {
    let e = parse("just some text without a header");
    assert_eq!(e.message.as_deref(), Some("just some text without a header"));
    assert_eq!(e.timestamp, ctx().received, "no time of its own: the receive time");
    for odd in [
        "<999>Nov 21 22:14:15 host app: bad pri",
        "<13>Feb 30 25:61:61 host app: impossible date",
        "<13>1 - - - - - [unterminated sd",
        "<>",
        "<13>",
    ] {
        let e = Syslog::default().parse(odd.as_bytes(), &ctx());
        assert!(e.is_ok(), "{odd}: lenient syslog keeps odd lines as messages: {e:?}");
    }
    let bad: &[(&[u8], Reason)] =
        &[(b"", Reason::Malformed), (b"<13>Nov 21 22:14:15 host app: \xc7\xe0", Reason::NotUtf8), (b"<13>a\0b", Reason::NulByte)];
    for (input, reason) in bad {
        assert_eq!(Syslog::default().parse(input, &ctx()).unwrap_err().reason, *reason);
    }
    let mut small = Ctx::new("t");
    small.max_record_bytes = 64;
    assert_eq!(Syslog::default().parse(&[b'a'; 65], &small).unwrap_err().reason, Reason::TooLarge);
}

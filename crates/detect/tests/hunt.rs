//! Offline hunting over mixed, partly broken input: hits name their input
//! and line, bad records are reported with theirs, and reading goes on.

use shouwang_detect::hunt::{Finding, Unreadable, hunt};
use shouwang_detect::{CorrelationConfig, Rules, TimestampFallback};

const RULES: &str = "title: Whoami
id: r-whoami
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|contains: whoami
    condition: selection
level: medium
---
title: Dot1x off
id: r-dot1x
logsource: {product: cisco, service: aaa}
detection:
    keywords:
        - 'no dot1x port-control'
    condition: keywords
level: high
---
title: Repeated whoami
id: r-many
correlation:
    type: event_count
    rules: [r-whoami]
    group-by: [Computer]
    timespan: 1m
    condition: {gte: 2}
level: high
";

fn run(input: &[u8]) -> (Vec<Finding>, Vec<Unreadable>, shouwang_detect::hunt::HuntReport) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.yml"), RULES).unwrap();
    // Historical input: correlate on the events' own times, never the wall clock.
    let config = CorrelationConfig { timestamp_fallback: TimestampFallback::Skip, ..Default::default() };
    let (mut rules, report) = Rules::load(&[dir.path().to_path_buf()], Vec::new(), config).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let (mut found, mut bad) = (Vec::new(), Vec::new());
    let mut json_records = 0;
    let r = hunt(&mut rules, "in.log", input, &mut |f| found.push(f), &mut |_, _| json_records += 1, &mut |u| bad.push(u)).unwrap();
    assert!(json_records <= r.records, "every JSON record is offered for other matching, text lines are not");
    (found, bad, r)
}

fn win(time: &str, cmd: &str) -> String {
    format!(
        r##"{{"Event": {{"System": {{"EventID": 1, "Computer": "pc1", "TimeCreated": {{"#attributes": {{"SystemTime": "{time}"}}}}}}, "EventData": {{"CommandLine": "{cmd}"}}}}}}"##
    )
}

#[test]
fn json_lines_with_plain_and_broken_lines_between_them() {
    let lines = [
        win("2026-11-21T08:00:00Z", "cmd /c whoami /all"),
        win("2026-11-21T08:00:30Z", "whoami"),
        // Truncated: refused alone, nothing after it swallowed.
        r#"{"CommandLine": "whoami", "#.to_string(),
        // A plain log line, for the keyword rule.
        "172.16.5.10 6705: Feb 17 13:40:03.673: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin logged command:no dot1x port-control".into(),
        "{not json at all".into(),
        // An array of events.
        r#"[{"CommandLine": "a"}, {"CommandLine": "whoami"}]"#.into(),
    ];
    let mut bytes = lines.join("\n").into_bytes();
    // 7: GBK, not UTF-8; 8: a good record after all of it.
    bytes.extend_from_slice(b"\n\xc4\xe3\xba\xc3 whoami\n{\"CommandLine\": \"whoami /priv\"}\n");
    let (found, bad, report) = run(&bytes);
    let got: Vec<(u64, &str)> = found.iter().map(|f| (f.line, f.hit.rule_id.as_str())).collect();
    assert_eq!(got, [(1, "r-whoami"), (2, "r-whoami"), (2, "r-many"), (4, "r-dot1x"), (6, "r-whoami"), (8, "r-whoami")]);
    assert!(found.iter().all(|f| f.input == "in.log"));
    let bad: Vec<(u64, &str)> = bad.iter().map(|u| (u.line, u.reason.as_str())).collect();
    assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), [3, 5, 7], "{bad:?}");
    assert!(bad[0].1.contains("EOF"), "{bad:?}");
    assert_eq!(bad[2].1, "not UTF-8 at byte 0");
    assert_eq!((report.records, report.findings, report.unreadable), (6, 6, 3), "the array is two records");
}

#[test]
fn pretty_printed_exports_with_a_broken_value_between_good_ones() {
    let input = [
        "{",                                                                         // 1
        " \"Event\": {",                                                             // 2
        "  \"System\": {\"EventID\": 1, \"Computer\": \"pc1\"},",                    // 3
        "  \"EventData\": {",                                                        // 4
        "   \"CommandLine\": \"cmd /c whoami\",",                                    // 5
        "   \"Note\": \"braces } ] in a string [ { do not count, nor \\\" quotes\"", // 6
        "  }",                                                                       // 7
        " }",                                                                        // 8
        "}",                                                                         // 9
        "{",                                                                         // 10: broken
        " \"Event\": {\"EventData\": {\"CommandLine\": \"whoami\" \"Missing\": \"comma\"}}",
        "}",                                         // 12
        "{\"Event\": {\"EventData\":",               // 13
        "  {\"CommandLine\": \"whoami /groups\"}}}", // 14
        "{",                                         // 15: never closes
        " \"Event\": {",
    ]
    .join("\n");
    let (found, bad, report) = run(input.as_bytes());
    let got: Vec<(u64, &str)> = found.iter().map(|f| (f.line, f.hit.rule_id.as_str())).collect();
    assert_eq!(got, [(1, "r-whoami"), (13, "r-whoami")]);
    let bad: Vec<(u64, &str)> = bad.iter().map(|u| (u.line, u.reason.as_str())).collect();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert_eq!(bad[0].0, 10);
    assert!(bad[0].1.starts_with("JSON value on lines 10–12"), "{bad:?}");
    assert_eq!(bad[1], (15, "the input ends inside a JSON value"));
    assert_eq!(report.records, 2);
}

#[test]
fn a_value_past_the_limit_is_skipped_to_its_end() {
    let mut input = b"{\"a\": [\n".to_vec();
    let line = format!("\"{}\",\n", "x".repeat(1000));
    while input.len() <= shouwang_detect::hunt::MAX_RECORD + 2000 {
        input.extend_from_slice(line.as_bytes());
    }
    input.extend_from_slice(b"\"end\"]}\nwhoami plain line after it\n");
    // A single line over the limit, then a record that still fires.
    input.extend(std::iter::repeat_n(b'x', shouwang_detect::hunt::MAX_RECORD + 10));
    input.extend_from_slice(b"\n{\"CommandLine\": \"whoami\"}\n");
    let (_, bad, report) = run(&input);
    assert_eq!(bad.len(), 2, "{:?}", bad.iter().map(|u| (u.line, &u.reason)).collect::<Vec<_>>());
    assert!(bad[0].reason.contains("longer than"), "{}", bad[0].reason);
    assert!(bad[1].reason.contains("over the 16777216-byte limit"), "{}", bad[1].reason);
    assert_eq!(report.records, 2, "the lines after the giant value and the giant line are still read");
    assert_eq!(report.findings, 1);
}

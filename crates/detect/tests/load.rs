//! Loading reports every rule it cannot use, by file and rule, and keeps the rest.

use std::path::Path;

use shouwang_detect::{CorrelationConfig, JsonEvent, Rules};

const GOOD: &str = "title: Whoami
id: 00000000-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|contains: whoami
    condition: selection
level: medium
";

fn write(dir: &Path, name: &str, body: &[u8]) {
    std::fs::write(dir.join(name), body).unwrap();
}

#[test]
fn bad_rules_are_reported_by_name_and_the_rest_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "good.yml", GOOD.as_bytes());
    write(d, "yaml_error.yml", b"title: [unclosed\ndetection: {");
    write(d, "modifier.yml", GOOD.replace("contains", "containz").replace("0001", "0002").as_bytes());
    write(
        d,
        "missing_ident.yml",
        GOOD.replace("condition: selection", "condition: selection and nothere").replace("0001", "0003").as_bytes(),
    );
    write(d, "duplicate.yml", GOOD.replace("Whoami", "Whoami again").as_bytes());
    write(d, "gbk.yml", b"title: \xc4\xe3\xba\xc3\n");
    write(d, "huge.yml", &vec![b'#'; 2 * 1024 * 1024]);
    write(d, "regex.yml", GOOD.replace("CommandLine|contains: whoami", "CommandLine|re: '(a+'").replace("0001", "0004").as_bytes());
    // The same id, fixed: a rule that failed to load does not hold its id.
    write(
        d,
        "regex_fixed.yml",
        GOOD.replace("CommandLine|contains: whoami", "CommandLine|re: '^never(a+)$'").replace("0001", "0004").as_bytes(),
    );
    write(
        d,
        "corr.yml",
        b"title: Many whoami
id: 00000000-0000-4000-8000-000000000010
correlation:
    type: event_count
    rules: [00000000-0000-4000-8000-000000000001]
    group-by: [Computer]
    timespan: 5m
    condition: {gte: 3}
level: high
---
title: Orphan
id: 00000000-0000-4000-8000-000000000011
correlation:
    type: event_count
    rules: [no-such-rule]
    timespan: 5m
    condition: {gte: 3}
",
    );
    write(d, "notes.txt", b"not a rule file");
    let (mut rules, report) = Rules::load(&[d.to_path_buf()], Vec::new(), CorrelationConfig::default()).unwrap();
    let problem = |file: &str| {
        report
            .problems
            .iter()
            .find(|p| p.file.file_name().unwrap() == file)
            .unwrap_or_else(|| panic!("no problem reported for {file}: {:#?}", report.problems))
    };
    assert!(problem("yaml_error.yml").reason.to_lowercase().contains("yaml"), "{:?}", problem("yaml_error.yml"));
    assert!(problem("modifier.yml").reason.contains("containz"), "{:?}", problem("modifier.yml"));
    assert!(problem("missing_ident.yml").reason.contains("nothere"), "{:?}", problem("missing_ident.yml"));
    // Files load in name order: duplicate.yml comes first, so good.yml's copy is the one refused.
    assert_eq!(problem("good.yml").rule.as_deref(), Some("00000000-0000-4000-8000-000000000001"));
    assert!(problem("good.yml").reason.contains("duplicate rule id"));
    assert!(problem("gbk.yml").reason.contains("not UTF-8"));
    assert!(problem("huge.yml").reason.contains("limit"));
    assert!(problem("regex.yml").reason.contains("regex"), "{:?}", problem("regex.yml"));
    let orphan = problem("corr.yml");
    assert_eq!(orphan.rule.as_deref(), Some("00000000-0000-4000-8000-000000000011"));
    assert!(orphan.reason.contains("no-such-rule"), "{orphan:?}");
    assert_eq!((report.files, report.rules, report.correlations), (10, 2, 1), "{report:#?}");
    assert_eq!(report.problems.len(), 8, "{:#?}", report.problems);

    // What loaded works, correlations included.
    let ev = serde_json::json!({"CommandLine": "cmd /c whoami", "Computer": "pc1"});
    let hits = rules.detect(&JsonEvent::borrow(&ev));
    assert_eq!(hits.iter().map(|h| h.title.as_str()).collect::<Vec<_>>(), ["Whoami again"]);
    let hits: Vec<_> = (0..3).flat_map(|i| rules.process(&JsonEvent::borrow(&ev), 1_763_700_000 + i)).collect();
    let corr: Vec<_> = hits.iter().filter(|h| h.kind == "event_count").collect();
    assert_eq!(corr.len(), 1, "{hits:#?}");
    assert_eq!((corr[0].title.as_str(), corr[0].level.as_deref()), ("Many whoami", Some("high")));

    assert!(
        Rules::load(&[d.join("missing")], Vec::new(), CorrelationConfig::default()).is_err(),
        "a named path that is absent is an error"
    );
}

/// A rule with a regex that backtracking engines take exponential time on,
/// over a 100 kB field: the rule set still answers (the regex crate is
/// linear), and the cost samples name that rule as the costly one.
#[test]
fn a_costly_rule_is_named_by_the_cost_samples() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "cheap.yml", GOOD.replace("CommandLine|contains: whoami", "Image|endswith: '\\whoami.exe'").as_bytes());
    let costly = GOOD.replace("CommandLine|contains: whoami", "CommandLine|re: '^(\\w+\\s?)*[^\\w\\s]{2}$'").replace("0001", "0005");
    write(d, "costly.yml", costly.replace("Whoami", "Nested quantifiers").as_bytes());
    // Written for another log source: never evaluated on these events.
    let elsewhere = GOOD.replace("product: windows", "product: linux").replace("0001", "0006");
    write(d, "elsewhere.yml", elsewhere.replace("Whoami", "Linux whoami").as_bytes());
    let (mut rules, report) = Rules::load(&[d.to_path_buf()], vec![], CorrelationConfig::default()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let event = serde_json::json!({
        "CommandLine": format!("{} !", "word ".repeat(20_000)),
        "Image": "C:\\Windows\\System32\\cmd.exe",
        "logsource": {"product": "windows", "category": "process_creation"},
    });
    for _ in 0..3 {
        assert!(rules.process(&JsonEvent::borrow(&event), 0).is_empty());
    }
    let costs = rules.costs(10);
    assert_eq!((costs.events_seen, costs.events_sampled), (3, 1), "the first event of every {} is sampled", shouwang_detect::SAMPLE_EVERY);
    let named: Vec<(&str, u64)> = costs.costliest.iter().map(|c| (c.title.as_str(), c.evaluations)).collect();
    assert_eq!(named, [("Nested quantifiers", 1), ("Whoami", 1)], "{costs:#?}");
    assert!(costs.costliest[0].slow, "{costs:#?}");
}

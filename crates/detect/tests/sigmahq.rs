//! The SigmaHQ corpus (`../shared/sigmahq`, see its SOURCE.md): every rule
//! loads or is reported by name, and every regression sample fires the rule
//! its info.yml names.

use std::path::{Path, PathBuf};

use shouwang_detect::{CorrelationConfig, JsonEvent, PlainEvent, Rules, windows};

/// Missing is a failure, not a skip: these tests are the proof that the engine is right.
fn sigmahq() -> PathBuf {
    shouwang_demo::sigmahq_dir().unwrap_or_else(|e| panic!("{e}"))
}

fn rule_dirs(root: &Path) -> Vec<PathBuf> {
    ["rules", "rules-emerging-threats", "rules-threat-hunting"].iter().map(|d| root.join(d)).collect()
}

/// The rule id an info.yml names (`rule_metadata: - id: …`).
fn named_rule(info: &str) -> Option<String> {
    let rest = &info[info.find("rule_metadata:")?..];
    let line = rest.lines().skip(1).find(|l| l.trim_start().trim_start_matches("- ").starts_with("id:"))?;
    Some(line.split_once("id:")?.1.trim().to_string())
}

fn info_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() {
            info_files(&p, out);
        } else if p.file_name().is_some_and(|n| n == "info.yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_regression_sample_fires_its_rule() {
    let root = sigmahq();
    let (rules, report) = Rules::load(&rule_dirs(&root), Vec::new(), CorrelationConfig::default()).unwrap();
    for p in &report.problems {
        eprintln!("not loaded: {} {}: {}", p.file.display(), p.rule.as_deref().unwrap_or("-"), p.reason);
    }
    assert!(report.rules > 3000, "{} rules loaded of {} files", report.rules, report.files);
    let mut infos = Vec::new();
    info_files(&root.join("regression_data"), &mut infos);
    infos.sort();
    assert!(infos.len() >= 200, "{} regression samples", infos.len());
    let mut failures = Vec::new();
    // Rules for other log sources that would match these events on field
    // absence alone (`condition: not selection`), and must be skipped.
    const ZEEK_RDP: &str = "1fc0809e-06bf-4de3-ad52-25e5263b7623";
    let mut foreign = 0;
    for info in &infos {
        let want = named_rule(&std::fs::read_to_string(info).unwrap()).unwrap_or_else(|| panic!("no rule id in {}", info.display()));
        let dir = info.parent().unwrap();
        let mut fired = false;
        let mut events = 0;
        for sample in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            let text = std::fs::read_to_string(&sample).unwrap();
            match sample.extension().and_then(|x| x.to_str()) {
                // Windows event exports (one sample is named .jsoncls).
                Some("json" | "jsoncls") => {
                    let (values, err) = windows::values(&text);
                    assert!(err.is_none(), "{}: {err:?}", sample.display());
                    for v in values {
                        let flat = windows::flatten(&v).unwrap_or_else(|| panic!("{} is not a Windows event export", sample.display()));
                        events += 1;
                        let hits = rules.detect(&JsonEvent::borrow(&flat));
                        fired |= hits.iter().any(|h| h.rule_id == want);
                        foreign += hits.iter().filter(|h| h.rule_id == ZEEK_RDP).count();
                    }
                }
                // Raw log lines, for keyword rules.
                Some("raw") => {
                    for line in text.lines().filter(|l| !l.trim().is_empty()) {
                        events += 1;
                        fired |= rules.detect(&PlainEvent::new(line.to_string())).iter().any(|h| h.rule_id == want);
                    }
                }
                _ => {}
            }
        }
        assert!(events > 0, "no events beside {}", info.display());
        if !fired {
            failures.push(format!("{want} ({})", dir.strip_prefix(&root).unwrap().display()));
        }
    }
    assert_eq!(foreign, 0, "a Zeek rule fired on Windows events: log sources are not routed");
    assert!(failures.is_empty(), "{} of {} samples did not fire their rule:\n{}", failures.len(), infos.len(), failures.join("\n"));
}

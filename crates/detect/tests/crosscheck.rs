//! Sigma correctness against an independent implementation: the same rules
//! converted by pySigma's SQLite backend (from PyPI, pinned in
//! `crosscheck/requirements.txt`) and run as SQL over the same events loaded
//! into SQLite must give the same (rule, event) matches as our engine. Every
//! difference is either fixed or listed in `EXPLAINED` with its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use shouwang_detect::{CorrelationConfig, JsonEvent, Rules};

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crosscheck")
}

/// `$SHOUWANG_PYSIGMA_PYTHON`, else a virtualenv under the target directory
/// with the pinned packages, made on first use (PyPI is reachable wherever
/// the tests run; a missing interpreter fails the test, it does not skip it).
fn pysigma_python() -> PathBuf {
    // Tests run on threads: the first makes the virtualenv, the rest wait.
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_pysigma_python).clone()
}

fn make_pysigma_python() -> PathBuf {
    if let Some(p) = std::env::var_os("SHOUWANG_PYSIGMA_PYTHON") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pysigma-2.0.1");
    let python = venv.join("bin/python");
    let ready = |p: &Path| Command::new(p).args(["-c", "import sigma.backends.sqlite"]).output().is_ok_and(|o| o.status.success());
    if !ready(&python) {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 for the pySigma cross-check");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(here().join("requirements.txt"))
            .status()
            .unwrap();
        assert!(pip.success(), "pip install -r crosscheck/requirements.txt");
        assert!(ready(&python), "pySigma does not import after install");
    }
    python
}

type Matches = BTreeMap<String, BTreeSet<usize>>;

fn theirs(rules: &Path, events: &Path) -> (Matches, BTreeMap<String, String>) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let run = Command::new(pysigma_python()).arg(here().join("sigma_sqlite.py")).arg(rules).arg(events).arg(out.path()).output().unwrap();
    assert!(run.status.success(), "pySigma side failed:\n{}", String::from_utf8_lossy(&run.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap();
    let matches = v["matches"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, ids)| (k.clone(), ids.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as usize).collect()))
        .collect();
    let errors = v["errors"].as_object().unwrap().iter().map(|(k, e)| (k.clone(), e.as_str().unwrap().to_string())).collect();
    (matches, errors)
}

fn ours(rules: &Path, events: &[serde_json::Value]) -> Matches {
    let (rules, report) = Rules::load(&[rules.to_path_buf()], Vec::new(), CorrelationConfig::default()).unwrap();
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let mut m = Matches::new();
    for (i, e) in events.iter().enumerate() {
        for hit in rules.detect(&JsonEvent::borrow(e)) {
            m.entry(hit.rule_id).or_default().insert(i);
        }
    }
    m
}

/// Differences that are the two implementations' documented semantics, not
/// bugs: (rule id, event index, who matches, why).
const EXPLAINED: &[(&str, usize, &str, &str)] = &[];

/// Every (rule, event) that one side matches and the other does not, except
/// rules pySigma could not convert and the differences in `EXPLAINED`.
fn differences(theirs: &Matches, ours: &Matches, skip: &BTreeMap<String, String>, events: &[serde_json::Value]) -> Vec<String> {
    let mut diffs = Vec::new();
    let empty = BTreeSet::new();
    for id in theirs.keys().chain(ours.keys()).collect::<BTreeSet<_>>() {
        if skip.contains_key(id.as_str()) {
            continue;
        }
        let (t, o) = (theirs.get(id).unwrap_or(&empty), ours.get(id).unwrap_or(&empty));
        for &i in t.symmetric_difference(o) {
            let who = if o.contains(&i) { "ours" } else { "pysigma" };
            if !EXPLAINED.iter().any(|(r, e, w, _)| r == id && *e == i && *w == who) {
                diffs.push(format!("rule {id}, event {i} ({}): only {who} matches", events[i]));
            }
        }
    }
    diffs
}

#[test]
fn hand_written_rules_for_every_construct_match_pysigma() {
    let rules = here().join("rules");
    let events_path = here().join("events.jsonl");
    let events: Vec<serde_json::Value> =
        std::fs::read_to_string(&events_path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (theirs, errors) = theirs(&rules, &events_path);
    assert!(errors.is_empty(), "pySigma could not convert: {errors:#?}");
    assert_eq!(theirs.len(), 24, "every hand-written rule converted");
    let ours = ours(&rules, &events);
    let diffs = differences(&theirs, &ours, &BTreeMap::new(), &events);
    assert!(diffs.is_empty(), "{} unexplained differences:\n{}", diffs.len(), diffs.join("\n"));
    // The check is not empty: most rules match something.
    assert!(theirs.values().filter(|m| !m.is_empty()).count() >= 22);
}

/// SigmaHQ's Windows rules over every regression sample, flattened by our
/// code. The log source fields are left out: pySigma's SQL has no log
/// source routing, so both sides apply every rule to every event.
#[test]
fn sigmahq_windows_rules_over_the_regression_samples_match_pysigma() {
    let corpus = shouwang_demo::sigmahq_dir().unwrap_or_else(|e| panic!("{e}"));
    let mut files = Vec::new();
    shouwang_detect::files_below(&corpus.join("regression_data"), &mut files).unwrap();
    let mut events = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "json")) {
        let (values, err) = shouwang_detect::windows::values(&std::fs::read_to_string(f).unwrap());
        assert!(err.is_none());
        for v in values {
            let mut flat = shouwang_detect::windows::flatten(&v).unwrap();
            let obj = flat.as_object_mut().unwrap();
            for k in shouwang_detect::windows::LOGSOURCE_FIELDS {
                obj.remove(k);
            }
            events.push(flat);
        }
    }
    assert!(events.len() >= 230, "{} events", events.len());
    let dir = tempfile::tempdir().unwrap();
    let events_path = dir.path().join("events.jsonl");
    std::fs::write(&events_path, events.iter().map(|e| format!("{e}\n")).collect::<String>()).unwrap();
    let rules = corpus.join("rules/windows");
    let (theirs, errors) = theirs(&rules, &events_path);
    let ours = ours(&rules, &events);
    let diffs = differences(&theirs, &ours, &errors, &events);
    eprintln!(
        "{} rules converted by pySigma, {} not; {} (rule, event) matches",
        theirs.len(),
        errors.len(),
        theirs.values().map(BTreeSet::len).sum::<usize>()
    );
    assert!(diffs.is_empty(), "{} unexplained differences:\n{}", diffs.len(), diffs.join("\n"));
}

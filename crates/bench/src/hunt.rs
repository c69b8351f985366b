//! Offline hunting against rsigma: `shouwang detect` and `rsigma engine
//! eval` (the CLI from crates.io, same engine version) on the SigmaHQ
//! Windows rules and the same JSON events, in the same run, with their
//! (rule, event) matches required to be identical.
//!
//! The events are the Windows regression samples, flattened as `shouwang
//! detect` flattens evtx exports (with their Sigma log source), repeated.
//! Both tools route rules by those log source fields.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::stats;

/// The flattened Windows regression samples.
fn samples(dir: &Path, out: &mut Vec<Value>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            samples(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&p).unwrap();
            for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>().map_while(Result::ok) {
                let items = match v {
                    Value::Array(a) => a,
                    v => vec![v],
                };
                for v in items {
                    out.push(shouwang_detect::windows::flatten(&v).unwrap_or(v));
                }
            }
        }
    }
}

/// Seconds `cmd` took, its stdout saved to `out`; panics if it fails.
fn timed(cmd: &mut Command, out: &Path) -> f64 {
    let t = Instant::now();
    let status = cmd.stdout(std::fs::File::create(out).unwrap()).stderr(Stdio::null()).status().unwrap();
    let s = t.elapsed().as_secs_f64();
    assert!(status.success(), "{cmd:?}: {status}");
    s
}

/// (rule id, 1-based line) → count, from JSON lines; `line` reads a hit's line.
fn matches(path: &Path, line: impl Fn(&Value) -> Option<u64>) -> BTreeMap<(String, u64), u32> {
    let mut m = BTreeMap::new();
    for l in std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        let rule = v["rule_id"].as_str().or(v["id"].as_str()).unwrap_or_default().to_string();
        *m.entry((rule, line(&v).unwrap_or(0))).or_default() += 1;
    }
    m
}

pub fn run(runs: usize, copies: usize) {
    let root = match shouwang_demo::sigmahq_dir() {
        Ok(d) => d,
        Err(e) => return println!("## Offline detect vs rsigma: skipped ({e})\n"),
    };
    let shouwang = std::env::current_exe().unwrap().with_file_name("shouwang");
    if !shouwang.exists() {
        return println!("## Offline detect vs rsigma: skipped (build `cargo build --release -p shouwang` first)\n");
    }
    let rsigma = std::env::var_os("RSIGMA").map(PathBuf::from).unwrap_or_else(|| "rsigma".into());
    if Command::new(&rsigma).arg("--version").output().is_err() {
        return println!(
            "## Offline detect vs rsigma: skipped (install it: `cargo install rsigma --version =0.23.0 --no-default-features --locked`, \
             or set RSIGMA)\n"
        );
    }
    let rules = root.join("rules/windows");
    let mut events = Vec::new();
    samples(&root.join("regression_data/rules/windows"), &mut events);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.ndjson");
    let mut text = String::new();
    let mut n = 0u64;
    for _ in 0..copies {
        for e in &events {
            // Each event names its line, so rsigma's output (which has no
            // line numbers) can be matched to ours; a number matches no
            // keyword and no rule names `_line`.
            let mut e = e.clone();
            n += 1;
            e["_line"] = n.into();
            text.push_str(&e.to_string());
            text.push('\n');
        }
    }
    std::fs::write(&input, &text).unwrap();
    let empty = dir.path().join("empty.ndjson");
    std::fs::write(&empty, "").unwrap();

    let ours = |input: &Path| {
        let mut c = Command::new(&shouwang);
        c.arg("detect").arg("--rules").arg(&rules).arg(input);
        c
    };
    let theirs = |input: &Path, include_event: bool| {
        let mut c = Command::new(&rsigma);
        c.args(["engine", "eval", "-r"]).arg(&rules).arg("-e").arg(format!("@{}", input.display()));
        c.args([
            "--logsource-routing",
            "--logsource-field-map",
            "product=logsource.product,service=logsource.service,category=logsource.category",
        ]);
        if include_event {
            c.arg("--include-event");
        }
        c
    };

    // Same matches, event by event.
    let (a, b) = (dir.path().join("ours.jsonl"), dir.path().join("theirs.jsonl"));
    timed(&mut ours(&input), &a);
    timed(&mut theirs(&input, true), &b);
    let ours_m = matches(&a, |v| v["line"].as_u64());
    let theirs_m = matches(&b, |v| v["event"]["_line"].as_u64());
    let total: u32 = ours_m.values().sum();
    let differ: Vec<_> = ours_m
        .iter()
        .filter(|(k, v)| theirs_m.get(*k) != Some(v))
        .chain(theirs_m.iter().filter(|(k, _)| !ours_m.contains_key(*k)))
        .take(10)
        .collect();

    let (mut t_ours, mut t_theirs, mut l_ours, mut l_theirs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        t_ours.push(timed(&mut ours(&input), &a));
        t_theirs.push(timed(&mut theirs(&input, false), &b));
        l_ours.push(timed(&mut ours(&empty), &a));
        l_theirs.push(timed(&mut theirs(&empty, false), &b));
    }
    let (t_ours, t_theirs, l_ours, l_theirs) = (stats(t_ours), stats(t_theirs), stats(l_ours), stats(l_theirs));
    let rate = |t: f64, l: f64| n as f64 / (t - l).max(1e-9) / 1000.0;
    println!("## Offline detect vs rsigma: SigmaHQ Windows rules on JSON events\n");
    println!(
        "{} events ({} regression samples × {copies}, {:.0} MB of NDJSON); rules: `rules/windows`. \
         {total} (rule, event) matches from `shouwang detect`; rsigma: {}.\n",
        n,
        events.len(),
        text.len() as f64 / 1e6,
        if differ.is_empty() { "identical".to_string() } else { format!("**{} differences**, first: {differ:?}", differ.len()) }
    );
    println!("| tool | wall s (median, min, max) | load only s | events/s after load |");
    println!("|---|---|---|---|");
    println!(
        "| shouwang detect | {:.2} ({:.2}, {:.2}) | {:.2} | {:.1} k/s |",
        t_ours.median,
        t_ours.min,
        t_ours.max,
        l_ours.median,
        rate(t_ours.median, l_ours.median)
    );
    println!(
        "| rsigma engine eval | {:.2} ({:.2}, {:.2}) | {:.2} | {:.1} k/s |",
        t_theirs.median,
        t_theirs.min,
        t_theirs.max,
        l_theirs.median,
        rate(t_theirs.median, l_theirs.median)
    );
    println!(
        "\nRatio of wall times, shouwang ÷ rsigma: {:.2} (below 1 is faster); of event rates after load: {:.2}.\n",
        t_ours.median / t_theirs.median,
        rate(t_ours.median, l_ours.median) / rate(t_theirs.median, l_theirs.median)
    );
}

//! The full live pipeline on one core, on the mixed corpus: parse,
//! normalise, attribute, then detect (the SigmaHQ rule corpus, 1M threat
//! indicators, sensor alerts), classify, grade per asset, aggregate and
//! record alerts in a real SQLite store, against the same run's
//! parse-only and parse + attribute rungs.

use std::cell::Cell;
use std::sync::Arc;

use shouwang_alerts::{DetectionConfig, LiveDetection, Pending};
use shouwang_eventstore::{Accepted, Origin};
use shouwang_ingest::parse::{Ctx, Eve, Parser};
use shouwang_store::Attributor;

use crate::{SEED, compare, mps};

/// One pipeline batch: parsed, attributed, with origins.
fn batch(p: &dyn Parser, lines: &[String], ctx: &Ctx, att: &Attributor, pos: &Cell<i64>) -> Vec<Accepted> {
    let mut events: Vec<Accepted> = lines
        .iter()
        .filter_map(|r| p.parse(r.as_bytes(), ctx).ok())
        .map(|e| {
            pos.set(pos.get() + 1);
            Accepted::new(Origin { stream: 1, pos: pos.get() }, e)
        })
        .collect();
    att.tag(events.iter_mut().map(|a| &mut a.event));
    events
}

pub fn run(runs: usize, indicators: usize) {
    let n = 200_000;
    let rules = match shouwang_demo::sigmahq_dir() {
        Ok(d) => d.join("rules"),
        Err(e) => {
            println!("## Detection: skipped ({e})\n");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("indicators.csv");
    std::fs::write(&feed, crate::intel::generate(indicators)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let _entered = rt.enter();
    let store = rt.block_on(shouwang_store::Store::open_sqlite_dir(&dir.path().join("alerts"))).unwrap();
    let att = Arc::new(crate::demo_attributor(&dir.path().join("registry")));
    let config = DetectionConfig { rules: vec![rules], indicators: vec![feed], ..Default::default() };
    let t = std::time::Instant::now();
    let live = LiveDetection::new(config, store.clone(), att.clone()).unwrap();
    let loaded = t.elapsed().as_secs_f64();
    let summary = live.summary();

    let ctx = Ctx::new("bench");
    let mixed = shouwang_demo::mixed(SEED, n);
    let (syslog, cef) = (shouwang_ingest::parse::Syslog::default(), shouwang_ingest::parse::Cef);
    let parts: [(&dyn Parser, &[String]); 3] = [(&Eve, &mixed.eve), (&syslog, &mixed.syslog), (&cef, &mixed.cef)];
    let pos = Cell::new(0i64);
    let merges = Cell::new(0u64);
    let rows = compare(
        runs,
        &mut [
            ("serde_json parse-only (IgnoredAny), EVE part", mixed.eve.len(), &mut || {
                mixed.eve.iter().map(|r| serde_json::from_str::<serde::de::IgnoredAny>(r).is_ok() as u64).sum()
            }),
            ("mixed: parse + normalise + attribute", mixed.len(), &mut || crate::parse_attribute(&parts, &ctx, &att)),
            ("mixed: … + detect, grade, aggregate in memory (no store)", mixed.len(), &mut || {
                let mut pending = Pending::default();
                for (p, lines) in parts {
                    for chunk in lines.chunks(shouwang_pipeline::BATCH_RECORDS) {
                        live.detect(&batch(p, chunk, &ctx, &att, &pos), None, &mut pending).unwrap();
                    }
                }
                pending.len() as u64
            }),
            ("mixed: … + record alerts in SQLite (as the writer does)", mixed.len(), &mut || {
                let mut pending = Pending::default();
                let mut alerts = 0;
                for (p, lines) in parts {
                    for chunk in lines.chunks(shouwang_pipeline::BATCH_RECORDS) {
                        live.detect(&batch(p, chunk, &ctx, &att, &pos), None, &mut pending).unwrap();
                        if pending.due() {
                            alerts += live.record(std::mem::take(&mut pending)).unwrap() as u64;
                        }
                    }
                }
                alerts += live.record(pending).unwrap() as u64;
                merges.set(alerts);
                alerts
            }),
        ],
    );
    println!("## Detection: the full pipeline on one core, mixed corpus\n");
    println!(
        "{} records; {} Sigma rules and {} correlations loaded from the SigmaHQ corpus ({} not loaded), {} indicators; \
         content loaded in {loaded:.1} s.\n",
        mixed.len(),
        summary.rules.rules,
        summary.rules.correlations,
        summary.rules.problems.len(),
        summary.indicators_in_use
    );
    println!("| rung | events/s (median, min, max) | ÷ parse-only |");
    println!("|---|---|---|");
    let parse_only = rows[0].1.median;
    for (name, s) in &rows {
        println!("| {name} | {} | {:.2} |", mps(s), s.median / parse_only);
    }
    let findings = live.findings.load(std::sync::atomic::Ordering::Relaxed);
    println!("\n{findings} findings over all rounds; {} alert upserts per round with the store.\n", merges.get());
    println!("Targets (issue 4): ≥ 100k events/s on one core and ≥ 0.3 of the parse-only rung.\n");
}

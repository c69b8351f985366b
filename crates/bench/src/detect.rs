//! The full live pipeline on one core, on the mixed corpus: parse,
//! normalise, attribute, then detect (the SigmaHQ rule corpus, 1M threat
//! indicators, sensor alerts), classify, grade per asset, aggregate and
//! record alerts in a real SQLite store, against the same run's
//! parse-only and parse + attribute rungs.

use std::sync::Arc;

use shouwang_alerts::{DetectionConfig, LiveDetection};
use shouwang_eventstore::{Accepted, Origin};
use shouwang_ingest::parse::{Ctx, Eve, Parser};

use crate::{SEED, compare, mps};

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
    let mut pos = 0i64;
    let rows = compare(
        runs,
        &mut [
            ("serde_json parse-only (IgnoredAny), EVE part", mixed.eve.len(), &mut || {
                mixed.eve.iter().map(|r| serde_json::from_str::<serde::de::IgnoredAny>(r).is_ok() as u64).sum()
            }),
            ("mixed: parse + normalise + attribute", mixed.len(), &mut || crate::parse_attribute(&parts, &ctx, &att)),
            ("mixed: … + detect, grade, aggregate, record alerts", mixed.len(), &mut || {
                let mut alerts = 0;
                for (p, lines) in parts {
                    for chunk in lines.chunks(1024) {
                        let mut events: Vec<Accepted> = chunk
                            .iter()
                            .filter_map(|r| p.parse(r.as_bytes(), &ctx).ok())
                            .map(|e| {
                                pos += 1;
                                Accepted::new(Origin { stream: 1, pos }, e)
                            })
                            .collect();
                        att.tag(events.iter_mut().map(|a| &mut a.event));
                        alerts += live.on_batch(&events, None).unwrap() as u64;
                    }
                }
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
    println!("\n{findings} findings over all rounds.\n");
    println!("Targets (issue 4): ≥ 100k events/s on one core and ≥ 0.3 of the parse-only rung.\n");
}

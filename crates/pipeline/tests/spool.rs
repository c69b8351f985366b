use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use shouwang_eventstore::{Batch, DeadQuery, EventStore};
use shouwang_ingest::Format;
use shouwang_pipeline::spool::segment_stream;
use shouwang_pipeline::{Spool, SpoolError, SpoolRecord};

use crate::env;

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn spooled_records_are_processed_once_even_when_replayed() {
    let env = env();
    let spool = Arc::new(Spool::open(&env.dir.path().join("spool"), 1 << 30, 1 << 20, env.pipeline.counters.clone()).unwrap());
    let now = jiff::Timestamp::now();
    let lines: Vec<String> =
        (0..500).map(|i| format!("<34>1 2026-11-21T08:00:{:02}Z fw01 sshd {i} - - login from 192.0.2.{}", i % 60, i % 250)).collect();
    let recs: Vec<SpoolRecord> = lines
        .iter()
        .map(|l| SpoolRecord {
            format: Format::Syslog,
            received: now,
            source: "syslog-tcp",
            sensor: Some("fw-01"),
            reject: None,
            bytes: l.as_bytes(),
        })
        .collect();
    spool.append(&recs).unwrap();
    spool
        .append(&[SpoolRecord {
            format: Format::Eve,
            received: now,
            source: "http",
            sensor: Some("s1"),
            reject: None,
            bytes: b"{\"event_type\":",
        }])
        .unwrap();

    let run = |env: &crate::Env| {
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s, st) = (env.pipeline.clone(), spool.clone(), stop.clone());
        let h = std::thread::spawn(move || p.run_spool(&s, &st));
        (stop, h)
    };
    let (stop, h) = run(&env);
    let seg = spool.active().0;
    until("the spool to be consumed", || env.events.stream(&segment_stream(seg)).unwrap().position as u64 == spool.active().1);
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap().unwrap();
    assert_eq!(env.all().len(), 500);
    let dead = env.events.dead_letters(&DeadQuery::default()).unwrap();
    assert_eq!((dead.len(), dead[0].letter.source.as_str(), dead[0].letter.sensor.as_deref()), (1, "http", Some("s1")));
    let e = env.all().into_iter().find(|e| e["source"].is_null() && e["message"].as_str().unwrap().contains("192.0.2.5")).unwrap();
    assert_eq!(e["shouwang"]["sensor"], "fw-01");

    // As if the process died after storing but before the checkpoint: it all comes again.
    let stream = env.events.stream(&segment_stream(seg)).unwrap();
    env.events.write(&Batch { checkpoint: Some((stream.id, 0)), ..Default::default() }).unwrap();
    let dup_before = env.pipeline.counters.duplicates.load(Ordering::Relaxed);
    let (stop, h) = run(&env);
    until("the replay", || env.events.stream(&segment_stream(seg)).unwrap().position as u64 == spool.active().1);
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap().unwrap();
    assert_eq!(env.all().len(), 500, "nothing stored twice");
    assert_eq!(env.pipeline.counters.duplicates.load(Ordering::Relaxed) - dup_before, 500);

    // A full spool refuses instead of growing.
    let small = Spool::open(&env.dir.path().join("small"), 100, 1 << 20, Arc::default()).unwrap();
    small.append(&recs[..10]).unwrap();
    assert!(matches!(small.append(&recs[..1]), Err(SpoolError::Full { .. })));
}

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use shouwang_eventstore::{Batch, DeadQuery, EventStore};
use shouwang_ingest::Format;
use shouwang_ingest::parse::{FieldMap, FieldMaps};
use shouwang_pipeline::spool::segment_stream;
use shouwang_pipeline::{Pipeline, Spool, SpoolError, SpoolRecord};

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
            variant: "",
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
            variant: "",
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

#[test]
fn a_spooled_record_whose_field_map_is_gone_is_kept_and_replays_once_it_is_back() {
    let env = env();
    let spool = Arc::new(Spool::open(&env.dir.path().join("spool"), 1 << 30, 1 << 20, env.pipeline.counters.clone()).unwrap());
    let now = jiff::Timestamp::now();
    let rec = |variant, bytes| SpoolRecord {
        format: Format::Json,
        variant,
        received: now,
        source: "http",
        sensor: Some("waf-01"),
        reject: None,
        bytes,
    };
    let line = br#"{"ts":"2026-11-21 09:30:00","client":"198.51.100.7","rule":"SQLi"}"#;
    spool.append(&[rec("waf_acme", line), rec("", br#"{"@timestamp":"2026-11-21T01:00:00Z","message":"ecs"}"#)]).unwrap();
    // This process has no `[formats.waf_acme]` (say it was removed from the config).
    let stop = Arc::new(AtomicBool::new(false));
    let (p, s, st) = (env.pipeline.clone(), spool.clone(), stop.clone());
    let h = std::thread::spawn(move || p.run_spool(&s, &st));
    let seg = spool.active().0;
    until("the spool to be consumed", || env.events.stream(&segment_stream(seg)).unwrap().position as u64 == spool.active().1);
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap().unwrap();
    assert_eq!(env.all().len(), 1, "the record after the unmappable one still goes through");
    let dead = env.events.dead_letters(&DeadQuery::default()).unwrap();
    let l = &dead[0].letter;
    assert_eq!((dead.len(), l.format.as_str(), l.reason.as_str()), (1, "json:waf_acme", "unsupported"));
    assert!(l.detail.contains("no field map `waf_acme`"), "{}", l.detail);

    let mut maps = FieldMaps::default();
    let map = FieldMap::new("acme.waf", [("ts", "@timestamp"), ("client", "source.ip"), ("rule", "rule.name")]).unwrap();
    maps.insert("waf_acme", map.with_utc_offset("+08:00").unwrap()).unwrap();
    let fixed = Pipeline { field_maps: Arc::new(maps), ..env.pipeline.clone() };
    let r = fixed.replay(&DeadQuery::default()).unwrap();
    assert_eq!((r.tried, r.replayed), (1, 1));
    let e = env.all().into_iter().find(|e| e["event"]["dataset"] == "acme.waf").expect("the replayed event");
    assert_eq!((e["@timestamp"].as_str(), e["source"]["ip"].as_str()), (Some("2026-11-21T01:30:00Z"), Some("198.51.100.7")));
    assert_eq!((e["rule"]["name"].as_str(), e["shouwang"]["sensor"].as_str()), (Some("SQLi"), Some("waf-01")));
}

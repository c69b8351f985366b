//! Alert hits on the way through: held in memory across batches and
//! recorded as one merge, with the stream's checkpoint never passing hits
//! that are not recorded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use shouwang_alerts::{AlertSink, AlertsError, DetectionConfig, LiveDetection};
use shouwang_eventstore::EventStore;
use shouwang_pipeline::{BATCH_RECORDS, FileOptions, Source};
use shouwang_store::{AlertHits, StoreError};

use crate::env;

/// Alerts kept in memory; refuses to record while `fail` is set.
#[derive(Default)]
struct Memory {
    fail: AtomicBool,
    records: Mutex<Vec<Vec<AlertHits>>>,
    marks: Mutex<HashMap<i64, i64>>,
}

struct Sink(Arc<Memory>);

impl AlertSink for Sink {
    fn record(&self, hits: &[AlertHits], marks: &[(i64, i64)]) -> Result<(), AlertsError> {
        if self.0.fail.load(Relaxed) {
            return Err(StoreError::Invalid("the alert store is down".into()).into());
        }
        self.0.records.lock().unwrap().push(hits.to_vec());
        self.0.marks.lock().unwrap().extend(marks.iter().copied());
        Ok(())
    }

    fn mark(&self, stream: i64) -> Result<Option<i64>, AlertsError> {
        Ok(self.0.marks.lock().unwrap().get(&stream).copied())
    }
}

fn eve(i: usize) -> String {
    format!(
        r#"{{"timestamp":"2026-11-21T15:{:02}:{:02}+0800","event_type":"alert","src_ip":"198.51.100.9","src_port":1234,"dest_ip":"192.0.2.5","dest_port":80,"proto":"TCP","alert":{{"signature_id":2024897,"signature":"ET WEB_SERVER webshell","category":"Web Application Attack","severity":1}}}}"#,
        i / 60 % 60,
        i % 60
    ) + "\n"
}

#[test]
fn hits_are_merged_across_batches_and_never_checkpointed_before_they_are_recorded() {
    let mut env = env();
    let memory = Arc::new(Memory::default());
    let live =
        LiveDetection::with_sink(DetectionConfig::default(), Box::new(Sink(memory.clone())), env.pipeline.attributor.clone()).unwrap();
    let live = Arc::new(live);
    env.pipeline.detection = Some(live.clone());
    let n = 2 * BATCH_RECORDS + 100;
    let path = env.dir.path().join("eve.json");
    std::fs::write(&path, (0..n).map(eve).collect::<String>()).unwrap();
    let opts =
        |from_start| FileOptions { source: Source { name: "file".into(), sensor: None, format: None, variant: String::new() }, from_start };
    let position = || env.events.streams().unwrap().into_iter().find(|s| s.name.contains("eve.json")).unwrap().position;

    // The alert store is down: the events are stored, but the checkpoint
    // stays where the unrecorded hits began.
    memory.fail.store(true, Relaxed);
    let e = env.pipeline.ingest_file(&path, &opts(false), &mut |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("the alert store is down"), "{e}");
    assert_eq!(position(), 0);
    assert_eq!(env.all().len(), n);

    // It is back: the file is read again, its events are duplicates, and
    // its hits are counted once, merged in memory into one alert (recorded
    // in one go unless reading took longer than `RECORD_EVERY`).
    memory.fail.store(false, Relaxed);
    let r = env.pipeline.ingest_file(&path, &opts(false), &mut |_, _| {}).unwrap();
    assert_eq!((r.events, r.duplicates), (0, n as u64));
    assert_eq!(position(), r.to as i64);
    let records = memory.records.lock().unwrap().clone();
    let recorded: Vec<&AlertHits> = records.iter().flatten().collect();
    assert!(recorded.iter().all(|h| h.rule_id == "suricata:2024897" && h.samples.len() <= shouwang_store::MAX_SAMPLES));
    assert!(recorded.len() < 3, "{} merges for three batches", recorded.len());
    assert_eq!(recorded.iter().map(|h| h.hits).sum::<i64>(), n as i64);
    let recorded = recorded.len();

    // Read from the start again: the recorded marks skip every hit.
    env.pipeline.ingest_file(&path, &opts(true), &mut |_, _| {}).unwrap();
    assert_eq!(memory.records.lock().unwrap().iter().flatten().count(), recorded);
    assert_eq!(live.replayed.load(Relaxed), n as u64);
}

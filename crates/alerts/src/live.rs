//! Detection in the ingest pipeline: findings per event, graded per
//! affected asset, aggregated in memory across batches ([`Pending`]), and
//! merged into stored alerts one upsert per alert.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use shouwang_eventstore::Accepted;
use shouwang_grade::{Categories, CategoryMap, GradingTable, Impact, Label};
use shouwang_store::{AlertHits, Attributor, MAX_SAMPLES, Store};

pub use shouwang_store::Affected;

use crate::{AlertsError, Content, DetectionConfig, Finding, LoadSummary, LogSources};

/// Where alerts go. The store, in the product; a trait so the pipeline's
/// threads do not need to know that the store is async.
pub trait AlertSink: Send + Sync {
    /// Merges `hits` and advances `marks` ((stream, position)) atomically.
    fn record(&self, hits: &[AlertHits], marks: &[(i64, i64)]) -> Result<(), AlertsError>;
    /// The position below which `stream`'s hits are already recorded.
    fn mark(&self, stream: i64) -> Result<Option<i64>, AlertsError>;
}

/// The store, driven from a pipeline thread (never from the runtime's own).
struct StoreSink {
    store: Store,
    rt: tokio::runtime::Handle,
}

impl AlertSink for StoreSink {
    fn record(&self, hits: &[AlertHits], marks: &[(i64, i64)]) -> Result<(), AlertsError> {
        Ok(self.rt.block_on(self.store.record_alerts(hits, marks))?)
    }

    fn mark(&self, stream: i64) -> Result<Option<i64>, AlertsError> {
        Ok(self.rt.block_on(self.store.alert_mark(stream))?)
    }
}

/// Live detection: the content in use, the tables that classify and grade,
/// and where alerts go.
pub struct LiveDetection {
    config: DetectionConfig,
    content: ArcSwap<Content>,
    logsources: LogSources,
    categories: Categories,
    map: CategoryMap,
    grading: GradingTable,
    attributor: Arc<Attributor>,
    sink: Box<dyn AlertSink>,
    /// Known marks by stream, so a batch costs no query.
    marks: Mutex<HashMap<i64, Option<i64>>>,
    /// Findings, and findings skipped because their batch was already recorded.
    pub findings: AtomicU64,
    pub replayed: AtomicU64,
}

/// Aggregation key: rule, unit, asset, window start (µs).
type Key = (String, String, String, i64);

/// Pending alerts are recorded at least this often…
pub const RECORD_EVERY: Duration = Duration::from_secs(1);
/// …or once this many are held, to bound memory.
pub const MAX_PENDING: usize = 20_000;

/// Hits detected but not yet recorded, merged by alert key, and per
/// stream the position up to which they count. Holding several batches'
/// hits before recording turns a burst of thousands of hits on one asset
/// into one upsert instead of one per batch, and grades and samples each
/// alert once per recording rather than once per batch.
#[derive(Debug, Default)]
pub struct Pending {
    alerts: HashMap<Key, AlertHits>,
    marks: HashMap<i64, i64>,
    since: Option<Instant>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty() && self.marks.is_empty()
    }

    /// Alerts held.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Per stream, the position up to which the held hits count.
    pub fn marks(&self) -> Vec<(i64, i64)> {
        self.marks.iter().map(|(&s, &p)| (s, p)).collect()
    }

    /// Whether it is time to record: held for [`RECORD_EVERY`], or full.
    pub fn due(&self) -> bool {
        self.alerts.len() >= MAX_PENDING || self.since.is_some_and(|t| t.elapsed() >= RECORD_EVERY)
    }
}

impl LiveDetection {
    /// Loads the content `config` names. Call inside the Tokio runtime:
    /// the store is reached through its handle.
    pub fn new(config: DetectionConfig, store: Store, attributor: Arc<Attributor>) -> Result<LiveDetection, AlertsError> {
        let sink = StoreSink { store, rt: tokio::runtime::Handle::current() };
        LiveDetection::with_sink(config, Box::new(sink), attributor)
    }

    pub fn with_sink(config: DetectionConfig, sink: Box<dyn AlertSink>, attributor: Arc<Attributor>) -> Result<LiveDetection, AlertsError> {
        let content = Content::load(&config)?;
        let categories = Categories::builtin();
        Ok(LiveDetection {
            map: CategoryMap::builtin(&categories),
            categories,
            grading: GradingTable::builtin(),
            logsources: LogSources::builtin(),
            content: ArcSwap::from_pointee(content),
            config,
            attributor,
            sink,
            marks: Mutex::default(),
            findings: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
        })
    }

    /// Loads the configured files again and swaps the new content in. The
    /// pipeline keeps running on the old content meanwhile; on error the
    /// old content stays. Correlation windows start afresh.
    pub fn reload(&self) -> Result<LoadSummary, AlertsError> {
        let content = Content::load(&self.config)?;
        let summary = content.summary.clone();
        self.content.store(Arc::new(content));
        tracing::info!(
            rules = summary.rules.rules,
            correlations = summary.rules.correlations,
            indicators = summary.indicators_in_use,
            "detection content reloaded"
        );
        Ok(summary)
    }

    /// What the content in use was loaded from, and what was left out.
    pub fn summary(&self) -> LoadSummary {
        self.content.load().summary.clone()
    }

    /// The `n` rules that have cost most on the sampled events since the
    /// rules in use were loaded.
    pub fn rule_costs(&self, n: usize) -> shouwang_detect::CostReport {
        self.content.load().rules.lock().expect("rules lock").costs(n)
    }

    pub fn categories(&self) -> &Categories {
        &self.categories
    }

    fn mark(&self, stream: i64) -> Result<Option<i64>, AlertsError> {
        if let Some(m) = self.marks.lock().expect("marks lock").get(&stream) {
            return Ok(*m);
        }
        let m = self.sink.mark(stream)?;
        self.marks.lock().expect("marks lock").insert(stream, m);
        Ok(m)
    }

    /// Detects on a batch of attributed events and records the alerts at
    /// once (for paths without a writer thread, such as dead-letter replay).
    pub fn on_batch(&self, events: &[Accepted], checkpoint: Option<(i64, i64)>) -> Result<usize, AlertsError> {
        let mut pending = Pending::default();
        self.detect(events, checkpoint, &mut pending)?;
        self.record(pending)
    }

    /// Detects on a batch of attributed events and adds its hits to
    /// `pending`, to be [`LiveDetection::record`]ed when due.
    /// `checkpoint` is the batch's (stream, end position) when it was read
    /// from a stream; events below that stream's recorded mark were
    /// counted before a crash and are skipped.
    pub fn detect(&self, events: &[Accepted], checkpoint: Option<(i64, i64)>, pending: &mut Pending) -> Result<(), AlertsError> {
        let content = self.content.load();
        let skip = match checkpoint {
            Some((stream, _)) => self.mark(stream)?.map(|m| (stream, m)),
            None => None,
        };
        let window = (self.config.window_secs.max(1) as i64) * 1_000_000;
        let alerts = &mut pending.alerts;
        let mut rules = content.rules.lock().expect("rules lock");
        for a in events {
            // Replayed events still pass through the rules: correlation
            // windows (in memory, lost in the crash) are rebuilt from them.
            let (doc, findings) = content.findings(&mut rules, &a.event, &self.logsources);
            if findings.is_empty() {
                continue;
            }
            if skip.is_some_and(|(stream, mark)| a.origin.stream == stream && a.origin.pos < mark) {
                self.replayed.fetch_add(findings.len() as u64, Relaxed);
                continue;
            }
            self.findings.fetch_add(findings.len() as u64, Relaxed);
            let affected = self.attributor.affected(&a.event);
            let at = a.event.timestamp;
            let start = at.as_microsecond().div_euclid(window) * window;
            // Each affected asset, or once unattributed.
            let targets: Vec<Option<&Affected>> = if affected.is_empty() { vec![None] } else { affected.iter().map(Some).collect() };
            for f in &findings {
                // Built by hand: `json!` would serialise `doc` field by field.
                let sample = || {
                    let mut m = serde_json::Map::new();
                    m.insert("stream".into(), a.origin.stream.into());
                    m.insert("pos".into(), a.origin.pos.into());
                    m.insert("event".into(), doc.clone());
                    m.insert("match".into(), f.detail.clone().unwrap_or_default());
                    serde_json::Value::Object(m)
                };
                for &t in &targets {
                    let key = (
                        f.rule_id.clone(),
                        t.map(|t| t.unit.clone()).unwrap_or_default(),
                        t.map(|t| t.asset.clone()).unwrap_or_default(),
                        start,
                    );
                    let entry = alerts.entry(key).or_insert_with(|| self.draft(f, t, start));
                    entry.hits += 1;
                    entry.first_seen = entry.first_seen.min(at);
                    entry.last_seen = entry.last_seen.max(at);
                    if entry.samples.len() < MAX_SAMPLES {
                        entry.samples.push(sample());
                    }
                }
            }
        }
        drop(rules);
        // Without hits no mark is needed: replaying finds none again.
        if !alerts.is_empty() {
            pending.since.get_or_insert_with(Instant::now);
            if let Some((stream, pos)) = checkpoint {
                pending.marks.insert(stream, pos);
            }
        }
        Ok(())
    }

    /// Merges `pending` into the stored alerts and advances its marks, in
    /// one transaction. Returns the alerts written. On error nothing is
    /// recorded: the caller must not checkpoint past the events behind
    /// `pending`, so that they are read and detected on again.
    pub fn record(&self, pending: Pending) -> Result<usize, AlertsError> {
        if pending.is_empty() {
            return Ok(0);
        }
        let hits: Vec<AlertHits> = pending.alerts.into_values().collect();
        let marks: Vec<(i64, i64)> = pending.marks.into_iter().collect();
        self.sink.record(&hits, &marks)?;
        let mut known = self.marks.lock().expect("marks lock");
        for &(stream, pos) in &marks {
            known.insert(stream, Some(pos));
        }
        Ok(hits.len())
    }

    /// A new alert for finding `f` on `target`, graded, with no hits yet.
    fn draft(&self, f: &Finding, target: Option<&Affected>, start: i64) -> AlertHits {
        let labels: Vec<Label> = f.labels.iter().map(|(source, value)| Label { source: *source, value }).collect();
        let category = self.map.classify(&labels);
        let graded = self.grading.grade(target.map(|t| &t.criticality), &f.severity, &Impact::default());
        AlertHits {
            rule_id: f.rule_id.clone(),
            title: f.title.clone(),
            source: f.source.to_string(),
            unit: target.map(|t| t.unit.clone()),
            asset: target.map(|t| t.asset.clone()),
            window_start: jiff::Timestamp::from_microsecond(start).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            severity: f.severity.clone(),
            category_reason: category.as_ref().map(|c| c.reason.clone()),
            category: category.map(|c| c.code),
            proposed_level: format!("{:?}", graded.level),
            grading: serde_json::to_value(&graded).expect("grades serialise"),
            hits: 0,
            first_seen: jiff::Timestamp::MAX,
            last_seen: jiff::Timestamp::MIN,
            samples: Vec::new(),
        }
    }
}

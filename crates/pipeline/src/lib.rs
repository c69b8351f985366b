//! The ingest pipeline. Every source ends in the same two steps:
//! a [`Stage`] turns one record into an attributed event or a dead letter,
//! and a writer thread stores batches behind a bounded queue, checkpointing
//! each stream after its batch is durable. A crash replays at most the
//! batches after the last checkpoint, and the event store's origin key
//! turns that replay into duplicates counted, not events stored twice.

mod consume;
mod counters;
mod files;
mod replay;
pub mod spool;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, SyncSender};

use shouwang_alerts::{LiveDetection, Pending};
use shouwang_eventstore::{Accepted, Batch, DeadLetter, EventStore, EventStoreError, Origin, Written};
use shouwang_ingest::parse::{Ctx, FieldMaps, Parser};
use shouwang_ingest::{Format, Reject};
use shouwang_store::Attributor;

pub use counters::Counters;
pub use files::{FileOptions, Report};
pub use replay::ReplayReport;
pub use spool::{Spool, SpoolError, SpoolRecord};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] EventStoreError),
    /// Detection could not record its alerts; the batch was not handed on,
    /// so it is read again (the spool and files keep it).
    #[error("detection: {0}")]
    Detect(#[from] shouwang_alerts::AlertsError),
    #[error("cannot read {what}: {source}")]
    Io { what: String, source: std::io::Error },
    /// The input as a whole cannot be processed (its format is unknown, a
    /// report's header is broken); nothing of it was stored.
    #[error("{what}: {why}")]
    Input { what: String, why: String },
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// Records per stored batch: large enough to amortise a commit's fsync,
/// small enough that a crash replays little.
pub const BATCH_RECORDS: usize = 4096;
/// Batches parsed ahead of the writer before the reader waits (backpressure).
pub const QUEUE_BATCHES: usize = 4;

/// A batch on its way to the writer, and the alert hits to record after it
/// (see [`Feed`]).
struct Work {
    batch: Batch,
    hits: Option<Pending>,
}

/// The reading side of a run: the queue to the writer, and the alert hits
/// detected but not yet handed over.
///
/// Hits are held in memory for up to [`shouwang_alerts::RECORD_EVERY`], so
/// that a burst on one asset is one alert upsert rather than one per batch.
/// Meanwhile the checkpoints of the batches behind them are held too (they
/// are the hits' marks) and written only after the hits are recorded: a
/// crash in between reads those batches again, their events count as
/// duplicates, and their hits, never recorded, are detected anew. Hits
/// recorded just before a crash are not counted twice: their marks were
/// recorded with them.
struct Feed {
    tx: SyncSender<Work>,
    counters: Arc<Counters>,
    hits: Pending,
}

impl Feed {
    fn new(tx: SyncSender<Work>, counters: Arc<Counters>) -> Feed {
        Feed { tx, counters, hits: Pending::default() }
    }

    /// Queues `batch`, with the held hits if `all` or if they are due.
    /// `false` when the writer has stopped.
    fn queue(&mut self, mut batch: Batch, all: bool) -> bool {
        if !self.hits.is_empty() {
            // Held as the hits' mark; written once they are recorded.
            batch.checkpoint = None;
        }
        let hits = ((all || self.hits.due()) && !self.hits.is_empty()).then(|| std::mem::take(&mut self.hits));
        self.counters.queued.fetch_add(1, Relaxed);
        self.tx.send(Work { batch, hits }).is_ok()
    }

    /// Hands over whatever is held (the input is idle or at its end).
    fn flush(&mut self) -> bool {
        self.hits.is_empty() || self.queue(Batch::default(), true)
    }
}

/// What the pipeline runs against; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    pub events: Arc<dyn EventStore>,
    pub attributor: Arc<Attributor>,
    pub counters: Arc<Counters>,
    pub max_record: usize,
    /// The configured JSON field maps (`json:NAME` formats).
    pub field_maps: Arc<FieldMaps>,
    /// Rules and indicators run on every event once attributed; `None`
    /// stores events without detecting.
    pub detection: Option<Arc<LiveDetection>>,
}

/// Where records come from, as configured.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// Source name recorded on every event and dead letter (`file`, `http`, …).
    pub name: String,
    /// The sensor or member unit the source is bound to.
    pub sensor: Option<String>,
    /// The format, or `None` to recognise it from the first record.
    pub format: Option<Format>,
    /// The format's variant: a JSON field map's name, or a Shadowserver
    /// report's (otherwise taken from the file name). Empty for none.
    pub variant: String,
}

/// One record to one event or one dead letter, for a known format.
pub struct Stage {
    format: Format,
    variant: String,
    context: Option<Vec<u8>>,
    /// `Err` for a stage that refuses every record (see [`Stage::or_refusing`]).
    parser: Result<Box<dyn Parser>, Reject>,
    ctx: Ctx,
    sensor: Option<String>,
}

impl Stage {
    /// The stage for `format` and `variant` (see [`Format::parser`]).
    pub fn new(format: Format, variant: &str, context: Option<Vec<u8>>, source: &Source, pipeline: &Pipeline) -> Result<Stage, Reject> {
        let stage = Stage::or_refusing(format, variant, context, source, pipeline);
        match stage.parser {
            Ok(_) => Ok(stage),
            Err(r) => Err(r),
        }
    }

    /// Like [`Stage::new`], but a parser that cannot be built (a spooled
    /// `json:NAME` whose map is no longer configured) gives a stage that
    /// turns every record into a dead letter saying why: kept, replayable
    /// once the configuration is fixed, and never blocking the records after it.
    pub fn or_refusing(format: Format, variant: &str, context: Option<Vec<u8>>, source: &Source, pipeline: &Pipeline) -> Stage {
        let parser = format.parser(context.as_deref(), variant, &pipeline.field_maps);
        let ctx = Ctx { received: jiff::Timestamp::now(), source: source.name.clone(), max_record_bytes: pipeline.max_record };
        Stage { format, variant: variant.to_string(), context, parser, ctx, sensor: source.sensor.clone() }
    }

    pub fn set_received(&mut self, at: jiff::Timestamp) {
        self.ctx.received = at;
    }

    pub fn run(&self, origin: Origin, record: &[u8], batch: &mut Batch) {
        let parsed = match &self.parser {
            Ok(p) => p.parse(record, &self.ctx),
            Err(why) => Err(why.clone()),
        };
        match parsed {
            Ok(mut event) => {
                event.shouwang.sensor.clone_from(&self.sensor);
                batch.events.push(Accepted::new(origin, event));
            }
            Err(reject) => batch.dead.push(self.dead_letter(origin, reject, record, record.len() as u64)),
        }
    }

    pub fn dead_letter(&self, origin: Origin, reject: Reject, record: &[u8], len: u64) -> DeadLetter {
        DeadLetter {
            origin,
            source: self.ctx.source.clone(),
            sensor: self.sensor.clone(),
            format: self.format.spec(&self.variant),
            context: self.context.as_deref().map(|c| String::from_utf8_lossy(c).into_owned()),
            reason: reject.reason.as_str().to_string(),
            detail: reject.detail,
            received: self.ctx.received,
            record: record[..record.len().min(shouwang_eventstore::DEAD_LETTER_KEEP)].to_vec(),
            record_len: len,
        }
    }
}

impl Pipeline {
    pub fn new(events: Arc<dyn EventStore>, attributor: Arc<Attributor>) -> Pipeline {
        Pipeline {
            events,
            attributor,
            counters: Arc::default(),
            max_record: shouwang_ingest::parse::DEFAULT_MAX_RECORD,
            field_maps: Arc::default(),
            detection: None,
        }
    }

    /// Tags a parsed batch with its units, detects on it, counts it, and
    /// queues it for the writer. `Ok(false)` when the writer has stopped.
    fn send(&self, feed: &mut Feed, mut batch: Batch) -> Result<bool> {
        self.attributor.tag(batch.events.iter_mut().map(|a| &mut a.event));
        if let Some(d) = &self.detection {
            d.detect(&batch.events, batch.checkpoint, &mut feed.hits)?;
        }
        let c = &self.counters;
        c.received.fetch_add((batch.events.len() + batch.dead.len()) as u64, Relaxed);
        c.parsed.fetch_add(batch.events.len() as u64, Relaxed);
        for d in &batch.dead {
            if let Some(r) = shouwang_ingest::Reason::ALL.into_iter().find(|r| r.as_str() == d.reason) {
                c.reject(r, 1);
            }
        }
        Ok(feed.queue(batch, false))
    }

    /// The writer: stores batches in order until the senders hang up; after
    /// a batch, records the alert hits handed over with it, then the
    /// checkpoints held back for them.
    fn write_all(&self, rx: Receiver<Work>) -> Result<Written> {
        let mut total = Written::default();
        for Work { batch, hits } in rx {
            self.counters.queued.fetch_sub(1, Relaxed);
            let w = self.events.write(&batch)?;
            self.counters.written.fetch_add(w.events, Relaxed);
            self.counters.duplicates.fetch_add(w.duplicates, Relaxed);
            total.events += w.events;
            total.duplicates += w.duplicates;
            total.dead += w.dead;
            if let Some(pending) = hits {
                let checkpoints = pending.marks();
                if let Some(d) = &self.detection {
                    d.record(pending)?;
                }
                for checkpoint in checkpoints {
                    self.events.write(&Batch { checkpoint: Some(checkpoint), ..Batch::default() })?;
                }
            }
        }
        Ok(total)
    }
}

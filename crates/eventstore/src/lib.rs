//! Where normalised events live once accepted: behind one trait
//! ([`EventStore`]) so a larger engine can take over later, with an embedded
//! implementation ([`SqliteEvents`]) that keeps one SQLite file per UTC day.
//!
//! Three promises the pipeline builds on:
//! - **Idempotent writes.** Every event and dead letter carries its
//!   [`Origin`] (the stream it was read from and its position there); a
//!   second write of the same origin is counted as a duplicate and changes
//!   nothing, so replay after a crash never duplicates.
//! - **Checkpoints after data.** A batch's stream position is recorded only
//!   after its events are durable, so a crash between the two replays the
//!   batch (and the first promise absorbs it).
//! - **Scoped reads.** Search takes a [`Scope`] that is not optional: a unit
//!   user's query cannot return events that are not attributed to its units.

mod block;
mod sqlite;

use std::net::IpAddr;

use serde::Serialize;
use shouwang_ingest::Event;

pub use sqlite::SqliteEvents;

#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    #[error("event store: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("event store I/O on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("invalid query: {0}")]
    Invalid(String),
    #[error("corrupt stored event: {0}")]
    Corrupt(String),
}

pub type Result<T, E = EventStoreError> = std::result::Result<T, E>;

/// Where a record came from: a registered stream (a file, the spool's
/// segment, stdin of one run) and the byte offset of the record in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Origin {
    pub stream: i64,
    pub pos: i64,
}

/// A named input and how far it has been processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stream {
    pub id: i64,
    pub name: String,
    /// Byte offset up to which every record is stored (or dead-lettered).
    pub position: i64,
}

/// A record that could not become an event, kept so it can be shown,
/// counted and replayed once the parser is fixed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub origin: Origin,
    /// The configured source name (`file`, `http:sensor-1`, `syslog-tcp`, …).
    pub source: String,
    /// The sensor or unit the source is bound to.
    pub sensor: Option<String>,
    /// The format whose parser refused it (`eve`, `shadowserver:scan_rdp`, …);
    /// with `context`, enough to run it again.
    pub format: String,
    /// What the parser needs besides the record (a CSV report's header row).
    pub context: Option<String>,
    pub reason: String,
    pub detail: String,
    pub received: jiff::Timestamp,
    /// The record, cut at [`DEAD_LETTER_KEEP`] bytes.
    pub record: Vec<u8>,
    /// The record's full length in bytes.
    pub record_len: u64,
}

/// Records over this size are kept as their first this-many bytes: enough
/// to see what it was, without a 100 MB line filling the store.
pub const DEAD_LETTER_KEEP: usize = 64 * 1024;

/// A stored dead letter with its id and state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredDeadLetter {
    pub id: i64,
    pub stream: String,
    #[serde(flatten)]
    pub letter: DeadLetter,
    /// `open`, or `replayed` once a later parser accepted it.
    pub status: String,
}

/// One accepted event and where it came from. The original record travels
/// beside the event, not inside it, so the store keeps it as raw bytes
/// instead of a JSON-escaped copy inside the document (about half of the
/// writer's time went on escaping it); search hits put it back.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub origin: Origin,
    pub event: Event,
    pub original: Option<String>,
}

impl Accepted {
    /// Moves `event.original` out of the event into `original`.
    pub fn new(origin: Origin, mut event: Event) -> Accepted {
        let original = event.event.original.take();
        Accepted { origin, event, original }
    }
}

/// What one write carries: events, dead letters, and the position of the
/// stream once both are stored.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Accepted>,
    pub dead: Vec<DeadLetter>,
    pub checkpoint: Option<(i64, i64)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dead.is_empty() && self.checkpoint.is_none()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Written {
    pub events: u64,
    /// Events whose origin was already stored (a replay).
    pub duplicates: u64,
    pub dead: u64,
}

/// Which units' events the caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Only events attributed to at least one of these units.
    Units(Vec<String>),
}

/// An address or a CIDR block, matched against source and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl IpRange {
    /// `192.0.2.7`, `192.0.2.0/24` or `2001:db8::/32` (host bits are ignored).
    pub fn parse(s: &str) -> Result<IpRange> {
        let bad = || EventStoreError::Invalid(format!("`{s}` is neither an IP address nor a CIDR block"));
        let (addr, len) = match s.trim().split_once('/') {
            Some((a, l)) => (a.parse::<IpAddr>().map_err(|_| bad())?, Some(l.parse::<u32>().map_err(|_| bad())?)),
            None => (s.trim().parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        Ok(match addr {
            IpAddr::V4(a) => {
                let len = len.unwrap_or(32);
                if len > 32 {
                    return Err(bad());
                }
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                let n = u32::from(a);
                IpRange { first: IpAddr::V4((n & mask).into()), last: IpAddr::V4((n | !mask).into()) }
            }
            IpAddr::V6(a) => {
                let len = len.unwrap_or(128);
                if len > 128 {
                    return Err(bad());
                }
                let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
                let n = u128::from(a);
                IpRange { first: IpAddr::V6((n & mask).into()), last: IpAddr::V6((n | !mask).into()) }
            }
        })
    }
}

/// A search. Every filter narrows; none given means the newest events.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub from: Option<jiff::Timestamp>,
    /// Exclusive.
    pub to: Option<jiff::Timestamp>,
    pub unit: Option<String>,
    pub ip: Option<IpRange>,
    /// A domain and its subdomains, matched against every name in the event.
    pub domain: Option<String>,
    /// Case-insensitive substring of `rule.name` or exact `rule.id`.
    pub rule: Option<String>,
    /// Case-insensitive (ASCII) substring anywhere in the stored event.
    pub text: Option<String>,
    pub dataset: Option<String>,
    /// At most this many, newest first; capped at [`MAX_SEARCH_LIMIT`].
    pub limit: usize,
}

pub const MAX_SEARCH_LIMIT: usize = 10_000;

/// One stored event: the normalised document, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub partition: String,
    pub id: i64,
    /// The event as JSON (ECS field names, `event.original` included).
    pub doc: String,
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default)]
pub struct DeadQuery {
    pub source: Option<String>,
    pub reason: Option<String>,
    /// Include those already replayed.
    pub all: bool,
    pub after_id: Option<i64>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadCount {
    pub source: String,
    pub reason: String,
    pub open: u64,
    pub replayed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub events: u64,
    pub bytes: u64,
}

pub trait EventStore: Send + Sync {
    /// The stream with this name, registered on first use.
    fn stream(&self, name: &str) -> Result<Stream>;
    fn streams(&self) -> Result<Vec<Stream>>;
    /// Stores events and dead letters, then the checkpoint. Idempotent by origin.
    fn write(&self, batch: &Batch) -> Result<Written>;
    fn search(&self, q: &Search, scope: &Scope) -> Result<Vec<Hit>>;
    fn dead_letters(&self, q: &DeadQuery) -> Result<Vec<StoredDeadLetter>>;
    fn dead_letter_counts(&self) -> Result<Vec<DeadCount>>;
    /// Marks dead letters whose records a later parser accepted.
    fn mark_replayed(&self, ids: &[i64]) -> Result<()>;
    /// Updates a dead letter's reason after a replay that failed again.
    fn update_dead_letter(&self, id: i64, reason: &str, detail: &str) -> Result<()>;
    fn partitions(&self) -> Result<Vec<Partition>>;
    /// Drops the partitions of days before `keep_from` (UTC); returns their days.
    fn retain(&self, keep_from: jiff::civil::Date) -> Result<Vec<String>>;
}

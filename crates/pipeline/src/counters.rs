//! Pipeline counters, shared by every source and read by `/metrics` and
//! `shouwang status`. Atomics, not a metrics library: the hot path pays one
//! relaxed add per batch, and the exporter decides the names.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use shouwang_ingest::Reason;

#[derive(Debug, Default)]
pub struct Counters {
    /// Records read from any source.
    pub received: AtomicU64,
    /// Records that became events.
    pub parsed: AtomicU64,
    /// Records refused, by [`Reason`] (indexed as `Reason::ALL`).
    pub rejected: [AtomicU64; Reason::ALL.len()],
    /// Events newly stored.
    pub written: AtomicU64,
    /// Events whose origin was already stored (replays after a crash).
    pub duplicates: AtomicU64,
    /// Records appended to the spool (acknowledged to their senders).
    pub spooled: AtomicU64,
    /// Bytes in the spool not yet processed.
    pub spool_backlog_bytes: AtomicI64,
    /// Requests or records turned away because a limit was hit (senders told).
    pub refused: AtomicU64,
    /// Batches parsed but not yet stored.
    pub queued: AtomicI64,
}

impl Counters {
    pub fn reject(&self, reason: Reason, n: u64) {
        let i = Reason::ALL.iter().position(|r| *r == reason).expect("every reason is in ALL");
        self.rejected[i].fetch_add(n, Relaxed);
    }

    pub fn rejected_by_reason(&self) -> impl Iterator<Item = (Reason, u64)> + '_ {
        Reason::ALL.into_iter().zip(self.rejected.iter().map(|c| c.load(Relaxed)))
    }
}

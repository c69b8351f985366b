//! The audit trail: append-only (triggers refuse UPDATE and DELETE) and
//! hash-chained, so that an edit or deletion made by someone who got past
//! the triggers (a database superuser, a copied file) is still found.
//!
//! Entry n carries `seq` = n and `hash` = SHA-256 of the previous entry's
//! hash and entry n's fields, each length-prefixed so no two field lists
//! hash alike. `audit_head` holds the last `seq` and `hash` (a trigger moves
//! it with every insert); appending writes it first, which takes its row
//! lock (PostgreSQL) or the write lock (SQLite), so concurrent appends chain
//! one after the other. `verify` walks
//! the chain: an edited entry no longer hashes to its `hash`, a deleted one
//! leaves a gap in `seq`, and a cut-off tail disagrees with the head. Keep
//! the head hash `verify` prints somewhere else to catch a rewrite of the
//! whole chain too.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::access::{Perm, Principal};
use crate::batch::{Arg, Batch};
use crate::filter::rows_of;
use crate::{Result, Store, now_micros, ts};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub reason: String,
    pub detail: serde_json::Value,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Entries checked.
    pub entries: i64,
    /// The last entry's hash, as the chain computes it.
    pub head: String,
    /// Every break found, in log order (at most 100).
    pub problems: Vec<String>,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The fields an entry's hash covers.
struct Fields<'a> {
    seq: i64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    reason: &'a str,
    detail: &'a str,
}

fn chain_hash(prev: &str, f: &Fields<'_>) -> String {
    let mut h = Sha256::new();
    let seq = f.seq.to_string();
    let at = f.at.to_string();
    for part in [prev, &seq, &at, f.actor, f.action, f.target, f.reason, f.detail] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    crate::hex(&h.finalize())
}

/// One entry to append.
pub(crate) struct Entry {
    pub action: String,
    pub target: String,
    pub reason: String,
    pub detail: String,
}

/// Rows per multi-row insert: 8 parameters each.
const ROWS: usize = 32;

/// Appends to the audit trail inside the caller's transaction, so the
/// record exists exactly when the change does.
pub(crate) async fn audit(
    tx: &mut Transaction<'_, Any>,
    p: &Principal,
    action: &str,
    target: &str,
    reason: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    let e = Entry { action: action.into(), target: target.into(), reason: reason.into(), detail: detail.to_string() };
    audit_many(tx, p, &[e]).await
}

/// Appends entries in order, in a few statements: the head is locked and
/// read once, the hashes chained here, and the rows inserted 32 at a time
/// (a trigger moves the head with each).
pub(crate) async fn audit_many(tx: &mut Transaction<'_, Any>, p: &Principal, entries: &[Entry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::default();
    Head::lock(tx).await?.append(&mut batch, p, entries);
    batch.run(tx).await?;
    Ok(())
}

/// The chain's last entry, as a writer holding the lock sees it.
pub(crate) struct Head {
    seq: i64,
    hash: String,
}

impl Head {
    /// A write that changes nothing: it takes the head's row lock
    /// (PostgreSQL) or the write lock (SQLite), so appends chain one after
    /// the other.
    pub async fn lock(tx: &mut Transaction<'_, Any>) -> Result<Head> {
        let head = sqlx::query("UPDATE audit_head SET seq = seq RETURNING seq, hash").fetch_one(&mut **tx).await?;
        Ok(Head { seq: head.try_get("seq")?, hash: head.try_get("hash")? })
    }

    /// The head read by a query that selected `audit_head.seq AS audit_seq`
    /// and `audit_head.hash AS audit_hash` alongside its own columns: on
    /// SQLite, where `BEGIN IMMEDIATE` already holds the write lock, that
    /// saves the round trip of `lock`.
    pub fn of_row(r: &AnyRow) -> Result<Head> {
        Ok(Head { seq: r.try_get("audit_seq")?, hash: r.try_get("audit_hash")? })
    }

    /// Chains `entries` on and adds their inserts to `batch`.
    pub fn append(&mut self, batch: &mut Batch, p: &Principal, entries: &[Entry]) {
        let at = now_micros();
        for chunk in entries.chunks(ROWS) {
            let sql =
                format!("INSERT INTO audit_log (at, actor, action, target, reason, detail, seq, hash) VALUES {}", rows_of(chunk.len(), 8));
            let mut args = Vec::with_capacity(chunk.len() * 8);
            for e in chunk {
                self.seq += 1;
                let f = Fields {
                    seq: self.seq,
                    at,
                    actor: &p.username,
                    action: &e.action,
                    target: &e.target,
                    reason: &e.reason,
                    detail: &e.detail,
                };
                self.hash = chain_hash(&self.hash, &f);
                args.extend([
                    Arg::from(at),
                    p.username.as_str().into(),
                    e.action.as_str().into(),
                    e.target.as_str().into(),
                    e.reason.as_str().into(),
                    e.detail.as_str().into(),
                    self.seq.into(),
                    self.hash.clone().into(),
                ]);
            }
            batch.push(sql, args);
        }
    }
}

/// Chains the entries written before the chain existed (migration 5), in
/// id order, and starts the head after them.
pub(crate) async fn chain_existing(tx: &mut Transaction<'_, Any>) -> Result<()> {
    let rows = sqlx::query("SELECT id, at, actor, action, target, reason, detail FROM audit_log ORDER BY id").fetch_all(&mut **tx).await?;
    let mut prev = GENESIS.to_string();
    let mut seq = 0;
    for r in &rows {
        seq += 1;
        let (actor, action, target, reason, detail): (String, String, String, String, String) =
            (r.try_get("actor")?, r.try_get("action")?, r.try_get("target")?, r.try_get("reason")?, r.try_get("detail")?);
        let f = Fields { seq, at: r.try_get("at")?, actor: &actor, action: &action, target: &target, reason: &reason, detail: &detail };
        prev = chain_hash(&prev, &f);
        sqlx::query("UPDATE audit_log SET seq = $1, hash = $2 WHERE id = $3")
            .bind(seq)
            .bind(&prev)
            .bind(r.try_get::<i64, _>("id")?)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2)").bind(seq).bind(prev).execute(&mut **tx).await?;
    Ok(())
}

/// Entries read per query while verifying.
const PAGE: i64 = 10_000;

impl Store {
    /// Records an action taken outside the store (a dead-letter replay) in the audit trail.
    pub async fn record(&self, p: &Principal, action: &str, target: &str, reason: &str, detail: &serde_json::Value) -> Result<()> {
        let mut tx = self.write().await?;
        audit(&mut tx, p, action, target, reason, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest audit entries, newest first.
    pub async fn audit_entries(&self, p: &Principal, limit: i64) -> Result<Vec<AuditEntry>> {
        p.require(Perm::ReadAudit)?;
        let rows = sqlx::query("SELECT id, at, actor, action, target, reason, detail FROM audit_log ORDER BY id DESC LIMIT $1")
            .bind(limit.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: ts(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    reason: r.try_get("reason")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                })
            })
            .collect()
    }

    /// Walks the whole chain, a page at a time, and reports every break;
    /// with `expect`, a head hash kept earlier, also whether the chain still
    /// passes through it (so a wholesale rewrite is caught).
    pub async fn verify_audit(&self, p: &Principal, expect: Option<&str>) -> Result<ChainReport> {
        p.require(Perm::ReadAudit)?;
        let mut expected_seen = expect.is_none_or(|e| e == GENESIS);
        let mut report = ChainReport { entries: 0, head: GENESIS.to_string(), problems: Vec::new() };
        let (mut after, mut expect_seq) = (i64::MIN, 1_i64);
        loop {
            let rows = sqlx::query(
                "SELECT id, at, actor, action, target, reason, detail, seq, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                after = id;
                let seq: Option<i64> = r.try_get("seq")?;
                let stored: Option<String> = r.try_get("hash")?;
                let (actor, action, target, reason, detail): (String, String, String, String, String) =
                    (r.try_get("actor")?, r.try_get("action")?, r.try_get("target")?, r.try_get("reason")?, r.try_get("detail")?);
                let Some(seq) = seq else {
                    problem(&mut report, format!("entry {id} has no place in the chain (seq is empty)"));
                    continue;
                };
                if seq != expect_seq {
                    problem(
                        &mut report,
                        format!(
                            "entry {id} is number {seq} in the chain where {expect_seq} was expected: entries were deleted or reordered"
                        ),
                    );
                }
                let f =
                    Fields { seq, at: r.try_get("at")?, actor: &actor, action: &action, target: &target, reason: &reason, detail: &detail };
                let computed = chain_hash(&report.head, &f);
                if stored.as_deref() != Some(computed.as_str()) {
                    problem(
                        &mut report,
                        format!(
                            "entry {id} (number {seq}, {action} on {target}) does not match its hash: it was edited, or an entry before it was"
                        ),
                    );
                }
                expected_seen |= stored.is_some() && stored.as_deref() == expect;
                // Go on from what is stored, so one edit is reported once, not at every later entry.
                report.head = stored.unwrap_or(computed);
                report.entries += 1;
                expect_seq = seq + 1;
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head").fetch_optional(&self.pool).await?;
        match head {
            None => problem(&mut report, "the chain's head record is missing".into()),
            Some(h) => {
                let (seq, hash): (i64, String) = (h.try_get("seq")?, h.try_get("hash")?);
                if seq != expect_seq - 1 || hash != report.head {
                    let m = format!(
                        "the head says {seq} entries ending in {hash}, the log has {} ending in {}: entries at the end were removed, or the head was altered",
                        expect_seq - 1,
                        report.head
                    );
                    problem(&mut report, m);
                }
            }
        }
        if !expected_seen {
            let m = format!("the chain no longer passes through the head kept earlier, {}: it was rewritten", expect.unwrap_or_default());
            problem(&mut report, m);
        }
        Ok(report)
    }
}

fn problem(report: &mut ChainReport, m: String) {
    if report.problems.len() < 100 {
        report.problems.push(m);
    }
}

/// Run after migration 5 has chained the existing entries: the UPDATE
/// trigger it dropped for that, back.
pub(crate) const RESTORE_TRIGGER_SQLITE: &str = "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log \
     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";
pub(crate) const RESTORE_TRIGGER_POSTGRES: &str = "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log \
     FOR EACH ROW EXECUTE FUNCTION audit_append_only();";

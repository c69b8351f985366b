//! The outbox: claiming due messages for a sender, recording what became of
//! them, and showing the centre what is stuck.
//!
//! Delivery is at least once: a sender that dies between sending and
//! recording leaves its claim to lapse and the message is sent again. Every
//! message carries its outbox key, so a receiver can drop the repeat
//! (webhooks get it as `Idempotency-Key`, e-mail as the Message-ID).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shouwang_workflow::{Event, Via};
use sqlx::Row;

use crate::access::{Perm, Principal};
use crate::audit::audit;
use crate::filter::{Bind, Filter};
use crate::{Result, Store, StoreError, ts};

/// A message claimed for sending, with what the transport needs.
#[derive(Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    /// The idempotency key.
    pub key: String,
    pub event: Event,
    pub notice_id: Option<i64>,
    pub kind: Via,
    pub target: String,
    /// The channel's signing secret, or empty.
    pub secret: String,
    pub subject: String,
    pub body: String,
    /// This is attempt number `attempt` (from 1).
    pub attempt: i64,
    pub created_at: jiff::Timestamp,
}

impl std::fmt::Debug for Outgoing {
    // The secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing").field("id", &self.id).field("key", &self.key).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    /// Worth trying again later (a timeout, a 5xx, a 4xx SMTP reply).
    Failed(String),
    /// Will never work as it stands (a 4xx HTTP answer, a 5xx SMTP reply, a
    /// bad address): no more tries.
    Refused(String),
}

/// How often and how far apart to try.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub max_attempts: i64,
    /// The wait after the first failure; it doubles each time.
    pub first: Duration,
    pub longest: Duration,
    /// How long a claim holds before another sender may take the message.
    pub lease: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry { max_attempts: 8, first: Duration::from_secs(30), longest: Duration::from_secs(3_600), lease: Duration::from_secs(120) }
    }
}

impl Retry {
    /// The wait after failed attempt `attempt` (from 1).
    pub fn backoff(&self, attempt: i64) -> Duration {
        // Past 2^20 times the first wait, `longest` has long been reached.
        let doublings = attempt.saturating_sub(1).clamp(0, 20) as u32;
        self.first.saturating_mul(1 << doublings).min(self.longest)
    }
}

/// A message as the centre sees it in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRecord {
    pub id: i64,
    pub key: String,
    pub notice_id: Option<i64>,
    pub event: String,
    pub kind: String,
    pub channel_id: Option<i64>,
    pub target: String,
    pub lang: String,
    pub subject: String,
    pub body: String,
    /// pending | sending | sent | failed
    pub state: String,
    pub attempts: i64,
    pub next_at: jiff::Timestamp,
    pub last_error: String,
    pub created_at: jiff::Timestamp,
    pub sent_at: Option<jiff::Timestamp>,
}

/// Filters for the outbox list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub notice: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub offset: Option<i64>,
}

const STATES: &[&str] = &["pending", "sending", "sent", "failed"];

impl Store {
    /// Claims up to `limit` due messages for a sender, oldest due first.
    /// A claim lasts `retry.lease`; each claim counts as an attempt.
    pub async fn claim_outbox(&self, limit: i64, now: jiff::Timestamp, retry: &Retry) -> Result<Vec<Outgoing>> {
        let at = now.as_microsecond();
        let until = at + i64::try_from(retry.lease.as_micros()).unwrap_or(i64::MAX / 2);
        // The sub-select picks; the outer WHERE re-checks, so of two senders
        // racing for a row (PostgreSQL re-evaluates it on the locked row)
        // only one wins it.
        let rows = sqlx::query(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = $1 \
             WHERE id IN (SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_at <= $2 \
                          AND (lease_until IS NULL OR lease_until < $2) ORDER BY next_at, id LIMIT $3) \
             AND state IN ('pending', 'sending') AND (lease_until IS NULL OR lease_until < $2) \
             RETURNING id, key, event, notice_id, kind, channel_id, target, subject, body, attempts, created_at",
        )
        .bind(until)
        .bind(at)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        let mut channel_ids: Vec<i64> = rows.iter().filter_map(|r| r.try_get::<Option<i64>, _>("channel_id").ok().flatten()).collect();
        channel_ids.sort_unstable();
        channel_ids.dedup();
        let mut secrets = std::collections::HashMap::new();
        for chunk in channel_ids.chunks(500) {
            let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            for r in sqlx::query(&format!("SELECT id, secret FROM channels WHERE id IN ({list})")).fetch_all(&self.pool).await? {
                secrets.insert(r.try_get::<i64, _>("id")?, r.try_get::<String, _>("secret")?);
            }
        }
        let corrupt = |e: shouwang_workflow::WorkflowError| StoreError::Corrupt(format!("outbox: {e}"));
        let mut out: Vec<Outgoing> = rows
            .iter()
            .map(|r| {
                let channel: Option<i64> = r.try_get("channel_id")?;
                Ok(Outgoing {
                    id: r.try_get("id")?,
                    key: r.try_get("key")?,
                    event: Event::parse(&r.try_get::<String, _>("event")?).map_err(corrupt)?,
                    notice_id: r.try_get("notice_id")?,
                    kind: Via::parse(&r.try_get::<String, _>("kind")?).map_err(corrupt)?,
                    target: r.try_get("target")?,
                    secret: channel.and_then(|c| secrets.get(&c).cloned()).unwrap_or_default(),
                    subject: r.try_get("subject")?,
                    body: r.try_get("body")?,
                    attempt: r.try_get("attempts")?,
                    created_at: ts(r.try_get("created_at")?),
                })
            })
            .collect::<Result<_>>()?;
        out.sort_by_key(|o| o.id);
        Ok(out)
    }

    /// Records what became of claimed messages, in one transaction: sent;
    /// failed and due again after the backoff; or failed for good (refused,
    /// or out of attempts), which the outbox list shows with the reason.
    pub async fn finish_outbox(&self, results: &[(i64, Attempt)], now: jiff::Timestamp, retry: &Retry) -> Result<()> {
        let at = now.as_microsecond();
        let mut tx = self.write().await?;
        let sent: Vec<i64> = results.iter().filter(|(_, a)| *a == Attempt::Sent).map(|(id, _)| *id).collect();
        for chunk in sent.chunks(500) {
            let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            sqlx::query(&format!(
                "UPDATE outbox SET state = 'sent', sent_at = $1, lease_until = NULL, last_error = '' WHERE id IN ({list}) AND state = 'sending'"
            ))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        for (id, a) in results {
            let (error, permanent) = match a {
                Attempt::Sent => continue,
                Attempt::Failed(e) => (e, false),
                Attempt::Refused(e) => (e, true),
            };
            let attempts: Option<i64> = sqlx::query_scalar("SELECT attempts FROM outbox WHERE id = $1 AND state = 'sending'")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(attempts) = attempts else { continue };
            let error: String = error.chars().take(1_000).collect();
            if permanent || attempts >= retry.max_attempts {
                let why = if permanent { error } else { format!("gave up after {attempts} attempts; last: {error}") };
                sqlx::query("UPDATE outbox SET state = 'failed', lease_until = NULL, last_error = $1 WHERE id = $2")
                    .bind(why)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            } else {
                let wait = i64::try_from(retry.backoff(attempts).as_micros()).unwrap_or(i64::MAX / 2);
                sqlx::query("UPDATE outbox SET state = 'pending', lease_until = NULL, next_at = $1, last_error = $2 WHERE id = $3")
                    .bind(at + wait)
                    .bind(error)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The outbox, newest first: for the centre to see what went out and
    /// what is stuck, and why.
    pub async fn outbox(&self, p: &Principal, q: &OutboxQuery) -> Result<Vec<OutboxRecord>> {
        p.require(Perm::ManageNotices)?;
        let mut f = Filter::default();
        if let Some(s) = &q.state {
            if !STATES.contains(&s.as_str()) {
                return Err(StoreError::Invalid(format!("unknown state `{s}` (one of: {})", STATES.join(", "))));
            }
            let n = f.param(Bind::S(s.clone()));
            f.and(&format!("state = {n}"));
        }
        if let Some(id) = q.notice {
            let n = f.param(Bind::I(id));
            f.and(&format!("notice_id = {n}"));
        }
        let limit = q.limit.unwrap_or(100).clamp(1, 1_000);
        let offset = q.offset.unwrap_or(0).clamp(0, i64::MAX - 1_000);
        let sql = format!(
            "SELECT id, key, notice_id, event, kind, channel_id, target, lang, subject, body, state, attempts, next_at, last_error, \
             created_at, sent_at FROM outbox{} ORDER BY id DESC LIMIT {limit} OFFSET {offset}",
            f.sql
        );
        let rows = f.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRecord {
                    id: r.try_get("id")?,
                    key: r.try_get("key")?,
                    notice_id: r.try_get("notice_id")?,
                    event: r.try_get("event")?,
                    kind: r.try_get("kind")?,
                    channel_id: r.try_get("channel_id")?,
                    target: r.try_get("target")?,
                    lang: r.try_get("lang")?,
                    subject: r.try_get("subject")?,
                    body: r.try_get("body")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    next_at: ts(r.try_get("next_at")?),
                    last_error: r.try_get("last_error")?,
                    created_at: ts(r.try_get("created_at")?),
                    sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(ts),
                })
            })
            .collect()
    }

    /// Counts by state, for metrics and the console.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state ORDER BY state").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
    }

    /// Puts a failed message back in line (after the receiver is fixed),
    /// with a fresh set of attempts; audited.
    pub async fn retry_outbox(&self, p: &Principal, id: i64, reason: &str) -> Result<()> {
        p.require(Perm::ManageNotices)?;
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("a retry needs a reason".into()));
        }
        let mut tx = self.write().await?;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM outbox WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
        match state.as_deref() {
            None => return Err(StoreError::NotFound(format!("message {id}"))),
            Some("failed") => {}
            Some(s) => return Err(StoreError::Conflict(format!("message {id} is {s}; only a failed message is retried"))),
        }
        sqlx::query("UPDATE outbox SET state = 'pending', attempts = 0, next_at = $1, lease_until = NULL WHERE id = $2")
            .bind(crate::now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, p, "outbox.retry", &id.to_string(), reason.trim(), &serde_json::Value::Null).await?;
        tx.commit().await?;
        self.wake_sender();
        Ok(())
    }
}

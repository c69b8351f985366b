//! The deadline sweep: reminders before a deadline and the escalation
//! ladder after it, each step raised once per deadline, written to the
//! notice's timeline and sent through the outbox in one transaction.

use std::collections::HashSet;

use serde::Serialize;
use shouwang_workflow::{Ladder, Rung, State};
use sqlx::Row;

use super::{NOTICE_COLUMNS, Step, Stored, log_steps, notice_of};
use crate::access::{Perm, Principal};
use crate::audit::audit;
use crate::delivery::enqueue::{Occasion, enqueue};
use crate::{Result, Store, StoreError};

const LADDER_KEY: &str = "escalation_ladder";
/// Notices raised per transaction: big enough to be quick after downtime,
/// small enough not to hold the write lock long.
const PER_TX: usize = 200;

/// One step raised by a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Raised {
    pub notice_id: i64,
    pub number: Option<String>,
    /// `acknowledge` or `answer`.
    pub clock: &'static str,
    pub due: jiff::Timestamp,
    pub rung: Rung,
    /// Messages and notifications written.
    pub messages: usize,
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    /// Open notices near or past a deadline that were looked at.
    pub considered: usize,
    pub raised: Vec<Raised>,
}

/// Who raises deadline steps.
fn deadlines() -> Principal {
    Principal { username: "system:deadlines".into(), role: crate::Role::Analyst, unit: None }
}

impl Store {
    /// The escalation ladder: the admin's, or the default.
    pub async fn ladder(&self) -> Result<Ladder> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(LADDER_KEY).fetch_optional(&self.pool).await?;
        match text {
            Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("stored escalation ladder: {e}"))),
            None => Ok(Ladder::default()),
        }
    }

    /// Replaces the escalation ladder. Steps already raised stay raised.
    pub async fn set_ladder(&self, p: &Principal, ladder: &Ladder, reason: &str) -> Result<Ladder> {
        p.require(Perm::ManageWorkflow)?;
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("a ladder change needs a reason".into()));
        }
        ladder.check().map_err(|e| StoreError::Invalid(e.to_string()))?;
        let text = serde_json::to_string(ladder).expect("a ladder serialises");
        let mut tx = self.write().await?;
        super::put_setting(&mut tx, LADDER_KEY, &text, &p.username).await?;
        audit(&mut tx, p, "policy.escalation", LADDER_KEY, reason.trim(), &serde_json::to_value(ladder).unwrap_or_default()).await?;
        tx.commit().await?;
        Ok(ladder.clone())
    }

    /// Raises every reminder and escalation step due at `now` and not yet
    /// raised. Safe to run as often as wanted, and from more than one
    /// process: each step is raised once per deadline. `now` is a
    /// parameter so tests (and a catch-up after downtime) choose the time.
    pub async fn sweep_deadlines(&self, now: jiff::Timestamp) -> Result<Sweep> {
        let ladder = self.ladder().await?;
        let mut report = Sweep { considered: 0, raised: Vec::new() };
        let Some(lead) = lead_secs(&ladder, &self.deadline_policy().await?) else { return Ok(report) };
        let rules = self.rules().await?;
        let secs = now.as_second();
        let horizon = (secs + lead).saturating_mul(1_000_000);
        let rows = sqlx::query(&format!(
            "SELECT {NOTICE_COLUMNS} FROM notices WHERE state IN ('issued', 'acknowledged', 'in_progress', 'returned') \
             AND ((state = 'issued' AND acknowledge_due < $1) OR answer_due < $1) ORDER BY id"
        ))
        .bind(horizon)
        .fetch_all(&self.pool)
        .await?;
        let candidates: Vec<Stored> = rows.iter().map(notice_of).collect::<Result<_>>()?;
        report.considered = candidates.len();
        let raised = self.raised_steps(&candidates).await?;
        // (notice, clock, due, rung) to raise.
        let mut todo: Vec<(&Stored, &'static str, i64, Rung)> = Vec::new();
        for s in &candidates {
            let n = &s.notice;
            let mut clocks = Vec::with_capacity(2);
            if let (State::Issued, Some(due)) = (n.state, s.clocks.acknowledge_due) {
                clocks.push(("acknowledge", due, n.acknowledge_within));
            }
            if let Some(due) = s.clocks.answer_due.filter(|_| n.state.unit_holds()) {
                clocks.push(("answer", due, n.answer_within));
            }
            for (clock, due, within) in clocks {
                for rung in ladder.due_at(within, due, secs, &rules.calendar) {
                    if !raised.contains(&(n.id, clock.to_string(), due * 1_000_000, rung.as_str().to_string())) {
                        todo.push((s, clock, due, rung));
                    }
                }
            }
        }
        let p = deadlines();
        let at = now.as_microsecond();
        for batch in todo.chunks(PER_TX) {
            let mut tx = self.write().await?;
            for &(s, clock, due, rung) in batch {
                let n = &s.notice;
                let inserted = sqlx::query(
                    "INSERT INTO notice_alarms (notice_id, clock, due, step, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(n.id)
                .bind(clock)
                .bind(due * 1_000_000)
                .bind(rung.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 0 {
                    continue; // another sweeper raised it first
                }
                let due_at = jiff::Timestamp::from_second(due).unwrap_or(now);
                let reason = format!("{clock} deadline {} ({})", shouwang_workflow::messages::cst_text(due_at), rung);
                let state = n.state.as_str();
                let detail = serde_json::json!({ "clock": clock, "due": due_at, "rung": rung });
                log_steps(&mut tx, &p, &[Step { id: n.id, action: rung.as_str(), from: state, to: state, reason: &reason, at, detail }])
                    .await?;
                let occ = Occasion {
                    event: rung.event(),
                    tag: format!("{clock}@{due}"),
                    actor: &p.username,
                    reason: &reason,
                    clock,
                    due: Some(due),
                };
                let messages = enqueue(&mut tx, &rules.outbound, n, &occ, at).await?;
                report.raised.push(Raised { notice_id: n.id, number: n.number.clone(), clock, due: due_at, rung, messages });
            }
            tx.commit().await?;
        }
        if report.raised.iter().any(|r| r.messages > 0) {
            self.wake_sender();
        }
        Ok(report)
    }

    /// Steps already raised for `candidates`, as (notice, clock, due µs, rung).
    async fn raised_steps(&self, candidates: &[Stored]) -> Result<HashSet<(i64, String, i64, String)>> {
        let mut out = HashSet::new();
        for chunk in candidates.chunks(500) {
            let list = chunk.iter().map(|s| s.notice.id.to_string()).collect::<Vec<_>>().join(", ");
            let rows = sqlx::query(&format!("SELECT notice_id, clock, due, step FROM notice_alarms WHERE notice_id IN ({list})"))
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                out.insert((r.try_get("notice_id")?, r.try_get("clock")?, r.try_get("due")?, r.try_get("step")?));
            }
        }
        Ok(out)
    }
}

/// How far ahead of a deadline the earliest step can fire, in wall seconds,
/// for the sweep's first cut; `None` when the ladder is empty. A working
/// span's share is stretched to cover weekends and the longest holiday.
fn lead_secs(ladder: &Ladder, policy: &shouwang_workflow::Policy) -> Option<i64> {
    let first = ladder.steps.first()?;
    let share = i64::from((-first.at_percent).max(0));
    let longest = shouwang_workflow::Level::ALL
        .iter()
        .flat_map(|&l| {
            let s = policy.spans(l);
            [s.acknowledge, s.answer]
        })
        .map(|w| match w {
            shouwang_workflow::Within::Wall(s) => s * share / 100,
            shouwang_workflow::Within::Working(s) => s * share / 100 * 7 / 5 + 10 * 86_400,
        })
        .max()
        .unwrap_or(0);
    Some(longest + 60)
}

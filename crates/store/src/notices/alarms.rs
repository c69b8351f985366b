//! The deadline sweep: reminders before a deadline and the escalation
//! ladder after it, each step raised once per deadline, written to the
//! notice's timeline and sent through the outbox in one transaction.

use std::collections::HashMap;

use serde::Serialize;
use shouwang_workflow::{Ladder, Rung, State, Within};
use sqlx::Row;

use super::{NOTICE_COLUMNS, Notice, Step, log_steps, notice_of};
use crate::access::{Perm, Principal};
use crate::delivery::enqueue::{Occasion, enqueue};
use crate::{Result, Rules, Store, StoreError};

const LADDER_KEY: &str = "escalation_ladder";
/// Notices raised per transaction: big enough to be quick after downtime,
/// small enough not to hold the write lock long.
const PER_TX: usize = 200;

/// One step raised by a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Raised {
    pub notice_id: i64,
    pub number: Option<String>,
    /// `acknowledge` or `answer`; `report_first` or `report_closure` for
    /// the upward reporting clocks.
    pub clock: &'static str,
    pub due: jiff::Timestamp,
    pub rung: Rung,
    /// Messages and notifications written.
    pub messages: usize,
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    /// Open notices near or past a deadline with a rung still to raise.
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
        self.json_setting(LADDER_KEY, "escalation ladder").await
    }

    /// Replaces the escalation ladder. Steps already raised stay raised.
    pub async fn set_ladder(&self, p: &Principal, ladder: &Ladder, reason: &str) -> Result<Ladder> {
        p.require(Perm::ManageWorkflow)?;
        ladder.check().map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.set_json_setting(p, LADDER_KEY, ladder, "policy.escalation", reason).await?;
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
        // A lean first cut: each running clock near or past its deadline,
        // with the rungs already raised for that deadline as a bit mask. A
        // clock whose last rung is raised is not read at all (the primary
        // key answers), so the steady state stays cheap; full rows are read
        // only for notices with something to raise.
        let last = ladder.steps.last().map(|s| s.rung.as_str()).unwrap_or_default();
        let mask = |clock: &str, due: &str| {
            format!(
                "COALESCE((SELECT SUM(CASE a.step WHEN 'reminder' THEN 1 WHEN 'overdue' THEN 2 WHEN 'supervise' THEN 4 \
                 WHEN 'escalated' THEN 8 ELSE 0 END) FROM notice_alarms a WHERE a.notice_id = n.id AND a.clock = '{clock}' \
                 AND a.due = n.{due}), 0)"
            )
        };
        let rows = sqlx::query(&format!(
            "SELECT id, state, acknowledge_within, answer_within, acknowledge_due, answer_due, {} AS ack_mask, {} AS answer_mask \
             FROM notices n WHERE state IN ('issued', 'acknowledged', 'in_progress', 'returned') \
             AND ((state = 'issued' AND acknowledge_due < $1 AND NOT EXISTS (SELECT 1 FROM notice_alarms a \
                   WHERE a.notice_id = n.id AND a.clock = 'acknowledge' AND a.due = n.acknowledge_due AND a.step = $2)) \
               OR (answer_due < $1 AND NOT EXISTS (SELECT 1 FROM notice_alarms a \
                   WHERE a.notice_id = n.id AND a.clock = 'answer' AND a.due = n.answer_due AND a.step = $2))) ORDER BY id",
            mask("acknowledge", "acknowledge_due"),
            mask("answer", "answer_due"),
        ))
        .bind(horizon)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        report.considered = rows.len();
        let bit = |r: Rung| 1_i64 << Rung::ALL.iter().position(|x| *x == r).expect("ALL lists every rung");
        let within = |r: &sqlx::any::AnyRow, col: &str| -> Result<Within> {
            Within::parse(&r.try_get::<String, _>(col)?).map_err(|e| StoreError::Corrupt(format!("notice {col}: {e}")))
        };
        // (notice, clock, due as stored in µs, rung) to raise. Alarms key on
        // the stored value, so the SQL probes above match them exactly.
        let mut todo: Vec<(i64, &'static str, i64, Rung)> = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let state = State::parse(&r.try_get::<String, _>("state")?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut clocks = Vec::with_capacity(2);
            if let (State::Issued, Some(due)) = (state, r.try_get::<Option<i64>, _>("acknowledge_due")?) {
                clocks.push(("acknowledge", due, within(r, "acknowledge_within")?, r.try_get::<i64, _>("ack_mask")?));
            }
            if let Some(due) = r.try_get::<Option<i64>, _>("answer_due")?.filter(|_| state.unit_holds()) {
                clocks.push(("answer", due, within(r, "answer_within")?, r.try_get::<i64, _>("answer_mask")?));
            }
            for (clock, due, w, raised) in clocks {
                for rung in ladder.due_at(w, due.div_euclid(1_000_000), secs, &rules.calendar) {
                    if raised & bit(rung) == 0 {
                        todo.push((id, clock, due, rung));
                    }
                }
            }
        }
        let notices = self.notices_by_id(todo.iter().map(|t| t.0)).await?;
        let at = now.as_microsecond();
        for batch in todo.chunks(PER_TX) {
            let mut tx = self.write().await?;
            for &(id, clock, due, rung) in batch {
                let Some(n) = notices.get(&id) else { continue };
                let running = if clock == "acknowledge" {
                    "SELECT 1 FROM notices WHERE id = $1 AND state = 'issued' AND acknowledge_due = $3"
                } else {
                    "SELECT 1 FROM notices WHERE id = $1 AND state IN ('issued', 'acknowledged', 'in_progress', 'returned') AND answer_due = $3"
                };
                report.raised.extend(raise(&mut tx, n, Alarm { clock, due, rung }, running, at, &rules).await?);
            }
            tx.commit().await?;
        }
        report.raised.extend(self.sweep_report_clocks(now, &ladder, &rules).await?);
        if report.raised.iter().any(|r| r.messages > 0) {
            self.wake_sender();
        }
        Ok(report)
    }

    /// Full rows of notices `ids`, by id.
    pub(super) async fn notices_by_id(&self, ids: impl Iterator<Item = i64>) -> Result<HashMap<i64, Notice>> {
        let mut ids: Vec<i64> = ids.collect();
        ids.sort_unstable();
        ids.dedup();
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            for r in sqlx::query(&format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE id IN ({list})")).fetch_all(&self.pool).await? {
                let n = notice_of(&r)?.notice;
                out.insert(n.id, n);
            }
        }
        Ok(out)
    }
}

/// One step of one clock: `rung` of `clock`, due at `due` (µs, as stored).
pub(super) struct Alarm {
    pub clock: &'static str,
    pub due: i64,
    pub rung: Rung,
}

/// Raises `alarm` on notice `n` if it is not raised yet and its clock still
/// runs to this due time, which `running` (a query on `$1`, the notice id,
/// and `$3`, the due time) checks under the write lock: the notice may have
/// moved since it was read, or another sweeper got there first. Raising
/// writes the alarm, the timeline and audit entry, and the messages the
/// rung's event sends.
pub(super) async fn raise(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    n: &Notice,
    alarm: Alarm,
    running: &str,
    at: i64,
    rules: &Rules,
) -> Result<Option<Raised>> {
    let Alarm { clock, due, rung } = alarm;
    let inserted = sqlx::query(&format!(
        "INSERT INTO notice_alarms (notice_id, clock, due, step, at) SELECT $1, $2, $3, $4, $5 \
         WHERE EXISTS ({running}) ON CONFLICT DO NOTHING"
    ))
    .bind(n.id)
    .bind(clock)
    .bind(due)
    .bind(rung.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    let p = deadlines();
    let due_at = crate::ts(due);
    let reason = format!("{clock} deadline {} ({rung})", shouwang_workflow::messages::cst_text(due_at));
    let (state, detail) = (n.state.as_str(), serde_json::json!({ "clock": clock, "due": due_at, "rung": rung }));
    log_steps(tx, &p, &[Step { id: n.id, action: rung.as_str(), from: state, to: state, reason: &reason, at, detail }]).await?;
    let occ = Occasion {
        event: rung.event(),
        tag: format!("{clock}@{}", due.div_euclid(1_000_000)),
        actor: &p.username,
        reason: &reason,
        clock,
        due: Some(due.div_euclid(1_000_000)),
    };
    let messages = enqueue(tx, &rules.outbound, n, &occ, at).await?;
    Ok(Some(Raised { notice_id: n.id, number: n.number.clone(), clock, due: due_at, rung, messages }))
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

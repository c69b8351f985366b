//! The upward reporting clocks in the deadline sweep: the operator's first
//! report (1, 2 or 4 hours from issue) and its closure report (30 days
//! from the end of handling) run the same ladder as a notice's own clocks:
//! a reminder to the unit, then overdue, 督办 to its supervisor, and the
//! centre's leaders. Each step is raised once per deadline, into the
//! notice's timeline and the outbox. The centre's own clock (escalation of
//! levels I–II to the national level) is the centre's to watch: listed as
//! overdue, not messaged.

use shouwang_workflow::report::CLOSURE_WITHIN;
use shouwang_workflow::{Ladder, Rung, Within};
use sqlx::Row;

use super::alarms::{Alarm, Raised, raise};
use crate::{Result, Rules, Store};

/// (clock, due column, done column): the operator's reporting clocks.
const CLOCKS: [(&str, &str, &str); 2] = [("report_first", "first_due", "first_at"), ("report_closure", "closure_due", "closure_at")];

/// How far ahead of a due time the ladder can fire: the earliest step's
/// share of the longest span (the closure report's 30 days).
fn lead_secs(ladder: &Ladder) -> i64 {
    let share = ladder.steps.first().map_or(0, |s| i64::from((-s.at_percent).max(0)));
    CLOSURE_WITHIN * share / 100 + 60
}

impl Store {
    /// Raises the steps due at `now` on running reporting clocks.
    pub(super) async fn sweep_report_clocks(&self, now: jiff::Timestamp, ladder: &Ladder, rules: &Rules) -> Result<Vec<Raised>> {
        let secs = now.as_second();
        let horizon = (secs + lead_secs(ladder)).saturating_mul(1_000_000);
        // Few notices have reporting clocks (incidents of level III and up):
        // one query over the running ones, with the steps already raised.
        let rows = sqlx::query(
            "SELECT c.notice_id, c.opened_at, c.first_due, c.first_at, c.closure_due, c.closure_at, \
             (SELECT string_agg(a.clock || ':' || a.due || ':' || a.step, ',') FROM notice_alarms a \
              WHERE a.notice_id = c.notice_id AND a.clock LIKE 'report_%') AS raised \
             FROM report_cases c JOIN notices n ON n.id = c.notice_id WHERE n.state <> 'cancelled' \
             AND ((c.first_at IS NULL AND c.first_due < $1) OR (c.closure_at IS NULL AND c.closure_due < $1)) ORDER BY c.notice_id",
        )
        .bind(horizon)
        .fetch_all(&self.pool)
        .await?;
        let mut todo: Vec<(i64, &'static str, i64, Rung)> = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get("notice_id")?;
            let raised: String = r.try_get::<Option<String>, _>("raised")?.unwrap_or_default();
            let opened: i64 = r.try_get("opened_at")?;
            for (clock, due_col, done_col) in CLOCKS {
                let (Some(due), None) = (r.try_get::<Option<i64>, _>(due_col)?, r.try_get::<Option<i64>, _>(done_col)?) else {
                    continue;
                };
                let span = if clock == "report_first" { (due - opened) / 1_000_000 } else { CLOSURE_WITHIN };
                for rung in ladder.due_at(Within::Wall(span), due.div_euclid(1_000_000), secs, &rules.calendar) {
                    if !raised.split(',').any(|x| x == format!("{clock}:{due}:{}", rung.as_str())) {
                        todo.push((id, clock, due, rung));
                    }
                }
            }
        }
        if todo.is_empty() {
            return Ok(Vec::new());
        }
        let notices = self.notices_by_id(todo.iter().map(|t| t.0)).await?;
        let at = now.as_microsecond();
        let mut out = Vec::new();
        let mut tx = self.write().await?;
        for (id, clock, due, rung) in todo {
            let Some(n) = notices.get(&id) else { continue };
            let (due_col, done_col) = if clock == "report_first" { ("first_due", "first_at") } else { ("closure_due", "closure_at") };
            let running = format!("SELECT 1 FROM report_cases WHERE notice_id = $1 AND {due_col} = $3 AND {done_col} IS NULL");
            out.extend(raise(&mut tx, n, Alarm { clock, due, rung }, &running, at, rules).await?);
        }
        tx.commit().await?;
        Ok(out)
    }
}

//! Upward reports: the reporting clocks an incident notice of level III or
//! above opens when issued, the reports made on it (首报, 补报, 续报, 总结),
//! the centre's escalation to the national level for levels I–II, and the
//! printable document. The rules are `shouwang_workflow::report`'s.

use serde::Serialize;
use shouwang_workflow::report::{CLOSURE_WITHIN, Heading, must_escalate, printable};
use shouwang_workflow::{Level, OperatorClass, ReportItems, ReportKind, State};
use sqlx::{Any, Row, Transaction};

use super::{Notice, Step, Stored, corrupt, log_steps, ots};
use crate::access::{Perm, Principal};
use crate::{Result, Store, StoreError, ts};

/// A notice's reporting clocks and reports, with what is overdue now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportCase {
    pub notice_id: i64,
    pub number: Option<String>,
    pub level: Level,
    pub operator_class: OperatorClass,
    pub opened_at: jiff::Timestamp,
    pub first_due: jiff::Timestamp,
    pub first_at: Option<jiff::Timestamp>,
    pub escalate_due: Option<jiff::Timestamp>,
    pub escalated_at: Option<jiff::Timestamp>,
    pub escalated_by: Option<String>,
    pub closure_due: Option<jiff::Timestamp>,
    pub closure_at: Option<jiff::Timestamp>,
    /// The clocks past their due time with nothing done, at reading.
    pub overdue: Vec<&'static str>,
    pub reports: Vec<Report>,
}

/// One report as made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub seq: i64,
    pub kind: ReportKind,
    pub items: ReportItems,
    pub submitted_by: String,
    pub submitted_at: jiff::Timestamp,
}

const CASE_COLUMNS: &str = "c.notice_id, c.operator_class, c.opened_at, c.first_due, c.first_at, c.escalate_due, c.escalated_at, \
     c.escalated_by, c.closure_due, c.closure_at, n.number, n.level";

fn invalid(m: impl Into<String>) -> StoreError {
    StoreError::Invalid(m.into())
}

/// Opens the reporting clocks of notice `n`, just issued at `at` (µs), if
/// it is an incident of level III or above and has none yet. A unit with
/// any critical information infrastructure asset reports as a CII
/// operator; the centre may reclassify (a central organ's local unit).
pub(crate) async fn open_case(tx: &mut Transaction<'_, Any>, n: &Notice, at: i64) -> Result<()> {
    if n.kind != shouwang_workflow::Kind::Incident || !shouwang_workflow::report::must_report(n.level) {
        return Ok(());
    }
    let criticality: Vec<String> = sqlx::query_scalar("SELECT criticality FROM claims WHERE unit = $1 AND valid_to IS NULL")
        .bind(&n.unit)
        .fetch_all(&mut **tx)
        .await?;
    let cii = criticality.iter().any(|c| serde_json::from_str::<serde_json::Value>(c).is_ok_and(|v| v["cii"] == true));
    let class = if cii { OperatorClass::Cii } else { OperatorClass::Other };
    sqlx::query(
        "INSERT INTO report_cases (notice_id, operator_class, opened_at, first_due) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(n.id)
    .bind(class.as_str())
    .bind(at)
    .bind(at + class.report_within() * 1_000_000)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Handling of notice `id` ended at `at` (µs): the closure report is due.
pub(crate) async fn end_handling(tx: &mut Transaction<'_, Any>, id: i64, at: i64) -> Result<()> {
    sqlx::query("UPDATE report_cases SET closure_due = $1 WHERE notice_id = $2 AND closure_due IS NULL")
        .bind(at + CLOSURE_WITHIN * 1_000_000)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn case_of(r: &sqlx::any::AnyRow, now: jiff::Timestamp) -> Result<ReportCase> {
    let level = Level::parse(&r.try_get::<String, _>("level")?).ok_or_else(|| corrupt("level", "not I-IV"))?;
    let class = OperatorClass::parse(&r.try_get::<String, _>("operator_class")?).map_err(|e| corrupt("operator class", e))?;
    let mut c = ReportCase {
        notice_id: r.try_get("notice_id")?,
        number: r.try_get("number")?,
        level,
        operator_class: class,
        opened_at: ts(r.try_get("opened_at")?),
        first_due: ts(r.try_get("first_due")?),
        first_at: ots(r, "first_at")?,
        escalate_due: ots(r, "escalate_due")?,
        escalated_at: ots(r, "escalated_at")?,
        escalated_by: r.try_get("escalated_by")?,
        closure_due: ots(r, "closure_due")?,
        closure_at: ots(r, "closure_at")?,
        overdue: Vec::new(),
        reports: Vec::new(),
    };
    let late = |due: Option<jiff::Timestamp>, done: Option<jiff::Timestamp>| due.is_some_and(|d| done.is_none() && now > d);
    for (what, is_late) in [
        ("first_report", late(Some(c.first_due), c.first_at)),
        ("escalation", late(c.escalate_due, c.escalated_at)),
        ("closure_report", late(c.closure_due, c.closure_at)),
    ] {
        if is_late {
            c.overdue.push(what);
        }
    }
    Ok(c)
}

impl Store {
    async fn load_case(&self, id: i64, now: jiff::Timestamp) -> Result<ReportCase> {
        let row =
            sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM report_cases c JOIN notices n ON n.id = c.notice_id WHERE c.notice_id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("notice {id} has no upward report (only issued incidents of level III or above)"))
                })?;
        let mut c = case_of(&row, now)?;
        let rows = sqlx::query("SELECT seq, kind, items, submitted_by, submitted_at FROM reports WHERE notice_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            c.reports.push(Report {
                seq: r.try_get("seq")?,
                kind: ReportKind::parse(&r.try_get::<String, _>("kind")?).map_err(|e| corrupt("report kind", e))?,
                items: serde_json::from_str(&r.try_get::<String, _>("items")?).map_err(|e| corrupt("report items", e))?,
                submitted_by: r.try_get("submitted_by")?,
                submitted_at: ts(r.try_get("submitted_at")?),
            });
        }
        Ok(c)
    }

    /// Notice `id`'s reporting clocks and reports.
    pub async fn report_case(&self, p: &Principal, id: i64, now: jiff::Timestamp) -> Result<ReportCase> {
        self.visible_notice(p, id).await?;
        self.load_case(id, now).await
    }

    /// Every open reporting case (or only those with a clock overdue), for
    /// the centre, oldest first.
    pub async fn report_cases(&self, p: &Principal, overdue_only: bool, now: jiff::Timestamp) -> Result<Vec<ReportCase>> {
        p.require(Perm::ManageNotices)?;
        let rows = sqlx::query(&format!(
            "SELECT {CASE_COLUMNS} FROM report_cases c JOIN notices n ON n.id = c.notice_id WHERE c.closure_at IS NULL \
             ORDER BY c.opened_at LIMIT 1000"
        ))
        .fetch_all(&self.pool)
        .await?;
        let cases: Vec<ReportCase> = rows.iter().map(|r| case_of(r, now)).collect::<Result<_>>()?;
        Ok(cases.into_iter().filter(|c| !overdue_only || !c.overdue.is_empty()).collect())
    }

    /// Adds a report: the unit's own (or the centre's on its behalf). The
    /// first must be a first report; a closure report comes once handling
    /// has ended, and ends the case.
    pub async fn submit_report(
        &self,
        p: &Principal,
        id: i64,
        kind: ReportKind,
        items: &ReportItems,
        now: jiff::Timestamp,
    ) -> Result<ReportCase> {
        let Stored { notice: n, .. } = self.visible_notice(p, id).await?;
        if p.require(Perm::ManageNotices).is_err() {
            p.require(Perm::RespondNotices)?;
        }
        items.check(kind).map_err(|e| invalid(e.to_string()))?;
        if n.state == State::Cancelled {
            return Err(StoreError::Conflict(format!("notice {id} was cancelled")));
        }
        let case = self.load_case(id, now).await?;
        let conflict = |m: String| Err(StoreError::Conflict(m));
        match (kind, case.reports.is_empty()) {
            (ReportKind::First, false) => return conflict("the first report was made; send a supplement or follow-up".into()),
            (k, true) if k != ReportKind::First => return conflict(format!("the first report comes first, not a {k} report")),
            _ => {}
        }
        if case.closure_at.is_some() {
            return conflict("the closure report was made; the case is closed".into());
        }
        if kind == ReportKind::Closure && case.closure_due.is_none() {
            return conflict("a closure report follows the end of handling (the notice closed)".into());
        }
        let at = now.as_microsecond();
        let seq = case.reports.len() as i64 + 1;
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO reports (notice_id, seq, kind, items, submitted_by, submitted_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(seq)
            .bind(kind.as_str())
            .bind(serde_json::to_string(items).expect("items serialise"))
            .bind(&p.username)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    StoreError::Stale("another report was made at the same moment".into())
                }
                _ => e.into(),
            })?;
        match kind {
            ReportKind::First => {
                let escalate = must_escalate(n.level).then(|| at + case.operator_class.escalate_within() * 1_000_000);
                sqlx::query("UPDATE report_cases SET first_at = $1, escalate_due = $2 WHERE notice_id = $3")
                    .bind(at)
                    .bind(escalate)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            ReportKind::Closure => {
                sqlx::query("UPDATE report_cases SET closure_at = $1 WHERE notice_id = $2").bind(at).bind(id).execute(&mut *tx).await?;
            }
            ReportKind::Supplement | ReportKind::FollowUp => {}
        }
        let state = n.state.as_str();
        let detail = serde_json::json!({ "seq": seq, "kind": kind });
        let reason = format!("{}（第 {seq} 次）", kind.name_zh());
        log_steps(&mut tx, p, &[Step { id, action: "report", from: state, to: state, reason: &reason, at, detail }]).await?;
        tx.commit().await?;
        self.load_case(id, now).await
    }

    /// Records that the centre escalated a level I–II incident to the
    /// national level (after its first report).
    pub async fn mark_escalated(&self, p: &Principal, id: i64, reason: &str, now: jiff::Timestamp) -> Result<ReportCase> {
        p.require(Perm::ManageNotices)?;
        let Stored { notice: n, .. } = self.visible_notice(p, id).await?;
        let case = self.load_case(id, now).await?;
        if case.escalate_due.is_none() {
            return Err(StoreError::Conflict(if must_escalate(n.level) {
                "escalation follows the first report".into()
            } else {
                format!("a level {} incident is not escalated to the national level", n.level)
            }));
        }
        if case.escalated_at.is_some() {
            return Err(StoreError::Conflict("already escalated".into()));
        }
        let at = now.as_microsecond();
        let mut tx = self.write().await?;
        sqlx::query("UPDATE report_cases SET escalated_at = $1, escalated_by = $2 WHERE notice_id = $3")
            .bind(at)
            .bind(&p.username)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let state = n.state.as_str();
        let reason = if reason.trim().is_empty() { "上报国家层面" } else { reason.trim() };
        let detail = serde_json::json!({});
        log_steps(&mut tx, p, &[Step { id, action: "report_escalated", from: state, to: state, reason, at, detail }]).await?;
        tx.commit().await?;
        self.load_case(id, now).await
    }

    /// Changes the operator class (and so the first report's due time).
    pub async fn set_operator_class(
        &self,
        p: &Principal,
        id: i64,
        class: OperatorClass,
        reason: &str,
        now: jiff::Timestamp,
    ) -> Result<ReportCase> {
        p.require(Perm::ManageNotices)?;
        if reason.trim().is_empty() {
            return Err(invalid("a reclassification needs a reason"));
        }
        let Stored { notice: n, .. } = self.visible_notice(p, id).await?;
        let case = self.load_case(id, now).await?;
        let mut tx = self.write().await?;
        let first_due = case.opened_at.as_microsecond() + class.report_within() * 1_000_000;
        let escalate_due =
            case.first_at.filter(|_| must_escalate(n.level)).map(|t| t.as_microsecond() + class.escalate_within() * 1_000_000);
        sqlx::query("UPDATE report_cases SET operator_class = $1, first_due = $2, escalate_due = $3 WHERE notice_id = $4")
            .bind(class.as_str())
            .bind(first_due)
            .bind(escalate_due)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let state = n.state.as_str();
        let detail = serde_json::json!({ "from": case.operator_class, "to": class });
        let at = now.as_microsecond();
        log_steps(&mut tx, p, &[Step { id, action: "report_class", from: state, to: state, reason: reason.trim(), at, detail }]).await?;
        tx.commit().await?;
        self.load_case(id, now).await
    }

    /// Report `seq` on notice `id` as a printable HTML document.
    pub async fn report_html(&self, p: &Principal, id: i64, seq: i64) -> Result<String> {
        let Stored { notice: n, .. } = self.visible_notice(p, id).await?;
        let case = self.load_case(id, jiff::Timestamp::now()).await?;
        let r = case.reports.iter().find(|r| r.seq == seq).ok_or_else(|| StoreError::NotFound(format!("report {seq} on notice {id}")))?;
        let unit_name: String = sqlx::query_scalar("SELECT name_zh FROM units WHERE code = $1").bind(&n.unit).fetch_one(&self.pool).await?;
        let number = n.number.clone().unwrap_or_else(|| format!("#{id}"));
        let at = shouwang_workflow::messages::cst_text(r.submitted_at);
        let h = Heading {
            number: &number,
            title: &n.title,
            unit_name: &unit_name,
            level: n.level,
            tlp: &n.tlp,
            kind: r.kind,
            seq,
            submitted_at: &at,
            submitted_by: &r.submitted_by,
        };
        Ok(printable(&h, &r.items))
    }
}

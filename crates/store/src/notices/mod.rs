//! Notices (通报): what the centre tells a unit, its lifecycle, deadlines
//! and timeline. The rules (which move is legal, how clocks run) are
//! `shouwang_workflow`'s; this module persists them and enforces who sees
//! what:
//!
//! - centre roles see every notice; a unit's operator sees its own unit's,
//!   and a supervisor its lines', but only once issued: drafts and notices
//!   awaiting approval are the centre's;
//! - a caller who asks for a notice they may not see gets "not found", and
//!   the attempt is audited;
//! - every change checks the version the caller read (optimistic
//!   concurrency) and is logged in the notice's timeline and the audit trail
//!   in the same transaction.

mod alarms;
mod attachments;
mod auto;
mod calendar;
mod group;
pub(crate) use group::Mover;
mod moves;
mod report_alarms;
mod reports;

use serde::{Deserialize, Serialize};
use shouwang_workflow::{Action, Breach, Clocks, Kind, Level, Outcome, Side, State, Within};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::access::{Perm, Principal, Visibility};
use crate::audit::{Entry, Head};
use crate::batch::{Arg, Batch};
use crate::filter::{Bind, Filter, rows_of};
use crate::{Result, Store, StoreError, ts};

pub use alarms::{Raised, Sweep};
pub use attachments::{Attachment, MAX_ATTACHMENT, safe_name};
pub(crate) use auto::auto_issue;
pub(crate) use calendar::put_setting;
pub(crate) use moves::reopen_on_detection;
pub use moves::{FromAlerts, Move, NewAnswer, NewNotice};
pub use reports::{Report, ReportCase};

/// A notice as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub id: i64,
    /// `2026-0123`, once issued.
    pub number: Option<String>,
    pub kind: Kind,
    pub state: State,
    pub title: String,
    pub summary: String,
    /// What the unit must do.
    pub actions: String,
    pub category: Option<String>,
    pub level: Level,
    pub tlp: String,
    pub unit: String,
    pub assets: Vec<String>,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub acknowledge_within: Within,
    pub answer_within: Within,
    pub acknowledge_due: Option<jiff::Timestamp>,
    pub answer_due: Option<jiff::Timestamp>,
    /// The answer clock is stopped: the centre holds the ball.
    pub answer_paused: bool,
    /// The deadline passed, at the time of reading.
    pub overdue: Option<Breach>,
    pub issued_at: Option<jiff::Timestamp>,
    pub acknowledged_at: Option<jiff::Timestamp>,
    pub answered_at: Option<jiff::Timestamp>,
    pub closed_at: Option<jiff::Timestamp>,
    /// The outcome the centre accepted on closing.
    pub outcome: Option<Outcome>,
    pub accepted_until: Option<jiff::Timestamp>,
    /// Times closed and reopened because the problem came back.
    pub reopened: i64,
    pub version: i64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// A notice with its evidence, answers and timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeDetail {
    #[serde(flatten)]
    pub notice: Notice,
    pub alerts: Vec<i64>,
    pub answers: Vec<AnswerRecord>,
    pub timeline: Vec<LogEntry>,
    /// Evidence files (content by download only).
    pub attachments: Vec<attachments::Attachment>,
    /// What the caller may do next.
    pub allowed: Vec<Action>,
}

/// A notice after a move, and what the caller may do next. The timeline
/// and answers are one `GET` away; a move does not read them back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    #[serde(flatten)]
    pub notice: Notice,
    pub allowed: Vec<Action>,
}

/// An answer (反馈) as the unit gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRecord {
    pub at: jiff::Timestamp,
    pub by: String,
    pub cause: String,
    pub measures: String,
    pub result: String,
    pub fixed_at: Option<jiff::Timestamp>,
    pub outcome: Outcome,
    pub accept_until: Option<jiff::Timestamp>,
}

/// One step of a notice's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// Filters for listing notices; every one is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    pub unit: Option<String>,
    /// One state or a comma-separated list.
    pub state: Option<String>,
    /// One level or a comma-separated list (`I,II`).
    pub level: Option<String>,
    pub kind: Option<String>,
    /// Only notices past a deadline now.
    #[serde(default)]
    pub overdue: bool,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

const NOTICE_COLUMNS: &str = "id, number, kind, state, title, summary, actions, category, level, tlp, unit, assets, created_by, \
     approved_by, acknowledge_within, answer_within, acknowledge_due, answer_due, answer_left, issued_at, acknowledged_at, \
     answered_at, closed_at, outcome, accepted_until, reopened, version, created_at, updated_at";

/// Micros to a timestamp, for nullable columns.
fn ots(r: &AnyRow, col: &str) -> Result<Option<jiff::Timestamp>> {
    Ok(r.try_get::<Option<i64>, _>(col)?.map(ts))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("notice {what}: {e}"))
}

/// A stored notice and its clocks (in seconds, as the workflow counts).
struct Stored {
    notice: Notice,
    clocks: Clocks,
}

fn notice_of(r: &AnyRow) -> Result<Stored> {
    let secs = |col: &str| -> Result<Option<i64>> { Ok(r.try_get::<Option<i64>, _>(col)?.map(|us| us.div_euclid(1_000_000))) };
    let clocks =
        Clocks { acknowledge_due: secs("acknowledge_due")?, answer_due: secs("answer_due")?, answer_left: r.try_get("answer_left")? };
    let text = |col: &str| -> Result<String> { Ok(r.try_get::<String, _>(col)?) };
    let assets: Vec<String> = serde_json::from_str(&text("assets")?).map_err(|e| corrupt("assets", e))?;
    let category = text("category")?;
    let notice = Notice {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        kind: Kind::parse(&text("kind")?).map_err(|e| corrupt("kind", e))?,
        state: State::parse(&text("state")?).map_err(|e| corrupt("state", e))?,
        title: text("title")?,
        summary: text("summary")?,
        actions: text("actions")?,
        category: (!category.is_empty()).then_some(category),
        level: Level::parse(&text("level")?).ok_or_else(|| corrupt("level", "not I to IV"))?,
        tlp: text("tlp")?,
        unit: text("unit")?,
        assets,
        created_by: text("created_by")?,
        approved_by: r.try_get("approved_by")?,
        acknowledge_within: Within::parse(&text("acknowledge_within")?).map_err(|e| corrupt("span", e))?,
        answer_within: Within::parse(&text("answer_within")?).map_err(|e| corrupt("span", e))?,
        acknowledge_due: ots(r, "acknowledge_due")?,
        answer_due: ots(r, "answer_due")?,
        answer_paused: clocks.answer_left.is_some(),
        overdue: None,
        issued_at: ots(r, "issued_at")?,
        acknowledged_at: ots(r, "acknowledged_at")?,
        answered_at: ots(r, "answered_at")?,
        closed_at: ots(r, "closed_at")?,
        outcome: r.try_get::<Option<String>, _>("outcome")?.map(|o| Outcome::parse(&o)).transpose().map_err(|e| corrupt("outcome", e))?,
        accepted_until: ots(r, "accepted_until")?,
        reopened: r.try_get("reopened")?,
        version: r.try_get("version")?,
        created_at: ts(r.try_get("created_at")?),
        updated_at: ts(r.try_get("updated_at")?),
    };
    Ok(Stored { notice, clocks })
}

impl Stored {
    /// The notice, with its overdue flag as of `now`.
    fn at(mut self, now: jiff::Timestamp) -> Notice {
        self.notice.overdue = self.clocks.breached(self.notice.state, now.as_second());
        self.notice
    }
}

/// `Clocks::breached` in SQL, with `due` the parameter holding now (µs):
/// issued and past its acknowledge time, or held by the unit past its
/// answer time. The one spelling both the overdue list and the scan use.
fn breached_sql(due: &str) -> String {
    format!(
        "state IN ('issued', 'acknowledged', 'in_progress', 'returned') \
         AND ((state = 'issued' AND acknowledge_due < {due}) OR answer_due < {due})"
    )
}

impl Store {
    /// Rows `p` may see: all for the centre; for a unit's operator its own
    /// unit's, and for a supervisor its lines', once issued.
    async fn notice_scope(&self, p: &Principal) -> Result<Filter> {
        p.require(Perm::ReadNotices)?;
        let mut f = Filter::default();
        f.visible(&self.visibility(p).await?);
        if p.role.unit_scoped() {
            f.and("issued_at IS NOT NULL");
        }
        Ok(f)
    }

    /// Notices the caller may see that pass `q`, most recently changed first.
    ///
    /// With a state or level filter (or `overdue`, which means the states
    /// the unit holds), each (state, level) pair is its own sub-select that
    /// walks its index range newest first and stops at the page's end; the
    /// parts are merged. `state IN (…) AND level IN (…)` would read every
    /// row of those states and sort them: 60 ms at a million notices.
    pub async fn notices(&self, p: &Principal, q: &NoticeQuery, now: jiff::Timestamp) -> Result<Vec<Notice>> {
        let mut f = self.notice_scope(p).await?;
        if let Some(u) = &q.unit {
            let n = f.param(Bind::S(u.clone()));
            f.and(&format!("unit = {n}"));
        }
        let invalid = |e: shouwang_workflow::WorkflowError| StoreError::Invalid(e.to_string());
        let list = |s: &str| s.split(',').map(str::trim).map(str::to_string).collect::<Vec<_>>();
        if let Some(k) = &q.kind {
            let mut params = Vec::new();
            for v in list(k) {
                params.push(f.param(Bind::S(Kind::parse(&v).map_err(invalid)?.as_str().to_string())));
            }
            f.and(&format!("kind IN ({})", params.join(", ")));
        }
        let mut levels: Vec<Level> = match &q.level {
            Some(l) => list(l)
                .iter()
                .map(|v| Level::parse(v).ok_or_else(|| StoreError::Invalid(format!("level `{v}` is not I, II, III or IV"))))
                .collect::<Result<_>>()?,
            None => Level::ALL.to_vec(),
        };
        let mut states: Vec<State> = match &q.state {
            Some(s) => list(s).iter().map(|v| State::parse(v)).collect::<Result<_, _>>().map_err(invalid)?,
            None => State::ALL.to_vec(),
        };
        if q.overdue {
            states.retain(|s| s.unit_holds());
        }
        // Offsets are bounded so that offset + limit cannot overflow.
        let (limit, offset) = (q.limit.unwrap_or(100).clamp(1, 1000), q.offset.unwrap_or(0).clamp(0, 100_000_000));
        let order = "ORDER BY updated_at DESC, id DESC";
        let sql = if q.state.is_none() && q.level.is_none() && !q.overdue {
            format!("SELECT {NOTICE_COLUMNS} FROM notices{} {order} LIMIT {limit} OFFSET {offset}", f.sql)
        } else {
            let due = if q.overdue { f.param(Bind::I(now.as_second() * 1_000_000)) } else { String::new() };
            states.sort_by_key(|s| s.as_str());
            states.dedup();
            levels.sort();
            levels.dedup();
            let mut parts = Vec::new();
            for s in &states {
                for l in &levels {
                    // Names come from the enums, never from the request.
                    let mut clause =
                        format!("{}{}state = '{}' AND level = '{}'", f.sql, if f.sql.is_empty() { " WHERE " } else { " AND " }, s, l);
                    if q.overdue {
                        clause.push_str(&format!(" AND {}", breached_sql(&due)));
                    }
                    let n = parts.len();
                    parts.push(format!(
                        "SELECT * FROM (SELECT id, updated_at FROM notices{clause} {order} LIMIT {}) AS p{n}",
                        offset + limit
                    ));
                }
            }
            if parts.is_empty() {
                return Ok(Vec::new());
            }
            // The parts carry only ids and times, so merging up to 16 pages'
            // worth sorts small rows; the page's full rows are read last.
            format!(
                "SELECT {NOTICE_COLUMNS} FROM notices WHERE id IN (SELECT id FROM ({}) AS u {order} LIMIT {limit} OFFSET {offset}) {order}",
                parts.join(" UNION ALL ")
            )
        };
        let rows = f.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(notice_of(r)?.at(now))).collect()
    }

    /// Open notices past a deadline at `now`, and which: what the
    /// escalation job acts on. System-level, like recording alerts.
    pub async fn breached_notices(&self, now: jiff::Timestamp) -> Result<Vec<(i64, Breach)>> {
        // The same rule as `Clocks::breached`, in SQL, so only ids come back.
        let rows = sqlx::query(&format!(
            "SELECT id, COALESCE(state = 'issued' AND acknowledge_due < $1, FALSE) AS ack FROM notices WHERE {} ORDER BY id",
            breached_sql("$1")
        ))
        .bind(now.as_second() * 1_000_000)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                // SQLite answers the comparison as an integer, PostgreSQL as a boolean.
                let ack = r.try_get::<bool, _>("ack").or_else(|_| r.try_get::<i64, _>("ack").map(|v| v != 0))?;
                Ok((r.try_get("id")?, if ack { Breach::Acknowledge } else { Breach::Answer }))
            })
            .collect()
    }

    /// The row of notice `id` if `p` may see it. A unit-scoped caller asking
    /// for one it may not see is audited, then told it does not exist.
    async fn visible_notice(&self, p: &Principal, id: i64) -> Result<Stored> {
        let mut f = self.notice_scope(p).await?;
        let n = f.param(Bind::I(id));
        f.and(&format!("id = {n}"));
        let sql = format!("SELECT {NOTICE_COLUMNS} FROM notices{}", f.sql);
        if let Some(r) = f.bind(sqlx::query(&sql)).fetch_optional(&self.pool).await? {
            return notice_of(&r);
        }
        if p.role.unit_scoped() {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT id FROM notices WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
            if exists.is_some() {
                return Err(self.deny(p, id).await);
            }
        }
        Err(StoreError::NotFound(format!("notice {id}")))
    }

    /// Audits a look at notice `id` that `p` may not see; the "not found"
    /// they are answered with, so they cannot tell it exists.
    async fn deny(&self, p: &Principal, id: i64) -> StoreError {
        match self.record(p, "notice.denied", &format!("notice:{id}"), "not visible to the caller", &serde_json::json!({})).await {
            Ok(()) => StoreError::NotFound(format!("notice {id}")),
            Err(e) => e,
        }
    }

    /// One notice with its alerts, answers and timeline. Reading TLP:RED
    /// material is audited.
    pub async fn notice(&self, p: &Principal, id: i64, now: jiff::Timestamp) -> Result<NoticeDetail> {
        let row = self.visible_notice(p, id).await?;
        if row.notice.tlp == "TLP:RED" {
            self.record(p, "notice.view", &format!("notice:{id}"), "TLP:RED material read", &serde_json::json!({})).await?;
        }
        self.detail(p, row, now).await
    }

    async fn detail(&self, p: &Principal, row: Stored, now: jiff::Timestamp) -> Result<NoticeDetail> {
        let id = row.notice.id;
        let alerts = sqlx::query_scalar("SELECT alert_id FROM notice_alerts WHERE notice_id = $1 ORDER BY alert_id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let answers = sqlx::query(
            "SELECT at, by_user, cause, measures, result, fixed_at, outcome, accept_until FROM notice_answers WHERE notice_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AnswerRecord {
                at: ts(r.try_get("at")?),
                by: r.try_get("by_user")?,
                cause: r.try_get("cause")?,
                measures: r.try_get("measures")?,
                result: r.try_get("result")?,
                fixed_at: ots(r, "fixed_at")?,
                outcome: Outcome::parse(&r.try_get::<String, _>("outcome")?).map_err(|e| corrupt("answer outcome", e))?,
                accept_until: ots(r, "accept_until")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let timeline =
            sqlx::query("SELECT at, actor, action, from_state, to_state, reason FROM notice_log WHERE notice_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(LogEntry {
                        at: ts(r.try_get("at")?),
                        actor: r.try_get("actor")?,
                        action: r.try_get("action")?,
                        from: r.try_get("from_state")?,
                        to: r.try_get("to_state")?,
                        reason: r.try_get("reason")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        let allowed = allowed_for(p, row.notice.state, row.notice.level);
        let attachments = self.attachments_of(id).await?;
        Ok(NoticeDetail { notice: row.at(now), alerts, answers, timeline, attachments, allowed })
    }
}

/// The permission an action needs (scope is checked apart).
fn perm_for(action: Action) -> Perm {
    match action.side() {
        Side::Centre => Perm::ManageNotices,
        Side::Leader => Perm::ApproveNotices,
        Side::Unit => Perm::RespondNotices,
    }
}

/// The moves from `state` that `p`'s role may take.
fn allowed_for(p: &Principal, state: State, level: Level) -> Vec<Action> {
    state.allowed(level).into_iter().filter(|&a| p.require(perm_for(a)).is_ok()).collect()
}

/// Whether `p`, who sees `vis`, may see notice `n`: units see their own
/// once issued; the centre sees all.
fn visible(p: &Principal, vis: &Visibility, n: &Notice) -> bool {
    vis.sees(&n.unit) && (!p.role.unit_scoped() || n.issued_at.is_some())
}

/// One step of a notice's timeline, as it is written.
struct Step<'a> {
    id: i64,
    action: &'a str,
    from: &'a str,
    to: &'a str,
    reason: &'a str,
    at: i64,
    detail: serde_json::Value,
}

/// Rows per multi-row insert into the timeline: 8 parameters each.
const LOG_ROWS: usize = 32;

/// Records steps in their notices' timelines and in the audit trail, in a
/// few statements however many there are.
async fn log_steps(tx: &mut sqlx::Transaction<'_, sqlx::Any>, p: &Principal, steps: &[Step<'_>]) -> Result<()> {
    if steps.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::default();
    log_steps_into(&mut batch, &mut Head::lock(tx).await?, p, steps);
    batch.run(tx).await?;
    Ok(())
}

/// Adds the statements of `log_steps` to `batch`, chaining on `head`.
fn log_steps_into(batch: &mut Batch, head: &mut Head, p: &Principal, steps: &[Step<'_>]) {
    for chunk in steps.chunks(LOG_ROWS) {
        let sql = format!(
            "INSERT INTO notice_log (notice_id, at, actor, action, from_state, to_state, reason, detail) VALUES {}",
            rows_of(chunk.len(), 8)
        );
        let mut args = Vec::with_capacity(chunk.len() * 8);
        for s in chunk {
            args.extend([
                Arg::from(s.id),
                s.at.into(),
                p.username.as_str().into(),
                s.action.into(),
                s.from.into(),
                s.to.into(),
                s.reason.into(),
                s.detail.to_string().into(),
            ]);
        }
        batch.push(sql, args);
    }
    let entries: Vec<Entry> = steps
        .iter()
        .map(|s| {
            let mut detail = s.detail.clone();
            detail["from"] = s.from.into();
            detail["to"] = s.to.into();
            Entry {
                action: format!("notice.{}", s.action),
                target: format!("notice:{}", s.id),
                reason: s.reason.into(),
                detail: detail.to_string(),
            }
        })
        .collect();
    head.append(batch, p, &entries);
}

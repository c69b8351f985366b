//! Creating notices and moving them through their lifecycle.

use std::collections::BTreeMap;

use serde::Deserialize;
use shouwang_workflow::{Action, Kind, Level, Outcome, Spans, State};
use sqlx::{Any, Row, Transaction};

use super::group::Ask;
use super::{Moved, NOTICE_COLUMNS, NoticeDetail, Step, Stored, log_steps, log_steps_into, notice_of, perm_for};
use crate::Rules;
use crate::access::{Perm, Principal};
use crate::audit::Head;
use crate::batch::Batch;
use crate::delivery::enqueue::{Occasion, enqueue, event_of};
use crate::{Result, Store, StoreError};

/// Longest title, in characters.
const MAX_TITLE: usize = 200;
/// Longest free text (summary, actions, each part of an answer).
const MAX_TEXT: usize = 20_000;
/// Longest reason for a move.
const MAX_REASON: usize = 2_000;
/// Most alerts or assets one notice may cite.
const MAX_ITEMS: usize = 1_000;

/// A notice drafted by hand.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNotice {
    pub kind: Kind,
    pub unit: String,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub actions: String,
    /// A GB/T 20986-2023 subcategory code.
    #[serde(default)]
    pub category: Option<String>,
    pub level: Level,
    /// TLP 2.0 label; TLP:AMBER when not given.
    #[serde(default)]
    pub tlp: Option<String>,
    #[serde(default)]
    pub assets: Vec<String>,
    /// Alerts cited as evidence; each must be the unit's.
    #[serde(default)]
    pub alerts: Vec<i64>,
}

/// Notices drafted from alerts: one per unit the alerts belong to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromAlerts {
    pub kind: Kind,
    pub alerts: Vec<i64>,
    /// Defaults: the most severe alert's title, level and category.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub level: Option<Level>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub actions: Option<String>,
    #[serde(default)]
    pub tlp: Option<String>,
}

/// A move: an action, why, and for `answer` the answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Move {
    pub action: Action,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub answer: Option<NewAnswer>,
}

/// The unit's structured answer (反馈).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAnswer {
    /// 原因: what happened, or why it is not a problem.
    pub cause: String,
    /// 措施: what was done.
    pub measures: String,
    /// 结果: the state now.
    pub result: String,
    /// When it was fixed.
    #[serde(default)]
    pub fixed_at: Option<jiff::Timestamp>,
    pub outcome: Outcome,
    /// For `risk_accepted`: until when.
    #[serde(default)]
    pub accept_until: Option<jiff::Timestamp>,
}

fn invalid(m: impl Into<String>) -> StoreError {
    StoreError::Invalid(m.into())
}

fn check_text(what: &str, s: &str, max: usize, one_line: bool) -> Result<()> {
    shouwang_workflow::check_text(what, s, max, one_line).map_err(|e| invalid(e.to_string()))
}

pub(super) fn check_tlp(tlp: Option<&str>) -> Result<String> {
    match tlp {
        None => Ok("TLP:AMBER".into()),
        Some(t) => shouwang_intel::Tlp::parse(t)
            .map(|t| t.as_str().to_string())
            .ok_or_else(|| invalid(format!("`{t}` is not a TLP 2.0 label (TLP:CLEAR, GREEN, AMBER, AMBER+STRICT, RED)"))),
    }
}

pub(super) fn check_new(n: &NewNotice) -> Result<()> {
    if n.title.trim().is_empty() {
        return Err(invalid("a notice needs a title"));
    }
    check_text("the title", &n.title, MAX_TITLE, true)?;
    check_text("the summary", &n.summary, MAX_TEXT, false)?;
    check_text("the required actions", &n.actions, MAX_TEXT, false)?;
    if let Some(c) = &n.category
        && !crate::alerts::code_ok(c)
    {
        return Err(invalid(format!("category `{c}` is not a GB/T 20986 code such as MPRANS")));
    }
    if n.assets.len() > MAX_ITEMS || n.alerts.len() > MAX_ITEMS {
        return Err(invalid(format!("a notice cites at most {MAX_ITEMS} assets and {MAX_ITEMS} alerts")));
    }
    for a in &n.assets {
        check_text("an asset", a, 300, true)?;
    }
    Ok(())
}

/// What a unit is asked to do when the centre does not say.
fn default_actions(kind: Kind) -> &'static str {
    match kind {
        Kind::Incident => "请立即核查所列资产，处置事件，消除影响，并在期限内反馈处置情况。",
        Kind::Rectification => "请核实所列资产存在的问题，完成整改，并在期限内反馈整改结果。",
        Kind::Verification => "请核查所列情况，并在期限内反馈核查结果。",
    }
}

/// Inserts drafts with their alert links, timeline and audit entries, all
/// in the caller's transaction: the new ids, in order. Units are checked in
/// one query; each notice is one INSERT, the logs a few multi-row ones.
pub(super) async fn insert_notices(tx: &mut Transaction<'_, Any>, p: &Principal, items: &[Draft<'_>], at: i64) -> Result<Vec<i64>> {
    let mut units: Vec<&str> = items.iter().map(|d| d.notice.unit.as_str()).collect();
    units.sort_unstable();
    units.dedup();
    let mut known = std::collections::HashSet::new();
    for chunk in units.chunks(500) {
        let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT code FROM units WHERE code IN ({})", params.join(", "));
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for u in chunk {
            q = q.bind(*u);
        }
        known.extend(q.fetch_all(&mut **tx).await?);
    }
    let mut ids = Vec::with_capacity(items.len());
    for (i, d) in items.iter().enumerate() {
        let n = d.notice;
        if !known.contains(&n.unit) {
            return Err(d.which(i, invalid(format!("unit `{}` is not in the registry", n.unit))));
        }
        let actions = if n.actions.trim().is_empty() { default_actions(n.kind).to_string() } else { n.actions.clone() };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO notices (kind, state, title, summary, actions, category, level, tlp, unit, assets, created_by, \
             acknowledge_within, answer_within, reopened, version, created_at, updated_at) \
             VALUES ($1, 'draft', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, 1, $13, $13) RETURNING id",
        )
        .bind(n.kind.as_str())
        .bind(n.title.trim())
        .bind(&n.summary)
        .bind(actions)
        .bind(n.category.clone().unwrap_or_default())
        .bind(n.level.as_str())
        .bind(d.tlp.as_str())
        .bind(&n.unit)
        .bind(serde_json::to_string(&n.assets).expect("strings serialise"))
        .bind(&p.username)
        .bind(d.spans.acknowledge.to_string())
        .bind(d.spans.answer.to_string())
        .bind(at)
        .fetch_one(&mut **tx)
        .await?;
        for &alert in &n.alerts {
            let unit: Option<String> =
                sqlx::query_scalar("SELECT unit FROM alerts WHERE id = $1").bind(alert).fetch_optional(&mut **tx).await?;
            match unit {
                None => return Err(d.which(i, invalid(format!("alert {alert} does not exist")))),
                Some(u) if u != n.unit => return Err(d.which(i, invalid(format!("alert {alert} is not unit {}'s", n.unit)))),
                Some(_) => {}
            }
            sqlx::query("INSERT INTO notice_alerts (notice_id, alert_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(alert)
                .execute(&mut **tx)
                .await?;
        }
        ids.push(id);
    }
    let steps: Vec<Step<'_>> = items
        .iter()
        .zip(&ids)
        .map(|(d, &id)| Step {
            id,
            action: "create",
            from: "",
            to: State::Draft.as_str(),
            reason: "",
            at,
            detail: serde_json::json!({ "kind": d.notice.kind, "level": d.notice.level, "unit": d.notice.unit, "alerts": d.notice.alerts }),
        })
        .collect();
    log_steps(tx, p, &steps).await?;
    Ok(ids)
}

/// A checked notice ready to insert.
pub(super) struct Draft<'a> {
    pub notice: &'a NewNotice,
    pub tlp: String,
    pub spans: Spans,
    /// Errors name the notice by position when there are several.
    pub of_many: bool,
}

impl Draft<'_> {
    fn which(&self, i: usize, e: StoreError) -> StoreError {
        match e {
            StoreError::Invalid(m) if self.of_many => invalid(format!("notice {}: {m}", i + 1)),
            e => e,
        }
    }
}

impl Store {
    /// Drafts a notice by hand.
    pub async fn create_notice(&self, p: &Principal, n: &NewNotice, now: jiff::Timestamp) -> Result<NoticeDetail> {
        let id = self.create_notices(p, std::slice::from_ref(n), now).await?[0];
        self.notice(p, id, now).await
    }

    /// Drafts notices in one transaction, all or none: their ids, in order.
    /// With more than one, an error names the notice by its position.
    pub async fn create_notices(&self, p: &Principal, notices: &[NewNotice], now: jiff::Timestamp) -> Result<Vec<i64>> {
        p.require(Perm::ManageNotices)?;
        let policy = self.deadline_policy().await?;
        let of_many = notices.len() > 1;
        let mut drafts = Vec::with_capacity(notices.len());
        for (i, n) in notices.iter().enumerate() {
            let mut d = Draft { notice: n, tlp: String::new(), spans: policy.spans(n.level), of_many };
            check_new(n).map_err(|e| d.which(i, e))?;
            d.tlp = check_tlp(n.tlp.as_deref()).map_err(|e| d.which(i, e))?;
            drafts.push(d);
        }
        let mut tx = self.write().await?;
        let ids = insert_notices(&mut tx, p, &drafts, now.as_microsecond()).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Drafts one notice per unit from alerts the caller can see, all or
    /// none. Each takes the most severe of its alerts' levels (unless one is
    /// given), that alert's category, and the alerts' assets.
    pub async fn notices_from_alerts(&self, p: &Principal, f: &FromAlerts, now: jiff::Timestamp) -> Result<Vec<NoticeDetail>> {
        p.require(Perm::ManageNotices)?;
        if f.alerts.is_empty() || f.alerts.len() > MAX_ITEMS {
            return Err(invalid(format!("give 1 to {MAX_ITEMS} alert ids")));
        }
        let tlp = check_tlp(f.tlp.as_deref())?;
        let mut by_unit: BTreeMap<String, Vec<crate::Alert>> = BTreeMap::new();
        let mut unattributed = Vec::new();
        for &id in &f.alerts {
            let a = self.alert(p, id).await?;
            match a.hits.unit.clone() {
                Some(u) => by_unit.entry(u).or_default().push(a),
                None => unattributed.push(id.to_string()),
            }
        }
        if !unattributed.is_empty() {
            return Err(invalid(format!(
                "alert(s) {} belong to no unit: attribute their assets in the registry first",
                unattributed.join(", ")
            )));
        }
        let policy = self.deadline_policy().await?;
        let mut notices = Vec::with_capacity(by_unit.len());
        for (unit, mut alerts) in by_unit {
            // Most severe first (levels order as text: I < II < III < IV), then most hits.
            alerts.sort_by(|a, b| a.level.cmp(&b.level).then(b.hits.hits.cmp(&a.hits.hits)).then(a.id.cmp(&b.id)));
            let top = &alerts[0];
            let level = f.level.or_else(|| Level::parse(&top.level)).unwrap_or(Level::IV);
            let mut assets: Vec<String> = alerts.iter().filter_map(|a| a.hits.asset.clone()).collect();
            assets.sort();
            assets.dedup();
            let summary = f.summary.clone().unwrap_or_else(|| {
                alerts
                    .iter()
                    .map(|a| {
                        format!(
                            "[{}] {}：{} 次，{} 至 {}，资产 {}",
                            a.level,
                            a.hits.title,
                            a.hits.hits,
                            a.hits.first_seen,
                            a.hits.last_seen,
                            a.hits.asset.as_deref().unwrap_or("-")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            let n = NewNotice {
                kind: f.kind,
                unit,
                // A rule's title may carry a line break; a notice's is one line.
                title: f
                    .title
                    .clone()
                    .unwrap_or_else(|| top.hits.title.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_TITLE).collect()),
                summary,
                actions: f.actions.clone().unwrap_or_default(),
                category: top.hits.category.clone(),
                level,
                tlp: Some(tlp.clone()),
                assets,
                alerts: alerts.iter().map(|a| a.id).collect(),
            };
            check_new(&n)?;
            notices.push(n);
        }
        let drafts: Vec<Draft<'_>> =
            notices.iter().map(|n| Draft { notice: n, tlp: tlp.clone(), spans: policy.spans(n.level), of_many: false }).collect();
        let mut tx = self.write().await?;
        let ids = insert_notices(&mut tx, p, &drafts, now.as_microsecond()).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.notice(p, id, now).await?);
        }
        Ok(out)
    }

    /// Takes `mv` on notice `id`, which the caller read at `version`.
    pub async fn move_notice(&self, p: &Principal, id: i64, version: i64, mv: &Move, now: jiff::Timestamp) -> Result<Moved> {
        p.require(perm_for(mv.action))?;
        let reason = mv.reason.trim();
        if mv.action.needs_reason() && reason.is_empty() {
            return Err(invalid(format!("{} needs a reason", mv.action)));
        }
        check_text("the reason", reason, MAX_REASON, false)?;
        match (&mv.answer, mv.action) {
            (None, Action::Answer) => return Err(invalid("answer needs the answer: cause, measures, result and outcome")),
            (Some(_), a) if a != Action::Answer => return Err(invalid(format!("only answer carries an answer, not {a}"))),
            (Some(a), _) => check_answer(a, now)?,
            (None, _) => {}
        }
        let vis = self.visibility(p).await?;
        self.take_move(Ask { p: p.clone(), vis, id, version, mv: mv.clone(), now }).await
    }
}

fn check_answer(a: &NewAnswer, now: jiff::Timestamp) -> Result<()> {
    for (what, text) in [("the cause", &a.cause), ("the measures", &a.measures), ("the result", &a.result)] {
        if text.trim().is_empty() {
            return Err(invalid(format!("an answer needs {what}")));
        }
        check_text(what, text, MAX_TEXT, false)?;
    }
    if a.fixed_at.is_some_and(|t| t > now) {
        return Err(invalid("the time fixed is in the future"));
    }
    match (a.outcome, a.accept_until) {
        (Outcome::RiskAccepted, None) => Err(invalid("risk acceptance needs accept_until, the date it ends")),
        (Outcome::RiskAccepted, Some(t)) if t <= now => Err(invalid("accept_until must be in the future")),
        (o, Some(_)) if o != Outcome::RiskAccepted => Err(invalid("accept_until goes only with the outcome risk_accepted")),
        _ => Ok(()),
    }
}

/// Moves a notice read (and locked) in `tx`: the new state and clocks, its
/// number on first issue, the answer, the timeline and the audit entry.
pub(super) async fn apply_move(
    tx: &mut Transaction<'_, Any>,
    p: &Principal,
    stored: Stored,
    mv: &Move,
    now: jiff::Timestamp,
    rules: &Rules,
) -> Result<(Stored, usize)> {
    let mut writes = Writes { batch: Batch::default(), head: Head::lock(tx).await? };
    let planned = plan_move(tx, p, stored, mv, now, rules, &mut writes).await?;
    let rows = writes.batch.run(tx).await?;
    finish_move(tx, p, &planned, mv, rows.first(), rules).await
}

/// Statements of moves waiting to be sent together, and the audit chain's
/// head as they leave it.
pub(super) struct Writes {
    pub batch: Batch,
    pub head: Head,
}

/// A move whose writes wait in a batch.
pub(super) struct Planned {
    pub id: i64,
    version: i64,
    to: State,
    was_issued: bool,
    at: i64,
}

/// The first half of a move: checks it, takes the notice's number on first
/// issue, and adds the update, the answer, and the timeline and audit
/// entries to `writes`. Refused moves add nothing.
pub(super) async fn plan_move(
    tx: &mut Transaction<'_, Any>,
    p: &Principal,
    stored: Stored,
    mv: &Move,
    now: jiff::Timestamp,
    rules: &Rules,
    writes: &mut Writes,
) -> Result<Planned> {
    let Stored { notice: n, clocks } = stored;
    let reason = mv.reason.trim();
    let (id, version, at) = (n.id, n.version, now.as_microsecond());
    let from = n.state;
    let to = from.apply(mv.action, n.level).map_err(|e| StoreError::Conflict(e.to_string()))?;
    let spans = Spans { acknowledge: n.acknowledge_within, answer: n.answer_within };
    let clocks = clocks.moved(from, to, now.as_second(), spans, &rules.calendar);
    let us = |s: Option<i64>| s.map(|s| s * 1_000_000);
    let mut number = n.number.clone();
    if to == State::Issued && number.is_none() {
        let year = i64::from(now.to_zoned(shouwang_workflow::calendar::cst()).year());
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO notice_series (year, last) VALUES ($1, 1) \
             ON CONFLICT (year) DO UPDATE SET last = notice_series.last + 1 RETURNING last",
        )
        .bind(year)
        .fetch_one(&mut **tx)
        .await?;
        number = Some(format!("{year}-{seq:04}"));
    }
    let micros = |t: Option<jiff::Timestamp>| t.map(|t| t.as_microsecond());
    let (mut acknowledged, mut answered, mut closed) = (micros(n.acknowledged_at), micros(n.answered_at), micros(n.closed_at));
    let (mut outcome, mut until) = (n.outcome.map(|o| o.as_str().to_string()), micros(n.accepted_until));
    let mut approved_by = n.approved_by.clone();
    let mut reopened = n.reopened;
    let issued = micros(n.issued_at).or((to == State::Issued).then_some(at));
    match mv.action {
        Action::Approve => approved_by = Some(p.username.clone()),
        Action::Acknowledge => acknowledged = Some(at),
        Action::Answer => answered = Some(at),
        Action::Cancel => closed = Some(at),
        Action::Close => {
            closed = Some(at);
            let last: Option<(String, Option<i64>)> =
                sqlx::query("SELECT outcome, accept_until FROM notice_answers WHERE notice_id = $1 ORDER BY id DESC LIMIT 1")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(|r| Ok::<_, sqlx::Error>((r.try_get("outcome")?, r.try_get("accept_until")?)))
                    .transpose()?;
            (outcome, until) = match last {
                Some((o, u)) => (Some(o), u),
                None => (None, None),
            };
        }
        Action::Reopen => {
            reopened += 1;
            (acknowledged, answered, closed, outcome, until) = (None, None, None, None, None);
        }
        Action::Submit | Action::Reject | Action::Issue | Action::Start | Action::Return => {}
    }
    // The update, the answer and the timeline and audit entries go in one
    // batch: on SQLite one round trip (see `batch`).
    let batch = &mut writes.batch;
    batch.push(
        format!(
            "UPDATE notices SET state = $1, number = $2, approved_by = $3, acknowledge_due = $4, answer_due = $5, answer_left = $6, \
             issued_at = $7, acknowledged_at = $8, answered_at = $9, closed_at = $10, outcome = $11, accepted_until = $12, \
             reopened = $13, version = version + 1, updated_at = $14 WHERE id = $15 AND version = $16 RETURNING {NOTICE_COLUMNS}"
        ),
        vec![
            to.as_str().into(),
            number.clone().into(),
            approved_by.into(),
            us(clocks.acknowledge_due).into(),
            us(clocks.answer_due).into(),
            clocks.answer_left.into(),
            issued.into(),
            acknowledged.into(),
            answered.into(),
            closed.into(),
            outcome.into(),
            until.into(),
            reopened.into(),
            at.into(),
            id.into(),
            version.into(),
        ],
    );
    let mut detail = serde_json::json!({ "number": number, "version": version + 1 });
    if let Some(a) = &mv.answer {
        batch.push(
            "INSERT INTO notice_answers (notice_id, at, by_user, cause, measures, result, fixed_at, outcome, accept_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                id.into(),
                at.into(),
                p.username.as_str().into(),
                a.cause.as_str().into(),
                a.measures.as_str().into(),
                a.result.as_str().into(),
                micros(a.fixed_at).into(),
                a.outcome.as_str().into(),
                micros(a.accept_until).into(),
            ],
        );
        detail["outcome"] = a.outcome.as_str().into();
    }
    let step = Step { id, action: mv.action.as_str(), from: from.as_str(), to: to.as_str(), reason, at, detail };
    log_steps_into(batch, &mut writes.head, p, &[step]);
    Ok(Planned { id, version, to, was_issued: n.issued_at.is_some(), at })
}

/// The second half of a move, once its batch has run: `row` is what its
/// update returned. Writes the messages and opens or ends the upward
/// reporting case.
pub(super) async fn finish_move(
    tx: &mut Transaction<'_, Any>,
    p: &Principal,
    planned: &Planned,
    mv: &Move,
    row: Option<&sqlx::any::AnyRow>,
    rules: &Rules,
) -> Result<(Stored, usize)> {
    let Planned { id, version, to, was_issued, at } = *planned;
    // The caller holds the row's lock, so the version cannot have moved.
    let after = notice_of(row.ok_or_else(|| StoreError::Conflict(format!("notice {id} changed under its lock")))?)?;
    let mut messages = 0;
    if let Some(event) = event_of(mv.action, to, was_issued) {
        let occ = Occasion { event, tag: format!("v{}", version + 1), actor: &p.username, reason: mv.reason.trim(), clock: "", due: None };
        messages = enqueue(tx, &rules.outbound, &after.notice, &occ, at).await?;
    }
    if to == State::Issued {
        super::reports::open_case(tx, &after.notice, at).await?;
    }
    if mv.action == Action::Close {
        super::reports::end_handling(tx, id, at).await?;
    }
    Ok((after, messages))
}

/// Who reopens a notice when detection sees its problem again.
fn detection() -> Principal {
    Principal { username: "system:detection".into(), role: crate::Role::Analyst, unit: None }
}

/// Reopens closed notices whose problem (the same rule on the same unit's
/// asset) is seen again in `alerts` after the notice was closed, and links
/// the alert as new evidence; in the caller's transaction, so an alert and
/// the reopening it causes are recorded together. A notice closed as a
/// false positive or as not the unit's stays closed, and one whose risk was
/// accepted stays closed until the acceptance ends.
pub(crate) async fn reopen_on_detection(
    tx: &mut Transaction<'_, Any>,
    alerts: &[i64],
    now: jiff::Timestamp,
    rules: &Rules,
) -> Result<usize> {
    if alerts.is_empty() {
        return Ok(0);
    }
    // Most batches meet no notice at all: one cheap probe first.
    let any: Option<i64> = sqlx::query_scalar("SELECT notice_id FROM notice_alerts LIMIT 1").fetch_optional(&mut **tx).await?;
    if any.is_none() {
        return Ok(0);
    }
    let mut found: BTreeMap<i64, (i64, String, String, i64)> = BTreeMap::new();
    for chunk in alerts.chunks(500) {
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "SELECT n.id AS notice_id, a.id AS alert_id, a.rule_id, a.asset, a.last_seen FROM alerts a \
             JOIN alerts o ON o.rule_id = a.rule_id AND o.unit = a.unit AND o.asset = a.asset \
             JOIN notice_alerts na ON na.alert_id = o.id \
             JOIN notices n ON n.id = na.notice_id \
             WHERE a.id IN ({list}) AND a.unit <> '' AND n.state = 'closed' AND n.closed_at < a.last_seen \
             AND (n.outcome IS NULL OR n.outcome IN ('fixed', 'need_help') \
                  OR (n.outcome = 'risk_accepted' AND n.accepted_until < a.last_seen))"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for r in &rows {
            let last_seen: i64 = r.try_get("last_seen")?;
            let entry = (r.try_get("alert_id")?, r.try_get("rule_id")?, r.try_get("asset")?, last_seen);
            let slot = found.entry(r.try_get("notice_id")?).or_insert_with(|| entry.clone());
            if last_seen > slot.3 {
                *slot = entry;
            }
        }
    }
    let p = detection();
    for (&id, (alert, rule, asset, last_seen)) in &found {
        let row = sqlx::query(&format!("UPDATE notices SET version = version WHERE id = $1 RETURNING {NOTICE_COLUMNS}"))
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
        let seen = crate::ts(*last_seen);
        let reason = format!("detected again: {rule} on {asset} at {seen} (alert {alert})");
        let mv = Move { action: Action::Reopen, reason: reason.clone(), answer: None };
        apply_move(tx, &p, notice_of(&row)?, &mv, now, rules).await?;
        sqlx::query("INSERT INTO notice_alerts (notice_id, alert_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(*alert)
            .execute(&mut **tx)
            .await?;
    }
    Ok(found.len())
}

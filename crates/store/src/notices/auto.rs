//! Auto-issue: alerts of the classes the admin chose become issued notices
//! (or, at levels I–II, notices awaiting a leader's approval) in the same
//! transaction that records them. A new alert on a problem that already has
//! an open notice is added to that notice as evidence instead.

use std::collections::BTreeMap;

use shouwang_workflow::{Action, AutoIssue, Level, Policy, State};
use sqlx::{Any, Row, Transaction};

use super::moves::{Draft, apply_move, check_new, check_tlp, insert_notices};
use super::{NOTICE_COLUMNS, NewNotice, notice_of};
use crate::access::{Perm, Principal};
use crate::{Move, Result, Rules, Store, StoreError};

const AUTO_KEY: &str = "auto_issue";

/// Who drafts and issues automatic notices.
fn auto() -> Principal {
    Principal { username: "system:auto-issue".into(), role: crate::Role::Analyst, unit: None }
}

impl Store {
    /// The auto-issue policy: the admin's, or none.
    pub async fn auto_issue_policy(&self) -> Result<AutoIssue> {
        self.json_setting(AUTO_KEY, "auto-issue policy").await
    }

    /// Replaces the auto-issue policy; alerts already recorded are not revisited.
    pub async fn set_auto_issue_policy(&self, p: &Principal, policy: &AutoIssue, reason: &str) -> Result<AutoIssue> {
        p.require(Perm::ManageWorkflow)?;
        policy.check().map_err(|e| StoreError::Invalid(e.to_string()))?;
        for r in &policy.rules {
            check_tlp(r.tlp.as_deref()).map_err(|e| StoreError::Invalid(format!("auto-issue rule `{}`: {e}", r.name)))?;
        }
        self.set_json_setting(p, AUTO_KEY, policy, "policy.auto_issue", reason).await?;
        Ok(policy.clone())
    }
}

/// An alert an auto-issue rule may take.
struct Candidate {
    id: i64,
    rule_id: String,
    unit: String,
    asset: String,
    title: String,
    category: String,
    level: Level,
    hits: i64,
}

/// Issues notices for `alerts` (just recorded, in `tx`) that fall under an
/// auto-issue rule and are on no notice yet: how many notices were made.
pub(crate) async fn auto_issue(
    tx: &mut Transaction<'_, Any>,
    alerts: &[i64],
    policy: &AutoIssue,
    deadlines: &Policy,
    now: jiff::Timestamp,
    rules: &Rules,
) -> Result<usize> {
    if policy.rules.is_empty() || alerts.is_empty() {
        return Ok(0);
    }
    let mut candidates = Vec::new();
    for chunk in alerts.chunks(500) {
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "SELECT a.id, a.rule_id, a.unit, a.asset, a.title, a.category, a.level, a.hits FROM alerts a \
             WHERE a.id IN ({list}) AND a.unit <> '' \
             AND NOT EXISTS (SELECT 1 FROM notice_alerts na WHERE na.alert_id = a.id) ORDER BY a.id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for r in &rows {
            let Some(level) = Level::parse(&r.try_get::<String, _>("level")?) else { continue };
            candidates.push(Candidate {
                id: r.try_get("id")?,
                rule_id: r.try_get("rule_id")?,
                unit: r.try_get("unit")?,
                asset: r.try_get("asset")?,
                title: r.try_get("title")?,
                category: r.try_get("category")?,
                level,
                hits: r.try_get("hits")?,
            });
        }
    }
    // One new notice per (unit, auto rule), unless the problem has one open.
    let mut fresh: BTreeMap<(String, usize), Vec<Candidate>> = BTreeMap::new();
    for c in candidates {
        let Some(rule) = policy.rule_for(&c.rule_id, c.level) else { continue };
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT n.id FROM notices n JOIN notice_alerts na ON na.notice_id = n.id JOIN alerts o ON o.id = na.alert_id \
             WHERE o.rule_id = $1 AND o.unit = $2 AND o.asset = $3 AND n.state NOT IN ('closed', 'cancelled') ORDER BY n.id LIMIT 1",
        )
        .bind(&c.rule_id)
        .bind(&c.unit)
        .bind(&c.asset)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(n) = open {
            sqlx::query("INSERT INTO notice_alerts (notice_id, alert_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(n)
                .bind(c.id)
                .execute(&mut **tx)
                .await?;
            continue;
        }
        let index = policy.rules.iter().position(|r| std::ptr::eq(r, rule)).expect("the rule is the policy's");
        fresh.entry((c.unit.clone(), index)).or_default().push(c);
    }
    if fresh.is_empty() {
        return Ok(0);
    }
    let mut notices = Vec::with_capacity(fresh.len());
    for ((unit, index), mut alerts) in fresh {
        let rule = &policy.rules[index];
        alerts.sort_by(|a, b| a.level.cmp(&b.level).then(b.hits.cmp(&a.hits)).then(a.id.cmp(&b.id)));
        let top = &alerts[0];
        let mut assets: Vec<String> = alerts.iter().map(|a| a.asset.clone()).filter(|a| !a.is_empty()).collect();
        assets.sort();
        assets.dedup();
        let n = NewNotice {
            kind: rule.kind,
            unit,
            title: top.title.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect(),
            summary: format!("自动通报（{}）：{} 条告警，涉及资产 {}", rule.name, alerts.len(), assets.join("、")),
            actions: String::new(),
            category: Some(top.category.clone()).filter(|c| crate::alerts::code_ok(c)),
            level: rule.level.unwrap_or(top.level),
            tlp: rule.tlp.clone(),
            assets,
            alerts: alerts.iter().map(|a| a.id).collect(),
        };
        check_new(&n)?;
        notices.push(n);
    }
    let p = auto();
    let drafts: Vec<Draft<'_>> = notices
        .iter()
        .map(|n| Ok(Draft { notice: n, tlp: check_tlp(n.tlp.as_deref())?, spans: deadlines.spans(n.level), of_many: false }))
        .collect::<Result<_>>()?;
    let ids = insert_notices(tx, &p, &drafts, now.as_microsecond()).await?;
    for (&id, n) in ids.iter().zip(&notices) {
        let row = sqlx::query(&format!("UPDATE notices SET version = version WHERE id = $1 RETURNING {NOTICE_COLUMNS}"))
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
        let action = if shouwang_workflow::needs_approval(n.level) { Action::Submit } else { Action::Issue };
        let mv = Move { action, reason: "auto-issue policy".into(), answer: None };
        let (after, _) = apply_move(tx, &p, notice_of(&row)?, &mv, now, rules).await?;
        debug_assert!(matches!(after.notice.state, State::Issued | State::AwaitingApproval));
    }
    Ok(ids.len())
}

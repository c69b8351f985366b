//! Alerts: detection hits aggregated per (rule, unit, asset, window), with
//! the proposed level and its reasons, and an analyst's override.
//!
//! The pipeline writes (system-level, like attribution on the way in);
//! people read through [`Store::alerts`], which applies the caller's
//! visibility in the query itself: a unit's operator cannot list, fetch or
//! change another unit's alert, and alerts attributed to no unit are the
//! centre's alone.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::access::{Perm, Principal, Visibility};
use crate::audit::audit;
use crate::filter::{Bind, Filter, rows_of};
use crate::{Result, Store, StoreError, now_micros, ts};

/// Sample events kept per alert: enough to see what fired, bounded however
/// often it fires.
pub const MAX_SAMPLES: usize = 5;

/// Alerts per upsert statement, 16 parameters each: few round trips for
/// thousands of alerts, while binding stays cheap (SQLite finds a `$N`
/// parameter by a linear search, so binding is quadratic in their number).
const UPSERT_ROWS: usize = 32;

/// The levels, most severe first (GB/T 20986-2023).
const LEVELS: [&str; 4] = ["I", "II", "III", "IV"];

/// Hits of one rule on one unit's asset within one window, as detection
/// hands them over; merged into the stored alert with the same key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertHits {
    pub rule_id: String,
    pub title: String,
    /// `sigma`, `correlation`, `indicator` or `sensor`.
    pub source: String,
    pub unit: Option<String>,
    /// `kind:value` of the attributed asset, as the registry holds it.
    pub asset: Option<String>,
    /// Start of the aggregation window the hits fell in.
    pub window_start: jiff::Timestamp,
    /// The detection's own severity (Sigma level names).
    pub severity: String,
    /// GB/T 20986-2023 subcategory code, and why.
    pub category: Option<String>,
    pub category_reason: Option<String>,
    /// `I`…`IV`.
    pub proposed_level: String,
    /// Importance, loss, reasons and table version behind the proposal.
    pub grading: serde_json::Value,
    pub hits: i64,
    pub first_seen: jiff::Timestamp,
    pub last_seen: jiff::Timestamp,
    pub samples: Vec<serde_json::Value>,
}

/// An analyst's decision on an alert's level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Override {
    pub reason: String,
    pub by: String,
    pub at: jiff::Timestamp,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    #[serde(flatten)]
    pub hits: AlertHits,
    /// The level in force: the proposed one unless overridden.
    pub level: String,
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    pub overridden: Option<Override>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// Filters for listing alerts; every one is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    pub unit: Option<String>,
    /// One level or a comma-separated list (`I,II`).
    pub level: Option<String>,
    /// A subcategory code (`MPRANS`) or a category code (`MP`) for all of it.
    pub category: Option<String>,
    pub rule: Option<String>,
    pub source: Option<String>,
    /// Alerts seen at or after `from` and first seen before `to`.
    pub from: Option<jiff::Timestamp>,
    pub to: Option<jiff::Timestamp>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

fn level_ok(l: &str) -> bool {
    LEVELS.contains(&l)
}

/// A GB/T 20986 category or subcategory code's shape (`MP`, `MPRANS`).
pub(crate) fn code_ok(c: &str) -> bool {
    (2..=16).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn json(r: &AnyRow, col: &str) -> Result<serde_json::Value> {
    let text: String = r.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("alert {col}: {e}")))
}

/// What [`alert_of`] reads, named: a cached `SELECT *` can outlive a
/// change to the table.
const ALERT_COLUMNS: &str = "id, rule_id, title, source, unit, asset, window_start, severity, category, category_reason, \
     proposed_level, grading, level, override_reason, overridden_by, overridden_at, hits, first_seen, last_seen, created_at, updated_at";

/// An alert row, without its samples (see [`with_samples`]).
fn alert_of(r: &AnyRow) -> Result<Alert> {
    let overridden_at: Option<i64> = r.try_get("overridden_at")?;
    Ok(Alert {
        id: r.try_get("id")?,
        hits: AlertHits {
            rule_id: r.try_get("rule_id")?,
            title: r.try_get("title")?,
            source: r.try_get("source")?,
            unit: opt(r.try_get("unit")?),
            asset: opt(r.try_get("asset")?),
            window_start: ts(r.try_get("window_start")?),
            severity: r.try_get("severity")?,
            category: opt(r.try_get("category")?),
            category_reason: opt(r.try_get("category_reason")?),
            proposed_level: r.try_get("proposed_level")?,
            grading: json(r, "grading")?,
            hits: r.try_get("hits")?,
            first_seen: ts(r.try_get("first_seen")?),
            last_seen: ts(r.try_get("last_seen")?),
            samples: Vec::new(),
        },
        level: r.try_get("level")?,
        overridden: match overridden_at {
            Some(at) => Some(Override {
                reason: r.try_get::<Option<String>, _>("override_reason")?.unwrap_or_default(),
                by: r.try_get::<Option<String>, _>("overridden_by")?.unwrap_or_default(),
                at: ts(at),
            }),
            None => None,
        },
        created_at: ts(r.try_get("created_at")?),
        updated_at: ts(r.try_get("updated_at")?),
    })
}

/// `alerts` with their samples, in the order they were seen.
async fn with_samples(pool: &sqlx::AnyPool, mut alerts: Vec<Alert>) -> Result<Vec<Alert>> {
    if alerts.is_empty() {
        return Ok(alerts);
    }
    let list = alerts.iter().map(|a| a.id.to_string()).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(&format!("SELECT alert_id, sample FROM alert_samples WHERE alert_id IN ({list}) ORDER BY alert_id, n"))
        .fetch_all(pool)
        .await?;
    let mut by_id: std::collections::HashMap<i64, Vec<serde_json::Value>> = std::collections::HashMap::new();
    for r in &rows {
        by_id.entry(r.try_get("alert_id")?).or_default().push(json(r, "sample")?);
    }
    for a in &mut alerts {
        a.hits.samples = by_id.remove(&a.id).unwrap_or_default();
    }
    Ok(alerts)
}

/// `chunk`'s hits merged into their alerts, inserted where new; the
/// alerts' ids, in `chunk`'s order.
async fn upsert(tx: &mut sqlx::Transaction<'_, sqlx::Any>, chunk: &[AlertHits], now: i64) -> Result<Vec<i64>> {
    let mut sql = String::from(
        "INSERT INTO alerts (rule_id, title, source, unit, asset, window_start, severity, category, category_reason, \
         proposed_level, grading, level, hits, first_seen, last_seen, created_at, updated_at) VALUES ",
    );
    for i in 0..chunk.len() {
        // $1 is `now`; then 14 parameters per row, in column order except
        // `level`, which starts as the proposal.
        let mut row: Vec<String> = (2 + i * 14..2 + (i + 1) * 14).map(|n| format!("${n}")).collect();
        row.insert(11, row[9].clone());
        sql.push_str(if i == 0 { "(" } else { ", (" });
        sql.push_str(&row.join(", "));
        sql.push_str(", $1, $1)");
    }
    // A more severe proposal (the registry now says the asset matters
    // more) replaces the old one; the level in force follows it unless an
    // analyst decided. Levels order as text: I < II < III < IV.
    sql.push_str(
        " ON CONFLICT (rule_id, unit, asset, window_start) DO UPDATE SET \
         hits = alerts.hits + excluded.hits, \
         first_seen = CASE WHEN excluded.first_seen < alerts.first_seen THEN excluded.first_seen ELSE alerts.first_seen END, \
         last_seen = CASE WHEN excluded.last_seen > alerts.last_seen THEN excluded.last_seen ELSE alerts.last_seen END, \
         updated_at = excluded.updated_at, \
         grading = CASE WHEN excluded.proposed_level < alerts.proposed_level THEN excluded.grading ELSE alerts.grading END, \
         level = CASE WHEN excluded.proposed_level < alerts.proposed_level AND alerts.overridden_at IS NULL \
                 THEN excluded.proposed_level ELSE alerts.level END, \
         proposed_level = CASE WHEN excluded.proposed_level < alerts.proposed_level \
                          THEN excluded.proposed_level ELSE alerts.proposed_level END \
         RETURNING id, rule_id, unit, asset, window_start",
    );
    let mut q = sqlx::query(&sql).bind(now);
    for h in chunk {
        q = q
            .bind(&h.rule_id)
            .bind(&h.title)
            .bind(&h.source)
            .bind(h.unit.clone().unwrap_or_default())
            .bind(h.asset.clone().unwrap_or_default())
            .bind(h.window_start.as_microsecond())
            .bind(&h.severity)
            .bind(h.category.clone().unwrap_or_default())
            .bind(h.category_reason.clone().unwrap_or_default())
            .bind(&h.proposed_level)
            .bind(h.grading.to_string())
            .bind(h.hits)
            .bind(h.first_seen.as_microsecond())
            .bind(h.last_seen.as_microsecond());
    }
    // RETURNING's order is not promised: rows are matched back by key.
    let mut by_key = std::collections::HashMap::new();
    for r in q.fetch_all(&mut **tx).await? {
        let key: (String, String, String, i64) =
            (r.try_get("rule_id")?, r.try_get("unit")?, r.try_get("asset")?, r.try_get("window_start")?);
        by_key.insert(key, r.try_get::<i64, _>("id")?);
    }
    chunk
        .iter()
        .map(|h| {
            let key = (
                h.rule_id.clone(),
                h.unit.clone().unwrap_or_default(),
                h.asset.clone().unwrap_or_default(),
                h.window_start.as_microsecond(),
            );
            by_key.get(&key).copied().ok_or_else(|| StoreError::Corrupt(format!("alert upsert returned no row for {}", h.rule_id)))
        })
        .collect()
}

/// Adds `chunk`'s samples to alerts `ids` up to [`MAX_SAMPLES`] each.
async fn add_samples(tx: &mut sqlx::Transaction<'_, sqlx::Any>, chunk: &[AlertHits], ids: &[i64]) -> Result<()> {
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let kept: std::collections::HashMap<i64, i64> =
        sqlx::query(&format!("SELECT alert_id, COUNT(*) AS n FROM alert_samples WHERE alert_id IN ({list}) GROUP BY alert_id"))
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("alert_id")?, r.try_get("n")?)))
            .collect::<Result<_>>()?;
    let mut rows: Vec<(i64, i64, String)> = Vec::new();
    for (h, &id) in chunk.iter().zip(ids) {
        let have = kept.get(&id).copied().unwrap_or(0);
        let room = MAX_SAMPLES.saturating_sub(usize::try_from(have).unwrap_or(MAX_SAMPLES));
        for (i, sample) in h.samples.iter().take(room).enumerate() {
            rows.push((id, have + i as i64, sample.to_string()));
        }
    }
    for part in rows.chunks(UPSERT_ROWS * 4) {
        let sql = format!("INSERT INTO alert_samples (alert_id, n, sample) VALUES {}", rows_of(part.len(), 3));
        let mut q = sqlx::query(&sql);
        for (id, n, sample) in part {
            q = q.bind(*id).bind(*n).bind(sample.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Merges detection's hits into alerts and advances the streams'
    /// marks, in one transaction: either all of a batch's hits count, and
    /// the replay of that batch is skipped, or none do.
    ///
    /// Hits go in as multi-row upserts, [`UPSERT_ROWS`] at a time: counts,
    /// first/last seen and a more severe proposal merge in SQL. Samples are
    /// added only to alerts that still have room for them.
    pub async fn record_alerts(&self, hits: &[AlertHits], marks: &[(i64, i64)]) -> Result<()> {
        if let Some(h) = hits.iter().find(|h| !level_ok(&h.proposed_level)) {
            return Err(StoreError::Invalid(format!("alert level `{}` is not I, II, III or IV", h.proposed_level)));
        }
        let now = now_micros();
        let rules = self.rules().await?;
        // Read per batch; the deadline policy only when a rule may draft.
        let auto = self.auto_issue_policy().await?;
        let deadlines = if auto.rules.is_empty() { None } else { Some(self.deadline_policy().await?) };
        let mut tx = self.write().await?;
        let mut recorded = Vec::with_capacity(hits.len());
        for chunk in hits.chunks(UPSERT_ROWS) {
            let ids = upsert(&mut tx, chunk, now).await?;
            add_samples(&mut tx, chunk, &ids).await?;
            recorded.extend(ids);
        }
        let reopened = crate::notices::reopen_on_detection(&mut tx, &recorded, ts(now), &rules).await?;
        if reopened > 0 {
            tracing::info!(reopened, "closed notices reopened: their problem was detected again");
        }
        let issued = match &deadlines {
            Some(d) => crate::notices::auto_issue(&mut tx, &recorded, &auto, d, ts(now), &rules).await?,
            None => 0,
        };
        if issued > 0 {
            tracing::info!(issued, "notices issued by the auto-issue policy");
        }
        for &(stream, pos) in marks {
            sqlx::query(
                "INSERT INTO alert_marks (stream, pos) VALUES ($1, $2) \
                 ON CONFLICT (stream) DO UPDATE SET pos = excluded.pos WHERE alert_marks.pos < excluded.pos",
            )
            .bind(stream)
            .bind(pos)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if reopened + issued > 0 {
            self.wake_sender();
        }
        Ok(())
    }

    /// The position below which `stream`'s events are already in alerts.
    pub async fn alert_mark(&self, stream: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT pos FROM alert_marks WHERE stream = $1").bind(stream).fetch_optional(&self.pool).await?)
    }

    /// Alerts the caller may see that pass `q`, most recently seen first.
    pub async fn alerts(&self, p: &Principal, q: &AlertQuery) -> Result<Vec<Alert>> {
        p.require(Perm::ReadAlerts)?;
        let vis = self.visibility(p).await?;
        let mut f = Filter::default();
        f.visible(&vis);
        if let Some(u) = &q.unit {
            let n = f.param(Bind::S(u.clone()));
            f.and(&format!("unit = {n}"));
        }
        if let Some(levels) = &q.level {
            let mut params = Vec::new();
            for l in levels.split(',').map(str::trim) {
                if !level_ok(l) {
                    return Err(StoreError::Invalid(format!("level `{l}` is not I, II, III or IV")));
                }
                params.push(f.param(Bind::S(l.to_string())));
            }
            f.and(&format!("level IN ({})", params.join(", ")));
        }
        if let Some(c) = &q.category {
            if !code_ok(c) {
                return Err(StoreError::Invalid(format!("category `{c}` is not a GB/T 20986 code such as MP or MPRANS")));
            }
            // Top-level codes are two letters and prefix their subcategories'.
            let n = f.param(Bind::S(c.clone()));
            f.and(&(if c.len() == 2 { format!("substr(category, 1, 2) = {n}") } else { format!("category = {n}") }));
        }
        if let Some(r) = &q.rule {
            let n = f.param(Bind::S(r.clone()));
            f.and(&format!("rule_id = {n}"));
        }
        if let Some(s) = &q.source {
            let n = f.param(Bind::S(s.clone()));
            f.and(&format!("source = {n}"));
        }
        if let Some(t) = q.from {
            let n = f.param(Bind::I(t.as_microsecond()));
            f.and(&format!("last_seen >= {n}"));
        }
        if let Some(t) = q.to {
            let n = f.param(Bind::I(t.as_microsecond()));
            f.and(&format!("first_seen < {n}"));
        }
        let limit = f.param(Bind::I(q.limit.unwrap_or(100).clamp(1, 1000)));
        let offset = f.param(Bind::I(q.offset.unwrap_or(0).max(0)));
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts{} ORDER BY last_seen DESC, id DESC LIMIT {limit} OFFSET {offset}", f.sql);
        let alerts = f.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?.iter().map(alert_of).collect::<Result<Vec<_>>>()?;
        with_samples(&self.pool, alerts).await
    }

    /// One alert, if the caller may see it.
    pub async fn alert(&self, p: &Principal, id: i64) -> Result<Alert> {
        p.require(Perm::ReadAlerts)?;
        let vis = self.visibility(p).await?;
        let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1")).bind(id).fetch_optional(&self.pool).await?;
        match row.map(|r| alert_of(&r)).transpose()? {
            Some(a) if a.hits.unit.as_deref().map_or(vis == Visibility::All, |u| vis.sees(u)) => {
                Ok(with_samples(&self.pool, vec![a]).await?.remove(0))
            }
            _ => Err(StoreError::NotFound(format!("alert {id}"))),
        }
    }

    /// Sets the level in force, with the reason, and records both in the
    /// audit trail. Setting the proposed level again keeps the record that
    /// someone decided.
    pub async fn set_alert_level(&self, p: &Principal, id: i64, level: &str, reason: &str) -> Result<Alert> {
        p.require(Perm::TriageAlerts)?;
        if !level_ok(level) {
            return Err(StoreError::Invalid(format!("level `{level}` is not I, II, III or IV")));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(StoreError::Invalid("an override needs a reason (at most 2,000 characters)".into()));
        }
        let old = self.alert(p, id).await?;
        let now = now_micros();
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE alerts SET level = $1, override_reason = $2, overridden_by = $3, overridden_at = $4, updated_at = $4 WHERE id = $5",
        )
        .bind(level)
        .bind(reason)
        .bind(&p.username)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let detail =
            serde_json::json!({ "from": old.level, "to": level, "proposed": old.hits.proposed_level, "rule_id": old.hits.rule_id });
        audit(&mut tx, p, "alert.level", &format!("alert:{id}"), reason, &detail).await?;
        tx.commit().await?;
        self.alert(p, id).await
    }
}

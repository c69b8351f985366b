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
use crate::users::audit;
use crate::{Result, Store, StoreError, now_micros, ts};

/// Sample events kept per alert: enough to see what fired, bounded however
/// often it fires.
pub const MAX_SAMPLES: usize = 5;

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

enum Bind {
    S(String),
    I(i64),
}

/// `WHERE` clauses and their parameters, numbered as they are added.
#[derive(Default)]
struct Filter {
    sql: String,
    binds: Vec<Bind>,
}

impl Filter {
    fn param(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    fn and(&mut self, clause: &str) {
        self.sql.push_str(if self.sql.is_empty() { " WHERE " } else { " AND " });
        self.sql.push_str(clause);
    }

    /// Only rows of units `vis` sees; unattributed rows only for `All`.
    fn visible(&mut self, vis: &Visibility) {
        if let Visibility::Units(units) = vis {
            if units.is_empty() {
                self.and("1 = 0");
                return;
            }
            let mut units: Vec<&String> = units.iter().collect();
            units.sort();
            let params: Vec<String> = units.into_iter().map(|u| self.param(Bind::S(u.clone()))).collect();
            self.and(&format!("unit IN ({})", params.join(", ")));
        }
    }
}

fn level_ok(l: &str) -> bool {
    LEVELS.contains(&l)
}

fn code_ok(c: &str) -> bool {
    (2..=16).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn json(r: &AnyRow, col: &str) -> Result<serde_json::Value> {
    let text: String = r.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("alert {col}: {e}")))
}

fn alert_of(r: &AnyRow) -> Result<Alert> {
    let samples = match json(r, "samples")? {
        serde_json::Value::Array(a) => a,
        _ => return Err(StoreError::Corrupt("alert samples are not a list".into())),
    };
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
            samples,
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

impl Store {
    /// Merges detection's hits into alerts and advances the streams'
    /// marks, in one transaction: either all of a batch's hits count, and
    /// the replay of that batch is skipped, or none do.
    pub async fn record_alerts(&self, hits: &[AlertHits], marks: &[(i64, i64)]) -> Result<()> {
        let now = now_micros();
        let mut tx = self.pool.begin().await?;
        for h in hits {
            if !level_ok(&h.proposed_level) {
                return Err(StoreError::Invalid(format!("alert level `{}` is not I, II, III or IV", h.proposed_level)));
            }
            let unit = h.unit.clone().unwrap_or_default();
            let asset = h.asset.clone().unwrap_or_default();
            let window = h.window_start.as_microsecond();
            // Only the columns a merge needs: samples (kilobytes) are read
            // and rewritten only while the alert still has room for more.
            let row = sqlx::query(
                "SELECT id, hits, first_seen, last_seen, proposed_level, overridden_at, samples_kept FROM alerts \
                 WHERE rule_id = $1 AND unit = $2 AND asset = $3 AND window_start = $4",
            )
            .bind(&h.rule_id)
            .bind(&unit)
            .bind(&asset)
            .bind(window)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                None => {
                    let samples = &h.samples[..h.samples.len().min(MAX_SAMPLES)];
                    sqlx::query(
                        "INSERT INTO alerts (rule_id, title, source, unit, asset, window_start, severity, category, category_reason, \
                         proposed_level, grading, level, hits, first_seen, last_seen, samples, samples_kept, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10, $12, $13, $14, $15, $16, $17, $17)",
                    )
                    .bind(&h.rule_id)
                    .bind(&h.title)
                    .bind(&h.source)
                    .bind(&unit)
                    .bind(&asset)
                    .bind(window)
                    .bind(&h.severity)
                    .bind(h.category.clone().unwrap_or_default())
                    .bind(h.category_reason.clone().unwrap_or_default())
                    .bind(&h.proposed_level)
                    .bind(h.grading.to_string())
                    .bind(h.hits)
                    .bind(h.first_seen.as_microsecond())
                    .bind(h.last_seen.as_microsecond())
                    .bind(serde_json::Value::from(samples.to_vec()).to_string())
                    .bind(samples.len() as i64)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(row) => {
                    let id: i64 = row.try_get("id")?;
                    let hits: i64 = row.try_get("hits")?;
                    let first_seen: i64 = row.try_get("first_seen")?;
                    let last_seen: i64 = row.try_get("last_seen")?;
                    sqlx::query("UPDATE alerts SET hits = $1, first_seen = $2, last_seen = $3, updated_at = $4 WHERE id = $5")
                        .bind(hits + h.hits)
                        .bind(first_seen.min(h.first_seen.as_microsecond()))
                        .bind(last_seen.max(h.last_seen.as_microsecond()))
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let kept: i64 = row.try_get("samples_kept")?;
                    let room = MAX_SAMPLES.saturating_sub(usize::try_from(kept).unwrap_or(MAX_SAMPLES)).min(h.samples.len());
                    if room > 0 {
                        let text: String =
                            sqlx::query_scalar("SELECT samples FROM alerts WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
                        let mut samples: Vec<serde_json::Value> =
                            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("alert samples: {e}")))?;
                        samples.extend(h.samples.iter().take(room).cloned());
                        sqlx::query("UPDATE alerts SET samples = $1, samples_kept = $2 WHERE id = $3")
                            .bind(serde_json::Value::from(samples.clone()).to_string())
                            .bind(samples.len() as i64)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    // A more severe proposal (the registry now says the asset
                    // matters more) replaces the old one; the level in force
                    // follows it unless an analyst decided.
                    let proposed: String = row.try_get("proposed_level")?;
                    if h.proposed_level < proposed {
                        let overridden = row.try_get::<Option<i64>, _>("overridden_at")?.is_some();
                        sqlx::query(
                            "UPDATE alerts SET proposed_level = $1, grading = $2, \
                             level = CASE WHEN $3 = 1 THEN level ELSE $1 END WHERE id = $4",
                        )
                        .bind(&h.proposed_level)
                        .bind(h.grading.to_string())
                        .bind(i64::from(overridden))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
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
        let sql = format!("SELECT * FROM alerts{} ORDER BY last_seen DESC, id DESC LIMIT {limit} OFFSET {offset}", f.sql);
        let mut query = sqlx::query(&sql);
        for b in f.binds {
            query = match b {
                Bind::S(s) => query.bind(s),
                Bind::I(i) => query.bind(i),
            };
        }
        query.fetch_all(&self.pool).await?.iter().map(alert_of).collect()
    }

    /// One alert, if the caller may see it.
    pub async fn alert(&self, p: &Principal, id: i64) -> Result<Alert> {
        p.require(Perm::ReadAlerts)?;
        let vis = self.visibility(p).await?;
        let row = sqlx::query("SELECT * FROM alerts WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        match row.map(|r| alert_of(&r)).transpose()? {
            Some(a) if a.hits.unit.as_deref().map_or(vis == Visibility::All, |u| vis.sees(u)) => Ok(a),
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
        let mut tx = self.pool.begin().await?;
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

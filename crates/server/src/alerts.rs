//! Alerts and the detection content behind them.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shouwang_store::{Alert, AlertQuery, Perm};

use crate::auth::{Auth, Q};
use crate::{ApiError, AppState, SMALL_BODY, parse_json, read_body};

/// An alert as the API shows it: stored fields plus the category's names.
fn view(s: &AppState, a: Alert) -> serde_json::Value {
    let category = a.hits.category.as_deref().and_then(|c| s.categories.get(c)).map(|c| {
        serde_json::json!({ "code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "parent_code": c.parent_code, "parent_zh": c.parent_zh })
    });
    let mut v = serde_json::to_value(a).expect("alerts serialise");
    if let Some(c) = category {
        v["category_name"] = c;
    }
    v
}

pub async fn list(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<AlertQuery>) -> Result<Response, ApiError> {
    let alerts = s.store.alerts(&p, &q).await?;
    let alerts: Vec<serde_json::Value> = alerts.into_iter().map(|a| view(&s, a)).collect();
    Ok(axum::Json(serde_json::json!({ "alerts": alerts })).into_response())
}

/// The `{id}` of an alert's path: axum's own rejection would be plain text.
fn alert_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::BadRequest(format!("`{id}` is not an alert id (a number)")))
}

pub async fn one(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let a = s.store.alert(&p, alert_id(&id)?).await?;
    Ok(axum::Json(view(&s, a)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelBody {
    level: String,
    reason: String,
}

pub async fn set_level(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, body: Body) -> Result<Response, ApiError> {
    let id = alert_id(&id)?;
    let b: LevelBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    let a = s.store.set_alert_level(&p, id, &b.level, &b.reason).await?;
    Ok(axum::Json(view(&s, a)).into_response())
}

fn live(s: &AppState) -> Result<std::sync::Arc<shouwang_alerts::LiveDetection>, ApiError> {
    s.ingest.pipeline.detection.clone().ok_or_else(|| ApiError::NotFound("live detection is not enabled on this server".into()))
}

/// What the rules, indicators and allow-lists in use were loaded from, and
/// everything left out with the reason.
pub async fn content(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    p.require(Perm::ManageIngest)?;
    let d = live(&s)?;
    let summary = d.summary();
    Ok(axum::Json(serde_json::json!({
        "content": summary,
        "findings": d.findings.load(std::sync::atomic::Ordering::Relaxed),
        "replayed_findings_skipped": d.replayed.load(std::sync::atomic::Ordering::Relaxed),
        "rule_costs": d.rule_costs(20),
    }))
    .into_response())
}

/// Loads the configured files again and swaps them in; the pipeline keeps
/// running meanwhile, and a failed load keeps the content in use.
pub async fn reload(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    p.require(Perm::ManageIngest)?;
    let d = live(&s)?;
    let summary = tokio::task::spawn_blocking(move || d.reload())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Invalid { message: format!("reload failed; the content in use is unchanged: {e}"), details: vec![] })?;
    let detail = serde_json::json!({
        "rules": summary.rules.rules,
        "correlations": summary.rules.correlations,
        "rule_problems": summary.rules.problems.len(),
        "indicators": summary.indicators_in_use,
        "allow_entries": summary.allow_entries,
    });
    s.store.record(&p, "detection.reload", "detection", "reload requested", &detail).await?;
    Ok(axum::Json(serde_json::json!({ "content": summary })).into_response())
}

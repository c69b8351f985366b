//! The HTTP API under `/api/v1/`: JSON in and out, bearer tokens, errors as
//! `{"error": {"code", "message", "details"?}}`. The OpenAPI document is
//! served at `/api/v1/openapi.json`; `/metrics` is Prometheus text and
//! `/api/v1/health` needs no token.

mod alerts;
mod auth;
mod delivery;
mod error;
mod events;
mod idempotency;
mod metrics;
mod notices;
pub mod syslog;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use shouwang_registry::io::{RecordType, read_csv, read_json};
use shouwang_registry::{Bundle, io};
use shouwang_store::{Attributor, Store};

pub use delivery::{Clock, Dispatch, spawn_dispatcher, spawn_sweeper, wall_clock};
pub use error::ApiError;
pub use events::{Consumer, Ingest, counters_json, dead_letter_json, stored_status};
pub use metrics::Metrics;
pub use notices::attachment_response;

use auth::{Auth, Q};

/// Most queries one attribution request may carry.
pub const MAX_BATCH: usize = 10_000;
/// Body limit for everything but imports.
pub(crate) const SMALL_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub attributor: Arc<Attributor>,
    pub metrics: Arc<Metrics>,
    /// Largest registry import body accepted, in bytes.
    pub max_import_bytes: usize,
    /// The pipeline, its spool and the event store.
    pub ingest: Arc<Ingest>,
    /// GB/T 20986-2023 categories, for naming alerts' codes.
    pub categories: Arc<shouwang_grade::Categories>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/attribute", get(attribute_one).post(attribute_batch))
        .route("/api/v1/units", get(list_units))
        .route("/api/v1/units/{code}", get(unit))
        .route("/api/v1/units/{code}/history", get(unit_history))
        .route("/api/v1/registry/export", get(export))
        .route("/api/v1/registry/import", post(import))
        .route("/api/v1/registry/overlaps", get(overlaps))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/ingest", post(events::ingest))
        .route("/api/v1/ingest/status", get(events::status))
        .route("/api/v1/events", get(events::search))
        .route("/api/v1/dead-letters", get(events::dead_letters))
        .route("/api/v1/dead-letters/counts", get(events::dead_letter_counts))
        .route("/api/v1/dead-letters/replay", post(events::replay))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}", get(alerts::one))
        .route("/api/v1/alerts/{id}/level", post(alerts::set_level))
        .route("/api/v1/detection", get(alerts::content))
        .route("/api/v1/detection/reload", post(alerts::reload))
        .route("/api/v1/notices", get(notices::list).post(notices::create))
        .route("/api/v1/notices/from-alerts", post(notices::from_alerts))
        .route("/api/v1/notices/{id}", get(notices::get))
        .route("/api/v1/notices/{id}/moves", post(notices::take))
        .route("/api/v1/notices/{id}/attachments", get(notices::attachments).post(notices::attach))
        .route("/api/v1/notices/{id}/attachments/{file}", get(notices::download))
        .route("/api/v1/notices/{id}/report", get(notices::report))
        .route("/api/v1/notices/{id}/report/entries", post(notices::add_report))
        .route("/api/v1/notices/{id}/report/entries/{seq}/print", get(notices::report_print))
        .route("/api/v1/notices/{id}/report/escalated", post(notices::report_escalated))
        .route("/api/v1/notices/{id}/report/class", put(notices::report_class))
        .route("/api/v1/reports", get(notices::report_cases))
        .route("/api/v1/calendar", get(notices::calendar))
        .route("/api/v1/calendar/{date}", put(notices::set_day))
        .route("/api/v1/deadline-policy", get(notices::policy).put(notices::set_policy))
        .route("/api/v1/escalation", get(delivery::ladder).put(delivery::set_ladder))
        .route("/api/v1/auto-issue", get(delivery::auto_issue).put(delivery::set_auto_issue))
        .route("/api/v1/deadlines/sweep", post(delivery::sweep))
        .route("/api/v1/outbox", get(delivery::outbox))
        .route("/api/v1/outbox/{id}/retry", post(delivery::retry))
        .route("/api/v1/channels", get(delivery::channels).post(delivery::create_channel))
        .route("/api/v1/channels/{id}", put(delivery::update_channel))
        .route("/api/v1/templates", get(delivery::templates))
        .route("/api/v1/templates/{name}/{lang}", put(delivery::set_template).delete(delivery::reset_template))
        .route("/api/v1/inbox", get(delivery::inbox))
        .route("/api/v1/inbox/{id}/read", post(delivery::read))
        .route("/api/v1/settings/public-url", put(delivery::set_public_url))
        .route("/metrics", get(metrics_text))
        .fallback(|| async { ApiError::NotFound("no such endpoint; see /api/v1/openapi.json".into()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// Keeps the attribution index current when the registry changes from
/// another process (a CLI import); in-process imports refresh at once.
pub fn spawn_index_refresh(attributor: Arc<Attributor>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = attributor.refresh().await {
                tracing::warn!(error = %e, "attribution index refresh failed; serving the previous index");
            }
        }
    })
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::TooLarge(format!("request body is over {limit} bytes")))
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

async fn health(State(s): State<AppState>) -> Response {
    let (version, entries) = s.attributor.stats();
    match s.store.ping().await {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ok", "registry_version": version, "index_entries": entries })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })))
                .into_response()
        }
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.render(&s)).into_response()
}

async fn me(Auth(p): Auth) -> axum::Json<shouwang_store::Principal> {
    axum::Json(p)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttributeParams {
    q: String,
    at: Option<jiff::Timestamp>,
}

async fn attribute_one(State(s): State<AppState>, Auth(p): Auth, Q(params): Q<AttributeParams>) -> Result<Response, ApiError> {
    let mut r = run_attribution(&s, &p, vec![params.q], params.at).await?;
    Ok(axum::Json(r.remove(0)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttributeBatch {
    queries: Vec<String>,
    at: Option<jiff::Timestamp>,
}

async fn attribute_batch(State(s): State<AppState>, Auth(p): Auth, body: Body) -> Result<Response, ApiError> {
    let batch: AttributeBatch = parse_json(&read_body(body, SMALL_BODY).await?)?;
    if batch.queries.len() > MAX_BATCH {
        return Err(ApiError::Invalid {
            message: format!("at most {MAX_BATCH} queries per request, got {}", batch.queries.len()),
            details: vec![],
        });
    }
    let results = run_attribution(&s, &p, batch.queries, batch.at).await?;
    Ok(axum::Json(serde_json::json!({ "results": results })).into_response())
}

async fn run_attribution(
    s: &AppState,
    p: &shouwang_store::Principal,
    queries: Vec<String>,
    at: Option<jiff::Timestamp>,
) -> Result<Vec<shouwang_store::Attribution>, ApiError> {
    let results = s.attributor.attribute(p, &queries, at).await?;
    for r in &results {
        s.metrics.attributions.get_or_create(&vec![("status", r.status.to_string())]).inc();
    }
    Ok(results)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    q: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list_units(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<ListParams>) -> Result<Response, ApiError> {
    let units = s.store.list_units(&p, q.q.as_deref(), q.limit.unwrap_or(100), q.offset.unwrap_or(0)).await?;
    Ok(axum::Json(serde_json::json!({ "units": units })).into_response())
}

async fn unit(State(s): State<AppState>, Auth(p): Auth, Path(code): Path<String>) -> Result<Response, ApiError> {
    Ok(axum::Json(s.store.unit(&p, &code).await?).into_response())
}

async fn unit_history(State(s): State<AppState>, Auth(p): Auth, Path(code): Path<String>) -> Result<Response, ApiError> {
    let claims = s.store.unit_history(&p, &code).await?;
    Ok(axum::Json(serde_json::json!({ "unit": code, "claims": claims })).into_response())
}

async fn export(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    Ok(axum::Json(io::to_json(&s.store.export(&p).await?)).into_response())
}

async fn overlaps(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    Ok(axum::Json(serde_json::json!({ "overlaps": s.store.overlaps(&p).await? })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    limit: Option<i64>,
}

async fn audit(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<AuditParams>) -> Result<Response, ApiError> {
    Ok(axum::Json(serde_json::json!({ "entries": s.store.audit_entries(&p, q.limit.unwrap_or(100)).await? })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportParams {
    reason: String,
    #[serde(default)]
    dry_run: bool,
    /// For a `text/csv` body: which records it holds.
    records: Option<String>,
}

/// A JSON registry document, or one CSV file with `?records=units` etc.
async fn import(
    State(s): State<AppState>,
    Auth(p): Auth,
    Q(q): Q<ImportParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Refuse before reading anything a caller may not write.
    p.require(shouwang_store::Perm::WriteRegistry)?;
    let bytes = read_body(body, s.max_import_bytes).await?;
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let parsed: Result<Bundle, Vec<shouwang_registry::ImportError>> = if ctype.starts_with("application/json") {
        read_json("body".into(), &bytes)
    } else if ctype.starts_with("text/csv") {
        let key = q.records.as_deref().unwrap_or_default();
        let t = RecordType::ALL
            .into_iter()
            .find(|t| t.key() == key)
            .ok_or_else(|| ApiError::BadRequest("a CSV body needs ?records=regions|units|contacts|assets".into()))?;
        let mut b = Bundle::default();
        let mut errs = Vec::new();
        read_csv(format!("{key}.csv").into(), &bytes, t, &mut b, &mut errs);
        if errs.is_empty() { Ok(b) } else { Err(errs) }
    } else {
        return Err(ApiError::BadRequest("Content-Type must be application/json or text/csv".into()));
    };
    let bundle = parsed.map_err(|errs| ApiError::Invalid {
        message: format!("{} record(s) rejected; nothing was applied", errs.len()),
        details: errs.iter().map(ToString::to_string).collect(),
    })?;
    let out = s.store.import(&p, &bundle, &q.reason, q.dry_run).await?;
    if !out.errors.is_empty() {
        return Err(ApiError::Invalid {
            message: format!("{} record(s) rejected; nothing was applied", out.errors.len()),
            details: out.errors,
        });
    }
    if out.applied {
        s.attributor.refresh().await?;
    }
    Ok(axum::Json(out).into_response())
}

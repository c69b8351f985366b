//! Ingest over HTTP, event search, dead letters and pipeline status.
//!
//! `POST /api/v1/ingest` answers 202 only once the records are in the
//! durable spool; when the spool's backlog is over its limit it answers 503
//! and when too many ingest requests are in flight 429, both with
//! Retry-After, so a sender slows down instead of losing data.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shouwang_eventstore::{DeadQuery, IpRange, Scope, Search};
use shouwang_ingest::Format;
use shouwang_pipeline::{Pipeline, Spool, SpoolError, SpoolRecord};
use shouwang_store::{Perm, Principal, Visibility};

use crate::auth::{Auth, Q};
use crate::{ApiError, AppState, read_body};

/// The ingest side of the server state.
pub struct Ingest {
    pub pipeline: Pipeline,
    pub spool: Arc<Spool>,
    /// Largest request body, after decompression.
    pub max_body: usize,
    /// Ingest requests allowed in flight at once.
    pub slots: tokio::sync::Semaphore,
}

impl Ingest {
    pub fn new(pipeline: Pipeline, spool: Arc<Spool>, max_body: usize, max_in_flight: usize) -> Ingest {
        Ingest { pipeline, spool, max_body, slots: tokio::sync::Semaphore::new(max_in_flight) }
    }
}

/// Runs the spool's consumer on its own thread until the handle is stopped.
pub struct Consumer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Consumer {
    pub fn start(ingest: &Ingest) -> Consumer {
        let stop = Arc::new(AtomicBool::new(false));
        let (p, spool, flag) = (ingest.pipeline.clone(), ingest.spool.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("spool-consumer".into())
            .spawn(move || {
                // A store error (disk full) must not lose data: the spool keeps it; retry after a pause.
                while !flag.load(Relaxed) {
                    match p.run_spool(&spool, &flag) {
                        Ok(()) => return,
                        Err(e) => {
                            tracing::error!(error = %e, "spool consumer failed; retrying in 5 s (records stay in the spool)");
                            std::thread::sleep(std::time::Duration::from_secs(5));
                        }
                    }
                }
            })
            .expect("spawn the spool consumer");
        Consumer { stop, thread: Some(thread) }
    }

    pub fn stop(mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestParams {
    /// eve, json, syslog or cef; recognised from the first line if absent.
    format: Option<String>,
}

/// Undoes `Content-Encoding: gzip`, refusing output over `limit` (a gzip bomb).
fn decode_body(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::trim) {
        None | Some("identity") => Ok(body),
        Some("gzip") => {
            let mut out = Vec::new();
            let mut dec = flate2::read::GzDecoder::new(&body[..]).take(limit as u64 + 1);
            dec.read_to_end(&mut out).map_err(|e| ApiError::BadRequest(format!("the gzip body does not decompress: {e}")))?;
            if out.len() > limit {
                return Err(ApiError::TooLarge(format!("the body decompresses to over {limit} bytes")));
            }
            Ok(out.into())
        }
        Some(other) => Err(ApiError::BadRequest(format!("Content-Encoding `{other}` is not supported (gzip or none)"))),
    }
}

pub async fn ingest(
    State(s): State<AppState>,
    Auth(p): Auth,
    Q(q): Q<IngestParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    p.require(Perm::Ingest)?;
    let ing = s.ingest.clone();
    let refused = |e: ApiError| {
        ing.pipeline.counters.refused.fetch_add(1, Relaxed);
        e
    };
    let _slot = ing
        .slots
        .try_acquire()
        .map_err(|_| refused(ApiError::Busy { message: "too many ingest requests in flight; retry shortly".into(), retry_after: 1 }))?;
    ing.spool.check_room().map_err(|e| refused(spool_error(e)))?;
    let raw = read_body(body, ing.max_body).await?;
    let bytes = decode_body(&headers, raw, ing.max_body)?;
    // Byte ranges of the non-blank lines, so the body can move to the blocking writer.
    let mut lines: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', &bytes).chain([bytes.len()]) {
        let mut stop = end;
        if stop > start && bytes[stop - 1] == b'\r' {
            stop -= 1;
        }
        if !bytes[start..stop].iter().all(u8::is_ascii_whitespace) {
            lines.push(start..stop);
        }
        start = end + 1;
    }
    let (format, variant) = match &q.format {
        Some(f) => Format::from_spec(f).map_err(ApiError::BadRequest)?,
        None => (lines.first().and_then(|r| Format::detect(None, &bytes[r.clone()])).unwrap_or(Format::Json), String::new()),
    };
    if format == Format::Json && !variant.is_empty() && ing.pipeline.field_maps.get(&variant).is_none() {
        let known: Vec<&str> = ing.pipeline.field_maps.names().collect();
        return Err(ApiError::BadRequest(format!(
            "no field map `{variant}` is configured (configured: {})",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        )));
    }
    if format.has_header() {
        return Err(ApiError::BadRequest(format!("{} reports are ingested as files (`shouwang ingest`), not over HTTP", format.name())));
    }
    let max = ing.pipeline.max_record;
    if let Some((i, r)) = lines.iter().enumerate().find(|(_, r)| r.len() > max) {
        return Err(ApiError::TooLarge(format!(
            "record {} is {} bytes, over the {max}-byte record limit; nothing from this request was accepted",
            i + 1,
            r.len()
        )));
    }
    let n = lines.len();
    let spool = ing.spool.clone();
    let sensor = p.username.clone();
    // fsync blocks: keep it off the async workers.
    tokio::task::spawn_blocking(move || {
        let received = jiff::Timestamp::now();
        let recs: Vec<SpoolRecord> = lines
            .iter()
            .map(|r| SpoolRecord {
                format,
                variant: &variant,
                received,
                source: "http",
                sensor: Some(&sensor),
                reject: None,
                bytes: &bytes[r.clone()],
            })
            .collect();
        spool.append(&recs)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| refused(spool_error(e)))?;
    Ok((StatusCode::ACCEPTED, axum::Json(serde_json::json!({ "accepted": n, "format": format.name() }))).into_response())
}

fn spool_error(e: SpoolError) -> ApiError {
    match e {
        SpoolError::Full { .. } => ApiError::Unavailable { message: format!("{e}; retry later"), retry_after: 5 },
        SpoolError::TooLarge(_) => ApiError::TooLarge(e.to_string()),
        SpoolError::Io { .. } => ApiError::Internal(e.to_string()),
    }
}

/// The one place a principal's visibility becomes an event-store scope.
pub async fn scope_of(s: &AppState, p: &Principal) -> Result<Scope, ApiError> {
    p.require(Perm::ReadEvents)?;
    Ok(match s.store.visibility(p).await? {
        Visibility::All => Scope::All,
        Visibility::Units(units) => Scope::Units(units.into_iter().collect()),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    from: Option<jiff::Timestamp>,
    to: Option<jiff::Timestamp>,
    unit: Option<String>,
    ip: Option<String>,
    domain: Option<String>,
    rule: Option<String>,
    text: Option<String>,
    dataset: Option<String>,
    limit: Option<usize>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(e.to_string()))?
}

fn store_error(e: shouwang_eventstore::EventStoreError) -> ApiError {
    match e {
        shouwang_eventstore::EventStoreError::Invalid(m) => ApiError::BadRequest(m),
        other => ApiError::Internal(other.to_string()),
    }
}

pub async fn search(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<SearchParams>) -> Result<Response, ApiError> {
    let scope = scope_of(&s, &p).await?;
    let search = Search {
        from: q.from,
        to: q.to,
        unit: q.unit,
        ip: q.ip.as_deref().map(IpRange::parse).transpose().map_err(store_error)?,
        domain: q.domain,
        rule: q.rule,
        text: q.text,
        dataset: q.dataset,
        limit: q.limit.unwrap_or(100),
    };
    let events = s.ingest.pipeline.events.clone();
    let hits = blocking(move || events.search(&search, &scope).map_err(store_error)).await?;
    // The stored documents are JSON already: splice them, do not re-encode.
    let mut body = String::with_capacity(hits.iter().map(|h| h.doc.len() + 1).sum::<usize>() + 16);
    body.push_str("{\"events\":[");
    for (i, h) in hits.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&h.doc);
    }
    body.push_str("]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadParams {
    source: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    all: bool,
    after: Option<i64>,
    limit: Option<usize>,
}

pub async fn dead_letters(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<DeadParams>) -> Result<Response, ApiError> {
    p.require(Perm::ManageIngest)?;
    let events = s.ingest.pipeline.events.clone();
    let query = DeadQuery { source: q.source, reason: q.reason, all: q.all, after_id: q.after, limit: q.limit.unwrap_or(100) };
    let letters = blocking(move || events.dead_letters(&query).map_err(store_error)).await?;
    let letters: Vec<serde_json::Value> = letters.iter().map(dead_letter_json).collect();
    Ok(axum::Json(serde_json::json!({ "dead_letters": letters })).into_response())
}

/// A dead letter as people read it: the record as (lossy) text, its full size, whether it was cut.
pub fn dead_letter_json(d: &shouwang_eventstore::StoredDeadLetter) -> serde_json::Value {
    let l = &d.letter;
    serde_json::json!({
        "id": d.id,
        "status": d.status,
        "stream": d.stream,
        "position": l.origin.pos,
        "source": l.source,
        "sensor": l.sensor,
        "format": l.format,
        "reason": l.reason,
        "detail": l.detail,
        "received": l.received,
        "record": String::from_utf8_lossy(&l.record),
        "record_bytes": l.record_len,
        "truncated": l.record_len > l.record.len() as u64,
    })
}

pub async fn dead_letter_counts(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    p.require(Perm::ManageIngest)?;
    let events = s.ingest.pipeline.events.clone();
    let counts = blocking(move || events.dead_letter_counts().map_err(store_error)).await?;
    Ok(axum::Json(serde_json::json!({ "counts": counts })).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplayParams {
    source: Option<String>,
    reason: Option<String>,
}

pub async fn replay(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<ReplayParams>) -> Result<Response, ApiError> {
    p.require(Perm::ManageIngest)?;
    let pipeline = s.ingest.pipeline.clone();
    let query = DeadQuery { source: q.source, reason: q.reason, ..Default::default() };
    let report = blocking(move || pipeline.replay(&query).map_err(|e| ApiError::Internal(e.to_string()))).await?;
    let detail = serde_json::to_value(&report).unwrap_or_default();
    s.store.record(&p, "dead_letters.replay", "dead_letters", "replay after a parser fix", &detail).await?;
    Ok(axum::Json(report).into_response())
}

pub async fn status(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    p.require(Perm::ManageIngest)?;
    let ing = s.ingest.clone();
    let body = blocking(move || {
        let c = &ing.pipeline.counters;
        let mut body = stored_status(ing.pipeline.events.as_ref()).map_err(store_error)?;
        body["counters"] = counters_json(c);
        let segments = ing.spool.segments().map_err(|e| ApiError::Internal(e.to_string()))?;
        body["spool"] = serde_json::json!({ "segments": segments, "backlog_bytes": c.spool_backlog_bytes.load(Relaxed) });
        Ok(body)
    })
    .await?;
    Ok(axum::Json(body).into_response())
}

/// What the event store holds: partitions, stream positions, dead-letter
/// counts. The API adds live counters; `shouwang status` shows this alone.
pub fn stored_status(events: &dyn shouwang_eventstore::EventStore) -> Result<serde_json::Value, shouwang_eventstore::EventStoreError> {
    Ok(serde_json::json!({
        "partitions": events.partitions()?,
        "streams": events.streams()?,
        "dead_letters": events.dead_letter_counts()?,
    }))
}

pub fn counters_json(c: &shouwang_pipeline::Counters) -> serde_json::Value {
    let rejected: serde_json::Map<String, serde_json::Value> =
        c.rejected_by_reason().map(|(r, n)| (r.as_str().to_string(), n.into())).collect();
    serde_json::json!({
        "received": c.received.load(Relaxed),
        "parsed": c.parsed.load(Relaxed),
        "rejected": rejected,
        "queued_batches": c.queued.load(Relaxed),
        "spooled": c.spooled.load(Relaxed),
        "written": c.written.load(Relaxed),
        "duplicates": c.duplicates.load(Relaxed),
        "refused": c.refused.load(Relaxed),
    })
}

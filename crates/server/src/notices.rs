//! Notices (通报), their moves, and the calendar and policy their deadlines
//! count on. A notice's `ETag` is its version; a move must send it back in
//! `If-Match`, so two people cannot silently overwrite each other: a stale
//! one gets 412, a missing one 428.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shouwang_store::{FromAlerts, Move, NewNotice, NoticeQuery};

use crate::auth::{Auth, Q};
use crate::{ApiError, AppState, SMALL_BODY, parse_json, read_body};

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("a number is a valid header")
}

/// The version an `If-Match: "N"` names.
fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    let v = headers
        .get(header::IF_MATCH)
        .ok_or_else(|| ApiError::PreconditionRequired("send If-Match with the notice's ETag (its version) as you read it".into()))?;
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::BadRequest("If-Match must be a notice's ETag, such as \"3\"".into()))
}

fn notice_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::BadRequest(format!("`{id}` is not a notice id (a number)")))
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// A notice (with its detail, or as moved) and its version as the ETag.
fn one(status: StatusCode, version: i64, body: impl serde::Serialize) -> Response {
    let tag = etag(version);
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(header::ETAG, tag);
    resp
}

/// A category code must be one of GB/T 20986-2023's.
fn check_category(s: &AppState, code: Option<&str>) -> Result<(), ApiError> {
    match code {
        Some(c) if s.categories.get(c).is_none() => {
            Err(ApiError::Invalid { message: format!("`{c}` is not a GB/T 20986-2023 category code"), details: vec![] })
        }
        _ => Ok(()),
    }
}

pub async fn list(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<NoticeQuery>) -> Result<Response, ApiError> {
    let notices = s.store.notices(&p, &q, now()).await?;
    Ok(axum::Json(serde_json::json!({ "notices": notices })).into_response())
}

pub async fn create(State(s): State<AppState>, Auth(p): Auth, body: Body) -> Result<Response, ApiError> {
    let n: NewNotice = parse_json(&read_body(body, SMALL_BODY).await?)?;
    check_category(&s, n.category.as_deref())?;
    let n = s.store.create_notice(&p, &n, now()).await?;
    Ok(one(StatusCode::CREATED, n.notice.version, n))
}

pub async fn from_alerts(State(s): State<AppState>, Auth(p): Auth, body: Body) -> Result<Response, ApiError> {
    let f: FromAlerts = parse_json(&read_body(body, SMALL_BODY).await?)?;
    let notices = s.store.notices_from_alerts(&p, &f, now()).await?;
    Ok((StatusCode::CREATED, axum::Json(serde_json::json!({ "notices": notices }))).into_response())
}

pub async fn get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let n = s.store.notice(&p, notice_id(&id)?, now()).await?;
    Ok(one(StatusCode::OK, n.notice.version, n))
}

pub async fn take(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = notice_id(&id)?;
    let version = if_match(&headers)?;
    let m: Move = parse_json(&read_body(body, SMALL_BODY).await?)?;
    let n = s.store.move_notice(&p, id, version, &m, now()).await?;
    Ok(one(StatusCode::OK, n.notice.version, n))
}

pub async fn calendar(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    Ok(axum::Json(serde_json::json!({ "days": s.store.calendar_days(&p).await? })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DayBody {
    /// `holiday`, `workday`, or null to let the weekday decide again.
    kind: Option<shouwang_workflow::DayKind>,
    #[serde(default)]
    name: String,
    reason: String,
}

pub async fn set_day(State(s): State<AppState>, Auth(p): Auth, Path(date): Path<String>, body: Body) -> Result<Response, ApiError> {
    let date: jiff::civil::Date = date.parse().map_err(|_| ApiError::BadRequest(format!("`{date}` is not a date (YYYY-MM-DD)")))?;
    let b: DayBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    s.store.set_calendar_day(&p, date, b.kind, &b.name, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn policy(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    p.require(shouwang_store::Perm::ReadNotices)?;
    Ok(axum::Json(s.store.deadline_policy().await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    /// `level,acknowledge,answer` lines, header first.
    policy: String,
    reason: String,
}

pub async fn set_policy(State(s): State<AppState>, Auth(p): Auth, body: Body) -> Result<Response, ApiError> {
    let b: PolicyBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    Ok(axum::Json(s.store.set_deadline_policy(&p, &b.policy, &b.reason).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name as the uploader had it; shown stripped of any path.
    name: String,
}

/// `POST /api/v1/notices/{id}/attachments?name=…` with the file as the body.
pub async fn attach(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Q(q): Q<UploadQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = notice_id(&id)?;
    let bytes = read_body(body, shouwang_store::MAX_ATTACHMENT).await?;
    let a = s.store.attach(&p, id, &q.name, &bytes).await?;
    Ok((StatusCode::CREATED, axum::Json(a)).into_response())
}

pub async fn attachments(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(axum::Json(serde_json::json!({ "attachments": s.store.attachments(&p, notice_id(&id)?).await? })).into_response())
}

/// The file as a download, never rendered: octet-stream, `nosniff`, a
/// sandboxing CSP, and the name in `Content-Disposition: attachment`.
pub async fn download(State(s): State<AppState>, Auth(p): Auth, Path((id, file)): Path<(String, String)>) -> Result<Response, ApiError> {
    let file: i64 = file.parse().map_err(|_| ApiError::BadRequest(format!("`{file}` is not a file id (a number)")))?;
    let (a, content) = s.store.attachment(&p, notice_id(&id)?, file).await?;
    Ok(attachment_response(&a, content))
}

/// An evidence file as a download: never rendered by the browser (octet
/// stream, nosniff, a sandboxing CSP), named safely, with its SHA-256.
pub fn attachment_response(a: &shouwang_store::Attachment, content: Vec<u8>) -> Response {
    let ascii: String = a.name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    let utf8: String = a
        .name
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    // Every character above is a visible ASCII one, so the header is valid.
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{utf8}");
    let mut resp = Response::new(Body::from(content));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    if let Ok(v) = HeaderValue::from_str(&a.sha256) {
        h.insert("x-shouwang-sha256", v);
    }
    resp
}

/// `GET /api/v1/notices/{id}/report`: the reporting clocks and reports.
pub async fn report(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(axum::Json(s.store.report_case(&p, notice_id(&id)?, now()).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    kind: shouwang_workflow::ReportKind,
    items: shouwang_workflow::ReportItems,
}

pub async fn add_report(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, body: Body) -> Result<Response, ApiError> {
    let b: ReportBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    let case = s.store.submit_report(&p, notice_id(&id)?, b.kind, &b.items, now()).await?;
    Ok((StatusCode::CREATED, axum::Json(case)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalatedBody {
    #[serde(default)]
    reason: String,
}

pub async fn report_escalated(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, body: Body) -> Result<Response, ApiError> {
    let b: EscalatedBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    Ok(axum::Json(s.store.mark_escalated(&p, notice_id(&id)?, &b.reason, now()).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassBody {
    class: shouwang_workflow::OperatorClass,
    reason: String,
}

pub async fn report_class(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, body: Body) -> Result<Response, ApiError> {
    let b: ClassBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    Ok(axum::Json(s.store.set_operator_class(&p, notice_id(&id)?, b.class, &b.reason, now()).await?).into_response())
}

/// Report `seq` as a printable HTML page: everything supplied is escaped
/// and the page may load nothing and run nothing.
pub async fn report_print(State(s): State<AppState>, Auth(p): Auth, Path((id, seq)): Path<(String, String)>) -> Result<Response, ApiError> {
    let seq: i64 = seq.parse().map_err(|_| ApiError::BadRequest(format!("`{seq}` is not a report number")))?;
    let html = s.store.report_html(&p, notice_id(&id)?, seq).await?;
    let mut resp = Response::new(Body::from(html));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesQuery {
    #[serde(default)]
    overdue: bool,
}

/// `GET /api/v1/reports`: open reporting cases, for the centre.
pub async fn report_cases(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<CasesQuery>) -> Result<Response, ApiError> {
    Ok(axum::Json(serde_json::json!({ "cases": s.store.report_cases(&p, q.overdue, now()).await? })).into_response())
}

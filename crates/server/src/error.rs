//! The one error type every handler returns. Each variant's status code is
//! documented here; internal causes are logged and never sent to clients.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shouwang_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid API token.
    #[error("a valid API token is required (Authorization: Bearer sw_…)")]
    Unauthorized,
    /// 403: the token's role or scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing, or not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with stored data.
    #[error("{0}")]
    Conflict(String),
    /// 412: the thing changed since the caller read it (If-Match did not match).
    #[error("{0}")]
    Stale(String),
    /// 428: a change needs If-Match with the version the caller read.
    #[error("{0}")]
    PreconditionRequired(String),
    /// 413: the body is over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: an upload of a kind not taken.
    #[error("{0}")]
    UnsupportedType(String),
    /// 422: well-formed but invalid; `details` lists each rejected record.
    #[error("{message}")]
    Invalid { message: String, details: Vec<String> },
    /// 429: too many requests in flight; retry after the given seconds.
    #[error("{message}")]
    Busy { message: String, retry_after: u32 },
    /// 503: a limit was reached (the ingest spool is full); retry after the given seconds.
    #[error("{message}")]
    Unavailable { message: String, retry_after: u32 },
    /// 500: logged with its cause; the client sees only that it happened.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Forbidden(m) => ApiError::Forbidden(m),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(m) => ApiError::Invalid { message: m, details: vec![] },
            StoreError::Stale(m) => ApiError::Stale(m),
            StoreError::TooLarge(m) => ApiError::TooLarge(m),
            StoreError::Unsupported(m) => ApiError::UnsupportedType(m),
            StoreError::Limited { message, retry_after } => ApiError::Busy { message, retry_after },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Stale(_) => (StatusCode::PRECONDITION_FAILED, "stale"),
            ApiError::PreconditionRequired(_) => (StatusCode::PRECONDITION_REQUIRED, "precondition_required"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Busy { .. } => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let mut body = serde_json::json!({ "error": { "code": code, "message": self.to_string() } });
        if let ApiError::Invalid { details, .. } = &self
            && !details.is_empty()
        {
            body["error"]["details"] = details.clone().into();
        }
        let mut resp = (status, axum::Json(body)).into_response();
        if let ApiError::Busy { retry_after, .. } | ApiError::Unavailable { retry_after, .. } = &self {
            resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(*retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

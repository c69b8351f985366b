//! `Idempotency-Key` on POST: a client that lost the response to a POST
//! (a time-out, a dropped connection) sends it again with the same key and
//! gets the first response back, marked `Idempotent-Replayed: true`,
//! instead of a second notice, report or move. The store keeps the keys
//! (see `shouwang_store::Claim`); this layer reads the body once to
//! fingerprint it and keeps the response. Without the header nothing
//! changes.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shouwang_store::Claim;

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;

/// Largest body a request with a key may carry (an evidence upload fits).
const MAX_BODY: usize = 32 * 1024 * 1024;
const KEY: &str = "idempotency-key";

pub async fn layer(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(KEY) {
        return next.run(req).await;
    }
    match keyed(s, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn keyed(s: AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    let key = req.headers().get(KEY).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    shouwang_store::check_key(&key).map_err(|e| match e {
        shouwang_store::StoreError::Invalid(m) => ApiError::BadRequest(m),
        other => other.into(),
    })?;
    let (mut parts, body) = req.into_parts();
    // Who asks: keys are per caller. Without valid credentials the handler
    // answers 401 as usual.
    let Ok(Auth(p)) = Auth::from_request_parts(&mut parts, &s).await else {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::TooLarge(format!("a request with an Idempotency-Key carries at most {} MiB", MAX_BODY >> 20)))?;
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str()).to_string();
    let claim = s.store.claim_request(&p, &key, parts.method.as_str(), &path, &bytes, jiff::Timestamp::now()).await?;
    match claim {
        Claim::New => {}
        Claim::Replay { status, content_type, body } => {
            let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(r);
        }
        Claim::Mismatch => {
            return Err(ApiError::Invalid {
                message: format!("Idempotency-Key `{key}` was used for a different request: use a new key for a new request"),
                details: vec![],
            });
        }
        Claim::InFlight => {
            return Err(ApiError::Conflict(format!(
                "a request with Idempotency-Key `{key}` is still running, or was cut off: read the result before trying again with a new key"
            )));
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (rparts, rbody) = response.into_parts();
    let rbytes = to_bytes(rbody, usize::MAX).await.map_err(|e| ApiError::Internal(format!("reading the response: {e}")))?;
    if rparts.status.is_server_error() {
        // Our failure, not the request's: the same key may try again.
        s.store.release_request(&p, &key).await?;
    } else {
        let content_type = rparts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        s.store.finish_request(&p, &key, rparts.status.as_u16(), content_type, &rbytes).await?;
    }
    Ok(Response::from_parts(rparts, Body::from(rbytes)))
}

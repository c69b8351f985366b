//! The web console: server-rendered pages for every role, on the same
//! store and rules as the API. Pages are askama templates (escaped by
//! default), interaction is htmx, the situation board is live over
//! Server-Sent Events and drawn with ECharts.
//!
//! Sessions are cookies holding a random token (see the store's
//! `sessions`); every request that changes anything must echo the
//! session's CSRF token, checked once in [`guard`] for the whole console.

mod alerts;
mod assets;
mod auth;
mod board;
mod frame;
mod i18n;
mod import;
mod ingest;
mod notices;
mod pdf;
mod registry;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use shouwang_server::AppState;
use shouwang_store::Session;

pub use assets::compressed_size;
pub use board::Hub;
pub use frame::{PageError, Viewer};
pub use i18n::{Catalog, catalog};

/// The session cookie. `__Host-` binds it to this host, path `/`, HTTPS
/// (browsers treat http://localhost as secure, so the demo works).
pub const SESSION_COOKIE: &str = "__Host-sw_session";
/// Before sign-in: the login form's double-submit CSRF token.
pub const LOGIN_COOKIE: &str = "__Host-sw_login";
/// Largest urlencoded form body read to find its CSRF token.
const FORM_LIMIT: usize = 256 * 1024;

#[derive(Clone)]
pub struct Web {
    pub app: AppState,
    pub hub: Arc<Hub>,
}

/// The console's routes. Spawns the board's refresher, so it must be called
/// inside a tokio runtime.
pub fn router(app: AppState) -> Router {
    let hub = Hub::start(app.clone());
    // Registry files can be larger than axum's default body limit.
    let import_limit = DefaultBodyLimit::max(app.max_import_bytes.saturating_add(1 << 16));
    let web = Web { app, hub };
    Router::new()
        .route("/", get(home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/login/totp", get(auth::totp_page).post(auth::totp))
        .route("/logout", post(auth::logout))
        .route("/account", get(auth::account))
        .route("/account/language", post(auth::language))
        .route("/account/password", post(auth::password))
        .route("/account/totp", post(auth::enable_totp))
        .route("/account/totp/off", post(auth::disable_totp))
        .route("/account/sessions/{id}/revoke", post(auth::revoke))
        .route("/board", get(board::page))
        .route("/board/data", get(board::data))
        .route("/board/events", get(board::events))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}", get(alerts::one))
        .route("/alerts/{id}/level", post(alerts::set_level))
        .route("/alerts/notice", post(alerts::to_notice))
        .route("/notices", get(notices::list))
        .route("/notices/{id}", get(notices::one))
        .route("/notices/{id}/move", post(notices::take))
        .route("/notices/{id}/attachments", post(notices::attach))
        .route("/notices/{id}/attachments/{file}", get(notices::download))
        .route("/notices/{id}/print", get(notices::print))
        .route("/notices/{id}/pdf", get(notices::pdf))
        .route("/units", get(registry::units))
        .route("/units/import", get(import::page).post(import::run).layer(import_limit))
        .route("/units/{code}", get(registry::unit))
        .route("/audit", get(registry::audit))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{name}/disable", post(users::disable))
        .route("/users/{name}/enable", post(users::enable))
        .route("/users/{name}/password", post(users::password))
        .route("/ingest", get(ingest::page))
        .route("/ingest/reload", post(ingest::reload))
        .route("/ingest/replay", post(ingest::replay))
        .layer(axum::middleware::from_fn_with_state(web.clone(), guard))
        // Static files need no session: served without the guard's lookup.
        .route("/static/{name}", get(assets::serve))
        .with_state(web)
}

/// Where a signed-in user starts: the board for the centre, the audit log
/// for auditors, notices for everyone else.
async fn home(v: Viewer) -> Redirect {
    use shouwang_store::Role::*;
    Redirect::to(match v.session.principal.role {
        CentreAdmin | Analyst | Leader => "/board",
        Auditor => "/audit",
        _ => "/notices",
    })
}

/// Reads the session once per request, and refuses any change that does
/// not carry the right CSRF token: the session's, or before sign-in the
/// login cookie's. Cross-site requests that change things are refused
/// outright. Tokens come in the `X-CSRF-Token` header (htmx sends it on
/// every request) or a urlencoded form's `csrf` field.
async fn guard(State(w): State<Web>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let token = cookie(&parts.headers, SESSION_COOKIE);
    let session = match token {
        Some(t) => match w.app.store.session(&t, jiff::Timestamp::now()).await {
            Ok(s) => s.map(Arc::new),
            Err(e) => return PageError::from_store(e, catalog("zh-CN")).into_response(),
        },
        None => None,
    };
    if let Some(s) = &session {
        parts.extensions.insert(s.clone());
    }
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let t = catalog(session.as_ref().map_or("zh-CN", |s| s.lang.as_str()));
    let refuse = |why: &str| PageError::new(StatusCode::FORBIDDEN, t, why).into_response();
    if parts.headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site") {
        return refuse("error.cross_site");
    }
    let expected = match (&session, parts.uri.path()) {
        (_, "/login") => cookie(&parts.headers, LOGIN_COOKIE),
        (Some(s), _) => Some(s.csrf.clone()),
        (None, _) => None,
    };
    let Some(expected) = expected else { return refuse("error.csrf") };
    let from_header = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_string);
    let urlencoded = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (given, body) = match from_header {
        Some(h) => (Some(h), body),
        None if urlencoded => {
            let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
                return PageError::new(StatusCode::PAYLOAD_TOO_LARGE, t, "error.too_large").into_response();
            };
            let field = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
            (field, Body::from(bytes))
        }
        None => (None, body),
    };
    if !given.is_some_and(|g| same(g.as_bytes(), expected.as_bytes())) {
        return refuse("error.csrf");
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Compares secrets in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The session a request carries, put there by [`guard`].
pub(crate) fn session_of(parts: &axum::http::request::Parts) -> Option<Arc<Session>> {
    parts.extensions.get::<Arc<Session>>().cloned()
}

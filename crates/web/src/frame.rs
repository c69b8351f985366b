//! What every page shares: the signed-in viewer, the page frame the base
//! template draws (navigation, language, CSRF token), and error pages.

use std::sync::Arc;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use shouwang_store::{Perm, Role, Session, StoreError};

use crate::i18n::{Catalog, catalog};

/// A signed-in user (second factor passed), with their catalogue.
pub struct Viewer {
    pub session: Arc<Session>,
    pub t: &'static Catalog,
    /// The path and query asked for, to mark the navigation.
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        match crate::session_of(parts) {
            Some(s) if s.pending_totp => Err(Redirect::to("/login/totp").into_response()),
            Some(session) => Ok(Viewer { t: catalog(&session.lang), session, path }),
            None => {
                let to = format!("/login?next={}", enc(&path));
                // htmx follows HX-Redirect with a full page load.
                let mut resp = Redirect::to(&to).into_response();
                if parts.headers.contains_key("hx-request") {
                    resp.headers_mut().insert("hx-redirect", HeaderValue::from_str(&to).unwrap_or(HeaderValue::from_static("/login")));
                }
                Err(resp)
            }
        }
    }
}

impl Viewer {
    pub fn principal(&self) -> &shouwang_store::Principal {
        &self.session.principal
    }

    pub fn can(&self, perm: Perm) -> bool {
        self.session.principal.require(perm).is_ok()
    }

    /// The frame the base template draws around a page.
    pub fn frame(&self, title: &str) -> Frame {
        let p = &self.session.principal;
        let mut nav = Vec::new();
        let centre = !p.role.unit_scoped() && self.can(Perm::ReadNotices);
        let mut add = |href: &'static str, key: &'static str| {
            let active = self.path == href || self.path.starts_with(&format!("{href}/")) || self.path.starts_with(&format!("{href}?"));
            nav.push(NavItem { href, label: self.t.t(key).to_string(), active });
        };
        if centre {
            add("/board", "nav.board");
        }
        if self.can(Perm::ReadAlerts) {
            add("/alerts", "nav.alerts");
        }
        if self.can(Perm::ReadNotices) {
            add("/notices", if p.role.unit_scoped() { "nav.my_notices" } else { "nav.notices" });
        }
        if self.can(Perm::ReadRegistry) {
            add("/units", "nav.units");
        }
        if self.can(Perm::ManageIngest) {
            add("/ingest", "nav.ingest");
        }
        if self.can(Perm::ManageUsers) {
            add("/users", "nav.users");
        }
        if self.can(Perm::ReadAudit) {
            add("/audit", "nav.audit");
        }
        Frame {
            t: self.t,
            title: title.to_string(),
            csrf: self.session.csrf.clone(),
            user: self.session.display_name.clone(),
            role: self.t.t(role_key(p.role)).to_string(),
            unit: p.unit.as_ref().map(|u| u.to_string()),
            nav,
            wall: false,
        }
    }
}

pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub active: bool,
}

/// The base template's data.
pub struct Frame {
    pub t: &'static Catalog,
    pub title: String,
    pub csrf: String,
    pub user: String,
    pub role: String,
    pub unit: Option<String>,
    pub nav: Vec<NavItem>,
    /// The wall display: no navigation, large type.
    pub wall: bool,
}

impl Frame {
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.t.t(key)
    }

    pub fn asset(&self, name: &str) -> String {
        crate::assets::url(name)
    }

    pub fn lang(&self) -> &'static str {
        self.t.lang
    }
}

pub fn role_key(r: Role) -> &'static str {
    match r {
        Role::CentreAdmin => "role.centre_admin",
        Role::Analyst => "role.analyst",
        Role::Leader => "role.leader",
        Role::UnitOperator => "role.unit_operator",
        Role::Supervisor => "role.supervisor",
        Role::Auditor => "role.auditor",
        Role::Sensor => "role.sensor",
    }
}

/// A time as Beijing time (UTC+8 all year), to the minute.
pub fn when(t: &jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8))).strftime("%Y-%m-%d %H:%M").to_string()
}

pub fn when_opt(t: &Option<jiff::Timestamp>) -> String {
    t.as_ref().map(when).unwrap_or_default()
}

/// A form field's value, trimmed; `None` when blank (an unused filter).
pub fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// `s` percent-encoded for a query string.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A page that could not be shown: the status and a message in the
/// viewer's language. Internal causes are logged, never shown.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    pub lang: &'static str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'static Catalog,
    status: u16,
    message: &'a str,
}

impl PageError {
    /// An error page in the catalogue's language, with its message `key`.
    pub fn new(status: StatusCode, t: &'static Catalog, key: &str) -> PageError {
        PageError { status, message: t.t(key).to_string(), lang: t.lang }
    }

    pub fn from_store(e: StoreError, t: &'static Catalog) -> PageError {
        let (status, message) = match e {
            StoreError::Forbidden(_) => (StatusCode::FORBIDDEN, t.t("error.forbidden").to_string()),
            // Not found and not visible read alike, so ids reveal nothing.
            StoreError::NotFound(_) => (StatusCode::NOT_FOUND, t.t("error.not_found").to_string()),
            StoreError::Invalid(m) | StoreError::Conflict(m) | StoreError::Unsupported(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            StoreError::Stale(_) => (StatusCode::CONFLICT, t.t("error.stale").to_string()),
            StoreError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            StoreError::Limited { .. } => (StatusCode::TOO_MANY_REQUESTS, t.t("login.limited").to_string()),
            other => return PageError::internal(t, other),
        };
        PageError { status, message, lang: t.lang }
    }

    /// A failure that is ours, not the user's: logged in full, shown as a
    /// plain "internal error".
    pub fn internal(t: &'static Catalog, e: impl std::fmt::Display) -> PageError {
        tracing::error!(error = %e, "console request failed");
        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, t, "error.internal")
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage { t: catalog(self.lang), status: self.status.as_u16(), message: &self.message };
        let mut resp = (self.status, render(&page)).into_response();
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// Renders a template; a template that fails is a bug, logged and shown as 500.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut resp = Html(html).into_response();
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
            // Scripts only from this origin: an injected inline script does not run.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
                ),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

pub type PageResult = Result<Response, PageError>;

/// `?` for store calls inside handlers: the error page in the viewer's language.
pub trait OrPage<T> {
    fn or_page(self, v: &Viewer) -> Result<T, PageError>;
}

impl<T> OrPage<T> for Result<T, StoreError> {
    fn or_page(self, v: &Viewer) -> Result<T, PageError> {
        self.map_err(|e| PageError::from_store(e, v.t))
    }
}

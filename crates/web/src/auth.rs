//! Sign-in, the TOTP second factor, sign-out and the account page
//! (language, password, second factor, sessions).

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shouwang_store::{SessionInfo, StoreError, new_totp_secret};

use crate::frame::{Frame, OrPage, PageResult, Viewer, enc, render};
use crate::i18n::{Catalog, catalog};
use crate::{LOGIN_COOKIE, SESSION_COOKIE, Web, cookie};

/// Where to go after signing in: a path on this site, never another site
/// (`//evil.example`, `/\evil`, `https://…` and control characters all fall back to `/`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 1024
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The client's address: the TCP peer (a proxy in front should be trusted
/// explicitly, which this does not do).
pub fn client_ip(parts: &axum::http::Extensions) -> String {
    parts.get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

fn user_agent(h: &HeaderMap) -> String {
    h.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(256).collect()
}

fn set_cookie(resp: &mut Response, name: &str, value: &str, max_age: i64) {
    let c = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'static Catalog,
    csrf: &'a str,
    next: &'a str,
    username: &'a str,
    error: Option<String>,
    totp: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    lang: Option<String>,
}

fn login_lang(q: Option<&str>, h: &HeaderMap) -> &'static Catalog {
    let accept = h.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    match q {
        Some(l) => catalog(l),
        None if accept.starts_with("en") => catalog("en"),
        None => catalog("zh-CN"),
    }
}

pub async fn login_page(parts: Parts, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if crate::session_of(&parts).is_some_and(|s| !s.pending_totp) {
        return Redirect::to(&next).into_response();
    }
    let t = login_lang(q.lang.as_deref(), &parts.headers);
    // The login form's CSRF token is a cookie the form must echo.
    let existing = cookie(&parts.headers, LOGIN_COOKIE).filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    let csrf = existing.clone().unwrap_or_else(shouwang_store::random_token);
    let mut resp = render(&LoginPage { t, csrf: &csrf, next: &next, username: "", error: None, totp: false });
    if existing.is_none() {
        set_cookie(&mut resp, LOGIN_COOKIE, &csrf, 3600);
    }
    resp
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    csrf: String,
    next: Option<String>,
    lang: Option<String>,
}

pub async fn login(State(w): State<Web>, parts: Parts, Form(f): Form<LoginForm>) -> Response {
    let next = safe_next(f.next.as_deref());
    let t = login_lang(f.lang.as_deref(), &parts.headers);
    let (ip, ua) = (client_ip(&parts.extensions), user_agent(&parts.headers));
    let username: String = f.username.chars().take(64).collect();
    match w.app.store.sign_in(&username, &f.password, &ip, &ua, jiff::Timestamp::now()).await {
        Ok(s) => {
            let to = if s.needs_totp { format!("/login/totp?next={}", enc(&next)) } else { next };
            let mut resp = Redirect::to(&to).into_response();
            set_cookie(&mut resp, SESSION_COOKIE, &s.token, shouwang_store::SESSION_LIFETIME.as_secs());
            set_cookie(&mut resp, LOGIN_COOKIE, "", 0);
            resp
        }
        Err(e) => {
            let (status, key) = match &e {
                StoreError::Limited { .. } => (StatusCode::TOO_MANY_REQUESTS, "login.limited"),
                StoreError::Forbidden(_) => (StatusCode::UNAUTHORIZED, "login.wrong"),
                _ => {
                    tracing::error!(error = %e, "sign-in failed");
                    (StatusCode::INTERNAL_SERVER_ERROR, "error.internal")
                }
            };
            let page = LoginPage { t, csrf: &f.csrf, next: &next, username: &username, error: Some(t.t(key).to_string()), totp: false };
            (status, render(&page)).into_response()
        }
    }
}

pub async fn totp_page(parts: Parts, Query(q): Query<NextQuery>) -> Response {
    let Some(s) = crate::session_of(&parts).filter(|s| s.pending_totp) else { return Redirect::to("/login").into_response() };
    let next = safe_next(q.next.as_deref());
    render(&LoginPage { t: catalog(&s.lang), csrf: &s.csrf, next: &next, username: "", error: None, totp: true })
}

#[derive(Deserialize)]
pub struct TotpForm {
    code: String,
    csrf: String,
    next: Option<String>,
}

pub async fn totp(State(w): State<Web>, parts: Parts, Form(f): Form<TotpForm>) -> Response {
    let Some(s) = crate::session_of(&parts).filter(|s| s.pending_totp) else { return Redirect::to("/login").into_response() };
    let token = cookie(&parts.headers, SESSION_COOKIE).unwrap_or_default();
    let next = safe_next(f.next.as_deref());
    let t = catalog(&s.lang);
    let (ip, ua) = (client_ip(&parts.extensions), user_agent(&parts.headers));
    match w.app.store.second_factor(&token, &f.code, &ip, &ua, jiff::Timestamp::now()).await {
        Ok(new) => {
            let mut resp = Redirect::to(&next).into_response();
            set_cookie(&mut resp, SESSION_COOKIE, &new.token, shouwang_store::SESSION_LIFETIME.as_secs());
            resp
        }
        Err(e) => {
            let (status, key) = if matches!(e, StoreError::Limited { .. }) {
                (StatusCode::TOO_MANY_REQUESTS, "login.limited")
            } else {
                (StatusCode::UNAUTHORIZED, "login.wrong_code")
            };
            let page = LoginPage { t, csrf: &f.csrf, next: &next, username: "", error: Some(t.t(key).to_string()), totp: true };
            (status, render(&page)).into_response()
        }
    }
}

pub async fn logout(State(w): State<Web>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = w.app.store.sign_out(&token, jiff::Timestamp::now()).await
    {
        tracing::error!(error = %e, "sign-out failed");
    }
    let mut resp = Redirect::to("/login").into_response();
    set_cookie(&mut resp, SESSION_COOKIE, "", 0);
    resp
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    f: Frame,
    sessions: Vec<(SessionInfo, bool)>,
    totp_enrolled: bool,
    totp_secret: String,
    totp_url: String,
    message: Option<String>,
    error: Option<String>,
}

async fn account_page(w: &Web, v: &Viewer, message: Option<String>, error: Option<String>, status: StatusCode) -> PageResult {
    let sessions = w.app.store.sessions(v.principal(), jiff::Timestamp::now()).await.or_page(v)?;
    let sessions = sessions.into_iter().map(|s| (s.clone(), s.id == v.session.id)).collect();
    let (totp_secret, totp_url) = new_totp_secret(&v.principal().username);
    let page = AccountPage {
        f: v.frame(v.t.t("account.title")),
        sessions,
        totp_enrolled: v.session.totp_enrolled,
        totp_secret,
        totp_url,
        message,
        error,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn account(State(w): State<Web>, v: Viewer) -> PageResult {
    account_page(&w, &v, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct LanguageForm {
    lang: String,
    back: Option<String>,
}

pub async fn language(State(w): State<Web>, v: Viewer, Form(f): Form<LanguageForm>) -> PageResult {
    w.app.store.set_language(v.principal(), &f.lang).await.or_page(&v)?;
    Ok(Redirect::to(&safe_next(f.back.as_deref())).into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

pub async fn password(State(w): State<Web>, v: Viewer, Form(f): Form<PasswordForm>) -> PageResult {
    if f.new != f.confirm {
        return account_page(&w, &v, None, Some(v.t.t("account.mismatch").into()), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match w.app.store.change_password(&v.session, &f.current, &f.new, jiff::Timestamp::now()).await {
        Ok(()) => account_page(&w, &v, Some(v.t.t("account.password_changed").into()), None, StatusCode::OK).await,
        Err(StoreError::Forbidden(_)) => {
            account_page(&w, &v, None, Some(v.t.t("account.wrong_current").into()), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(StoreError::Invalid(m)) => account_page(&w, &v, None, Some(m), StatusCode::UNPROCESSABLE_ENTITY).await,
        Err(e) => Err(crate::PageError::from_store(e, v.t)),
    }
}

#[derive(Deserialize)]
pub struct TotpEnable {
    secret: String,
    code: String,
}

pub async fn enable_totp(State(w): State<Web>, v: Viewer, Form(f): Form<TotpEnable>) -> PageResult {
    match w.app.store.enable_totp(v.principal(), &f.secret, &f.code, jiff::Timestamp::now()).await {
        Ok(()) => Ok(Redirect::to("/account").into_response()),
        Err(StoreError::Invalid(_)) => {
            account_page(&w, &v, None, Some(v.t.t("account.totp_wrong").into()), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(crate::PageError::from_store(e, v.t)),
    }
}

#[derive(Deserialize)]
pub struct TotpCode {
    code: String,
}

/// Turns the second factor off: only with a current code, so a session left
/// open cannot weaken the account.
pub async fn disable_totp(State(w): State<Web>, v: Viewer, Form(f): Form<TotpCode>) -> PageResult {
    match w.app.store.disable_totp(v.principal(), &f.code, jiff::Timestamp::now()).await {
        Ok(()) => Ok(Redirect::to("/account").into_response()),
        Err(StoreError::Invalid(_)) => {
            account_page(&w, &v, None, Some(v.t.t("account.totp_wrong").into()), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(crate::PageError::from_store(e, v.t)),
    }
}

pub async fn revoke(State(w): State<Web>, v: Viewer, Path(id): Path<i64>) -> PageResult {
    w.app.store.revoke_session(v.principal(), id, jiff::Timestamp::now()).await.or_page(&v)?;
    Ok(Redirect::to(if id == v.session.id { "/login" } else { "/account" }).into_response())
}

//! User management for the centre's administrators: every account with its
//! role, unit, state, second factor and last activity; creating accounts
//! (the password rules apply), disabling and enabling them, and setting a
//! new password for a user who lost theirs, which ends their sessions. All
//! of it is the store's, audited there; no password is ever shown again.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use shouwang_store::{NewUser, Perm, Role, StoreError, UserInfo};

use crate::Web;
use crate::frame::{Frame, OrPage, PageError, PageResult, Viewer, non_empty, render, role_key};

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    f: Frame,
    users: Vec<UserInfo>,
    /// (code, label) for the role select; sensors are made with the CLI.
    roles: Vec<(&'static str, String)>,
    error: Option<String>,
}

impl UsersPage {
    fn role_name(&self, r: &Role) -> String {
        self.f.t.t(role_key(*r)).to_string()
    }

    /// The one switch a user row offers: enable a disabled user, else disable.
    fn toggle(&self, u: &UserInfo) -> (&'static str, &'static str) {
        if u.disabled { ("enable", self.f.t.t("users.enable")) } else { ("disable", self.f.t.t("users.disable")) }
    }
}

async fn users_page(w: &Web, v: &Viewer, error: Option<String>) -> PageResult {
    let users = w.app.store.users(v.principal()).await.or_page(v)?;
    let roles = Role::ALL.iter().filter(|r| **r != Role::Sensor).map(|r| (r.as_str(), v.t.t(role_key(*r)).to_string())).collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, render(&UsersPage { f: v.frame(v.t.t("users.title")), users, roles, error })).into_response())
}

pub async fn list(State(w): State<Web>, v: Viewer) -> PageResult {
    users_page(&w, &v, None).await
}

/// The store's refusals of bad input are shown on the page; the rest are errors.
async fn done(w: &Web, v: &Viewer, r: Result<(), StoreError>) -> PageResult {
    match r {
        Ok(()) => Ok(Redirect::to("/users").into_response()),
        Err(StoreError::Invalid(m) | StoreError::Conflict(m)) => users_page(w, v, Some(m)).await,
        Err(StoreError::NotFound(_)) => users_page(w, v, Some(v.t.t("error.not_found").into())).await,
        Err(e) => Err(PageError::from_store(e, v.t)),
    }
}

#[derive(Deserialize)]
pub struct NewForm {
    username: String,
    display_name: String,
    role: String,
    #[serde(default)]
    unit: String,
    password: String,
}

pub async fn create(State(w): State<Web>, v: Viewer, Form(f): Form<NewForm>) -> PageResult {
    v.principal().require(Perm::ManageUsers).or_page(&v)?;
    let role = match Role::parse(f.role.trim()) {
        Ok(r) if r != Role::Sensor => r,
        _ => return users_page(&w, &v, Some(v.t.t("users.bad_role").into())).await,
    };
    let unit = match non_empty(&f.unit).map(|u| shouwang_registry::UnitCode::parse(&u)).transpose() {
        Ok(u) => u,
        Err(e) => return users_page(&w, &v, Some(e.to_string())).await,
    };
    let display_name = non_empty(&f.display_name).unwrap_or_else(|| f.username.trim().to_string());
    let user = NewUser { username: f.username.trim().to_string(), display_name, role, unit, password: Some(f.password) };
    let r = w.app.store.create_user(v.principal(), user).await;
    done(&w, &v, r).await
}

#[derive(Deserialize)]
pub struct ReasonForm {
    reason: String,
}

pub async fn disable(State(w): State<Web>, v: Viewer, Path(name): Path<String>, Form(f): Form<ReasonForm>) -> PageResult {
    if name == v.principal().username {
        return users_page(&w, &v, Some(v.t.t("users.not_yourself").into())).await;
    }
    let r = w.app.store.disable_user(v.principal(), &name, f.reason.trim()).await;
    done(&w, &v, r).await
}

pub async fn enable(State(w): State<Web>, v: Viewer, Path(name): Path<String>, Form(f): Form<ReasonForm>) -> PageResult {
    let r = w.app.store.enable_user(v.principal(), &name, f.reason.trim()).await;
    done(&w, &v, r).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
    reason: String,
}

pub async fn password(State(w): State<Web>, v: Viewer, Path(name): Path<String>, Form(f): Form<PasswordForm>) -> PageResult {
    let r = w.app.store.reset_password(v.principal(), &name, &f.password, f.reason.trim(), jiff::Timestamp::now()).await;
    done(&w, &v, r).await
}

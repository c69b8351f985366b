//! Alerts: filter, group by unit, view evidence, adjust the level with a
//! reason, and turn a selection into notices.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use shouwang_store::{Alert, AlertQuery, FromAlerts, Perm};
use shouwang_workflow::Kind;

use crate::Web;
use crate::frame::{Frame, OrPage, PageError, PageResult, Viewer, non_empty, render};

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    level: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    page: i64,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    f: Frame,
    q: Filters,
    alerts: Vec<Alert>,
    /// (unit, its alerts) when grouped by unit.
    groups: Vec<(String, Vec<Alert>)>,
    can_notice: bool,
    more: bool,
    error: Option<String>,
}

impl AlertsPage {
    fn next_page(&self) -> String {
        let q = &self.q;
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("level", &q.level).append_pair("category", &q.category).append_pair("unit", &q.unit);
        s.append_pair("rule", &q.rule).append_pair("group", &q.group).append_pair("page", &(q.page + 1).to_string());
        format!("/alerts?{}", s.finish())
    }
}

async fn list_page(w: &Web, v: &Viewer, q: Filters, error: Option<String>) -> PageResult {
    let page = q.page.clamp(0, 10_000);
    let query = AlertQuery {
        unit: non_empty(&q.unit),
        level: non_empty(&q.level),
        category: non_empty(&q.category),
        rule: non_empty(&q.rule),
        limit: Some(PAGE + 1),
        offset: Some(page * PAGE),
        ..AlertQuery::default()
    };
    let (mut alerts, error) = match w.app.store.alerts(v.principal(), &query).await {
        Ok(a) => (a, error),
        Err(shouwang_store::StoreError::Invalid(m)) => (Vec::new(), Some(m)),
        Err(e) => return Err(PageError::from_store(e, v.t)),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let more = alerts.len() as i64 > PAGE;
    alerts.truncate(PAGE as usize);
    let mut groups: Vec<(String, Vec<Alert>)> = Vec::new();
    if q.group == "unit" {
        for a in alerts.drain(..) {
            let u = a.hits.unit.clone().unwrap_or_default();
            match groups.iter_mut().find(|(k, _)| *k == u) {
                Some((_, list)) => list.push(a),
                None => groups.push((u, vec![a])),
            }
        }
    }
    let page = AlertsPage { f: v.frame(v.t.t("alerts.title")), q, alerts, groups, can_notice: v.can(Perm::ManageNotices), more, error };
    Ok((status, render(&page)).into_response())
}

pub async fn list(State(w): State<Web>, v: Viewer, Query(q): Query<Filters>) -> PageResult {
    list_page(&w, &v, q, None).await
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    f: Frame,
    a: Alert,
    grading: String,
    samples: Vec<String>,
    can_triage: bool,
    can_notice: bool,
    error: Option<String>,
}

impl AlertPage {}

async fn alert_page(w: &Web, v: &Viewer, id: i64, error: Option<String>) -> PageResult {
    let a = w.app.store.alert(v.principal(), id).await.or_page(v)?;
    let grading = serde_json::to_string_pretty(&a.hits.grading).unwrap_or_default();
    let samples = a.hits.samples.iter().map(|s| serde_json::to_string_pretty(s).unwrap_or_default()).collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = AlertPage {
        f: v.frame(&a.hits.title),
        a,
        grading,
        samples,
        can_triage: v.can(Perm::TriageAlerts),
        can_notice: v.can(Perm::ManageNotices),
        error,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn one(State(w): State<Web>, v: Viewer, Path(id): Path<i64>) -> PageResult {
    alert_page(&w, &v, id, None).await
}

#[derive(Deserialize)]
pub struct LevelForm {
    level: String,
    reason: String,
}

pub async fn set_level(State(w): State<Web>, v: Viewer, Path(id): Path<i64>, Form(f): Form<LevelForm>) -> PageResult {
    match w.app.store.set_alert_level(v.principal(), id, &f.level, &f.reason).await {
        Ok(_) => Ok(Redirect::to(&format!("/alerts/{id}")).into_response()),
        Err(shouwang_store::StoreError::Invalid(m)) => alert_page(&w, &v, id, Some(m)).await,
        Err(e) => Err(PageError::from_store(e, v.t)),
    }
}

/// Notices from the ticked alerts: one per unit, as the API does.
/// Repeated `alert` fields, so the form is read as pairs.
pub async fn to_notice(State(w): State<Web>, v: Viewer, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).filter(|s| !s.is_empty());
    let mut ids = Vec::new();
    for (k, val) in &pairs {
        if k == "alert" {
            match val.parse::<i64>() {
                Ok(id) => ids.push(id),
                Err(_) => return list_page(&w, &v, Filters::default(), Some(v.t.t("alerts.bad_selection").into())).await,
            }
        }
    }
    if ids.is_empty() {
        return list_page(&w, &v, Filters::default(), Some(v.t.t("alerts.none_selected").into())).await;
    }
    let kind = match field("kind").as_deref().map(Kind::parse) {
        Some(Ok(k)) => k,
        None => Kind::Incident,
        Some(Err(_)) => return list_page(&w, &v, Filters::default(), Some(v.t.t("alerts.bad_selection").into())).await,
    };
    let level = match field("level") {
        None => None,
        Some(l) => match shouwang_workflow::Level::parse(&l) {
            Some(l) => Some(l),
            None => return list_page(&w, &v, Filters::default(), Some(v.t.t("alerts.bad_selection").into())).await,
        },
    };
    let req = FromAlerts {
        kind,
        alerts: ids,
        title: field("title"),
        level,
        summary: field("summary"),
        actions: field("actions"),
        tlp: field("tlp"),
    };
    match w.app.store.notices_from_alerts(v.principal(), &req, jiff::Timestamp::now()).await {
        Ok(made) if made.len() == 1 => Ok(Redirect::to(&format!("/notices/{}", made[0].notice.id)).into_response()),
        Ok(_) => Ok(Redirect::to("/notices?state=draft").into_response()),
        Err(shouwang_store::StoreError::Invalid(m)) => list_page(&w, &v, Filters::default(), Some(m)).await,
        Err(e) => Err(PageError::from_store(e, v.t)),
    }
}

//! Registry pages (units, their contacts, assets and history) and the
//! audit log for auditors.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use shouwang_store::{AuditEntry, ClaimRecord, UnitDetail, UnitSummary};

use crate::Web;
use crate::frame::{Frame, OrPage, PageResult, Viewer, render};

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct UnitsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: i64,
}

#[derive(Template)]
#[template(path = "units.html")]
struct UnitsPage {
    f: Frame,
    q: UnitsQuery,
    units: Vec<UnitSummary>,
    more: bool,
    can_import: bool,
}

impl UnitsPage {
    fn next_page(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("q", &self.q.q).append_pair("page", &(self.q.page + 1).to_string());
        format!("/units?{}", s.finish())
    }
}

pub async fn units(State(w): State<Web>, v: Viewer, Query(q): Query<UnitsQuery>) -> PageResult {
    let page = q.page.clamp(0, 10_000);
    let text = q.q.trim();
    let mut units = w.app.store.list_units(v.principal(), (!text.is_empty()).then_some(text), PAGE + 1, page * PAGE).await.or_page(&v)?;
    let more = units.len() as i64 > PAGE;
    units.truncate(PAGE as usize);
    let can_import = v.can(shouwang_store::Perm::WriteRegistry);
    Ok(render(&UnitsPage { f: v.frame(v.t.t("units.title")), q, units, more, can_import }))
}

#[derive(Template)]
#[template(path = "unit.html")]
struct UnitPage {
    f: Frame,
    u: UnitDetail,
    history: Vec<ClaimRecord>,
    contacts: Vec<(String, String, String, String)>,
}

impl UnitPage {
    /// What makes an asset matter, in a few words: 等保 level, 关基, news site.
    fn criticality(&self, c: &shouwang_registry::Criticality) -> String {
        let mut parts = Vec::new();
        if let Some(l) = c.mlps_level {
            parts.push(self.f.t.tf("asset.mlps", &[("level", &l)]));
        }
        if c.cii {
            parts.push(self.f.t.t("asset.cii").to_string());
        }
        if c.key_news_site {
            parts.push(self.f.t.t("asset.news").to_string());
        }
        parts.join(" · ")
    }
}

pub async fn unit(State(w): State<Web>, v: Viewer, Path(code): Path<String>) -> PageResult {
    let u = w.app.store.unit(v.principal(), &code).await.or_page(&v)?;
    let history = w.app.store.unit_history(v.principal(), &code).await.or_page(&v)?;
    let s = |c: &serde_json::Value, k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let contacts = u.contacts.iter().map(|c| (s(c, "role"), s(c, "name"), s(c, "phone"), s(c, "email"))).collect();
    let title = v.t.pick(&u.summary.name_zh, &u.summary.name_en).to_string();
    Ok(render(&UnitPage { f: v.frame(&title), u, history, contacts }))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    f: Frame,
    entries: Vec<AuditEntry>,
}

impl AuditPage {}

pub async fn audit(State(w): State<Web>, v: Viewer) -> PageResult {
    let entries = w.app.store.audit_entries(v.principal(), 200).await.or_page(&v)?;
    Ok(render(&AuditPage { f: v.frame(v.t.t("audit.title")), entries }))
}

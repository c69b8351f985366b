//! Notices: lists with filters and deadline clocks, one notice with its
//! timeline, answers and evidence and the moves the viewer may make, file
//! uploads, and the printable notice document.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use shouwang_store::{Move, NewAnswer, Notice, NoticeDetail, NoticeQuery, StoreError};
use shouwang_workflow::{Action, Outcome, State as NState};

use crate::Web;
use crate::frame::{Frame, OrPage, PageError, PageResult, Viewer, non_empty, render, when};

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    state: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    unit: String,
    overdue: Option<String>,
    #[serde(default)]
    page: i64,
}

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesPage {
    f: Frame,
    q: Filters,
    notices: Vec<Notice>,
    states: Vec<(&'static str, String)>,
    more: bool,
    error: Option<String>,
}

impl NoticesPage {
    fn state_name(&self, s: &NState) -> String {
        self.f.t.t(&format!("state.{s}")).to_string()
    }

    fn next_page(&self) -> String {
        let q = &self.q;
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("state", &q.state).append_pair("level", &q.level).append_pair("unit", &q.unit);
        if q.overdue.is_some() {
            s.append_pair("overdue", "1");
        }
        s.append_pair("page", &(q.page + 1).to_string());
        format!("/notices?{}", s.finish())
    }
}

pub async fn list(State(w): State<Web>, v: Viewer, Query(q): Query<Filters>) -> PageResult {
    let page = q.page.clamp(0, 10_000);
    let query = NoticeQuery {
        unit: non_empty(&q.unit),
        state: non_empty(&q.state),
        level: non_empty(&q.level),
        kind: None,
        overdue: q.overdue.is_some(),
        limit: Some(PAGE + 1),
        offset: Some(page * PAGE),
    };
    let (mut notices, error) = match w.app.store.notices(v.principal(), &query, jiff::Timestamp::now()).await {
        Ok(n) => (n, None),
        Err(StoreError::Invalid(m)) => (Vec::new(), Some(m)),
        Err(e) => return Err(PageError::from_store(e, v.t)),
    };
    let more = notices.len() as i64 > PAGE;
    notices.truncate(PAGE as usize);
    let states = NState::ALL.iter().map(|s| (s.as_str(), v.t.t(&format!("state.{s}")).to_string())).collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = NoticesPage { f: v.frame(v.t.t("notices.title")), q, notices, states, more, error };
    Ok((status, render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    f: Frame,
    d: NoticeDetail,
    /// (action, its label, needs a reason)
    actions: Vec<(&'static str, String, bool)>,
    can_answer: bool,
    can_attach: bool,
    outcomes: Vec<(&'static str, String)>,
    error: Option<String>,
}

impl NoticePage {
    fn state_name(&self, s: &str) -> String {
        if s.is_empty() { String::new() } else { self.f.t.t(&format!("state.{s}")).to_string() }
    }

    fn outcome_name(&self, o: &Outcome) -> String {
        self.f.t.t(&format!("outcome.{o}")).to_string()
    }

    fn kind_name(&self) -> String {
        self.f.t.t(&format!("kind.{}", self.d.notice.kind)).to_string()
    }
}

async fn notice_page(w: &Web, v: &Viewer, id: i64, error: Option<String>, status: StatusCode) -> PageResult {
    let d = w.app.store.notice(v.principal(), id, jiff::Timestamp::now()).await.or_page(v)?;
    let actions = d
        .allowed
        .iter()
        .filter(|a| **a != Action::Answer)
        .map(|a| (a.as_str(), v.t.t(&format!("action.{a}")).to_string(), a.needs_reason()))
        .collect();
    let can_answer = d.allowed.contains(&Action::Answer);
    let can_attach =
        v.can(shouwang_store::Perm::ManageNotices) || (v.can(shouwang_store::Perm::RespondNotices) && d.notice.state.unit_holds());
    let outcomes = Outcome::ALL.iter().map(|o| (o.as_str(), v.t.t(&format!("outcome.{o}")).to_string())).collect();
    let title = d.notice.title.clone();
    let page = NoticePage { f: v.frame(&title), d, actions, can_answer, can_attach, outcomes, error };
    Ok((status, render(&page)).into_response())
}

pub async fn one(State(w): State<Web>, v: Viewer, Path(id): Path<i64>) -> PageResult {
    notice_page(&w, &v, id, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct MoveForm {
    action: String,
    version: i64,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    cause: String,
    #[serde(default)]
    measures: String,
    #[serde(default)]
    result: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    fixed_on: String,
    #[serde(default)]
    accept_until: String,
}

/// A date from a form (`2026-11-23`) as the start of that day, Beijing time.
fn date(s: &str) -> Result<Option<jiff::Timestamp>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let d: jiff::civil::Date = s.parse().map_err(|_| format!("`{}` is not a date (YYYY-MM-DD)", s.chars().take(32).collect::<String>()))?;
    d.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8))).map(|z| Some(z.timestamp())).map_err(|e| e.to_string())
}

pub async fn take(State(w): State<Web>, v: Viewer, Path(id): Path<i64>, Form(f): Form<MoveForm>) -> PageResult {
    let bad = |m: String| (Some(m), StatusCode::UNPROCESSABLE_ENTITY);
    let outcome = (|| {
        let action = Action::parse(&f.action).map_err(|e| e.to_string())?;
        let answer = if action == Action::Answer {
            Some(NewAnswer {
                cause: f.cause.clone(),
                measures: f.measures.clone(),
                result: f.result.clone(),
                fixed_at: date(&f.fixed_on)?,
                outcome: Outcome::parse(&f.outcome).map_err(|e| e.to_string())?,
                accept_until: date(&f.accept_until)?,
            })
        } else {
            None
        };
        Ok::<_, String>(Move { action, reason: f.reason.clone(), answer })
    })();
    let (error, status) = match outcome {
        Err(m) => bad(m),
        Ok(mv) => match w.app.store.move_notice(v.principal(), id, f.version, &mv, jiff::Timestamp::now()).await {
            Ok(_) => return Ok(Redirect::to(&format!("/notices/{id}")).into_response()),
            Err(StoreError::Invalid(m)) | Err(StoreError::Conflict(m)) => bad(m),
            Err(StoreError::Stale(_)) => (Some(v.t.t("error.stale").to_string()), StatusCode::CONFLICT),
            Err(e) => return Err(PageError::from_store(e, v.t)),
        },
    };
    notice_page(&w, &v, id, error, status).await
}

/// An evidence file, from a multipart form (sent by htmx, which carries
/// the CSRF token in its header).
pub async fn attach(State(w): State<Web>, v: Viewer, Path(id): Path<i64>, mut form: Multipart) -> PageResult {
    let mut done = 0;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return notice_page(&w, &v, id, Some(e.body_text()), StatusCode::BAD_REQUEST).await,
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("evidence").to_string();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return notice_page(&w, &v, id, Some(e.body_text()), e.status()).await,
        };
        match w.app.store.attach(v.principal(), id, &name, &bytes).await {
            Ok(_) => done += 1,
            Err(e @ (StoreError::Invalid(_) | StoreError::TooLarge(_) | StoreError::Unsupported(_))) => {
                let status =
                    if matches!(e, StoreError::TooLarge(_)) { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::UNPROCESSABLE_ENTITY };
                return notice_page(&w, &v, id, Some(e.to_string()), status).await;
            }
            Err(e) => return Err(PageError::from_store(e, v.t)),
        }
    }
    if done == 0 {
        return notice_page(&w, &v, id, Some(v.t.t("notice.no_file").into()), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // htmx follows HX-Redirect; a plain browser the 303.
    let to = format!("/notices/{id}");
    let mut resp = Redirect::to(&to).into_response();
    if let Ok(h) = axum::http::HeaderValue::from_str(&to) {
        resp.headers_mut().insert("hx-redirect", h);
    }
    Ok(resp)
}

pub async fn download(State(w): State<Web>, v: Viewer, Path((id, file)): Path<(i64, i64)>) -> PageResult {
    let (a, content) = w.app.store.attachment(v.principal(), id, file).await.or_page(&v)?;
    Ok(shouwang_server::attachment_response(&a, content))
}

#[derive(Template)]
#[template(path = "notice_print.html")]
struct PrintPage {
    t: &'static crate::Catalog,
    d: NoticeDetail,
    unit_name: String,
    printed: String,
}

/// The notice and the name of its unit, as the viewer may see them.
async fn document(w: &Web, v: &Viewer, id: i64) -> Result<(NoticeDetail, String), PageError> {
    let d = w.app.store.notice(v.principal(), id, jiff::Timestamp::now()).await.or_page(v)?;
    let unit_name = match w.app.store.unit_summary(v.principal(), &d.notice.unit).await {
        Ok(u) => v.t.pick(&u.name_zh, &u.name_en).to_string(),
        Err(_) => d.notice.unit.clone(),
    };
    Ok((d, unit_name))
}

/// The notice as a document to print or save as PDF from the browser.
pub async fn print(State(w): State<Web>, v: Viewer, Path(id): Path<i64>) -> PageResult {
    let (d, unit_name) = document(&w, &v, id).await?;
    Ok(render(&PrintPage { t: v.t, d, unit_name, printed: when(&jiff::Timestamp::now()) }))
}

/// The same document as a PDF file, in the viewer's language.
pub async fn pdf(State(w): State<Web>, v: Viewer, Path(id): Path<i64>) -> PageResult {
    use crate::pdf::Block;
    let (d, unit_name) = document(&w, &v, id).await?;
    let Some(font) = crate::pdf::font() else {
        return Err(PageError::new(StatusCode::SERVICE_UNAVAILABLE, v.t, "print.no_font"));
    };
    let (t, n) = (v.t, &d.notice);
    let line = |k: &str, value: String| Block::Text(format!("{}：{value}", t.t(k)));
    let mut blocks = vec![Block::Right(n.tlp.clone()), Block::Title(t.t("print.heading").into())];
    if let Some(num) = &n.number {
        blocks.push(Block::Right(format!("{} {num}", t.t("print.number"))));
    }
    blocks.extend([
        Block::Gap,
        Block::Text(format!("{unit_name}（{}）：", n.unit)),
        Block::Heading(n.title.clone()),
        Block::Text(format!("{}：{}　{}：{}", t.t("field.level"), n.level, t.t("field.category"), n.category.clone().unwrap_or_default())),
        Block::Heading(t.t("notice.summary").into()),
        Block::Text(n.summary.clone()),
        Block::Heading(t.t("notice.actions").into()),
        Block::Text(n.actions.clone()),
        Block::Heading(t.t("field.assets").into()),
        Block::Text(n.assets.join("　")),
        Block::Gap,
        line("notices.acknowledge_due", crate::frame::when_opt(&n.acknowledge_due)),
        line("notices.answer_due", crate::frame::when_opt(&n.answer_due)),
        Block::Gap,
        Block::Text(t.t("print.issuer").into()),
        Block::Text(crate::frame::when_opt(&n.issued_at)),
        Block::Gap,
        Block::Right(format!("{} {}", t.t("print.printed"), when(&jiff::Timestamp::now()))),
    ]);
    let bytes = tokio::task::spawn_blocking(move || crate::pdf::render(font, &blocks))
        .await
        .map_err(|e| PageError::internal(v.t, e))?
        .map_err(|e| PageError::internal(v.t, e))?;
    let file = format!("attachment; filename=\"notice-{}.pdf\"", n.number.as_deref().unwrap_or(&n.id.to_string()));
    let headers = [
        (axum::http::header::CONTENT_TYPE, "application/pdf".to_string()),
        (axum::http::header::CONTENT_DISPOSITION, file),
        (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
    ];
    Ok((headers, bytes).into_response())
}

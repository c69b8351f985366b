//! The situation board (态势). One task keeps the figures: it samples the
//! pipeline's event counter every few seconds and, while anyone watches,
//! recomputes the store's board and publishes it on a watch channel. Every
//! open board (page or SSE stream) reads the same snapshot, so 200 screens
//! cost what one does.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shouwang_server::AppState;
use shouwang_store::{Board, Perm, Principal, Visibility};
use tokio::sync::watch;

use crate::frame::{Frame, OrPage, PageError, PageResult, Viewer, render};

/// How often the figures are refreshed while someone watches.
const TICK: Duration = Duration::from_secs(3);
/// Minutes of events-per-minute history shown.
const MINUTES: usize = 60;

#[derive(Serialize)]
pub struct Snapshot {
    #[serde(flatten)]
    pub board: Board,
    /// (minute start, Unix seconds; events stored in it), oldest first.
    pub events_per_minute: Vec<(i64, u64)>,
    /// Names of the categories the alerts fall in: code → (zh, en).
    pub category_names: std::collections::BTreeMap<String, (String, String)>,
}

pub struct Hub {
    app: AppState,
    tx: watch::Sender<Arc<String>>,
    minutes: Mutex<VecDeque<(i64, u64)>>,
    /// Serialises recomputation, so a burst of page loads computes once.
    refresh: tokio::sync::Mutex<jiff::Timestamp>,
}

impl Hub {
    pub fn start(app: AppState) -> Arc<Hub> {
        let (tx, _) = watch::channel(Arc::new(String::new()));
        let hub =
            Arc::new(Hub { app, tx, minutes: Mutex::new(VecDeque::new()), refresh: tokio::sync::Mutex::new(jiff::Timestamp::UNIX_EPOCH) });
        let h = hub.clone();
        tokio::spawn(async move {
            let mut last = h.app.ingest.pipeline.counters.written.load(Relaxed);
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = h.app.ingest.pipeline.counters.written.load(Relaxed);
                h.count(jiff::Timestamp::now().as_second(), now.saturating_sub(last));
                last = now;
                if h.tx.receiver_count() > 0
                    && let Err(e) = h.fresh(Duration::ZERO).await
                {
                    tracing::warn!(error = %e, "the board's figures could not be refreshed");
                }
            }
        });
        hub
    }

    fn count(&self, now_secs: i64, n: u64) {
        let minute = now_secs - now_secs.rem_euclid(60);
        let mut m = self.minutes.lock().expect("board minutes lock");
        match m.back_mut() {
            Some((at, c)) if *at == minute => *c += n,
            _ => m.push_back((minute, n)),
        }
        while m.len() > MINUTES {
            m.pop_front();
        }
    }

    /// The latest figures as JSON, recomputed first if older than `max_age`.
    pub async fn fresh(&self, max_age: Duration) -> Result<Arc<String>, shouwang_store::StoreError> {
        let mut computed = self.refresh.lock().await;
        let now = jiff::Timestamp::now();
        if now.duration_since(*computed) <= jiff::SignedDuration::try_from(max_age).unwrap_or_default() && !self.tx.borrow().is_empty() {
            return Ok(self.tx.borrow().clone());
        }
        let board = self.app.store.board(&Principal::local("board"), now).await?;
        let category_names = board
            .alerts_by_category
            .iter()
            .filter_map(|(code, _)| self.app.categories.get(code).map(|c| (code.clone(), (c.name_zh.clone(), c.name_en.clone()))))
            .collect();
        let minutes = self.minutes.lock().expect("board minutes lock").iter().copied().collect();
        let snap = Snapshot { board, events_per_minute: minutes, category_names };
        let json = Arc::new(serde_json::to_string(&snap).expect("board figures serialise"));
        self.tx.send_replace(json.clone());
        *computed = now;
        Ok(json)
    }
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    f: Frame,
    /// The figures as JSON for the charts' first drawing, inside a
    /// `type="application/json"` element, made safe by [`json_for_html`].
    data: String,
}

/// JSON placed inside `<script type="application/json">`: `<` is written
/// as `\u003c` so no value can close the element.
fn json_for_html(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// The board is the centre's: every unit at once.
async fn centre_only(w: &crate::Web, v: &Viewer) -> Result<(), PageError> {
    let vis = w.app.store.visibility(v.principal()).await.or_page(v)?;
    if !v.can(Perm::ReadNotices) || vis != Visibility::All {
        return Err(PageError::from_store(shouwang_store::StoreError::Forbidden(String::new()), v.t));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct BoardQuery {
    wall: Option<u8>,
}

pub async fn page(State(w): State<crate::Web>, v: Viewer, Query(q): Query<BoardQuery>) -> PageResult {
    centre_only(&w, &v).await?;
    let json = w.hub.fresh(TICK).await.or_page(&v)?;
    let mut f = v.frame(v.t.t("board.title"));
    f.wall = q.wall == Some(1);
    Ok(render(&BoardPage { f, data: json_for_html(&json) }))
}

pub async fn data(State(w): State<crate::Web>, v: Viewer) -> PageResult {
    centre_only(&w, &v).await?;
    let json = w.hub.fresh(TICK).await.or_page(&v)?;
    Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], json.to_string()).into_response())
}

/// The live feed: the current figures at once, then each new snapshot. The
/// session is checked again every minute; a revoked one ends the stream.
pub async fn events(State(w): State<crate::Web>, v: Viewer, headers: axum::http::HeaderMap) -> Result<Response, PageError> {
    centre_only(&w, &v).await?;
    w.hub.fresh(TICK).await.or_page(&v)?;
    let rx = w.hub.tx.subscribe();
    let token = crate::cookie(&headers, crate::SESSION_COOKIE).unwrap_or_default();
    let state = (rx, w.app.store.clone(), token, tokio::time::Instant::now(), true);
    let stream = futures_util::stream::unfold(state, |(mut rx, store, token, checked, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let mut checked = checked;
        if checked.elapsed() > Duration::from_secs(60) {
            match store.session(&token, jiff::Timestamp::now()).await {
                Ok(Some(_)) => checked = tokio::time::Instant::now(),
                _ => return None,
            }
        }
        let json = rx.borrow_and_update().clone();
        let event = Event::default().event("board").data(json.as_str());
        Some((Ok::<_, std::convert::Infallible>(event), (rx, store, token, checked, false)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

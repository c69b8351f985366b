//! Delivery in the server: the dispatcher that works the outbox off, the
//! deadline sweeper, and the API for channels, templates, the outbox, the
//! inbox and the escalation ladder.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shouwang_deliver::Sender;
use shouwang_store::{Attempt, NewChannel, OutboxQuery, Retry, Store};
use shouwang_workflow::{Ladder, Template};
use tokio::sync::Semaphore;

use crate::auth::{Auth, Q};
use crate::{ApiError, AppState, SMALL_BODY, parse_json, read_body};

/// The time, as the server sees it: the wall clock, or a test's.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

pub fn wall_clock() -> Clock {
    Arc::new(jiff::Timestamp::now)
}

/// How the dispatcher works.
#[derive(Debug, Clone, Copy)]
pub struct Dispatch {
    pub retry: Retry,
    /// Messages in flight at once.
    pub concurrency: usize,
    /// How often to look for messages whose backoff has run out.
    pub poll: Duration,
}

impl Default for Dispatch {
    fn default() -> Dispatch {
        Dispatch { retry: Retry::default(), concurrency: 64, poll: Duration::from_secs(1) }
    }
}

/// Works the outbox off until aborted: claims what is due (no more than
/// there are free slots, so claimed messages do not wait out their lease),
/// sends each on its own task, and records the outcomes in batches. Woken
/// at once by a commit that wrote messages; otherwise polls.
pub fn spawn_dispatcher(store: Store, sender: Arc<Sender>, d: Dispatch, clock: Clock) -> tokio::task::JoinHandle<()> {
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Attempt)>();
    let recorder = {
        let (store, clock) = (store.clone(), clock.clone());
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(512);
            // One warning per distinct error a minute: a channel that is down
            // or not configured fails every message the same way, and the
            // outbox keeps each failure anyway.
            let mut quiet: std::collections::HashMap<String, (std::time::Instant, u64)> = Default::default();
            while done_rx.recv_many(&mut buf, 512).await > 0 {
                for (id, a) in &buf {
                    if let Attempt::Failed(e) | Attempt::Refused(e) = a {
                        let (now, key) = (std::time::Instant::now(), e.to_string());
                        match quiet.get_mut(&key) {
                            Some((last, n)) if now.duration_since(*last) <= Duration::from_secs(60) => *n += 1,
                            _ => {
                                let hidden = quiet.insert(key, (now, 0)).map_or(0, |(_, n)| n);
                                tracing::warn!(message = id, error = %e, same_error_not_logged = hidden, "delivery attempt failed");
                            }
                        }
                    }
                }
                if quiet.len() > 1000 {
                    quiet.clear();
                }
                if let Err(e) = store.finish_outbox(&buf, clock(), &d.retry).await {
                    // The claims lapse and the messages are tried again.
                    tracing::error!(error = %e, "cannot record delivery outcomes");
                }
                buf.clear();
            }
        })
    };
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(d.concurrency.max(1)));
        let _recorder = AbortOnDrop(recorder);
        loop {
            // Wait for at least one free slot before claiming.
            let first = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
            let free = slots.available_permits() + 1;
            let batch = match store.claim_outbox(free as i64, clock(), &d.retry).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim outbox messages");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                drop(first);
                tokio::select! {
                    _ = store.outbox_signal() => {}
                    _ = tokio::time::sleep(d.poll) => {}
                }
                continue;
            }
            let mut first = Some(first);
            for m in batch {
                let permit = match first.take() {
                    Some(p) => p,
                    None => slots.clone().acquire_owned().await.expect("the semaphore is never closed"),
                };
                let (sender, done) = (sender.clone(), done_tx.clone());
                tokio::spawn(async move {
                    let outcome = sender.send(&m).await;
                    let _ = done.send((m.id, outcome));
                    drop(permit);
                });
            }
        }
    })
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Raises due reminders and escalation steps every `every`, on `clock`.
pub fn spawn_sweeper(store: Store, every: Duration, clock: Clock) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.sweep_deadlines(clock()).await {
                Ok(r) if !r.raised.is_empty() => tracing::info!(raised = r.raised.len(), "deadline reminders and escalations raised"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "deadline sweep failed"),
            }
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

fn id_of(id: &str, what: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::BadRequest(format!("`{id}` is not a {what} id (a number)")))
}

pub async fn outbox(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<OutboxQuery>) -> Result<Response, ApiError> {
    let messages = s.store.outbox(&p, &q).await?;
    let counts: serde_json::Map<String, serde_json::Value> =
        s.store.outbox_counts().await?.into_iter().map(|(k, v)| (k, v.into())).collect();
    Ok(axum::Json(serde_json::json!({ "counts": counts, "messages": messages })).into_response())
}

pub async fn retry(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, body: Body) -> Result<Response, ApiError> {
    let b: ReasonBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    s.store.retry_outbox(&p, id_of(&id, "message")?, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn channels(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    Ok(axum::Json(serde_json::json!({ "channels": s.store.channels(&p).await? })).into_response())
}

pub async fn create_channel(State(s): State<AppState>, Auth(p): Auth, body: Body) -> Result<Response, ApiError> {
    let c: NewChannel = parse_json(&read_body(body, SMALL_BODY).await?)?;
    Ok((StatusCode::CREATED, axum::Json(s.store.create_channel(&p, &c).await?)).into_response())
}

pub async fn update_channel(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, body: Body) -> Result<Response, ApiError> {
    let c: NewChannel = parse_json(&read_body(body, SMALL_BODY).await?)?;
    Ok(axum::Json(s.store.update_channel(&p, id_of(&id, "channel")?, &c).await?).into_response())
}

pub async fn templates(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    Ok(axum::Json(serde_json::json!({ "templates": s.store.templates(&p).await? })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    subject: String,
    body: String,
    reason: String,
}

pub async fn set_template(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((name, lang)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let b: TemplateBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    let sample = s.store.set_template(&p, &name, &lang, &Template { subject: b.subject, body: b.body }, &b.reason).await?;
    Ok(axum::Json(serde_json::json!({ "sample": sample })).into_response())
}

pub async fn reset_template(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((name, lang)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let b: ReasonBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    s.store.reset_template(&p, &name, &lang, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    #[serde(default)]
    unread: bool,
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn inbox(State(s): State<AppState>, Auth(p): Auth, Q(q): Q<InboxQuery>) -> Result<Response, ApiError> {
    let items = s.store.inbox(&p, q.unread, q.limit.unwrap_or(50)).await?;
    Ok(axum::Json(serde_json::json!({ "notifications": items })).into_response())
}

pub async fn read(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    s.store.read_inbox(&p, id_of(&id, "notification")?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn ladder(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    p.require(shouwang_store::Perm::ReadNotices)?;
    Ok(axum::Json(s.store.ladder().await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LadderBody {
    steps: Vec<shouwang_workflow::ladder::Step>,
    reason: String,
}

pub async fn set_ladder(State(s): State<AppState>, Auth(p): Auth, body: Body) -> Result<Response, ApiError> {
    let b: LadderBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    Ok(axum::Json(s.store.set_ladder(&p, &Ladder { steps: b.steps }, &b.reason).await?).into_response())
}

/// Runs a deadline sweep now (the sweeper runs one every minute anyway).
pub async fn sweep(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    p.require(shouwang_store::Perm::ManageWorkflow)?;
    Ok(axum::Json(s.store.sweep_deadlines(jiff::Timestamp::now()).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicUrlBody {
    url: String,
    reason: String,
}

pub async fn set_public_url(State(s): State<AppState>, Auth(p): Auth, body: Body) -> Result<Response, ApiError> {
    let b: PublicUrlBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    s.store.set_public_url(&p, &b.url, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn auto_issue(State(s): State<AppState>, Auth(p): Auth) -> Result<Response, ApiError> {
    p.require(shouwang_store::Perm::ReadNotices)?;
    Ok(axum::Json(s.store.auto_issue_policy().await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoIssueBody {
    rules: Vec<shouwang_workflow::AutoRule>,
    reason: String,
}

pub async fn set_auto_issue(State(s): State<AppState>, Auth(p): Auth, body: Body) -> Result<Response, ApiError> {
    let b: AutoIssueBody = parse_json(&read_body(body, SMALL_BODY).await?)?;
    let policy = shouwang_workflow::AutoIssue { rules: b.rules };
    Ok(axum::Json(s.store.set_auto_issue_policy(&p, &policy, &b.reason).await?).into_response())
}

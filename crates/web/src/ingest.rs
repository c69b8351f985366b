//! Ingest and detection, for those who run them (`manage_ingest`): the
//! detection content in use with every rule and indicator a load left out
//! and why, the costliest rules, a reload; the dead letters (records no
//! parser accepted) with their counts and a replay after a fix. Both
//! changes are audited, as through the API.

use std::sync::atomic::Ordering::Relaxed;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use serde::Deserialize;
use shouwang_alerts::LoadSummary;
use shouwang_detect::CostReport;
use shouwang_eventstore::{DeadCount, DeadQuery, StoredDeadLetter};
use shouwang_store::Perm;

use crate::Web;
use crate::frame::{Frame, OrPage, PageError, PageResult, Viewer, non_empty, render};

/// Dead letters listed at once; the counts cover all of them.
const LETTERS: usize = 100;

#[derive(Deserialize, Default)]
pub struct DeadFilter {
    #[serde(default)]
    source: String,
    #[serde(default)]
    reason: String,
    all: Option<String>,
}

#[derive(Template)]
#[template(path = "ingest.html")]
struct IngestPage {
    f: Frame,
    q: DeadFilter,
    content: Option<LoadSummary>,
    findings: u64,
    costs: Option<CostReport>,
    counts: Vec<DeadCount>,
    letters: Vec<StoredDeadLetter>,
    done: Option<String>,
    error: Option<String>,
}

impl IngestPage {
    fn record(&self, d: &StoredDeadLetter) -> String {
        String::from_utf8_lossy(&d.letter.record).into_owned()
    }

    fn path(&self, p: &std::path::Path) -> String {
        p.display().to_string()
    }

    fn sampled(&self, c: &CostReport) -> String {
        self.f.t.tf("ingest.sampled", &[("sampled", &c.events_sampled.to_string()), ("seen", &c.events_seen.to_string())])
    }
}

async fn ingest_page(w: &Web, v: &Viewer, q: DeadFilter, done: Option<String>, error: Option<String>) -> PageResult {
    v.principal().require(Perm::ManageIngest).or_page(v)?;
    let (content, findings, costs) = match &w.app.ingest.pipeline.detection {
        Some(d) => (Some(d.summary()), d.findings.load(Relaxed), Some(d.rule_costs(20))),
        None => (None, 0, None),
    };
    let events = w.app.ingest.pipeline.events.clone();
    let query =
        DeadQuery { source: non_empty(&q.source), reason: non_empty(&q.reason), all: q.all.is_some(), after_id: None, limit: LETTERS };
    let (counts, letters) = tokio::task::spawn_blocking(move || {
        Ok::<_, shouwang_eventstore::EventStoreError>((events.dead_letter_counts()?, events.dead_letters(&query)?))
    })
    .await
    .map_err(|e| PageError::internal(v.t, e))?
    .map_err(|e| PageError::internal(v.t, e))?;
    let page = IngestPage { f: v.frame(v.t.t("ingest.title")), q, content, findings, costs, counts, letters, done, error };
    Ok(render(&page))
}

pub async fn page(State(w): State<Web>, v: Viewer, Query(q): Query<DeadFilter>) -> PageResult {
    ingest_page(&w, &v, q, None, None).await
}

/// Loads the configured rules, indicators and allow-lists again and swaps
/// them in; a failed load keeps the content in use.
pub async fn reload(State(w): State<Web>, v: Viewer) -> PageResult {
    v.principal().require(Perm::ManageIngest).or_page(&v)?;
    let Some(d) = w.app.ingest.pipeline.detection.clone() else {
        return ingest_page(&w, &v, DeadFilter::default(), None, Some(v.t.t("ingest.no_detection").into())).await;
    };
    let (done, error) = match tokio::task::spawn_blocking(move || d.reload()).await.map_err(|e| PageError::internal(v.t, e))? {
        Ok(s) => {
            let detail = serde_json::json!({
                "rules": s.rules.rules, "correlations": s.rules.correlations, "rule_problems": s.rules.problems.len(),
                "indicators": s.indicators_in_use, "allow_entries": s.allow_entries,
            });
            w.app.store.record(v.principal(), "detection.reload", "detection", "reload from the console", &detail).await.or_page(&v)?;
            let text = v.t.tf(
                "ingest.reloaded",
                &[
                    ("rules", &(s.rules.rules + s.rules.correlations).to_string()),
                    ("indicators", &s.indicators_in_use.to_string()),
                    ("problems", &s.rules.problems.len().to_string()),
                ],
            );
            (Some(text), None)
        }
        Err(e) => (None, Some(v.t.tf("ingest.reload_failed", &[("error", &e.to_string())]))),
    };
    ingest_page(&w, &v, DeadFilter::default(), done, error).await
}

#[derive(Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    source: String,
    #[serde(default)]
    reason: String,
}

/// Parses the open dead letters (of one source and reason, or all) again
/// with today's parsers; those accepted join the events.
pub async fn replay(State(w): State<Web>, v: Viewer, Form(f): Form<ReplayForm>) -> PageResult {
    v.principal().require(Perm::ManageIngest).or_page(&v)?;
    let pipeline = w.app.ingest.pipeline.clone();
    let query = DeadQuery { source: non_empty(&f.source), reason: non_empty(&f.reason), ..Default::default() };
    let (done, error) = match tokio::task::spawn_blocking(move || pipeline.replay(&query)).await.map_err(|e| PageError::internal(v.t, e))? {
        Ok(r) => {
            let detail = serde_json::to_value(&r).unwrap_or_default();
            w.app
                .store
                .record(v.principal(), "dead_letters.replay", "dead_letters", "replay from the console", &detail)
                .await
                .or_page(&v)?;
            let n = |x: u64| x.to_string();
            let text = v.t.tf(
                "ingest.replay_done",
                &[("tried", &n(r.tried)), ("replayed", &n(r.replayed)), ("still", &n(r.still_rejected)), ("not", &n(r.not_replayable))],
            );
            (Some(text), None)
        }
        Err(e) => (None, Some(e.to_string())),
    };
    let q = DeadFilter { source: f.source, reason: f.reason, all: None };
    ingest_page(&w, &v, q, done, error).await
}

//! Prometheus metrics. Labels are bounded: the route is the matched path
//! template (`/api/v1/units/{code}`), never the raw URL.

use std::sync::atomic::AtomicI64;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    pub attributions: Family<Labels, Counter>,
    registry_version: Gauge<i64, AtomicI64>,
    index_entries: Gauge<i64, AtomicI64>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("shouwang");
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let attributions = Family::<Labels, Counter>::default();
        let registry_version = Gauge::<i64, AtomicI64>::default();
        let index_entries = Gauge::<i64, AtomicI64>::default();
        registry.register("http_requests", "HTTP requests by route, method and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        registry.register("attribution_queries", "Attribution queries by result status", attributions.clone());
        registry.register("registry_version", "Registry version the live attribution index was built from", registry_version.clone());
        registry.register("attribution_index_entries", "Claims in the live attribution index", index_entries.clone());
        Metrics { registry, requests, latency, attributions, registry_version, index_entries }
    }

    pub fn render(&self, state: &AppState) -> String {
        let (version, entries) = state.attributor.stats();
        self.registry_version.set(version);
        self.index_entries.set(entries as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        // The pipeline's counters are its own atomics; append them before the end marker.
        if out.ends_with("# EOF\n") {
            out.truncate(out.len() - "# EOF\n".len());
        }
        ingest_metrics(&mut out, &state.ingest.pipeline.counters);
        out.push_str("# EOF\n");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    state.metrics.requests.get_or_create(&vec![("route", route.clone()), ("method", method), ("status", status)]).inc();
    state.metrics.latency.get_or_create(&vec![("route", route)]).observe(started.elapsed().as_secs_f64());
    resp
}

fn ingest_metrics(out: &mut String, c: &shouwang_pipeline::Counters) {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, i64)]| {
        let _ = writeln!(out, "# HELP shouwang_ingest_{name} {help}.\n# TYPE shouwang_ingest_{name} {kind}");
        let suffix = if kind == "counter" { "_total" } else { "" };
        for (labels, v) in samples {
            let _ = writeln!(out, "shouwang_ingest_{name}{suffix}{labels} {v}");
        }
    };
    let one = |v: u64| vec![(String::new(), v as i64)];
    family("received", "counter", "Records received from any source", &one(c.received.load(Relaxed)));
    family("parsed", "counter", "Records that became events", &one(c.parsed.load(Relaxed)));
    let rejected: Vec<(String, i64)> = c.rejected_by_reason().map(|(r, n)| (format!("{{reason=\"{}\"}}", r.as_str()), n as i64)).collect();
    family("rejected", "counter", "Records refused by a parser, kept as dead letters, by reason", &rejected);
    family("spooled", "counter", "Records written to the durable spool and acknowledged", &one(c.spooled.load(Relaxed)));
    family("written", "counter", "Events newly stored", &one(c.written.load(Relaxed)));
    family("duplicates", "counter", "Events already stored when written again (replay after a crash)", &one(c.duplicates.load(Relaxed)));
    family("refused", "counter", "Requests turned away with 429 or 503 because a limit was reached", &one(c.refused.load(Relaxed)));
    family("queued_batches", "gauge", "Batches parsed and waiting for the writer", &[(String::new(), c.queued.load(Relaxed))]);
    family(
        "spool_backlog_bytes",
        "gauge",
        "Bytes in spool segments not yet removed",
        &[(String::new(), c.spool_backlog_bytes.load(Relaxed))],
    );
}

//! Outbox delivery (issue 5), on a real SQLite store with the server's own
//! dispatcher and the real HTTP transport, to a webhook receiver in this
//! process (axum on loopback, which answers 200 and notes the arrival):
//!
//! - deliveries/s: M issued notices leave M signed webhook messages waiting;
//!   the dispatcher is started and timed until the last is recorded sent;
//! - issue → webhook: with the dispatcher idle, one notice is issued at a
//!   time and timed from the move's call until its webhook arrives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shouwang_store::{Move, NewChannel, NewNotice, Principal, Role, Store};
use shouwang_workflow::{Action, Kind, Level, Via};

use crate::{SEED, stats};

const UNITS: usize = 200;
const LATENCY_SAMPLES: usize = 200;

/// When the first message for each key arrived.
pub(crate) type Arrivals<K> = Arc<Mutex<HashMap<K, Instant>>>;

/// A webhook receiver on loopback that answers 200 and notes when the first
/// message `key_of` finds a key in arrived: its URL and the arrivals.
pub(crate) async fn receiver<K>(key_of: fn(&str) -> Option<K>) -> (String, Arrivals<K>)
where
    K: std::hash::Hash + Eq + Send + 'static,
{
    let arrivals: Arrivals<K> = Arc::default();
    let seen = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                if let Some(k) = key_of(&body) {
                    seen.lock().unwrap().entry(k).or_insert_with(Instant::now);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrivals)
}

/// The notice a webhook is about.
fn notice_id(body: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(body).ok()?["notice_id"].as_i64()
}

pub fn run(runs: usize, messages: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run_async(runs, messages));
}

/// Drafts and issues `n` level IV notices: their ids.
async fn issue(store: &Store, analyst: &Principal, units: &[String], n: usize) -> Vec<i64> {
    let now = jiff::Timestamp::now();
    let batch: Vec<NewNotice> = (0..n)
        .map(|i| NewNotice {
            kind: Kind::Rectification,
            unit: units[i % units.len()].clone(),
            title: format!("弱口令整改 #{i}"),
            summary: "扫描发现弱口令。".into(),
            actions: String::new(),
            category: None,
            level: Level::IV,
            tlp: Some("TLP:GREEN".into()),
            assets: vec![],
            alerts: vec![],
        })
        .collect();
    let ids = store.create_notices(analyst, &batch, now).await.unwrap();
    for &id in &ids {
        store.move_notice(analyst, id, 1, &Move { action: Action::Issue, reason: String::new(), answer: None }, now).await.unwrap();
    }
    ids
}

async fn sent(store: &Store) -> i64 {
    store.outbox_counts().await.unwrap().into_iter().find(|(s, _)| s == "sent").map_or(0, |(_, n)| n)
}

fn dispatcher(store: &Store) -> tokio::task::JoinHandle<()> {
    let sender = shouwang_deliver::Sender::new(&shouwang_deliver::SenderConfig::default()).unwrap();
    shouwang_server::spawn_dispatcher(store.clone(), Arc::new(sender), shouwang_server::Dispatch::default(), shouwang_server::wall_clock())
}

async fn run_async(runs: usize, messages: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_dir(dir.path()).await.unwrap();
    let admin = Principal::local("bench");
    let mut region = shouwang_demo::generate(shouwang_demo::Spec { seed: SEED, units: UNITS, assets: 1_000 });
    // Webhooks only: the demo's contacts would add e-mail with no SMTP server.
    region.contacts.clear();
    assert!(store.import(&admin, &region, "bench", false).await.unwrap().applied);
    let units: Vec<String> = region.units.iter().map(|(_, u)| u.code.to_string()).collect();
    let analyst = Principal { username: "analyst".into(), role: Role::Analyst, unit: None };
    let (url, arrivals) = receiver(notice_id).await;
    let hook = NewChannel {
        name: "bench hook".into(),
        kind: Via::Webhook,
        target: url,
        secret: Some("bench-secret".into()),
        unit: None,
        lang: None,
        events: vec![],
        enabled: true,
    };
    store.create_channel(&admin, &hook).await.unwrap();

    println!("\n## Outbox (issue 5): {messages} webhook messages per run, dispatcher concurrency 64, SQLite\n");
    let mut rates = Vec::new();
    for _ in 0..runs {
        issue(&store, &analyst, &units, messages).await;
        let before = sent(&store).await;
        let t = Instant::now();
        let d = dispatcher(&store);
        while sent(&store).await < before + messages as i64 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        rates.push(messages as f64 / t.elapsed().as_secs_f64());
        d.abort();
    }
    let r = stats(rates);
    println!("| rung | deliveries/s (median, min, max) |");
    println!("|---|---|");
    println!("| webhook, signed, loopback | {:.0} ({:.0}, {:.0}) |", r.median, r.min, r.max);

    let d = dispatcher(&store);
    let mut lat = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let t = Instant::now();
        let id = issue(&store, &analyst, &units, 1).await[0];
        loop {
            if let Some(at) = arrivals.lock().unwrap().get(&id) {
                lat.push(at.duration_since(t).as_secs_f64() * 1e3);
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    d.abort();
    lat.sort_by(f64::total_cmp);
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!("\n| rung | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|");
    println!("| draft + issue → webhook received ({LATENCY_SAMPLES} one at a time) | {:.1} | {:.1} | {:.1} |", p(0.5), p(0.99), p(1.0));
    println!("\nTargets (issue 5): ≥ 1,000 deliveries/s; event → auto-issued notice's webhook p99 ≤ 1 s.\n");
}

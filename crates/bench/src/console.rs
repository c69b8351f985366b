//! The web console at scale (issue 6): the demo region's 2,000 units, 1M
//! notices (seeded as the notices bench does) and the alerts 10M events
//! leave behind, in a real SQLite store, served by the console and the API
//! in this process over real HTTP on loopback, as `shouwang serve` wires them.
//!
//! - each main page, as the role that uses it: p50 and p99 of `SAMPLES`
//!   requests per round, timed at the client (request sent → body read), so
//!   the figure is the server's time plus a loopback round trip;
//! - the board's aggregates (`Store::board`), called directly;
//! - `SSE_SESSIONS` sessions, each with its own signed-in session, holding the
//!   board's event stream open while notices move, with the page latency
//!   measured again under that load;
//! - the board's page weight: the HTML and every file it loads, as sent
//!   gzip-compressed to a browser that accepts it.
//!
//! No console page reads the event store: the alerts list, an alert's
//! evidence and the board read alerts and their samples from the main store.
//! So the 10M events are seeded as what they leave there, 200,000 (`--alerts`)
//! aggregated alerts whose hit counts sum to 10M, with one sample event each.

use std::time::{Duration, Instant};

use shouwang_store::{AlertHits, Move, NewUser, Principal, Role, Store};
use shouwang_workflow::Action;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{SEED, Stats, stats};

const SAMPLES: usize = 200;
const EVENTS: i64 = 10_000_000;
const SSE_SESSIONS: usize = 200;
const SSE_SECONDS: u64 = 30;
const PASSWORD: &str = "Bench console 2026 pw";

/// `alerts`: how many aggregated alerts stand for the 10M events.
pub fn run(runs: usize, notices: usize, alerts: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run_async(runs, notices, alerts));
}

async fn run_async(runs: usize, n: usize, alerts: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_dir(dir.path()).await.unwrap();
    let admin = Principal::local("bench");
    let region = shouwang_demo::generate(shouwang_demo::Spec { seed: SEED, ..Default::default() });
    assert!(store.import(&admin, &region, "bench", false).await.unwrap().applied);
    let units: Vec<String> = region.units.iter().map(|(_, u)| u.code.to_string()).collect();
    let (seeded, history) = crate::notices::seed(&store, &units, n).await;
    let t = Instant::now();
    seed_alerts(&store, &units, alerts).await;
    let alerts_secs = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(dir.path().join("shouwang.sqlite")).map(|m| m.len()).unwrap_or(0);
    println!("## Web console (issue 6): {n} notices, {alerts} alerts from {EVENTS} events, {} units, SQLite\n", units.len());
    println!(
        "Seeded notices in {seeded:.1} s + history {history:.1} s, alerts in {alerts_secs:.1} s; database {:.0} MiB.\n",
        size as f64 / 1048576.0
    );

    let unit = units[0].clone();
    for (name, role, u) in [
        ("analyst", Role::Analyst, None),
        ("leader", Role::Leader, None),
        ("auditor", Role::Auditor, None),
        ("unitop", Role::UnitOperator, Some(unit.clone())),
    ] {
        let unit = u.map(|c| shouwang_registry::UnitCode::parse(&c).unwrap());
        let user = NewUser { username: name.into(), display_name: name.into(), role, unit, password: Some(PASSWORD.into()) };
        store.create_user(&admin, user).await.unwrap();
    }
    let addr = serve(&store, dir.path()).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let analyst = session(&store, "analyst").await;
    let unitop = session(&store, "unitop").await;
    let auditor = session(&store, "auditor").await;
    let some_notice: i64 = sqlx::query_scalar("SELECT max(id) FROM notices WHERE state = 'issued'").fetch_one(store.pool()).await.unwrap();
    let unit_notice: i64 = sqlx::query_scalar("SELECT max(id) FROM notices WHERE unit = $1 AND state NOT IN ('draft', 'closed')")
        .bind(&unit)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let some_alert: i64 = sqlx::query_scalar("SELECT max(id) FROM alerts").fetch_one(store.pool()).await.unwrap();
    let page = |path: String, who: &'static str, cookie: &str| Page { path, who, cookie: cookie.to_string() };
    let pages = vec![
        page("/board".into(), "analyst", &analyst),
        page("/board/data".into(), "analyst", &analyst),
        page("/alerts".into(), "analyst", &analyst),
        page("/alerts?group=unit".into(), "analyst", &analyst),
        page("/alerts?level=III&category=NAEXPLOIT".into(), "analyst", &analyst),
        page(format!("/alerts/{some_alert}"), "analyst", &analyst),
        page("/notices".into(), "analyst", &analyst),
        page("/notices?state=issued,acknowledged&level=I,II".into(), "analyst", &analyst),
        page("/notices?overdue=1".into(), "analyst", &analyst),
        page(format!("/notices?unit={}", units[1234]), "analyst", &analyst),
        page(format!("/notices/{some_notice}"), "analyst", &analyst),
        page(format!("/notices/{some_notice}/print"), "analyst", &analyst),
        page("/units".into(), "analyst", &analyst),
        page(format!("/units/{}", units[777]), "analyst", &analyst),
        page("/notices".into(), "unit operator", &unitop),
        page(format!("/notices/{unit_notice}"), "unit operator", &unitop),
        page("/audit".into(), "auditor", &auditor),
        page("/account".into(), "analyst", &analyst),
    ];
    println!("### Pages: {SAMPLES} requests each per round, one client, p50 / p99 (median of {runs} rounds; min, max of the rounds)\n");
    let quiet = page_latency(&client, &base, &pages, runs).await;
    print_pages(&pages, &quiet, None);

    board_aggregates(&store, runs).await;
    weight(&client, &base, &analyst).await;
    sse(&store, &client, &base, &pages, &quiet).await;
    store.close().await;
}

/// Alerts as 10M events aggregate: `n` rows over the last 30 days, spread
/// over rules, units, categories and levels, `EVENTS / n` hits each, written
/// through `Store::record_alerts` 5,000 at a time.
async fn seed_alerts(store: &Store, units: &[String], n: usize) {
    let now = jiff::Timestamp::now();
    let categories = ["NAEXPLOIT", "NASCAN", "MPTROJ", "MPZOMB", "VIWEB", "NAPHISH"];
    let levels = ["IV", "IV", "IV", "III", "III", "II", "I", "IV"];
    let hits = EVENTS / n as i64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        let batch: Vec<AlertHits> = chunk
            .iter()
            .map(|&i| {
                let seen = now - jiff::SignedDuration::from_secs((i as i64 * 30 * 86_400) / n as i64);
                let window = jiff::Timestamp::from_second(seen.as_second() - seen.as_second().rem_euclid(3600)).unwrap();
                let unit = &units[i * 7 % units.len()];
                AlertHits {
                    rule_id: format!("suricata:{}", 2_000_000 + i % 400),
                    title: format!("ET BENCH signature {} <script>", i % 400),
                    source: "sensor".into(),
                    unit: Some(unit.clone()),
                    asset: Some(format!("ip:10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)),
                    window_start: window,
                    severity: "high".into(),
                    category: Some(categories[i % categories.len()].into()),
                    category_reason: Some("suricata category".into()),
                    proposed_level: levels[i % levels.len()].into(),
                    grading: serde_json::json!({"reasons": ["bench"]}),
                    hits,
                    first_seen: seen - jiff::SignedDuration::from_secs(600),
                    last_seen: seen,
                    samples: vec![serde_json::json!({"event": {"kind": "alert"}, "source": {"ip": "203.0.113.9"}, "i": i})],
                }
            })
            .collect();
        store.record_alerts(&batch, &[]).await.unwrap();
    }
}

/// The console and the API on a loopback port, wired as `serve` wires them.
async fn serve(store: &Store, dir: &std::path::Path) -> std::net::SocketAddr {
    let state = crate::pathway::app_state(store, dir, false).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = shouwang_web::router(state.clone()).merge(shouwang_server::router(state));
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap() });
    addr
}

/// A signed-in console session's cookie header.
async fn session(store: &Store, user: &str) -> String {
    let s = store.sign_in(user, PASSWORD, "127.0.0.1", "bench", jiff::Timestamp::now()).await.unwrap();
    format!("{}={}", shouwang_web::SESSION_COOKIE, s.token)
}

async fn get(client: &reqwest::Client, url: &str, cookie: &str) -> (u16, usize) {
    let r = client.get(url).header("cookie", cookie).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap().len())
}

/// A page as one role asks for it.
struct Page {
    path: String,
    who: &'static str,
    cookie: String,
}

/// Per page: (p50, p99) stats over the rounds, and the page's size.
type PageStats = Vec<(Stats, Stats, usize)>;

async fn page_latency(client: &reqwest::Client, base: &str, pages: &[Page], runs: usize) -> PageStats {
    let mut per_page: Vec<(Vec<f64>, Vec<f64>, usize)> = vec![(Vec::new(), Vec::new(), 0); pages.len()];
    for (i, p) in pages.iter().enumerate() {
        let (status, bytes) = get(client, &format!("{base}{}", p.path), &p.cookie).await; // warm
        assert_eq!(status, 200, "{}", p.path);
        per_page[i].2 = bytes;
    }
    for _ in 0..runs {
        for (i, p) in pages.iter().enumerate() {
            let url = format!("{base}{}", p.path);
            let mut times = Vec::with_capacity(SAMPLES);
            for _ in 0..SAMPLES {
                let t = Instant::now();
                let (status, _) = get(client, &url, &p.cookie).await;
                times.push(t.elapsed().as_secs_f64());
                assert_eq!(status, 200, "{}", p.path);
            }
            times.sort_by(f64::total_cmp);
            per_page[i].0.push(times[SAMPLES / 2]);
            per_page[i].1.push(times[SAMPLES * 99 / 100 - 1]);
        }
    }
    per_page.into_iter().map(|(p50, p99, b)| (stats(p50), stats(p99), b)).collect()
}

fn ms(s: &Stats) -> String {
    format!("{:.2} ms ({:.2}, {:.2})", s.median * 1e3, s.min * 1e3, s.max * 1e3)
}

fn print_pages(pages: &[Page], s: &PageStats, quiet: Option<&PageStats>) {
    match quiet {
        None => {
            println!("| page (role) | bytes | p50 | p99 |\n|---|---|---|---|");
            for (p, (p50, p99, bytes)) in pages.iter().zip(s) {
                println!("| `{}` ({}) | {bytes} | {} | {} |", p.path, p.who, ms(p50), ms(p99));
            }
        }
        Some(q) => {
            println!("| page (role) | p50 | p99 | p99 / quiet p99 |\n|---|---|---|---|");
            for ((p, (p50, p99, _)), (_, q99, _)) in pages.iter().zip(s).zip(q) {
                println!("| `{}` ({}) | {} | {} | {:.2} |", p.path, p.who, ms(p50), ms(p99), p99.median / q99.median);
            }
        }
    }
    println!();
}

async fn board_aggregates(store: &Store, runs: usize) {
    let analyst = Principal { username: "analyst".into(), role: Role::Analyst, unit: None };
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for _ in 0..runs {
        let mut times: Vec<f64> = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let b = store.board(&analyst, jiff::Timestamp::now()).await.unwrap();
            times.push(t.elapsed().as_secs_f64());
            std::hint::black_box(b);
        }
        times.sort_by(f64::total_cmp);
        p50.push(times[10]);
        p99.push(times[19]);
    }
    println!("### Board aggregates (`Store::board`, 20 calls per round)\n");
    println!("- median {}, slowest {}; target ≤ 200 ms\n", ms(&stats(p50)), ms(&stats(p99)));
}

/// The board page and every file it loads, as a gzip-accepting browser gets
/// them (the HTML itself is sent uncompressed).
async fn weight(client: &reqwest::Client, base: &str, cookie: &str) {
    let html = client.get(format!("{base}/board")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    let mut total = html.len();
    println!(
        "### Board page weight\n\n| file | bytes on the wire |\n|---|---|\n| `/board` (HTML, with the first figures) | {} |",
        html.len()
    );
    let mut rest = html.as_str();
    let mut seen = Vec::new();
    while let Some(i) = rest.find("/static/") {
        let end = rest[i..].find('"').map_or(rest.len(), |e| i + e);
        let path = rest[i..end].to_string();
        rest = &rest[end..];
        if seen.contains(&path) {
            continue;
        }
        let r = client.get(format!("{base}{path}")).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let gz = r.headers().get("content-encoding").is_some_and(|v| v == "gzip");
        let n = r.bytes().await.unwrap().len();
        println!("| `{path}`{} | {n} |", if gz { " (gzip)" } else { "" });
        total += n;
        seen.push(path);
    }
    println!("| **total** | **{total}** ({:.2} MB; target ≤ 1.5 MB) |\n", total as f64 / 1e6);
}

/// One browser's board stream over a raw socket: the number of `board`
/// events received until `stop`, or why it failed.
async fn stream(addr: String, cookie: String, mut stop: tokio::sync::watch::Receiver<bool>) -> Result<usize, String> {
    let mut s = tokio::net::TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    let req = format!("GET /board/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n");
    s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let (mut buf, mut text) = (vec![0u8; 64 * 1024], String::new());
    let (mut events, mut started) = (0, false);
    loop {
        let read = tokio::select! {
            _ = stop.changed() => break,
            r = s.read(&mut buf) => r,
        };
        match read {
            Ok(0) => return Err(format!("closed after {events} events")),
            Ok(n) => {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                if !started && text.len() >= 12 {
                    if !text.starts_with("HTTP/1.1 200") {
                        return Err(text.lines().next().unwrap_or_default().to_string());
                    }
                    started = true;
                }
                while let Some(i) = text.find("event: board") {
                    events += 1;
                    text.drain(..i + 12);
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(events)
}

/// `SSE_SESSIONS` signed-in sessions on the board's stream while the pages
/// are timed again (one round) and a unit acknowledges a notice a second so
/// the figures change; at least `SSE_SECONDS`.
async fn sse(store: &Store, client: &reqwest::Client, base: &str, pages: &[Page], quiet: &PageStats) {
    let addr = base.trim_start_matches("http://").to_string();
    let mut cookies = Vec::new();
    for _ in 0..SSE_SESSIONS {
        cookies.push(session(store, "leader").await);
    }
    let t = Instant::now();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let streams: Vec<_> = cookies.into_iter().map(|c| tokio::spawn(stream(addr.clone(), c, stopped.clone()))).collect();
    let issued: Vec<(i64, String)> = sqlx::query_as("SELECT id, unit FROM notices WHERE state = 'issued' ORDER BY id DESC LIMIT 1000")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let mover = {
        let store = store.clone();
        tokio::spawn(async move {
            for (id, unit) in issued {
                let p = Principal {
                    username: format!("{unit}-ops"),
                    role: Role::UnitOperator,
                    unit: Some(shouwang_registry::UnitCode::parse(&unit).unwrap()),
                };
                let m = Move { action: Action::Acknowledge, reason: String::new(), answer: None };
                store.move_notice(&p, id, 2, &m, jiff::Timestamp::now()).await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = page_latency(client, base, pages, 1).await;
    let paged = t.elapsed().as_secs();
    tokio::time::sleep(Duration::from_secs(SSE_SECONDS).saturating_sub(t.elapsed())).await;
    let held = t.elapsed().as_secs();
    stop.send(true).unwrap();
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for s in streams {
        match s.await.unwrap() {
            Ok(n) => ok.push(n as f64),
            Err(e) => errors.push(e),
        }
    }
    mover.abort();
    println!("### {SSE_SESSIONS} sessions on the board's live stream for {held} s, a notice acknowledged each second\n");
    println!(
        "- streams without error: {} of {SSE_SESSIONS}; errors: {} {:?}",
        ok.len(),
        errors.len(),
        errors.iter().take(3).collect::<Vec<_>>()
    );
    if !ok.is_empty() {
        let s = stats(ok);
        println!("- board events per stream: median {:.0} (min {:.0}, max {:.0})", s.median, s.min, s.max);
    }
    println!("- pages timed while the streams were open (one round, the first {paged} s):\n");
    print_pages(pages, &loaded, Some(quiet));
}

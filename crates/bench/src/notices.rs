//! Notices at scale (issue 5), on a real SQLite store: N notices (1M by
//! default) over the demo region's 2,000 units; list and filter latency as
//! each role sees it (p50 and p99 of 200 requests per round), state
//! transitions per second (one client, and four at once), and the deadline
//! scan over every open notice.
//!
//! Seeding drafts every notice through `Store::create_notices` (5,000 per
//! transaction). A year of history (states, numbers, issue times and
//! deadlines) is then written with one SQL statement: that is the data
//! generator's shortcut, since replaying a million lifecycles move by move
//! would take hours; everything measured goes through the store's methods.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shouwang_store::{Move, NewNotice, NoticeQuery, Principal, Role, Store};
use shouwang_workflow::{Action, Kind, Level};

use crate::{SEED, Stats, stats};

const UNITS: usize = 2_000;
const PER_TX: usize = 5_000;
const SAMPLES: usize = 200;
/// Moves per round for the transition rungs.
const MOVES: usize = 1_000;

/// The end of the generated year: "now" for every query.
fn now() -> jiff::Timestamp {
    "2026-11-20T10:00:00+08:00".parse().unwrap()
}

pub fn run(runs: usize, n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run_async(runs, n));
}

async fn run_async(runs: usize, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_dir(dir.path()).await.unwrap();
    let admin = Principal::local("bench");
    let region = shouwang_demo::generate(shouwang_demo::Spec { seed: SEED, units: UNITS, assets: 10_000 });
    assert!(store.import(&admin, &region, "bench", false).await.unwrap().applied);
    let units: Vec<String> = region.units.iter().map(|(_, u)| u.code.to_string()).collect();

    let (seeded, history) = seed(&store, &units, n).await;
    let size = std::fs::metadata(dir.path().join("shouwang.sqlite")).map(|m| m.len()).unwrap_or(0);
    println!("## Notices (issue 5): {n} notices over {UNITS} units, SQLite\n");
    println!(
        "Seeded in {seeded:.1} s through the store ({:.0} drafts/s, {PER_TX} per transaction), history in {history:.1} s; database {:.0} MiB.\n",
        n as f64 / seeded,
        size as f64 / 1048576.0
    );

    list_latency(&store, &units, runs).await;
    transitions(&store, runs).await;
    scan(&store, runs).await;
    sweep(&store, runs).await;
    store.close().await;
}

/// Drafts `n` notices over `units` through the store, then writes a year of
/// history in one statement. Returns the seconds each part took.
pub async fn seed(store: &Store, units: &[String], n: usize) -> (f64, f64) {
    let analyst = Principal { username: "analyst".into(), role: Role::Analyst, unit: None };
    let t = Instant::now();
    // Levels as a centre sees them: I rare, IV most; drawn independently of
    // the states given below, so no filter meets a pattern of the generator.
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let level_of: Vec<Level> = (0..n)
        .map(|_| match rng.gen_range(0..100) {
            0 => Level::I,
            1..=5 => Level::II,
            6..=25 => Level::III,
            _ => Level::IV,
        })
        .collect();
    let kinds = [Kind::Rectification, Kind::Incident, Kind::Rectification, Kind::Verification];
    let mut made = 0;
    while made < n {
        let batch: Vec<NewNotice> = (made..(made + PER_TX).min(n))
            .map(|i| NewNotice {
                kind: kinds[i % kinds.len()],
                unit: units[i % units.len()].clone(),
                title: format!("关于{}存在安全漏洞的整改通知 #{i}", units[i % units.len()]),
                summary: "扫描发现对外开放的高危端口与弱口令。".into(),
                actions: String::new(),
                category: Some("VIWEB".into()),
                level: level_of[i],
                tlp: None,
                assets: vec![format!("ip:10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)],
                alerts: vec![],
            })
            .collect();
        made += store.create_notices(&analyst, &batch, now()).await.unwrap().len();
    }
    let seeded = t.elapsed().as_secs_f64();
    // A year of history: 1 in 20 issued, acknowledged, in progress, answered,
    // returned, or still a draft; the rest closed. Issue times spread over
    // the year before `now`, a day to acknowledge and a week to answer, so
    // nearly every open notice is overdue: the scan's worst case.
    let start = now().as_microsecond() - 365 * 86_400_000_000;
    let step = 365 * 86_400_000_000 / n as i64;
    sqlx::query(
        "UPDATE notices SET \
         state = CASE id % 20 WHEN 0 THEN 'issued' WHEN 1 THEN 'acknowledged' WHEN 2 THEN 'in_progress' \
                 WHEN 3 THEN 'answered' WHEN 4 THEN 'returned' WHEN 5 THEN 'draft' ELSE 'closed' END, \
         number = CASE WHEN id % 20 = 5 THEN NULL ELSE '2026-' || id END, \
         issued_at = CASE WHEN id % 20 = 5 THEN NULL ELSE $1 + id * $2 END, \
         acknowledge_due = CASE WHEN id % 20 = 5 THEN NULL ELSE $1 + id * $2 + 86400000000 END, \
         answer_due = CASE WHEN id % 20 = 5 THEN NULL ELSE $1 + id * $2 + 604800000000 END, \
         updated_at = $1 + id * $2, version = 2",
    )
    .bind(start)
    .bind(step)
    .execute(store.pool())
    .await
    .unwrap();
    if std::env::var_os("BENCH_ANALYZE").is_some() {
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    }
    let history = t.elapsed().as_secs_f64() - seeded;
    (seeded, history)
}

fn ms(s: &Stats) -> String {
    format!("{:.2} ms (min {:.2}, max {:.2})", s.median * 1e3, s.min * 1e3, s.max * 1e3)
}

/// Who asks, and what, for one request of a query shape.
type MakeQuery<'a> = dyn Fn(&mut ChaCha8Rng) -> (Principal, NoticeQuery) + 'a;

/// p50 and p99 of `SAMPLES` requests per round, for each query shape.
async fn list_latency(store: &Store, units: &[String], runs: usize) {
    let analyst = Principal { username: "analyst".into(), role: Role::Analyst, unit: None };
    let shapes: Vec<(&str, Box<MakeQuery>)> = vec![
        ("analyst: newest 100", Box::new(|_| (analyst.clone(), NoticeQuery::default()))),
        (
            "analyst: state=issued,acknowledged & level=I,II",
            Box::new(|_| {
                let q = NoticeQuery { state: Some("issued,acknowledged".into()), level: Some("I,II".into()), ..Default::default() };
                (analyst.clone(), q)
            }),
        ),
        (
            "analyst: unit=one of 2,000",
            Box::new(|rng| {
                (analyst.clone(), NoticeQuery { unit: Some(units[rng.gen_range(0..units.len())].clone()), ..Default::default() })
            }),
        ),
        ("analyst: overdue=true", Box::new(|_| (analyst.clone(), NoticeQuery { overdue: true, ..Default::default() }))),
        (
            "unit operator: own notices",
            Box::new(|rng| {
                let unit = shouwang_registry::UnitCode::parse(&units[rng.gen_range(0..units.len())]).unwrap();
                (Principal { username: "ops".into(), role: Role::UnitOperator, unit: Some(unit) }, NoticeQuery::default())
            }),
        ),
        ("analyst: page 50 (offset 4,900)", Box::new(|_| (analyst.clone(), NoticeQuery { offset: Some(4_900), ..Default::default() }))),
    ];
    println!("List and filter, 100 per page, {SAMPLES} requests per round; median of {runs} rounds' p50 and p99. Target: p99 ≤ 20 ms.\n");
    println!("| query | rows | p50 | p99 |");
    println!("|---|---|---|---|");
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    for (name, make) in &shapes {
        let (mut p50s, mut p99s, mut rows) = (Vec::new(), Vec::new(), 0);
        for _ in 0..runs {
            let mut lat = Vec::with_capacity(SAMPLES);
            for _ in 0..SAMPLES {
                let (p, q) = make(&mut rng);
                let t = Instant::now();
                rows = store.notices(&p, &q, now()).await.unwrap().len();
                lat.push(t.elapsed().as_secs_f64());
            }
            lat.sort_by(|a, b| a.total_cmp(b));
            p50s.push(lat[SAMPLES / 2]);
            p99s.push(lat[SAMPLES * 99 / 100]);
        }
        println!("| {name} | {rows} | {} | {} |", ms(&stats(p50s)), ms(&stats(p99s)));
    }
    println!();
}

/// Issued notices' ids and units, for units to acknowledge.
async fn issued(store: &Store, limit: usize, skip: usize) -> Vec<(i64, String)> {
    let analyst = Principal { username: "analyst".into(), role: Role::Analyst, unit: None };
    let q = NoticeQuery { state: Some("issued".into()), limit: Some(1000), ..Default::default() };
    let mut out = Vec::new();
    let mut offset = skip as i64;
    while out.len() < limit {
        let page = store.notices(&analyst, &NoticeQuery { offset: Some(offset), ..q.clone() }, now()).await.unwrap();
        if page.is_empty() {
            break;
        }
        offset += page.len() as i64;
        out.extend(page.into_iter().map(|n| (n.id, n.unit)));
    }
    out.truncate(limit);
    out
}

async fn acknowledge(store: Store, work: Vec<(i64, String)>) {
    for (id, unit) in work {
        let p = Principal {
            username: format!("{unit}-ops"),
            role: Role::UnitOperator,
            unit: Some(shouwang_registry::UnitCode::parse(&unit).unwrap()),
        };
        store.move_notice(&p, id, 2, &Move { action: Action::Acknowledge, reason: String::new(), answer: None }, now()).await.unwrap();
    }
}

/// Clients moving notices at once in the transition rungs.
const CLIENTS: [usize; 3] = [1, 4, 16];

/// Units acknowledging issued notices through `move_notice`: one client
/// waiting for each move, then 4 and 16 at once (group commit), each
/// client waiting for its own move before sending the next.
async fn transitions(store: &Store, runs: usize) {
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); CLIENTS.len()];
    for _ in 0..runs {
        for (k, &clients) in CLIENTS.iter().enumerate() {
            // Acknowledged notices leave the `issued` list, so each round takes the next ones.
            let work = issued(store, MOVES, 0).await;
            assert_eq!(work.len(), MOVES, "too few issued notices left: seed more");
            let t = Instant::now();
            let tasks: Vec<_> =
                work.chunks(MOVES.div_ceil(clients)).map(|c| tokio::spawn(acknowledge(store.clone(), c.to_vec()))).collect();
            for task in tasks {
                task.await.unwrap();
            }
            rates[k].push(MOVES as f64 / t.elapsed().as_secs_f64());
        }
    }
    println!(
        "State transitions (a unit acknowledges, with timeline and audit entries), {MOVES} per round. One client: each move its own \
         transaction. Several at once: moves that arrive while a group is being written are committed together. Target ≥ 2,000/s.\n"
    );
    for (clients, r) in CLIENTS.iter().zip(rates) {
        let r = stats(r);
        println!("- {clients} client(s) at once: {:.0}/s (min {:.0}, max {:.0})", r.median, r.min, r.max);
    }
    println!();
}

/// `breached_notices`: every open notice past a deadline.
async fn scan(store: &Store, runs: usize) {
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..runs {
        let t = Instant::now();
        found = store.breached_notices(now()).await.unwrap().len();
        times.push(t.elapsed().as_secs_f64());
    }
    println!("Deadline scan over all open notices: {found} past a deadline, {}. Target ≤ 1 s.\n", ms(&stats(times)));
}

/// `sweep_deadlines`: the first pass raises every rung due on the
/// generated backlog (each into the timeline and the outbox: the demo's
/// contacts get e-mail); later passes find nothing new, the steady state
/// the server's sweeper runs every minute.
async fn sweep(store: &Store, runs: usize) {
    let t = Instant::now();
    let first = store.sweep_deadlines(now()).await.unwrap();
    let took = t.elapsed().as_secs_f64();
    let messages: usize = first.raised.iter().map(|r| r.messages).sum();
    println!(
        "Deadline sweep, first pass over the backlog: {} open notices considered, {} rungs raised with {messages} messages in {took:.1} s ({:.0} rungs/s).\n",
        first.considered,
        first.raised.len(),
        first.raised.len() as f64 / took
    );
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let again = store.sweep_deadlines(now()).await.unwrap();
        assert!(again.raised.is_empty(), "a second pass raises nothing");
        times.push(t.elapsed().as_secs_f64());
    }
    println!("Deadline sweep, steady state (nothing new to raise): {}. Target ≤ 1 s.\n", ms(&stats(times)));
}

//! kill -9 of the real binary in the middle of a large ingest, through a
//! file and through the HTTP spool: nothing accepted is lost, nothing is
//! stored twice.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

/// One EVE alert whose `flow_id` names it; two days, so two partitions.
fn alert(i: u64) -> String {
    let day = 20 + i % 2;
    format!(
        r#"{{"timestamp":"2026-11-{day}T08:{:02}:{:02}.{:06}+0000","flow_id":{i},"event_type":"alert","src_ip":"198.51.100.{}","src_port":{},"dest_ip":"192.0.2.{}","dest_port":443,"proto":"TCP","alert":{{"action":"allowed","gid":1,"signature_id":{},"rev":3,"signature":"ET SCAN probe {i}","category":"Attempted Information Leak","severity":2}},"payload_printable":"GET /index.php?id={i} HTTP/1.1 padding padding padding padding padding padding"}}"#,
        i / 60 % 60,
        i % 60,
        i % 1_000_000,
        i % 250,
        1024 + i % 60000,
        i % 250,
        2_000_000 + i % 1000,
    )
}

fn stored_events(env: &Env) -> u64 {
    let out = env.run(&["status"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    status["partitions"].as_array().unwrap().iter().map(|p| p["events"].as_u64().unwrap()).sum()
}

fn open_dead_letters(env: &Env) -> u64 {
    json_lines(&env.ok(&["dead-letters", "counts"])).iter().map(|c| c["open"].as_u64().unwrap()).sum()
}

fn spawn(env: &Env, args: &[&str]) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_shouwang"))
            .args(args)
            .current_dir(env.dir.path())
            .env("SHOUWANG_DATA_DIR", env.data())
            .env_remove("SHOUWANG_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn shouwang"),
    )
}

/// SIGKILL: no destructor, no flush, no checkpoint.
fn kill_9(child: &mut Running) {
    child.0.kill().unwrap();
    child.0.wait().unwrap();
}

#[test]
fn kill_9_during_a_file_ingest_loses_and_duplicates_nothing() {
    let env = Env::new();
    const N: u64 = 60_000;
    let path = env.dir.path().join("sensor-eve.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut bad = 0;
    for i in 0..N {
        if i % 997 == 500 {
            // A truncated record every so often: a dead letter, exactly once.
            writeln!(f, r#"{{"timestamp":"2026-11-20T08:00:00Z","event_type":"alert","flow_id":{i},"#).unwrap();
            bad += 1;
        } else {
            writeln!(f, "{}", alert(i)).unwrap();
        }
    }
    drop(f);
    let good = N - bad;
    let file = path.to_str().unwrap();

    // Kill at a quarter, a half and three quarters stored; each kill must land mid-run.
    let mut kills = 0;
    for quarter in 1..=3 {
        let mut child = spawn(&env, &["ingest", file]);
        let start = Instant::now();
        loop {
            assert!(child.0.try_wait().unwrap().is_none(), "ingest finished before the kill at {quarter}/4");
            if stored_events(&env) >= good * quarter / 4 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(300), "no progress");
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_9(&mut child);
        kills += 1;
        let after = stored_events(&env);
        assert!(after > 0 && after < good, "kill {kills} landed at {after} of {good}");
    }
    // The run that finishes resumes from the last checkpoint.
    let out = env.run(&["ingest", file, "--json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stored_events(&env), good, "every valid record exactly once");
    assert_eq!(open_dead_letters(&env), bad, "every bad record exactly once");
    // And again from the start: the same origin keys, nothing stored twice.
    env.ok(&["ingest", file, "--from-start"]);
    assert_eq!(stored_events(&env), good);
    assert_eq!(open_dead_letters(&env), bad);
    // Spot checks through search: the records either side of a dead letter are there.
    for i in [499u64, 501, N - 1] {
        let hits = json_lines(&env.ok(&["events", "search", "--rule", &format!("ET SCAN probe {i}"), "--limit", "1000"]));
        let exact: Vec<_> = hits.iter().filter(|e| e["rule"]["name"] == format!("ET SCAN probe {i}")).collect();
        assert_eq!(exact.len(), 1, "flow {i}");
    }
}

async fn wait_healthy(base: &str) {
    for _ in 0..600 {
        if reqwest::get(format!("{base}/api/v1/health")).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_server_loses_no_acknowledged_event() {
    let env = Env::new();
    env.ok(&["user", "add", "probe", "--role", "sensor"]);
    let token = env.ok(&["token", "create", "probe"]).trim().to_string();
    let port = free_port().to_string();
    let base = format!("http://127.0.0.1:{port}");
    let server = spawn(&env, &["serve", "--listen", &format!("127.0.0.1:{port}")]);
    wait_healthy(&base).await;

    // A sensor posts batches of 500 numbered alerts; the server is killed
    // while it posts. Acknowledged batches must all be stored after a restart;
    // a batch in flight at the kill may or may not be.
    let client = reqwest::Client::new();
    const BATCH: u64 = 500;
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut sent: BTreeSet<u64> = BTreeSet::new();
    let mut batch = 0u64;
    let mut server = Some(server);
    let mut killer = None;
    loop {
        let ids: Vec<u64> = (batch * BATCH..(batch + 1) * BATCH).collect();
        let body: String = ids.iter().map(|&i| alert(i) + "\n").collect();
        sent.extend(&ids);
        let r = client.post(format!("{base}/api/v1/ingest?format=eve")).bearer_auth(&token).body(body).send().await;
        match r {
            Ok(r) if r.status() == 202 => acked.extend(&ids),
            Ok(r) if r.status() == 429 || r.status() == 503 => {}
            Ok(r) => panic!("unexpected {}", r.status()),
            Err(_) => break, // the server is gone
        }
        batch += 1;
        // After six acknowledged batches, kill while the next ones are in flight.
        if acked.len() as u64 == 6 * BATCH
            && let Some(mut s) = server.take()
        {
            killer = Some(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                kill_9(&mut s);
            }));
        }
        assert!(batch < 15, "the server outlived its kill");
    }
    killer.expect("killed mid-run").await.unwrap();
    assert!(acked.len() as u64 >= 2 * BATCH, "the kill came too early to prove anything: {} acknowledged", acked.len());

    let mut server = spawn(&env, &["serve", "--listen", &format!("127.0.0.1:{port}")]);
    wait_healthy(&base).await;
    for _ in 0..600 {
        if stored_events(&env) >= acked.len() as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the consumer finish anything spooled past the acknowledged set, then kill again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill_9(&mut server);
    let events = json_lines(&env.ok(&["events", "search", "--limit", "10000"]));
    let ids: Vec<u64> = events.iter().map(flow).collect();
    let distinct: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "an event stored twice");
    assert_eq!(ids.len() as u64, stored_events(&env));
    assert!(acked.is_subset(&distinct), "lost acknowledged events: {:?}", acked.difference(&distinct).take(5).collect::<Vec<_>>());
    assert!(distinct.is_subset(&sent));
    eprintln!("sent {}, acknowledged {}, stored {}", sent.len(), acked.len(), distinct.len());
    assert_eq!(open_dead_letters(&env), 0);
}

/// The flow id an alert was generated with, read back from its rule name.
fn flow(e: &serde_json::Value) -> u64 {
    e["rule"]["name"].as_str().and_then(|n| n.strip_prefix("ET SCAN probe ")).and_then(|n| n.parse().ok()).expect("generated rule name")
}

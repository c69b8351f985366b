//! `POST /api/v1/ingest` and the event, dead-letter and status endpoints,
//! against the real router, spool, consumer thread and stores.

use std::io::Write;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use shouwang_store::Role;
use tokio::io::AsyncWriteExt;

use crate::helpers::*;

async fn setup() -> (App, String) {
    let app = spawn_app().await;
    app.seed_registry().await;
    let sensor = user(&app, "probe-s1", Role::Sensor, Some("S1")).await;
    (app, sensor)
}

fn eve(dest: &str) -> String {
    format!(
        r#"{{"timestamp":"2026-11-21T15:04:05+0800","event_type":"alert","src_ip":"198.51.100.9","src_port":1234,"dest_ip":"{dest}","dest_port":80,"proto":"TCP","alert":{{"signature_id":1,"signature":"ET TEST {dest}","category":"x","severity":2}}}}"#
    )
}

/// Polls until the consumer has stored `n` events.
async fn events_eventually(app: &App, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let (s, v) = get_json(app, "/api/v1/events?limit=1000", &app.admin_token).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let events = v["events"].as_array().unwrap().clone();
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} events were not stored in time");
}

#[tokio::test]
async fn a_sensor_posts_lines_that_land_attributed_and_scoped() {
    let (app, sensor) = setup().await;
    let body =
        format!("{}\r\n\n{}\n{{\"event_type\":\"alert\",\"timestamp\":\n{}", eve("192.0.2.5"), eve("192.0.2.200"), eve("203.0.113.1"));
    let r = app.post("/api/v1/ingest?format=eve", &sensor).body(body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 4);

    // gzip, format recognised from the first line.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(eve("192.0.2.6").as_bytes()).unwrap();
    let r = app.post("/api/v1/ingest", &sensor).header("content-encoding", "gzip").body(gz.finish().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    let events = events_eventually(&app, 4).await;
    assert_eq!(events.len(), 4);
    let s1 = events.iter().find(|e| e["destination"]["ip"] == "192.0.2.5").unwrap();
    assert_eq!(s1["shouwang"]["sensor"], "probe-s1");
    assert_eq!(s1["shouwang"]["source"], "http");
    assert_eq!(s1["shouwang"]["units"], serde_json::json!(["S1"]));

    // Scope: a unit operator of H1 sees only H1's event; a sensor may not read at all.
    let h1 = user(&app, "op-h1", Role::UnitOperator, Some("H1")).await;
    let (s, v) = get_json(&app, "/api/v1/events", &h1).await;
    assert_eq!(s, StatusCode::OK);
    let seen: Vec<&str> = v["events"].as_array().unwrap().iter().map(|e| e["destination"]["ip"].as_str().unwrap()).collect();
    assert_eq!(seen, ["192.0.2.200"]);
    let (s, v) = get_json(&app, "/api/v1/events?unit=S1", &h1).await;
    assert_eq!((s, v["events"].as_array().unwrap().len()), (StatusCode::OK, 0), "asking for another unit shows nothing");
    assert_eq!(get_json(&app, "/api/v1/events", &sensor).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get_json(&app, "/api/v1/dead-letters", &h1).await.0, StatusCode::FORBIDDEN);
    let (s, v) = get_json(&app, "/api/v1/events?ip=192.0.2.0/25&text=et%20test", &app.admin_token).await;
    assert_eq!((s, v["events"].as_array().unwrap().len()), (StatusCode::OK, 2));
    assert_eq!(get_json(&app, "/api/v1/events?ip=nope", &app.admin_token).await.0, StatusCode::BAD_REQUEST);

    // The truncated line is a dead letter with its reason, and counted.
    let (_, v) = get_json(&app, "/api/v1/dead-letters", &app.admin_token).await;
    let dead = v["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0]["reason"].as_str(), dead[0]["sensor"].as_str()), (Some("malformed"), Some("probe-s1")));
    let (_, v) = get_json(&app, "/api/v1/dead-letters/counts", &app.admin_token).await;
    assert_eq!(v["counts"][0]["open"], 1);
    let r = app.post("/api/v1/dead-letters/replay", &app.admin_token).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["still_rejected"], 1);
    let (_, audit) = get_json(&app, "/api/v1/audit", &app.admin_token).await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "dead_letters.replay"));

    let (s, v) = get_json(&app, "/api/v1/ingest/status", &app.admin_token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((v["counters"]["spooled"].as_u64(), v["counters"]["rejected"]["malformed"].as_u64()), (Some(5), Some(1)));
    let metrics = app.get("/metrics", None).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("shouwang_ingest_spooled_total 5"), "{metrics}");
    assert!(metrics.contains("shouwang_ingest_rejected_total{reason=\"malformed\"} 1"));
    assert!(metrics.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn bad_bodies_are_refused_with_reasons() {
    let (app, sensor) = setup().await;
    let post = |body: Vec<u8>, gzip: bool| {
        let r = app.post("/api/v1/ingest?format=eve", &sensor).body(body);
        if gzip { r.header("content-encoding", "gzip") } else { r }
    };
    let r = post(b"not gzip at all".to_vec(), true).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A gzip bomb: 5 MiB of zeros in a few KiB, over the 4 MiB body limit once inflated.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b'0'; 5 * 1024 * 1024]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 64 * 1024);
    let r = post(bomb, true).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // One record over the record limit refuses the request, naming the record.
    let mut body = format!("{}\n", eve("192.0.2.5")).into_bytes();
    body.extend(vec![b'x'; 1024 * 1024 + 1]);
    let r = post(body, false).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("record 2 is 1048577 bytes"));
    let r = app.post("/api/v1/ingest?format=shadowserver", &sensor).body("timestamp,ip\n").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A named report says why too (it used to be taken for a JSON field map's name).
    let r = app.post("/api/v1/ingest?format=shadowserver:scan_rdp", &sensor).body("timestamp,ip\n").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("ingested as files"));
    let r = app.post("/api/v1/ingest?format=xml", &sensor).body("<a/>").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app.post("/api/v1/ingest?format=json:nope", &sensor).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("no field map `nope` is configured (configured: waf_acme)"));
    let r = app.post("/api/v1/ingest?format=eve:x", &sensor).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Only sensors (and admins) send; an analyst's token is refused.
    let analyst = user(&app, "ana", Role::Analyst, None).await;
    let r = app.post("/api/v1/ingest", &analyst).body(eve("192.0.2.5")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.ingest.pipeline.counters.spooled.load(std::sync::atomic::Ordering::Relaxed), 0, "nothing refused was spooled");
}

#[tokio::test]
async fn senders_are_told_to_retry_when_limits_are_hit() {
    let (app, sensor) = setup().await;
    // 8 requests that sent headers but not their bodies hold every slot.
    let host = app.addr.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = tokio::net::TcpStream::connect(&host).await.unwrap();
        let head = format!("POST /api/v1/ingest HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {sensor}\r\ncontent-length: 100\r\n\r\n");
        c.write_all(head.as_bytes()).await.unwrap();
        held.push(c);
    }
    let mut status = StatusCode::OK;
    for _ in 0..500 {
        if app.ingest.slots.available_permits() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..100 {
        let r = app.post("/api/v1/ingest", &sensor).body(eve("192.0.2.5")).send().await.unwrap();
        status = r.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.headers()["retry-after"], "1");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    drop(held);

    // Past the spool's backlog limit: 503 with Retry-After, and nothing lost before it.
    let line = eve("192.0.2.5");
    let body: String = std::iter::repeat_n(format!("{line}\n"), (3 * 1024 * 1024) / (line.len() + 1)).collect();
    let mut accepted = 0;
    let mut refused = None;
    for _ in 0..10 {
        let r = app.post("/api/v1/ingest?format=eve", &sensor).body(body.clone()).send().await.unwrap();
        match r.status() {
            StatusCode::ACCEPTED => accepted += r.json::<Value>().await.unwrap()["accepted"].as_u64().unwrap(),
            StatusCode::TOO_MANY_REQUESTS => {}
            s => {
                refused = Some((s, r.headers().get("retry-after").cloned()));
                break;
            }
        }
    }
    let (s, retry) = refused.expect("the spool limit is reached");
    assert_eq!((s, retry.unwrap().to_str().unwrap()), (StatusCode::SERVICE_UNAVAILABLE, "5"));
    assert!(accepted * (line.len() as u64) >= SPOOL_LIMIT);
    let written = || app.ingest.pipeline.counters.written.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..1200 {
        if written() >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(written(), accepted, "every acknowledged record is stored");
}

#[tokio::test]
async fn a_sensor_with_its_own_json_shape_posts_through_a_field_map() {
    let (app, sensor) = setup().await;
    let body = concat!(
        r#"{"ts":"2026-11-21 09:30:00","client":"192.0.2.5","rule":"SQLi in id","vendor_score":97}"#,
        "\n",
        r#"{"ts":"21/11/2026","client":"192.0.2.6","rule":"bad time"}"#,
        "\n"
    );
    let r = app.post("/api/v1/ingest?format=json:waf_acme", &sensor).body(body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let events = events_eventually(&app, 1).await;
    let e = &events[0];
    assert_eq!((e["event"]["dataset"].as_str(), e["@timestamp"].as_str()), (Some("acme.waf"), Some("2026-11-21T01:30:00Z")));
    assert_eq!((e["rule"]["name"].as_str(), e["labels"]["vendor_score"].as_str()), (Some("SQLi in id"), Some("97")));
    assert_eq!(e["shouwang"]["units"], serde_json::json!(["S1"]), "attributed by the mapped source.ip");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let dead = loop {
        let (_, v) = get_json(&app, "/api/v1/dead-letters", &app.admin_token).await;
        if let Some(d) = v["dead_letters"].as_array().filter(|d| !d.is_empty()) {
            break d.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no dead letter for the bad time");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!((dead[0]["reason"].as_str(), dead[0]["format"].as_str()), (Some("bad_timestamp"), Some("json:waf_acme")));
    assert!(dead[0]["detail"].as_str().unwrap().contains("@timestamp"), "{}", dead[0]["detail"]);
}

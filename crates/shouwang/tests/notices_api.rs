//! Notices over HTTP: an alert from a real event becomes a notice, which is
//! issued, acknowledged, answered and closed by the people whose job each
//! step is, with ETag/If-Match concurrency and tenancy by unit.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shouwang_store::Role;

use crate::helpers::*;

async fn seeded() -> App {
    let app = spawn_app().await;
    app.seed_registry().await;
    app
}

/// Sends one Suricata alert from S1's network and waits for its alert.
async fn an_alert(app: &App) -> i64 {
    let sensor = user(app, "probe", Role::Sensor, None).await;
    let eve = r#"{"timestamp":"2026-11-21T15:04:05+0800","src_ip":"192.0.2.10","src_port":1,"dest_ip":"203.0.113.80","dest_port":80,"proto":"TCP","event_type":"alert","alert":{"signature_id":2024897,"signature":"ET MALWARE test beacon","category":"A Network Trojan was detected","severity":1}}"#;
    let r = app.post("/api/v1/ingest?format=eve", &sensor).body(eve).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for _ in 0..200 {
        let (_, v) = get_json(app, "/api/v1/alerts", &app.admin_token).await;
        if let Some(id) = v["alerts"][0]["id"].as_i64() {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no alert was recorded");
}

/// POSTs a move with `If-Match: "version"` (none when `None`).
async fn take(app: &App, token: &str, id: i64, version: Option<i64>, body: Value) -> (StatusCode, Option<String>, Value) {
    let mut r = app.post(&format!("/api/v1/notices/{id}/moves"), token).json(&body);
    if let Some(v) = version {
        r = r.header("If-Match", format!("\"{v}\""));
    }
    let r = r.send().await.unwrap();
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    (r.status(), etag, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_alert_becomes_a_notice_the_unit_answers_and_the_centre_closes() {
    let app = seeded().await;
    let alert = an_alert(&app).await;
    let analyst = user(&app, "ana", Role::Analyst, None).await;
    let s1 = user(&app, "s1-ops", Role::UnitOperator, Some("S1")).await;
    let h1 = user(&app, "h1-ops", Role::UnitOperator, Some("H1")).await;

    // A unit cannot draft; the analyst drafts from the alert.
    let body = json!({ "kind": "incident", "alerts": [alert] });
    let r = app.post("/api/v1/notices/from-alerts", &s1).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.post("/api/v1/notices/from-alerts", &analyst).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    let n = &made["notices"][0];
    assert_eq!((n["unit"].as_str(), n["state"].as_str(), n["category"].as_str()), (Some("S1"), Some("draft"), Some("MPTROJ")));
    assert_eq!(n["alerts"], json!([alert]));
    let id = n["id"].as_i64().unwrap();

    // Issue: If-Match is required, and must be current.
    let (s, _, v) = take(&app, &analyst, id, None, json!({ "action": "issue" })).await;
    assert_eq!(s, StatusCode::PRECONDITION_REQUIRED, "{v}");
    let (s, etag, v) = take(&app, &analyst, id, Some(1), json!({ "action": "issue" })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert!(v["number"].as_str().unwrap().ends_with("-0001"), "{v}");
    assert!(v["acknowledge_due"].is_string() && v["answer_due"].is_string());

    // The hospital cannot see the school's notice; the school can.
    let (s, _) = get_json(&app, &format!("/api/v1/notices/{id}"), &h1).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = get_json(&app, "/api/v1/notices", &h1).await;
    assert_eq!(v["notices"], json!([]));
    let r = app.get(&format!("/api/v1/notices/{id}"), Some(&s1)).send().await.unwrap();
    assert_eq!(r.headers()["etag"], "\"2\"");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["allowed"], json!(["acknowledge"]), "the unit's own next steps only");

    // A stale version is 412; the right one goes through.
    let (s, _, v) = take(&app, &s1, id, Some(1), json!({ "action": "acknowledge" })).await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "{v}");
    assert_eq!(v["error"]["code"], "stale");
    let (s, _, _) = take(&app, &s1, id, Some(2), json!({ "action": "acknowledge" })).await;
    assert_eq!(s, StatusCode::OK);
    // A unit cannot close; the centre cannot answer for the unit.
    let (s, _, _) = take(&app, &s1, id, Some(3), json!({ "action": "close" })).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let answer = json!({ "action": "answer", "answer": {
        "cause": "<script>alert('x')</script> 弱口令", "measures": "改口令", "result": "已修复", "outcome": "fixed" } });
    let (s, _, _) = take(&app, &analyst, id, Some(3), answer.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, v) = take(&app, &s1, id, Some(3), answer).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["answer_paused"], true);
    let (_, v) = get_json(&app, &format!("/api/v1/notices/{id}"), &s1).await;
    assert_eq!(v["answers"][0]["cause"], "<script>alert('x')</script> 弱口令", "stored as written, as JSON text");
    // Not allowed from here: 409 naming what is.
    let (s, _, v) = take(&app, &analyst, id, Some(4), json!({ "action": "issue" })).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["error"]["message"], "cannot issue a level IV notice that is answered; allowed: return, close, cancel");
    let (s, _, v) = take(&app, &analyst, id, Some(4), json!({ "action": "close", "reason": "复测通过" })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["state"].as_str(), v["outcome"].as_str()), (Some("closed"), Some("fixed")));
    let (_, v) = get_json(&app, &format!("/api/v1/notices/{id}"), &analyst).await;
    let steps: Vec<&str> = v["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(steps, ["create", "issue", "acknowledge", "answer", "close"]);

    // Filters.
    let (_, v) = get_json(&app, "/api/v1/notices?state=closed&level=IV&kind=incident", &s1).await;
    assert_eq!(v["notices"].as_array().unwrap().len(), 1);
    let (s, v) = get_json(&app, "/api/v1/notices?state=done", &s1).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("unknown state `done`"), "{v}");
}

#[tokio::test]
async fn bad_notice_requests_are_refused_with_the_reason() {
    let app = seeded().await;
    let analyst = user(&app, "ana", Role::Analyst, None).await;
    let post = |path: &str, body: String| app.post(path, &analyst).header("content-type", "application/json").body(body).send();
    let r = post("/api/v1/notices", "{not json".into()).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post("/api/v1/notices", json!({ "kind": "incident", "unit": "S1", "title": "t", "level": "IV", "colour": "red" }).to_string())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "unknown fields are refused");
    let r =
        post("/api/v1/notices", json!({ "kind": "incident", "unit": "S1", "title": "t", "level": "IV", "category": "ZZZZ" }).to_string())
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(
        "/api/v1/notices",
        format!(r#"{{"kind":"incident","unit":"S1","title":"t","level":"IV","summary":"{}"}}"#, "x".repeat(3 << 20)),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = post("/api/v1/notices/from-alerts", json!({ "kind": "incident", "alerts": [12345] }).to_string()).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "an alert the caller cannot see");
    let (s, v) = get_json(&app, "/api/v1/notices?state=issued&offset=9223372036854775807&limit=99999", &analyst).await;
    assert_eq!((s, &v["notices"]), (StatusCode::OK, &json!([])), "extreme pages are clamped, not overflowed");
    let (s, _) = get_json(&app, "/api/v1/notices?level=V", &analyst).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = get_json(&app, "/api/v1/notices/abc", &analyst).await;
    assert_eq!((s, v["error"]["message"].as_str()), (StatusCode::BAD_REQUEST, Some("`abc` is not a notice id (a number)")));
    let r = post("/api/v1/notices", json!({ "kind": "incident", "unit": "S1", "title": "t", "level": "IV" }).to_string()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/api/v1/notices/{id}/moves"), &analyst)
        .header("If-Match", "yesterday")
        .json(&json!({ "action": "issue" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, _, v) = take(&app, &analyst, id, Some(1), json!({ "action": "explode" })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    // The calendar: anyone with notices reads it; only the admin edits it.
    let (s, v) = get_json(&app, "/api/v1/calendar", &analyst).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["days"].as_array().unwrap().iter().any(|d| d["date"] == "2026-10-10" && d["kind"] == "workday"));
    let day = json!({ "kind": "holiday", "name": "临时放假", "reason": "市政府通知" });
    let put = |token: &str| app.client.put(format!("{}/api/v1/calendar/2026-11-27", app.addr)).bearer_auth(token).json(&day).send();
    assert_eq!(put(&analyst).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(put(&app.admin_token).await.unwrap().status(), StatusCode::NO_CONTENT);
    let (_, v) = get_json(&app, "/api/v1/calendar", &analyst).await;
    assert!(v["days"].as_array().unwrap().iter().any(|d| d["date"] == "2026-11-27" && d["kind"] == "holiday"));
}

#[tokio::test]
async fn bad_calendar_and_policy_edits_say_what_is_wrong() {
    let app = seeded().await;
    let put = |path: &str, body: Value| app.client.put(format!("{}{path}", app.addr)).bearer_auth(&app.admin_token).json(&body).send();
    let r = put("/api/v1/calendar/2026-13-01", json!({ "kind": "holiday", "reason": "x" })).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("`2026-13-01` is not a date"));
    let r = put("/api/v1/calendar/2026-12-31", json!({ "kind": "vacation", "reason": "x" })).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "an unknown day kind");
    let r = put("/api/v1/calendar/2026-12-31", json!({ "kind": "holiday", "name": "a\nb", "reason": "x" })).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "a name is one line");
    let r = put("/api/v1/calendar/2026-12-31", json!({ "kind": "holiday", "reason": " " })).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "a change needs a reason");
    let bad = "level,acknowledge,answer\nI,30m,4h\nII,1h,24h\nIII,4 hours,3wd\nIV,1wd,5wd\n";
    let r = put("/api/v1/deadline-policy", json!({ "policy": bad, "reason": "x" })).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let msg = r.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("line 4") && msg.contains("`4 hours` is not a span"), "{msg}");
    // Nothing changed: the shipped policy is still in force.
    let (_, v) = get_json(&app, "/api/v1/deadline-policy", &app.admin_token).await;
    assert_eq!(v["levels"][2]["acknowledge"], "4h");
}

#[tokio::test]
async fn a_level_iii_incident_is_reported_upward_and_printed_safely() {
    let app = seeded().await;
    let analyst = user(&app, "ana", Role::Analyst, None).await;
    let s1 = user(&app, "s1-ops", Role::UnitOperator, Some("S1")).await;
    let r = app
        .post("/api/v1/notices", &analyst)
        .json(&json!({ "kind": "incident", "unit": "S1", "title": "勒索软件", "level": "III" }))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (s, _, _) = take(&app, &analyst, id, Some(1), json!({ "action": "issue" })).await;
    assert_eq!(s, StatusCode::OK);
    let (s, case) = get_json(&app, &format!("/api/v1/notices/{id}/report"), &s1).await;
    assert_eq!((s, case["operator_class"].as_str()), (StatusCode::OK, Some("other")));

    let entry = |body: Value| app.post(&format!("/api/v1/notices/{id}/report/entries"), &s1).json(&body).send();
    let r = entry(json!({ "kind": "first", "items": { "operator_facility": "S1 门户" } })).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("item 2"));
    let r = entry(json!({ "kind": "first", "items": { "operator_facility": "S1 <img src=x onerror=alert(1)>", "event": "加密勒索，赎金 2 BTC", "bogus": 1 } }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "unknown items are refused");
    let r = entry(
        json!({ "kind": "first", "items": { "operator_facility": "S1 <img src=x onerror=alert(1)>", "event": "加密勒索，赎金 2 BTC" } }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let case: Value = r.json().await.unwrap();
    assert_eq!(case["reports"][0]["kind"], "first");
    assert_eq!(case["escalate_due"], Value::Null, "level III is not escalated nationally");

    let r = app.get(&format!("/api/v1/notices/{id}/report/entries/1/print"), Some(&s1)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
    let html = r.text().await.unwrap();
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img"), "{html}");
    assert!(html.contains("二、事件发生时间、地点、类型、级别、影响及已采取的措施"));
    let (s, v) = get_json(&app, "/api/v1/reports", &analyst).await;
    assert_eq!((s, v["cases"].as_array().unwrap().len()), (StatusCode::OK, 1));
    let (s, _) = get_json(&app, "/api/v1/reports", &s1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

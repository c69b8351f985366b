//! `Idempotency-Key` on POST: a retried request gets the first response
//! back instead of a second effect; a key is the caller's own, reused only
//! for the same request, and refused while its first request runs.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shouwang_store::{Claim, Principal, Role};

use crate::helpers::*;

fn draft(title: &str) -> Value {
    json!({ "kind": "rectification", "unit": "S1", "title": title, "level": "IV" })
}

async fn post(app: &App, token: &str, path: &str, key: Option<&str>, body: &Value) -> (StatusCode, Option<String>, Value) {
    let mut r = app.post(path, token).json(body);
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    let r = r.send().await.unwrap();
    let replayed = r.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap().to_string());
    (r.status(), replayed, r.json().await.unwrap_or(Value::Null))
}

async fn count(app: &App, token: &str) -> usize {
    let (_, v) = get_json(app, "/api/v1/notices", token).await;
    v["notices"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_retried_post_gets_its_first_answer_not_a_second_effect() {
    let app = spawn_app().await;
    app.seed_registry().await;
    let ana = user(&app, "ana", Role::Analyst, None).await;
    let bob = user(&app, "bob", Role::Analyst, None).await;

    let (status, replayed, first) = post(&app, &ana, "/api/v1/notices", Some("draft-7f3a"), &draft("弱口令")).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, None));
    let (status, replayed, again) = post(&app, &ana, "/api/v1/notices", Some("draft-7f3a"), &draft("弱口令")).await;
    assert_eq!((status, replayed.as_deref()), (StatusCode::CREATED, Some("true")));
    assert_eq!(again, first, "the replay is the first response");
    assert_eq!(count(&app, &ana).await, 1, "one notice, not two");

    // The same key for another request is refused, and changes nothing.
    let (status, _, e) = post(&app, &ana, "/api/v1/notices", Some("draft-7f3a"), &draft("另一个")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["message"].as_str().unwrap().contains("different request"), "{e}");
    // Keys are per caller: bob's identical key and body make bob's notice.
    let (status, replayed, _) = post(&app, &bob, "/api/v1/notices", Some("draft-7f3a"), &draft("弱口令")).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, None));
    // Without a key, a repeat is a new request.
    assert_eq!(post(&app, &ana, "/api/v1/notices", None, &draft("弱口令")).await.0, StatusCode::CREATED);
    assert_eq!(count(&app, &ana).await, 3);

    // A move replayed after its version moved on gets its first answer, not 412.
    let id = first["id"].as_i64().unwrap();
    let issue = |key: &'static str| {
        app.post(&format!("/api/v1/notices/{id}/moves"), &ana)
            .header("If-Match", "\"1\"")
            .header("Idempotency-Key", key)
            .json(&json!({ "action": "issue" }))
            .send()
    };
    let r1 = issue("issue-1").await.unwrap();
    assert_eq!(r1.status(), StatusCode::OK);
    let b1: Value = r1.json().await.unwrap();
    let r2 = issue("issue-1").await.unwrap();
    assert_eq!((r2.status(), r2.headers()["idempotent-replayed"].to_str().unwrap()), (StatusCode::OK, "true"));
    assert_eq!(r2.json::<Value>().await.unwrap(), b1);
    assert_eq!(issue("issue-2").await.unwrap().status(), StatusCode::PRECONDITION_FAILED, "a new key is a new move: stale");
    let (_, n) = get_json(&app, &format!("/api/v1/notices/{id}"), &ana).await;
    assert_eq!((n["version"].as_i64(), n["timeline"].as_array().unwrap().len()), (Some(2), 2));
    // A refusal is an answer too: replayed, not re-run.
    let (status, _, _) = post(&app, &ana, &format!("/api/v1/notices/{id}/moves"), Some("bad-1"), &json!({ "action": "close" })).await;
    let (again, replayed, _) = post(&app, &ana, &format!("/api/v1/notices/{id}/moves"), Some("bad-1"), &json!({ "action": "close" })).await;
    assert_eq!((again, replayed.as_deref()), (status, Some("true")));
}

#[tokio::test]
async fn bad_keys_and_a_key_still_in_use_are_refused() {
    let app = spawn_app().await;
    app.seed_registry().await;
    let ana = user(&app, "ana", Role::Analyst, None).await;
    // The refusals are counted, so a key the client never sent cannot pass unnoticed.
    let mut sent = 0;
    for key in ["", &"k".repeat(256), "两个字", "a b", "tab\tbed"] {
        let r = app.post("/api/v1/notices", &ana).header("Idempotency-Key", key).json(&draft("x")).send().await;
        let Ok(r) = r else { continue };
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{key:?}");
        sent += 1;
    }
    assert_eq!(sent, 5, "each bad key reached the server (UTF-8 bytes too) and was refused");
    // A first request still running (claimed, not finished): a retry waits its turn.
    let body = serde_json::to_vec(&draft("x")).unwrap();
    let p = Principal { username: "ana".into(), role: Role::Analyst, unit: None };
    let claim = app.store.claim_request(&p, "busy", "POST", "/api/v1/notices", &body, jiff::Timestamp::now()).await.unwrap();
    assert_eq!(claim, Claim::New);
    let r = app
        .post("/api/v1/notices", &ana)
        .header("Idempotency-Key", "busy")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // No credentials: the handler's 401, nothing claimed.
    let r =
        app.client.post(format!("{}/api/v1/notices", app.addr)).header("Idempotency-Key", "anon").json(&draft("x")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, &ana).await, 0);
}

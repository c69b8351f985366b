use reqwest::StatusCode;
use serde_json::{Value, json};
use shouwang_store::{NewUser, Principal, Role};

use crate::helpers::*;

async fn load(app: &App) {
    let dir = app.dir.path().join("seed");
    write_files(&dir, &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", ASSETS)]);
    let b = shouwang_registry::io::read_path(&dir, Default::default()).unwrap();
    assert!(app.store.import(&Principal::local("t"), &b, "seed", false).await.unwrap().applied);
}

async fn body(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn health_needs_no_token_everything_else_does() {
    let app = spawn_app().await;
    let (s, v) = body(app.get("/api/v1/health", None).send().await.unwrap()).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let r = app.get("/api/v1/units", None).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (s, v) = body(r).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let (s, _) =
        body(app.get("/api/v1/units", Some("sw_0000000000000000000000000000000000000000000000000000000000000000")).send().await.unwrap())
            .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = body(app.get("/api/v1/me", Some(&app.admin_token)).send().await.unwrap()).await;
    assert_eq!((s, v["role"].as_str()), (StatusCode::OK, Some("centre_admin")));
}

#[tokio::test]
async fn attribute_single_batch_and_bad_requests() {
    let app = spawn_app().await;
    load(&app).await;
    app.store.registry_version().await.unwrap();
    let t = &app.admin_token;
    // The import above happened outside the server: the refresh loop picks it up.
    let mut v = Value::Null;
    for _ in 0..50 {
        v = body(app.get("/api/v1/attribute?q=192.0.2.130", Some(t)).send().await.unwrap()).await.1;
        if v["status"] == "matched" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(v["unit"]["code"], "H1", "{v}");
    assert_eq!(v["unit"]["name_en"], "Qingchuan People's Hospital");
    let (s, v) =
        body(app.post("/api/v1/attribute", t).json(&json!({"queries": ["192.0.2.1", "x.school.example", "nope"]})).send().await.unwrap())
            .await;
    assert_eq!(s, StatusCode::OK);
    let st: Vec<_> = v["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap().to_string()).collect();
    assert_eq!(st, ["matched", "matched", "unmatched"]);
    // Malformed JSON, unknown fields, missing parameters: 400 with a JSON body.
    let (s, v) = body(app.post("/api/v1/attribute", t).body("{\"queries\": [").send().await.unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
    let (s, _) = body(app.post("/api/v1/attribute", t).json(&json!({"queries": [], "colour": 1})).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = body(app.get("/api/v1/attribute", Some(t)).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = body(app.get("/api/v1/attribute?q=1.2.3.4&at=yesterday", Some(t)).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Too many queries: 422; too large: 413.
    let many: Vec<String> = (0..10_001).map(|i| format!("10.0.{}.{}", i / 256 % 256, i % 256)).collect();
    let (s, _) = body(app.post("/api/v1/attribute", t).json(&json!({ "queries": many })).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let huge = format!("{{\"queries\": [\"{}\"]}}", "a".repeat(3 * 1024 * 1024));
    let (s, v) = body(app.post("/api/v1/attribute", t).body(huge).send().await.unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
    // Hostile strings come back as data, not errors.
    let (s, v) = body(
        app.post("/api/v1/attribute", t)
            .json(&json!({"queries": ["<script>", "\u{0000}", "a\u{202e}b.example", "%00"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["results"].as_array().unwrap().iter().all(|r| r["status"] == "invalid" || r["status"] == "unmatched"), "{v}");
}

#[tokio::test]
async fn import_over_http_is_all_or_nothing_and_refreshes_the_index() {
    let app = spawn_app().await;
    load(&app).await;
    let t = &app.admin_token;
    let bad = "unit,kind,value\nS1,cidr,198.51.100.0/24\nS1,cidr,10.0.0.1/8\nNOPE,cidr,203.0.113.0/24\n";
    let r =
        app.post("/api/v1/registry/import?reason=api&records=assets", t).header("content-type", "text/csv").body(bad).send().await.unwrap();
    let (s, v) = body(r).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["details"][0], "assets.csv:3:value: `10.0.0.1/8` has host bits set; the network is `10.0.0.0/8`");
    let good = "unit,kind,value\nS1,cidr,198.51.100.0/24\n";
    let r = app
        .post("/api/v1/registry/import?reason=api&records=assets&dry_run=true", t)
        .header("content-type", "text/csv")
        .body(good)
        .send()
        .await
        .unwrap();
    let (s, v) = body(r).await;
    assert_eq!((s, v["applied"].as_bool(), v["dry_run"].as_bool()), (StatusCode::OK, Some(false), Some(true)));
    assert_eq!(v["summary"]["claims_ended"].as_array().unwrap().len(), 2, "S1's other assets would end: {v}");
    let r = app
        .post("/api/v1/registry/import?reason=api&records=assets", t)
        .header("content-type", "text/csv")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(body(r).await.1["applied"], true);
    // The index was swapped before the response: no waiting.
    let v = body(app.get("/api/v1/attribute?q=198.51.100.7", Some(t)).send().await.unwrap()).await.1;
    assert_eq!(v["unit"]["code"], "S1");
    // JSON documents too, including the deeply nested attack.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (s, v) =
        body(app.post("/api/v1/registry/import?reason=x", t).header("content-type", "application/json").body(deep).send().await.unwrap())
            .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["error"]["details"][0].as_str().unwrap().contains("recursion limit exceeded"), "{v}");
    let export = body(app.get("/api/v1/registry/export", Some(t)).send().await.unwrap()).await.1;
    let r = app.post("/api/v1/registry/import?reason=same", t).json(&export).send().await.unwrap();
    let (s, v) = body(r).await;
    assert_eq!((s, v["applied"].as_bool()), (StatusCode::OK, Some(false)), "re-importing an export changes nothing: {v}");
    // Bytes that are not UTF-8, as JSON and as CSV: 400/422 naming the problem.
    let r = app.post("/api/v1/attribute", t).body(b"{\"queries\": [\"\xff\xfe\"]}".to_vec()).send().await.unwrap();
    let (s, v) = body(r).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let gbk = b"unit,kind,value,note\nS1,cidr,198.51.100.0/24,\xc7\xe0\xb4\xa8\n".to_vec();
    let r =
        app.post("/api/v1/registry/import?reason=x&records=assets", t).header("content-type", "text/csv").body(gbk).send().await.unwrap();
    let (s, v) = body(r).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["error"]["details"][0].as_str().unwrap().starts_with("assets.csv:2:note: is not valid UTF-8"), "{v}");
    let (s, _) =
        body(app.post("/api/v1/registry/import?reason=x", t).header("content-type", "text/plain").body("x").send().await.unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let big = "a".repeat(5 * 1024 * 1024);
    let (s, _) = body(
        app.post("/api/v1/registry/import?reason=x&records=assets", t).header("content-type", "text/csv").body(big).send().await.unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_unit_token_sees_only_its_unit() {
    let app = spawn_app().await;
    load(&app).await;
    let local = Principal::local("t");
    let unit = shouwang_registry::UnitCode::parse("S1").unwrap();
    let nu = NewUser { username: "s1".into(), display_name: "s1".into(), role: Role::UnitOperator, unit: Some(unit), password: None };
    app.store.create_user(&local, nu).await.unwrap();
    let tok = app.store.create_token(&local, "s1", "t").await.unwrap();
    let (s, v) = body(app.get("/api/v1/units", Some(&tok)).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["units"].as_array().unwrap().len(), 1);
    assert_eq!(body(app.get("/api/v1/units/H1", Some(&tok)).send().await.unwrap()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(body(app.get("/api/v1/units/S1/history", Some(&tok)).send().await.unwrap()).await.0, StatusCode::OK);
    assert_eq!(body(app.get("/api/v1/audit", Some(&tok)).send().await.unwrap()).await.0, StatusCode::FORBIDDEN);
    let r = app
        .post("/api/v1/registry/import?reason=x&records=assets", &tok)
        .header("content-type", "text/csv")
        .body("unit,kind,value\n")
        .send()
        .await
        .unwrap();
    assert_eq!(body(r).await.0, StatusCode::FORBIDDEN);
    let v = body(app.get("/api/v1/attribute?q=192.0.2.200", Some(&tok)).send().await.unwrap()).await.1;
    assert_eq!(v["status"], "unmatched", "another unit's address is not disclosed: {v}");
}

#[tokio::test]
async fn openapi_documents_exactly_the_routes_and_metrics_count_them() {
    let app = spawn_app().await;
    let spec = body(app.get("/api/v1/openapi.json", None).send().await.unwrap()).await.1;
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let url = format!(
                "{}{}",
                app.addr,
                path.replace("{code}", "S1")
                    .replace("{id}", "1")
                    .replace("{date}", "2026-01-01")
                    .replace("{name}", "issued")
                    .replace("{lang}", "zh")
            );
            let req = match method.as_str() {
                "get" => app.client.get(&url),
                "post" => app.client.post(&url),
                "put" => app.client.put(&url),
                "delete" => app.client.delete(&url),
                m => panic!("unexpected method {m}"),
            };
            let r = req.bearer_auth(&app.admin_token).send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
                || v["error"]["message"].as_str().is_some_and(|m| m.starts_with("no such endpoint"));
            assert!(!unrouted, "{method} {path} is documented but not routed ({status})");
        }
    }
    let (s, v) = body(app.get("/api/v1/nope", None).send().await.unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let text = app.get("/metrics", None).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("shouwang_http_requests_total{route=\"/api/v1/health\",method=\"GET\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("shouwang_attribution_index_entries"), "{text}");
    assert!(text.contains("route=\"unmatched\""), "{text}");
}

//! Delivery end to end: a notice issued through the API reaches a real SMTP
//! server (aiosmtpd) and a real HTTP receiver (webhook and the three group
//! robots), which check the signatures themselves in Python; failures are
//! retried to a limit and shown with their reason; nothing arrives twice.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shouwang_deliver::{SmtpConfig, TlsMode};
use shouwang_server::Dispatch;
use shouwang_store::{Principal, Retry, Role};

use crate::helpers::*;

const CONTACTS: &str =
    "unit,role,name,email\nS1,security,王工,wang@s1.example\nS1,technical,李工,li@s1.example\nH1,security,赵工,zhao@h1.example\n";

/// The test region with contacts for S1 and H1.
async fn with_contacts(app: &App) {
    let dir = app.dir.path().join("seed-contacts");
    write_files(&dir, &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", ASSETS), ("contacts.csv", CONTACTS)]);
    let b = shouwang_registry::io::read_path(&dir, Default::default()).unwrap();
    assert!(app.store.import(&Principal::local("t"), &b, "seed", false).await.unwrap().applied);
}

fn quick_retries(max_attempts: i64) -> Dispatch {
    Dispatch {
        retry: Retry {
            max_attempts,
            first: Duration::from_millis(50),
            longest: Duration::from_millis(200),
            lease: Duration::from_secs(30),
        },
        concurrency: 8,
        poll: Duration::from_millis(50),
    }
}

fn smtp_at(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        from: "通报中心 <cert@centre.example>".into(),
        username: None,
        password: None,
        ca_file: None,
    }
}

/// Drafts a level IV rectification notice for `unit` and issues it: its id.
async fn issue(app: &App, analyst: &str, unit: &str, title: &str, tlp: &str) -> i64 {
    let r = app
        .post("/api/v1/notices", analyst)
        .json(&json!({ "kind": "rectification", "unit": unit, "title": title, "level": "IV", "tlp": tlp,
                        "summary": "门户 /login 参数可注入", "assets": ["ip:192.0.2.10"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/api/v1/notices/{id}/moves"), analyst)
        .header("if-match", "\"1\"")
        .json(&json!({ "action": "issue" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    id
}

async fn channel(app: &App, body: Value) -> Value {
    let r = app.post("/api/v1/channels", &app.admin_token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{body}");
    r.json().await.unwrap()
}

fn count(got: &[Value], path: &str) -> usize {
    got.iter().filter(|e| e["path"] == path).count()
}

#[tokio::test]
async fn an_issued_notice_reaches_mail_webhook_and_robots_once_each_and_failures_stop_at_the_limit() {
    let smtp = Receiver::start("smtp", &[]);
    let http = Receiver::start("http", &["s3cret"]);
    let app = spawn_app().await;
    with_contacts(&app).await;
    let base = format!("http://127.0.0.1:{}", http.port);
    channel(
        &app,
        json!({ "name": "S1 工单系统", "kind": "webhook", "target": format!("{base}/webhook"), "secret": "s3cret", "unit": "S1" }),
    )
    .await;
    channel(&app, json!({ "name": "中心企业微信群", "kind": "wecom", "target": format!("{base}/wecom?key=k1") })).await;
    channel(
        &app,
        json!({ "name": "中心钉钉群", "kind": "dingtalk", "target": format!("{base}/dingtalk?access_token=t1"), "secret": "s3cret" }),
    )
    .await;
    channel(
        &app,
        json!({ "name": "Centre Feishu", "kind": "feishu", "target": format!("{base}/feishu"), "secret": "s3cret", "lang": "en",
                          "events": ["issued"] }),
    )
    .await;
    channel(&app, json!({ "name": "broken", "kind": "webhook", "target": format!("{base}/fail"), "secret": "x", "unit": "S1" })).await;
    // A channel for another unit hears nothing of S1's notice.
    channel(
        &app,
        json!({ "name": "H1 hook", "kind": "webhook", "target": format!("{base}/webhook?h1"), "secret": "s3cret", "unit": "H1" }),
    )
    .await;

    // Secrets go in and never come out.
    let (s, v) = get_json(&app, "/api/v1/channels", &app.admin_token).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!v.to_string().contains("s3cret"), "{v}");
    assert_eq!(v["channels"][0]["has_secret"], true);

    // The admin's English text for rectification notices.
    let r = app
        .client
        .put(format!("{}/api/v1/templates/issued.rectification/en", app.addr))
        .bearer_auth(&app.admin_token)
        .json(&json!({ "subject": "RECT {{ notice.number }}", "body": "Unit {{ notice.unit_name }}: see {{ link }}", "reason": "wording" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let analyst = user(&app, "analyst", Role::Analyst, None).await;
    let operator = user(&app, "s1op", Role::UnitOperator, Some("S1")).await;
    app.start_delivery(Some(smtp_at(smtp.port)), quick_retries(3));
    let title = "门户网站 <script>alert(1)</script> SQL 注入";
    let id = issue(&app, &analyst, "S1", title, "TLP:AMBER").await;

    let mails = smtp.wait_for("two e-mails", |g| g.len() >= 2).await;
    let got = http.wait_for("webhook, robots and three failed tries", |g| g.len() >= 7).await;

    // E-mail: one per contact, plain text, the title as written (not rendered).
    let mut to: Vec<String> = mails.iter().map(|m| m["to"][0].as_str().unwrap().to_string()).collect();
    to.sort();
    assert_eq!(to, ["li@s1.example", "wang@s1.example"]);
    for m in &mails {
        assert_eq!(
            m["subject"],
            format!("【整改通知】{}-0001 {title}", jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8))).year())
        );
        assert_eq!(m["content_type"], "text/plain");
        assert!(m["body"].as_str().unwrap().contains("<script>alert(1)</script>"), "{m}");
        assert!(m["body"].as_str().unwrap().contains("192.0.2.10"));
    }
    assert_ne!(mails[0]["message_id"], mails[1]["message_id"]);

    // The unit's webhook: signed, with the idempotency key, in full (AMBER is fine for a system).
    let hooks: Vec<&Value> = got.iter().filter(|e| e["path"] == "/webhook").collect();
    assert_eq!(hooks.len(), 1, "only S1's webhook: {got:#?}");
    assert_eq!(hooks[0]["signature_ok"], true);
    assert_eq!(hooks[0]["headers"]["idempotency-key"], hooks[0]["body"]["id"]);
    assert_eq!(hooks[0]["body"]["event"], "issued");
    assert_eq!(hooks[0]["body"]["notice_id"], id);
    assert!(hooks[0]["body"]["text"].as_str().unwrap().contains("SQL 注入"));

    // Robots: each platform's signature checks out; TLP:AMBER keeps the
    // details out of group chats.
    let robot = |path: &str| got.iter().find(|e| e["path"] == path).unwrap_or_else(|| panic!("nothing at {path}: {got:#?}"));
    let wecom = robot("/wecom")["body"]["text"]["content"].as_str().unwrap().to_string();
    let ding = robot("/dingtalk");
    assert_eq!(ding["signature_ok"], true, "{ding}");
    let feishu = robot("/feishu");
    assert_eq!(feishu["signature_ok"], true, "{feishu}");
    let feishu_text = feishu["body"]["content"]["text"].as_str().unwrap();
    assert!(feishu_text.starts_with("RECT "), "the admin's English rectification template: {feishu_text}");
    for text in [wecom.as_str(), ding["body"]["text"]["content"].as_str().unwrap(), feishu_text] {
        assert!(!text.contains("SQL") && !text.contains("192.0.2.10"), "redacted: {text}");
    }
    assert!(wecom.contains("TLP:AMBER"), "{wecom}");

    // The broken receiver: three tries, then failed with the reason, and no more.
    let failed = eventually("the failed message", || async {
        let (_, v) = get_json(&app, "/api/v1/outbox?state=failed", &analyst).await;
        v["messages"].as_array().filter(|m| !m.is_empty()).cloned()
    })
    .await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 3);
    assert!(failed[0]["last_error"].as_str().unwrap().contains("gave up after 3 attempts; last: HTTP 500"), "{}", failed[0]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = http.received();
    assert_eq!(count(&got, "/fail"), 3);
    assert_eq!((count(&got, "/webhook"), count(&got, "/wecom"), count(&got, "/dingtalk"), count(&got, "/feishu")), (1, 1, 1, 1));
    assert_eq!(smtp.received().len(), 2, "nothing delivered twice");
    let (_, v) = get_json(&app, "/api/v1/outbox", &analyst).await;
    assert_eq!(v["counts"], json!({ "failed": 1, "sent": 6 }));

    // Retrying needs a reason; only a failed message is retried.
    let fid = failed[0]["id"].as_i64().unwrap();
    let r = app.post(&format!("/api/v1/outbox/{fid}/retry"), &analyst).json(&json!({ "reason": " " })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let sent = v["messages"].as_array().unwrap().iter().find(|m| m["state"] == "sent").unwrap()["id"].as_i64().unwrap();
    let r = app.post(&format!("/api/v1/outbox/{sent}/retry"), &analyst).json(&json!({ "reason": "again" })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // A unit cannot read the outbox.
    let (s, _) = get_json(&app, "/api/v1/outbox", &operator).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The unit's operator has it in the inbox; marking it read; another's is not found.
    let (_, v) = get_json(&app, "/api/v1/inbox?unread=true", &operator).await;
    let items = v["notifications"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["event"], "issued");
    let nid = items[0]["id"].as_i64().unwrap();
    let r = app.post(&format!("/api/v1/inbox/{nid}/read"), &analyst).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.post(&format!("/api/v1/inbox/{nid}/read"), &operator).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, v) = get_json(&app, "/api/v1/inbox?unread=true", &operator).await;
    assert_eq!(v["notifications"], json!([]));
}

#[tokio::test]
async fn an_smtp_server_that_rejects_or_hangs_leaves_the_message_failed_with_the_reason() {
    for (mode, args, attempts, why) in [
        ("smtp", &["--reject"][..], 1, "the SMTP server refused it"),
        ("hang", &[][..], 2, "gave up after 2 attempts; last: no answer within 3 s"),
    ] {
        let server = Receiver::start(mode, args);
        let app = spawn_app().await;
        with_contacts(&app).await;
        let analyst = user(&app, "analyst", Role::Analyst, None).await;
        app.start_delivery(Some(smtp_at(server.port)), quick_retries(2));
        issue(&app, &analyst, "H1", "弱口令", "TLP:GREEN").await;
        let failed = eventually("the failed message", || async {
            let (_, v) = get_json(&app, "/api/v1/outbox?state=failed", &analyst).await;
            v["messages"].as_array().filter(|m| !m.is_empty()).cloned()
        })
        .await;
        assert_eq!(failed.len(), 1, "{mode}");
        assert_eq!(failed[0]["target"], "zhao@h1.example");
        assert_eq!(failed[0]["attempts"], attempts, "{mode}: {}", failed[0]);
        assert!(failed[0]["last_error"].as_str().unwrap().contains(why), "{mode}: {}", failed[0]);
    }
}

#[tokio::test]
async fn mail_goes_over_starttls_to_a_server_with_a_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = crate::syslog_tls::make_cert(certs.path());
    let smtp = Receiver::start("smtp", &["--starttls", cert.to_str().unwrap(), key.to_str().unwrap()]);
    let app = spawn_app().await;
    with_contacts(&app).await;
    let analyst = user(&app, "analyst", Role::Analyst, None).await;
    let config = SmtpConfig { host: "localhost".into(), tls: TlsMode::Starttls, ca_file: Some(ca), ..smtp_at(smtp.port) };
    app.start_delivery(Some(config), quick_retries(2));
    issue(&app, &analyst, "H1", "弱口令", "TLP:GREEN").await;
    let mails = smtp.wait_for("the e-mail", |g| !g.is_empty()).await;
    assert_eq!(mails[0]["tls"], true);
    assert_eq!(mails[0]["to"][0], "zhao@h1.example");
}

#[tokio::test]
async fn bad_channel_and_template_edits_say_what_is_wrong() {
    let app = spawn_app().await;
    app.seed_registry().await;
    let analyst = user(&app, "analyst", Role::Analyst, None).await;
    let bad = [
        (json!({ "name": "x", "kind": "webhook", "target": "http://127.0.0.1:1/h" }), "needs a secret"),
        (json!({ "name": "x", "kind": "wecom", "target": "ftp://example.org/" }), "not an http(s) URL"),
        (json!({ "name": "x", "kind": "email", "target": "not an address" }), "not an e-mail address"),
        (json!({ "name": "x", "kind": "email", "target": "a@b.example", "unit": "NOPE" }), "not in the registry"),
        (json!({ "name": "x", "kind": "pager", "target": "a@b.example" }), "unknown variant"),
        (json!({ "name": "x\ny", "kind": "email", "target": "a@b.example" }), "one-line name"),
    ];
    for (body, why) in bad {
        let r = app.post("/api/v1/channels", &app.admin_token).json(&body).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(text.contains(why), "{body}: {text}");
    }
    let r = app
        .post("/api/v1/channels", &analyst)
        .json(&json!({ "name": "x", "kind": "email", "target": "a@b.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "channels are the admin's");
    channel(&app, json!({ "name": "dup", "kind": "email", "target": "a@b.example" })).await;
    let r = app
        .post("/api/v1/channels", &app.admin_token)
        .json(&json!({ "name": "dup", "kind": "email", "target": "c@d.example" }))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("exists"));

    let put = |path: &str, body: Value| app.client.put(format!("{}{path}", app.addr)).bearer_auth(&app.admin_token).json(&body).send();
    for (path, body, why) in [
        ("/api/v1/templates/issued/zh", json!({ "subject": "ok", "body": "a\n{% if %}", "reason": "r" }), "line 2"),
        ("/api/v1/templates/issued/zh", json!({ "subject": "{{ notice.nope }}", "body": "b", "reason": "r" }), "subject"),
        (
            "/api/v1/templates/issued/zh",
            json!({ "subject": "s", "body": "{% for i in range(100000000) %}x{% endfor %}", "reason": "r" }),
            "body",
        ),
        ("/api/v1/templates/issued/fr", json!({ "subject": "s", "body": "b", "reason": "r" }), "unknown lang"),
        ("/api/v1/templates/nagging/zh", json!({ "subject": "s", "body": "b", "reason": "r" }), "unknown event"),
        ("/api/v1/templates/issued/zh", json!({ "subject": "s", "body": "b", "reason": "" }), "needs a reason"),
    ] {
        let r = put(path, body.clone()).await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {text}");
        assert!(text.contains(why), "{path} {body}: {text}");
    }
    let (_, v) = get_json(&app, "/api/v1/templates", &app.admin_token).await;
    assert!(v["templates"].as_array().unwrap().iter().all(|t| t["custom"].is_null()), "nothing bad was saved");
    let r = put("/api/v1/templates/issued/zh", json!({ "subject": "S {{ notice.number }}", "body": "B", "reason": "r" })).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["sample"]["subject"], "S 2026-0001");
    let reset = app
        .client
        .delete(format!("{}/api/v1/templates/issued/zh", app.addr))
        .bearer_auth(&app.admin_token)
        .json(&json!({ "reason": "back to the default" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    // The address message links start with: only http(s), one line, the admin's.
    for (url, who, status) in [
        ("javascript:alert(1)", &app.admin_token, StatusCode::UNPROCESSABLE_ENTITY),
        ("https://cert.example\n.evil", &app.admin_token, StatusCode::UNPROCESSABLE_ENTITY),
        ("https://cert.example/", &analyst, StatusCode::FORBIDDEN),
        ("https://cert.example/", &app.admin_token, StatusCode::NO_CONTENT),
    ] {
        let r = app
            .client
            .put(format!("{}/api/v1/settings/public-url", app.addr))
            .bearer_auth(who)
            .json(&json!({ "url": url, "reason": "console address" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{url:?}");
    }
    let (_, audit) = get_json(&app, "/api/v1/audit", &app.admin_token).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"template.set") && actions.contains(&"template.reset") && actions.contains(&"channel.create"), "{actions:?}");
}

#[tokio::test]
async fn a_shadowserver_report_becomes_an_issued_notice_whose_webhook_arrives() {
    let http = Receiver::start("http", &["s3cret"]);
    let app = spawn_app().await;
    app.seed_registry().await;
    let hook = format!("http://127.0.0.1:{}/webhook", http.port);
    channel(&app, json!({ "name": "S1 hook", "kind": "webhook", "target": hook, "secret": "s3cret", "unit": "S1" })).await;
    let policy = json!({ "rules": [{ "name": "Shadowserver 报告", "rule_prefix": "shadowserver:", "kind": "rectification", "level": "IV" }],
                         "reason": "省中心决定" });
    let put = |body: Value, token: &str| app.client.put(format!("{}/api/v1/auto-issue", app.addr)).bearer_auth(token).json(&body).send();
    let analyst = user(&app, "analyst", Role::Analyst, None).await;
    assert_eq!(put(policy.clone(), &analyst).await.unwrap().status(), StatusCode::FORBIDDEN);
    let r =
        put(json!({ "rules": [{ "name": "all", "rule_prefix": "", "kind": "incident" }], "reason": "x" }), &app.admin_token).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(put(policy, &app.admin_token).await.unwrap().status(), StatusCode::OK);
    app.start_delivery(None, quick_retries(2));

    // A Shadowserver vulnerable-system report with a row for S1's address,
    // taken in by the CLI (reports come as files) into the server's store;
    // the server's dispatcher sends what the CLI's auto-issue wrote.
    let report = app.dir.path().join("2026-11-22-scan_rdp-cn-geo.csv");
    std::fs::write(&report, "timestamp,ip,port,protocol\n2026-11-22 01:00:00,192.0.2.10,3389,tcp\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shouwang"))
        .args(["ingest", report.to_str().unwrap(), "--format", "shadowserver:scan_rdp"])
        .env("SHOUWANG_DATA_DIR", app.dir.path().join("data"))
        .env_remove("SHOUWANG_DATABASE_URL")
        .current_dir(app.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = http.wait_for("the auto-issued notice's webhook", |g| !g.is_empty()).await;
    assert_eq!(got[0]["signature_ok"], true);
    assert_eq!(got[0]["body"]["event"], "issued");
    let id = got[0]["body"]["notice_id"].as_i64().unwrap();
    let (_, n) = get_json(&app, &format!("/api/v1/notices/{id}"), &analyst).await;
    assert_eq!((n["state"].as_str(), n["level"].as_str(), n["unit"].as_str()), (Some("issued"), Some("IV"), Some("S1")));
    assert_eq!(n["created_by"], "system:auto-issue");
}

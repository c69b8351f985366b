//! Live detection end to end: events posted to `/api/v1/ingest` meet Sigma
//! rules, indicators (minus the allow-list) and their sensors' own alerts;
//! the alerts come back from `/api/v1/alerts` aggregated, classified,
//! graded per asset, scoped per unit, and overridable with an audited reason.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use shouwang_alerts::DetectionConfig;
use shouwang_store::Role;

use crate::helpers::*;

const DNS_RULE: &str = r#"
title: Query for the test C2 zone
id: 5b6f1c1e-0000-4000-8000-000000000001
status: test
logsource:
    category: dns
detection:
    selection:
        query|endswith: '.evil.example'
    condition: selection
level: critical
tags:
    - attack.t1505.003
"#;

const WINDOWS_RULE: &str = r#"
title: Never on network events
id: 5b6f1c1e-0000-4000-8000-000000000002
logsource:
    product: windows
    category: process_creation
detection:
    keywords:
        - 'evil'
    condition: keywords
level: high
"#;

const INDICATORS: &str = "type,value,confidence,tags\nip,198.51.100.66,90,botnet\ndomain,cdn.allowed.example,90,c2\n";
const ALLOW: &str = "type,value\ndomain,allowed.example\n";

async fn setup() -> App {
    let app = spawn_app_with(|dir| {
        let rules = dir.join("rules");
        write_files(&rules, &[("dns.yml", DNS_RULE), ("windows.yml", WINDOWS_RULE), ("broken.yml", "title: [unclosed\n")]);
        write_files(dir, &[("indicators.csv", INDICATORS), ("allow.csv", ALLOW)]);
        DetectionConfig {
            rules: vec![rules],
            indicators: vec![dir.join("indicators.csv")],
            allow: vec![dir.join("allow.csv")],
            ..Default::default()
        }
    })
    .await;
    app.seed_registry().await;
    app
}

const BASE: &str = r#""timestamp":"2026-11-21T15:04:05+0800","src_port":1234,"dest_port":53,"proto":"UDP""#;

fn dns(src: &str, name: &str) -> String {
    format!(
        r#"{{{BASE},"src_ip":"{src}","dest_ip":"203.0.113.53","event_type":"dns","dns":{{"type":"query","id":1,"rrname":"{name}","rrtype":"A"}}}}"#
    )
}

fn suricata_alert(src: &str, minute: u32) -> String {
    format!(
        r#"{{"timestamp":"2026-11-21T15:{minute:02}:05+0800","src_ip":"{src}","src_port":1,"dest_ip":"203.0.113.80","dest_port":80,"proto":"TCP","event_type":"alert","alert":{{"signature_id":2024897,"signature":"ET MALWARE test beacon","category":"A Network Trojan was detected","severity":1}}}}"#
    )
}

fn flow(src: &str, dst: &str) -> String {
    format!(
        r#"{{{BASE},"src_ip":"{src}","dest_ip":"{dst}","event_type":"flow","flow":{{"bytes_toserver":1,"bytes_toclient":2,"pkts_toserver":3,"pkts_toclient":4}}}}"#
    )
}

/// Polls until `n` alerts are listed.
async fn alerts_eventually(app: &App, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let (s, v) = get_json(app, "/api/v1/alerts?limit=1000", &app.admin_token).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let alerts = v["alerts"].as_array().unwrap().clone();
        if alerts.len() >= n {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} alerts were not recorded in time");
}

fn find<'a>(alerts: &'a [Value], rule: &str, unit: Option<&str>) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["rule_id"] == rule && a["unit"].as_str() == unit)
        .unwrap_or_else(|| panic!("no alert {rule} for {unit:?} in {}", serde_json::to_string_pretty(alerts).unwrap()))
}

#[tokio::test]
async fn events_become_graded_aggregated_scoped_alerts() {
    let app = setup().await;
    let sensor = user(&app, "probe", Role::Sensor, None).await;
    let lines = [
        // The same Suricata alert three times within the hour from S1's network.
        suricata_alert("192.0.2.10", 4),
        suricata_alert("192.0.2.10", 30),
        suricata_alert("192.0.2.11", 59),
        // The Sigma DNS rule on a school (S1) and on a hospital with MLPS level 3 (H1).
        dns("192.0.2.20", "x.evil.example"),
        dns("192.0.2.140", "y.evil.example"),
        // An indicator hit, and one the allow-list suppresses.
        flow("192.0.2.30", "198.51.100.66"),
        dns("192.0.2.31", "cdn.allowed.example"),
        // Nothing fires.
        dns("192.0.2.32", "www.example.org"),
    ];
    let r = app.post("/api/v1/ingest?format=eve", &sensor).body(lines.join("\n")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let alerts = alerts_eventually(&app, 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alerts = if alerts.len() == 4 { alerts_eventually(&app, 4).await } else { alerts };
    assert_eq!(alerts.len(), 4, "{}", serde_json::to_string_pretty(&alerts).unwrap());

    // Three sightings of one signature on one asset are one alert.
    let beacon = find(&alerts, "suricata:2024897", Some("S1"));
    assert_eq!(beacon["hits"], 3);
    assert_eq!(beacon["source"], "sensor");
    assert_eq!(beacon["asset"], "cidr:192.0.2.0/25");
    assert_eq!(beacon["first_seen"], "2026-11-21T07:04:05Z");
    assert_eq!(beacon["last_seen"], "2026-11-21T07:59:05Z");
    assert_eq!(beacon["samples"].as_array().unwrap().len(), 3);
    assert_eq!(beacon["samples"][0]["event"]["rule"]["id"], "2024897");
    assert_eq!(beacon["category"], "MPTROJ", "{beacon}");
    assert_eq!(beacon["category_name"]["name_zh"], "特洛伊木马事件");

    // The same critical rule is level IV on the school and III on the
    // hospital (MLPS 3 → important), with the reasons that say so.
    let s1 = find(&alerts, "5b6f1c1e-0000-4000-8000-000000000001", Some("S1"));
    let h1 = find(&alerts, "5b6f1c1e-0000-4000-8000-000000000001", Some("H1"));
    assert_eq!((s1["level"].as_str(), h1["level"].as_str()), (Some("IV"), Some("III")));
    assert_eq!(h1["category"], "NABACKIMPL");
    let reasons = h1["grading"]["reasons"].to_string();
    assert!(reasons.contains("mlps>=3") && reasons.contains("重要"), "{reasons}");
    assert_eq!(h1["grading"]["table"], "GBT20986-2023/CAC-2025");

    // The indicator hit names the indicator and where it was seen; the
    // allow-listed name raised nothing.
    let ioc = find(&alerts, "indicator:ip:198.51.100.66/32", Some("S1"));
    assert_eq!(ioc["category"], "MPZOMB");
    assert_eq!(ioc["severity"], "high");
    assert_eq!(ioc["samples"][0]["match"]["field"], "destination.ip");
    assert!(!alerts.iter().any(|a| a["rule_id"].as_str().unwrap().contains("allowed")));

    // Filters.
    let count = |path: String| {
        let app = &app;
        async move {
            let (s, v) = get_json(app, &path, &app.admin_token).await;
            assert_eq!(s, StatusCode::OK, "{path}: {v}");
            v["alerts"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("/api/v1/alerts?unit=H1".into()).await, 1);
    assert_eq!(count("/api/v1/alerts?level=III".into()).await, 1);
    assert_eq!(count("/api/v1/alerts?category=MP".into()).await, 2);
    assert_eq!(count("/api/v1/alerts?source=indicator".into()).await, 1);
    assert_eq!(count("/api/v1/alerts?rule=suricata:2024897".into()).await, 1);
    assert_eq!(count("/api/v1/alerts?from=2026-11-21T07:30:00Z".into()).await, 1);
    assert_eq!(count("/api/v1/alerts?to=2026-11-21T07:04:06Z".into()).await, 4);
    let (s, v) = get_json(&app, "/api/v1/alerts?level=5", &app.admin_token).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = get_json(&app, "/api/v1/alerts?colour=red", &app.admin_token).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Tenancy: the hospital sees its alert only, and not the school's by id.
    let h1_token = user(&app, "h1-ops", Role::UnitOperator, Some("H1")).await;
    let (_, v) = get_json(&app, "/api/v1/alerts", &h1_token).await;
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
    let (s, err) = get_json(&app, "/api/v1/alerts/abc", &app.admin_token).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["message"], "`abc` is not an alert id (a number)", "a JSON error, not axum's plain text");
    let (s, _) = get_json(&app, &format!("/api/v1/alerts/{}", s1["id"]), &h1_token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Override: an analyst with a reason; a unit operator may not.
    let analyst = user(&app, "ana", Role::Analyst, None).await;
    let path = format!("/api/v1/alerts/{}/level", s1["id"]);
    let body = serde_json::json!({ "level": "II", "reason": "the school's exam server holds 2 million records" });
    let r = app.post(&path, &h1_token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.post(&path, &analyst).json(&serde_json::json!({ "level": "II" })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app.post(&path, &analyst).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let a: Value = r.json().await.unwrap();
    assert_eq!((a["level"].as_str(), a["proposed_level"].as_str()), (Some("II"), Some("IV")));
    assert_eq!(a["override"]["by"], "ana");
    let (_, audit) = get_json(&app, "/api/v1/audit", &app.admin_token).await;
    let entry = audit["entries"].as_array().unwrap().iter().find(|e| e["action"] == "alert.level").expect("audited");
    assert_eq!(entry["reason"], "the school's exam server holds 2 million records");
}

#[tokio::test]
async fn detection_content_reports_problems_and_reloads_atomically() {
    let app = setup().await;
    let (s, v) = get_json(&app, "/api/v1/detection", &app.admin_token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let c = &v["content"];
    assert_eq!(c["rules"]["rules"], 2);
    let problems = c["rules"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]["file"].as_str().unwrap().ends_with("broken.yml"));
    assert_eq!(c["indicators_in_use"], 2);
    assert_eq!(c["allow_entries"], 1);
    // A unit operator may not see or change detection content.
    let ops = user(&app, "s1-ops", Role::UnitOperator, Some("S1")).await;
    let (s, _) = get_json(&app, "/api/v1/detection", &ops).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A new rule file and a bad indicator file: the reload fails whole and
    // the content in use stays; once fixed, the reload swaps both in.
    let dir = app.dir.path();
    let more = DNS_RULE.replace("000000000001", "000000000003").replace(".evil.example", ".worse.example");
    write_files(&dir.join("rules"), &[("more.yml", &more)]);
    std::fs::write(dir.join("indicators.csv"), "kind,what\nip,1.2.3.4\n").unwrap();
    let r = app.post("/api/v1/detection/reload", &app.admin_token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: Value = r.json().await.unwrap();
    assert!(err["error"]["message"].as_str().unwrap().contains("indicators.csv"), "{err}");
    let (_, v) = get_json(&app, "/api/v1/detection", &app.admin_token).await;
    assert_eq!(v["content"]["rules"]["rules"], 2);
    std::fs::write(dir.join("indicators.csv"), INDICATORS.to_string() + "ip,203.0.113.0/24,60,scanner\nip,not-an-ip,60,\n").unwrap();
    let r = app.post("/api/v1/detection/reload", &app.admin_token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["content"]["rules"]["rules"], 3);
    assert_eq!(v["content"]["indicators_in_use"], 3);
    assert_eq!(v["content"]["indicators"][0]["rejected"][0]["value"], "not-an-ip");
    let (_, audit) = get_json(&app, "/api/v1/audit", &app.admin_token).await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "detection.reload"));

    // The reloaded rule is live.
    let sensor = user(&app, "probe", Role::Sensor, None).await;
    let r = app.post("/api/v1/ingest?format=eve", &sensor).body(dns("192.0.2.140", "a.worse.example")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let alerts = alerts_eventually(&app, 2).await;
    find(&alerts, "5b6f1c1e-0000-4000-8000-000000000003", Some("H1"));
    // The resolver 203.0.113.53 is in the new indicator network; the querying hospital is affected.
    find(&alerts, "indicator:ip:203.0.113.0/24", Some("H1"));
    // The first event after the reload was timed rule by rule: the rules for
    // its log source (dns) were, the Windows rule was not.
    let (_, v) = get_json(&app, "/api/v1/detection", &app.admin_token).await;
    let costs = &v["rule_costs"];
    assert_eq!((costs["events_seen"].as_u64(), costs["events_sampled"].as_u64()), (Some(1), Some(1)), "{costs}");
    let timed: Vec<&str> = costs["costliest"].as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(timed.len(), 2, "{costs}");
    assert!(timed.iter().all(|t| t.starts_with("Query for the test C2 zone")), "{costs}");
}

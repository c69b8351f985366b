use crate::helpers::*;

#[test]
fn newcomer_flow_import_attribute_show_history() {
    let env = Env::new();
    let src = env.dir.path().join("registry");
    write_files(&src, &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", ASSETS)]);
    let src = src.to_str().unwrap();

    // Dry run shows the diff and applies nothing.
    let dry = env.ok(&["registry", "import", src, "--reason", "initial load", "--dry-run"]);
    assert!(dry.contains("dry run, nothing applied"), "{dry}");
    assert!(dry.contains("units added") && dry.contains("S1"), "{dry}");
    let r = json_lines(&env.ok(&["attribute", "192.0.2.1"]));
    assert_eq!(r[0]["status"], "unmatched");

    env.ok(&["registry", "import", src, "--reason", "initial load"]);
    // Arguments...
    let r = json_lines(&env.ok(&[
        "attribute",
        "192.0.2.1",
        "www.school.example",
        "https://portal.hospital.example/app/x",
        "nobody.test",
        "10.0.0.0/33",
    ]));
    assert_eq!(r.len(), 5);
    assert_eq!(
        (r[0]["status"].as_str(), r[0]["unit"]["code"].as_str(), r[0]["match"].as_str()),
        (Some("matched"), Some("S1"), Some("address"))
    );
    assert_eq!(r[0]["asset"]["value"], "192.0.2.0/25");
    assert_eq!(r[0]["asset"]["criticality"]["mlps_level"], 2);
    assert_eq!(r[1]["unit"]["code"], "S1");
    assert_eq!(r[1]["match"], "domain_suffix");
    assert_eq!((r[2]["unit"]["code"].as_str(), r[2]["match"].as_str()), (Some("H1"), Some("url_prefix")));
    assert_eq!(r[3]["status"], "unmatched");
    assert_eq!(r[4]["status"], "invalid");
    assert!(r[4]["reason"].as_str().unwrap().contains("looks like a network"));
    // ...and stdin, one per line, blank lines ignored.
    let out = env.run(&["attribute"], Some("192.0.2.200\n\nsoc@mail.school.example\n[2001:db8::1]\n"));
    assert!(out.status.success());
    let r = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(r.iter().map(|x| x["status"].as_str().unwrap()).collect::<Vec<_>>(), ["matched", "matched", "unmatched"]);
    assert_eq!(r[1]["type"], "email");
    // Hostile stdin: a non-UTF-8 line and a 100 kB line are answered
    // `invalid` in place; the lines around them still go through.
    let mut input = b"192.0.2.1\n\xc7\xe0\xb4\xa8.example\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend(b"\nwww.school.example\n");
    let out = env.run_bytes(&["attribute"], &input);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(r.iter().map(|x| x["status"].as_str().unwrap()).collect::<Vec<_>>(), ["matched", "invalid", "invalid", "matched"]);
    assert_eq!(r[1]["reason"], "line 2 is not valid UTF-8 (bad byte at offset 0)");
    assert_eq!(r[2]["reason"], "line 3 is longer than 8192 bytes");

    let show: serde_json::Value = serde_json::from_str(&env.ok(&["units", "show", "H1"])).unwrap();
    assert_eq!(show["assets"].as_array().unwrap().len(), 2);
    assert_eq!(show["reachable"], false, "H1 has no contacts");
    let list = env.ok(&["units", "list"]);
    assert!(list.contains("[no reachable contact]"), "{list}");

    // Move the /25 from H1 to S1 in one import that names both units.
    write_files(
        &env.dir.path().join("move"),
        &[("assets.csv", "unit,kind,value\nS1,cidr,192.0.2.0/24\nH1,url,https://portal.hospital.example/app\n")],
    );
    let moved = env.ok(&["registry", "import", env.dir.path().join("move").to_str().unwrap(), "--reason", "merger", "--json"]);
    let moved: serde_json::Value = serde_json::from_str(&moved).unwrap();
    assert_eq!(moved["applied"], true);
    assert_eq!(moved["summary"]["claims_ended"].as_array().unwrap().len(), 3, "{moved}");
    let hist = json_lines(&env.ok(&["units", "history", "H1"]));
    let ended: Vec<_> = hist.iter().filter(|c| !c["valid_to"].is_null()).collect();
    assert_eq!(ended.len(), 1);
    assert_eq!((ended[0]["value"].as_str(), ended[0]["end_reason"].as_str()), (Some("192.0.2.128/25"), Some("merger")));
    let from = ended[0]["valid_from"].as_str().unwrap();
    let r = json_lines(&env.ok(&["attribute", "192.0.2.200", "--at", from]));
    assert_eq!(r[0]["unit"]["code"], "H1", "as of then");
    let r = json_lines(&env.ok(&["attribute", "192.0.2.200"]));
    assert_eq!(r[0]["unit"]["code"], "S1", "now");

    // Export → import is a no-op; the audit trail names the OS user and reason.
    let export = env.dir.path().join("export");
    env.ok(&["registry", "export", "--format", "csv", "--out", export.to_str().unwrap()]);
    let again = env.ok(&["registry", "import", export.to_str().unwrap(), "--reason", "round trip"]);
    assert!(again.contains("nothing to change"), "{again}");
    let audit = json_lines(&env.ok(&["audit"]));
    assert!(audit.iter().any(|e| e["reason"] == "merger" && e["actor"].as_str().unwrap().starts_with("local:")));
}

#[tokio::test]
async fn audit_verify_catches_an_edit_made_behind_the_triggers() {
    let env = Env::new();
    env.load_units();
    let out = env.ok(&["audit", "verify"]);
    assert!(out.starts_with("intact: 1 entries, head "), "{out}");
    let head = out.trim().rsplit(' ').next().unwrap().to_string();
    // Someone with the database file in hand lifts the trigger and edits.
    let url = format!("sqlite://{}", env.data().join("shouwang.sqlite").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::raw_sql("DROP TRIGGER audit_no_update; UPDATE audit_log SET reason = 'routine' WHERE action = 'registry.import'")
        .execute(&mut db)
        .await
        .unwrap();
    let out = env.run(&["audit", "verify", "--expect-head", &head], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("broken: entry 1 (number 1, registry.import on registry) does not match its hash"), "{stdout}");
    assert!(String::from_utf8(out.stderr).unwrap().contains("tampered with"));
}

#[test]
fn bad_import_exits_nonzero_and_names_every_record() {
    let env = Env::new();
    let src = env.dir.path().join("bad");
    let assets = "unit,kind,value\nS1,cidr,10.0.0.0/33\nS1,cidr,1.2.3\nS1,range,192.0.2.9-192.0.2.1\nS1,cidr,192.0.2.0/25\n";
    write_files(&src, &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", assets)]);
    let out = env.run(&["registry", "import", src.to_str().unwrap(), "--reason", "x"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].ends_with("assets.csv:2:value: prefix length `33` is not valid for IPv4 (0..=32)"), "{err}");
    assert!(lines[1].ends_with("assets.csv:3:value: `1.2.3` is not an IPv4 or IPv6 address"), "{err}");
    assert!(lines[2].ends_with("assets.csv:4:value: range `192.0.2.9-192.0.2.1` runs backwards (start is above end)"), "{err}");
    assert!(err.contains("3 record(s) rejected; nothing was applied"), "{err}");
    // Nothing half-applied: not even the valid regions and units.
    assert!(env.ok(&["units", "list"]).is_empty());
}

#[test]
fn config_errors_are_clear() {
    let env = Env::new();
    std::fs::write(env.dir.path().join("shouwang.toml"), "[server]\nlistn = \"x\"\n").unwrap();
    let out = env.run(&["units", "list"], None);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("invalid config shouwang.toml") && err.contains("unknown field `listn`"), "{err}");
    std::fs::remove_file(env.dir.path().join("shouwang.toml")).unwrap();
    assert!(env.ok(&["config-example"]).contains("[database]"));

    // A TLS syslog listener: a key without a certificate, then a certificate file that is not PEM.
    let tls = |extra: &str| {
        let listener = "[[ingest.syslog]]\nname = \"fw-tls\"\nlisten = \"127.0.0.1:0\"\ntransport = \"tls\"\n";
        std::fs::write(env.dir.path().join("shouwang.toml"), format!("{listener}{extra}")).unwrap();
        let out = env.run(&["serve", "--listen", "127.0.0.1:0"], None);
        assert!(!out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    let err = tls("tls_key = \"key.pem\"\n");
    assert!(err.contains("ingest.syslog `fw-tls`: transport `tls` needs tls_cert and tls_key"), "{err}");
    std::fs::write(env.dir.path().join("cert.pem"), "not a certificate\n").unwrap();
    std::fs::write(env.dir.path().join("key.pem"), "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n").unwrap();
    let err = tls("tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n");
    assert!(err.contains("ingest.syslog `fw-tls`: cert.pem: no certificate in the file"), "{err}");
}

#[test]
fn demo_generate_writes_an_importable_region() {
    let env = Env::new();
    let out = env.dir.path().join("demo");
    env.ok(&["demo", "generate", "--out", out.to_str().unwrap(), "--units", "120", "--assets", "1500"]);
    let res = env.ok(&["registry", "import", out.to_str().unwrap(), "--reason", "demo", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&res).unwrap();
    assert_eq!(v["applied"], true);
    assert_eq!(v["summary"]["units_added"].as_array().unwrap().len(), 120);
    assert!(!v["unreachable_units"].as_array().unwrap().is_empty() || v["summary"]["units_added"].as_array().unwrap().len() < 100);
}

#[tokio::test]
async fn notices_calendar_and_deadlines_from_the_console() {
    let env = Env::new();
    env.load_units();
    // A draft, as an analyst would make it over the API.
    let store = shouwang_store::Store::open_sqlite_dir(&env.data()).await.unwrap();
    let analyst = shouwang_store::Principal { username: "ana".into(), role: shouwang_store::Role::Analyst, unit: None };
    let draft: shouwang_store::NewNotice =
        serde_json::from_value(serde_json::json!({ "kind": "rectification", "unit": "S1", "title": "弱口令整改", "level": "IV" })).unwrap();
    let id = store.create_notice(&analyst, &draft, jiff::Timestamp::now()).await.unwrap().notice.id.to_string();
    store.close().await;

    let listed = json_lines(&env.ok(&["notices", "list", "--state", "draft"]));
    assert_eq!((listed.len(), listed[0]["title"].as_str()), (1, Some("弱口令整改")));
    let moved: serde_json::Value = serde_json::from_str(&env.ok(&["notices", "move", &id, "issue"])).unwrap();
    assert_eq!(moved["state"], "issued");
    assert!(moved["number"].as_str().unwrap().ends_with("-0001"));
    // A stale version and an approval the console operator may not give both fail, and say why.
    let out = env.run(&["notices", "move", &id, "cancel", "--reason", "x", "--version", "1"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("changed since it was read"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.run(&["notices", "move", &id, "approve"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("forbidden"), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_str(&env.ok(&["notices", "show", &id])).unwrap();
    assert_eq!(shown["timeline"].as_array().unwrap().len(), 2);

    env.ok(&["calendar", "set", "2026-12-31", "holiday", "--name", "跨年", "--reason", "本地安排"]);
    let days = json_lines(&env.ok(&["calendar", "list"]));
    assert!(days.iter().any(|d| d["date"] == "2026-12-31" && d["name"] == "跨年"));
    let out = env.run(&["calendar", "set", "2026-12-31", "vacation", "--reason", "x"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("vacation"), "{}", String::from_utf8_lossy(&out.stderr));
    let policy = env.dir.path().join("policy.csv");
    std::fs::write(&policy, "level,acknowledge,answer\nI,15m,2h\nII,1h,1d\nIII,4h,3wd\nIV,1wd,5wd\n").unwrap();
    env.ok(&["deadlines", "set", policy.to_str().unwrap(), "--reason", "省通报中心新规"]);
    assert!(env.ok(&["deadlines", "show"]).contains("15m"));
    assert!(env.ok(&["deadlines", "ladder"]).contains("\"supervise\""));
    let swept: serde_json::Value = serde_json::from_str(&env.ok(&["deadlines", "sweep"])).unwrap();
    assert_eq!(swept["raised"], serde_json::json!([]), "issued moments ago: nothing due");
    // No contacts and no channels in this region: nothing to send.
    assert_eq!(env.ok(&["outbox", "list"]), "");
    let out = env.run(&["outbox", "list", "--state", "lost"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown state `lost`"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.run(&["outbox", "retry", "99", "--reason", "x"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("message 99"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(env.ok(&["audit", "verify"]).starts_with("intact: "));
}

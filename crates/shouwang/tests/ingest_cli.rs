//! `shouwang ingest`, `events search`, `dead-letters` and `status` as an
//! operator runs them.

use crate::helpers::*;

fn eve(ts: &str, dest: &str, sig: &str) -> String {
    format!(
        r#"{{"timestamp":"{ts}","event_type":"alert","src_ip":"198.51.100.9","src_port":1234,"dest_ip":"{dest}","dest_port":80,"proto":"TCP","alert":{{"signature_id":2024897,"signature":"{sig}","category":"Web Application Attack","severity":1}},"http":{{"hostname":"www.school.example","url":"/x"}}}}"#
    )
}

#[test]
fn ingest_search_dead_letters_and_status() {
    let env = Env::new();
    let src = env.dir.path().join("registry");
    write_files(&src, &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", ASSETS)]);
    env.ok(&["registry", "import", src.to_str().unwrap(), "--reason", "load"]);

    let input = env.dir.path().join("in");
    let eve_body = format!(
        "{}\n{}\n{{\"event_type\":\"alert\",\"timestamp\":\n",
        eve("2026-11-21T15:04:05+0800", "192.0.2.5", "ET WEB_SERVER webshell"),
        eve("2026-11-21T16:00:00+0800", "192.0.2.200", "ET SCAN nmap")
    );
    let syslog = "<34>1 2026-11-21T08:00:00Z fw01 sshd 77 ID1 - Failed password for root from 192.0.2.9\n";
    write_files(&input, &[("sensor.json", &eve_body), ("fw.log", syslog)]);
    let out = env.run(&["ingest", input.to_str().unwrap(), "--sensor", "sensor-qc-01", "--json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reports = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(reports.len(), 2);
    let eve_report = reports.iter().find(|r| r["format"] == "eve").unwrap();
    assert_eq!((eve_report["events"].as_u64(), eve_report["dead_letters"].as_u64()), (Some(2), Some(1)));
    assert_eq!(reports.iter().find(|r| r["format"] == "syslog").unwrap()["events"], 1);

    let by_unit = json_lines(&env.ok(&["events", "search", "--unit", "H1"]));
    assert_eq!(by_unit.len(), 1);
    assert_eq!(by_unit[0]["rule"]["name"], "ET SCAN nmap");
    assert_eq!(by_unit[0]["shouwang"]["units"], serde_json::json!(["H1", "S1"]), "address H1, HTTP host S1");
    assert_eq!(json_lines(&env.ok(&["events", "search", "--ip", "192.0.2.0/25"])).len(), 1, "addresses in fields, not in message text");
    assert_eq!(json_lines(&env.ok(&["events", "search", "--rule", "webshell"])).len(), 1);
    assert_eq!(json_lines(&env.ok(&["events", "search", "--text", "failed password"])).len(), 1);
    assert_eq!(json_lines(&env.ok(&["events", "search", "--domain", "school.example"])).len(), 2);
    let bad = env.run(&["events", "search", "--ip", "192.0.2.0/99"], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("192.0.2.0/99"));

    let dead = json_lines(&env.ok(&["dead-letters", "list"]));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["reason"], "malformed");
    assert_eq!(dead[0]["sensor"], "sensor-qc-01");
    assert!(dead[0]["record"].as_str().unwrap().starts_with("{\"event_type\""));
    let counts = json_lines(&env.ok(&["dead-letters", "counts"]));
    assert_eq!((counts[0]["source"].as_str(), counts[0]["open"].as_u64()), (Some("file"), Some(1)));
    let replay = json_lines(&env.ok(&["dead-letters", "replay"]));
    assert_eq!((replay[0]["tried"].as_u64(), replay[0]["still_rejected"].as_u64()), (Some(1), Some(1)));

    let status: serde_json::Value = serde_json::from_str(&env.ok(&["status"])).unwrap();
    assert_eq!(status["partitions"][0]["day"], "2026-11-21");
    assert_eq!(status["partitions"][0]["events"], 3);
    assert_eq!(status["streams"].as_array().unwrap().len(), 2);

    // Ingesting again resumes at the end of each file: nothing new.
    let again = json_lines(&env.ok(&["ingest", input.to_str().unwrap(), "--json"]));
    assert!(again.iter().all(|r| r["records"] == 0), "{again:?}");
    // Stdin, with an explicit format; an unknown format is refused up front.
    let out =
        env.run(&["ingest", "-", "--format", "cef", "--json"], Some("CEF:0|V|P|1|100|Port scan|5|src=192.0.2.140 rt=1763700000000\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_lines(&String::from_utf8(out.stdout).unwrap())[0]["events"], 1);
    let out = env.run(&["ingest", "-", "--format", "xml"], Some(""));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format `xml`"));
    // An input that cannot be recognised fails with a reason, and the exit code says so.
    write_files(&input, &[("notes.txt", "hello\n")]);
    let out = env.run(&["ingest", input.join("notes.txt").to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
}

#[test]
fn a_configured_field_map_maps_a_sensors_own_json() {
    let env = Env::new();
    let src = env.dir.path().join("registry");
    write_files(&src, &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", ASSETS)]);
    env.ok(&["registry", "import", src.to_str().unwrap(), "--reason", "load"]);
    // `./shouwang.toml` is read when no --config is given.
    let config = "[formats.fw_acme]\ndataset = \"acme.firewall\"\nutc_offset = \"+08:00\"\n\
                  fields = { time = \"@timestamp\", \"conn.src\" = \"source.ip\", \"conn.dst\" = \"destination.ip\", act = \"event.action\" }\n";
    write_files(env.dir.path(), &[("shouwang.toml", config)]);
    let lines = concat!(
        r#"{"time":"2026-11-21 16:00:00","conn":{"src":"198.51.100.4","dst":"192.0.2.140"},"act":"deny","zone":"dmz"}"#,
        "\n",
        r#"{"time":"2026-11-21 16:00:01","conn":{"src":"198.51.100.4","dst":"not an address"},"act":"deny"}"#,
        "\n"
    );
    let out = env.run(&["ingest", "-", "--format", "json:fw_acme", "--json"], Some(lines));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = &json_lines(&String::from_utf8(out.stdout).unwrap())[0];
    assert_eq!(
        (report["format"].as_str(), report["events"].as_u64(), report["dead_letters"].as_u64()),
        (Some("json:fw_acme"), Some(1), Some(1))
    );
    let found = json_lines(&env.ok(&["events", "search", "--unit", "H1"]));
    assert_eq!(found.len(), 1);
    let e = &found[0];
    assert_eq!((e["event"]["dataset"].as_str(), e["event"]["action"].as_str()), (Some("acme.firewall"), Some("deny")));
    assert_eq!((e["@timestamp"].as_str(), e["labels"]["zone"].as_str()), (Some("2026-11-21T08:00:00Z"), Some("dmz")));
    let dead = json_lines(&env.ok(&["dead-letters", "list"]));
    assert_eq!((dead[0]["format"].as_str(), dead[0]["reason"].as_str()), (Some("json:fw_acme"), Some("bad_value")));
    assert!(dead[0]["detail"].as_str().unwrap().contains("destination.ip"), "{}", dead[0]["detail"]);

    let out = env.run(&["ingest", "-", "--format", "json:nope"], Some(lines));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no field map `nope` is configured"));
    write_files(env.dir.path(), &[("shouwang.toml", &config.replace("event.action", "event.acton"))]);
    let out = env.run(&["status"], None);
    assert!(!out.status.success(), "a bad map is a configuration error, found before any work");
    assert!(String::from_utf8_lossy(&out.stderr).contains("formats.fw_acme: `event.acton` is not a supported ECS field"));
}

/// Alerts count each event once: reading a file again from the start (or
/// replaying after a crash) stores no duplicate events and adds no hits.
#[test]
fn alerts_from_ingest_count_each_event_once() {
    let env = Env::new();
    let src = env.dir.path().join("registry");
    write_files(&src, &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", ASSETS)]);
    env.ok(&["registry", "import", src.to_str().unwrap(), "--reason", "load"]);
    let input = env.dir.path().join("in");
    let line = |minute: u32| {
        eve(&format!("2026-11-21T15:{minute:02}:05+0800"), "192.0.2.200", "ET WEB_SERVER webshell")
            .replace("www.school.example", "h.example")
    };
    write_files(&input, &[("a.json", &format!("{}\n{}\n", line(1), line(2)))]);
    let file = input.join("a.json");
    env.ok(&["ingest", file.to_str().unwrap()]);
    let hits = || {
        let alerts = json_lines(&env.ok(&["alerts", "--unit", "H1"]));
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0]["rule_id"], "suricata:2024897");
        assert_eq!(alerts[0]["level"], "IV");
        alerts[0]["hits"].as_u64().unwrap()
    };
    assert_eq!(hits(), 2);
    env.ok(&["ingest", file.to_str().unwrap(), "--from-start"]);
    assert_eq!(hits(), 2, "a second read of the same records adds nothing");
    std::fs::write(&file, format!("{}\n{}\n{}\n", line(1), line(2), line(3))).unwrap();
    env.ok(&["ingest", file.to_str().unwrap()]);
    assert_eq!(hits(), 3, "an appended record adds one");
    assert_eq!(json_lines(&env.ok(&["alerts", "--level", "I"])).len(), 0);
    let bad = env.run(&["alerts", "--category", "x%"], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("x%"));
}

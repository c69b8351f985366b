//! `shouwang detect` as an analyst runs it: SigmaHQ rules over exported
//! Windows events and text logs, with broken rules and inputs reported.

use crate::helpers::*;

#[test]
fn detect_hunts_offline_and_reports_what_it_cannot_use() {
    let env = Env::new();
    let corpus = sigmahq();
    let rules = corpus.join("rules/windows/process_creation");
    let sample = corpus.join(
        "regression_data/rules/windows/process_creation/proc_creation_win_sc_stop_service/81bcb81b-5b1f-474b-b373-52c871aaa7b1.jsoncls",
    );
    let extra = env.dir.path().join("extra");
    write_files(
        &extra,
        &[
            (
                "broken.yml",
                "title: Broken\nid: broken-1\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|endswith: x\n  condition: sel and missing\n",
            ),
            (
                "dot1x.yml",
                "title: Dot1x off\nid: dot1x-1\nlogsource: {product: cisco}\ndetection:\n  keywords: ['no dot1x port-control']\n  condition: keywords\nlevel: high\ntags: [attack.persistence, attack.t1556.004]\n",
            ),
        ],
    );
    let log = env.dir.path().join("switch.log");
    std::fs::write(
        &log,
        "boot ok\n172.16.5.10 6705: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin logged command:no dot1x port-control\n{\"broken\":\n",
    )
    .unwrap();
    let out = env.run(
        &[
            "detect",
            "--rules",
            rules.to_str().unwrap(),
            "--rules",
            extra.to_str().unwrap(),
            sample.to_str().unwrap(),
            log.to_str().unwrap(),
            "no-such-file.json",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a missing input fails the run: {stderr}");
    let found = json_lines(&String::from_utf8(out.stdout).unwrap());
    let sc = found.iter().find(|f| f["rule_id"] == "81bcb81b-5b1f-474b-b373-52c871aaa7b1").expect("the sample fires its rule");
    assert_eq!((sc["line"].as_u64(), sc["input"].as_str()), (Some(1), sample.to_str()));
    assert_eq!((sc["title"].as_str(), sc["kind"].as_str()), (Some("Stop Windows Service Via Sc.EXE"), Some("detection")));
    assert!(sc["level"].is_string() && sc["tags"].as_array().is_some_and(|t| !t.is_empty()));
    // Tagged attack.t1489 (service stop, impact): no category entry, so none is guessed.
    assert!(sc.get("category").is_none(), "{sc}");
    let dot1x = found.iter().find(|f| f["rule_id"] == "dot1x-1").unwrap();
    assert_eq!(
        (dot1x["category"]["code"].as_str(), dot1x["category"]["name_zh"].as_str()),
        (Some("NABACKIMPL"), Some("后门植入事件")),
        "{dot1x}"
    );
    assert!(dot1x["category"]["reason"].as_str().unwrap().contains("rule tag `attack.persistence`"), "{dot1x}");
    let dot1x = found.iter().find(|f| f["rule_id"] == "dot1x-1").expect("the keyword rule fires on the text line");
    assert_eq!(dot1x["line"], 2);
    assert!(stderr.contains("broken.yml (broken-1): unknown detection identifier: missing"), "{stderr}");
    assert!(stderr.contains("unreadable: "), "{stderr}");
    assert!(stderr.contains("switch.log:3: the input ends inside a JSON value"), "{stderr}");
    assert!(stderr.contains("error: no-such-file.json"), "{stderr}");
    let summary = stderr.lines().find(|l| l.contains(" rules, ")).unwrap();
    let loaded: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(loaded > 1000, "{summary}");
    assert!(summary.ends_with("; 1 not loaded"), "{summary}");

    let out = env.run(&["detect", "--rules", extra.to_str().unwrap(), "--pipeline", "nope", "-"], Some(""));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pipeline nope: neither a built-in pipeline (ecs_windows, fibratus_windows, sysmon)")
    );
}

#[test]
fn detect_matches_indicators_from_csv_and_stix_in_events_of_any_shape() {
    let env = Env::new();
    let dir = env.dir.path();
    write_files(
        &dir.join("rules"),
        &[("none.yml", "title: Never\nid: never-1\nlogsource: {product: test}\ndetection:\n  sel: {Nothing: here}\n  condition: sel\n")],
    );
    write_files(
        dir,
        &[
            (
                "ioc.csv",
                "type,value,source,confidence,tlp,valid_until,tags\n\
                 ip,198.51.100.66,cert-a,90,TLP:AMBER,,c2\n\
                 sha256,AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F,cert-a,60,TLP:GREEN,,\n\
                 ip,203.0.113.5,cert-a,90,,2026-01-01,expired\n\
                 ip,999.1.1.1,cert-a,90,,,\n",
            ),
            (
                "peer.json",
                r#"{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
                    {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                     "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                     "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
                     "labels": ["phishing"]}]}"#,
            ),
            (
                "events.jsonl",
                concat!(
                    r#"{"@timestamp": "2026-11-21T08:00:00Z", "DestinationIp": "198.51.100.66", "Hashes": "MD5=00,SHA256=AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F"}"#,
                    "\n",
                    r#"{"@timestamp": "2026-11-21T08:00:01Z", "destination": {"ip": "203.0.113.5"}, "dns": {"question": {"name": "Login.Evil.Example."}}}"#,
                    "\n"
                ),
            ),
        ],
    );
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let out = env
        .run(&["detect", "--rules", &p("rules"), "--indicators", &p("ioc.csv"), "--indicators", &p("peer.json"), &p("events.jsonl")], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("ioc.csv line 5: `999.1.1.1` is not an IPv4 or IPv6 address"), "{stderr}");
    assert!(stderr.contains("ioc.csv: 3 indicators, 0 skipped, 1 not loaded"), "{stderr}");
    assert!(stderr.contains("3 indicators in use; 1 already expired, left out"), "{stderr}");
    let found = json_lines(&String::from_utf8(out.stdout).unwrap());
    let got: Vec<(u64, &str, &str)> =
        found.iter().map(|f| (f["line"].as_u64().unwrap(), f["field"].as_str().unwrap(), f["rule_id"].as_str().unwrap())).collect();
    assert_eq!(
        got,
        [
            (1, "DestinationIp", "indicator:ip:198.51.100.66/32"),
            (1, "Hashes", "indicator:sha256:aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"),
            (2, "dns.question.name", "indicator:domain:evil.example"),
        ]
    );
    assert_eq!((found[0]["level"].as_str(), found[0]["category"]["code"].as_str()), (Some("high"), Some("MPZOMB")), "{}", found[0]);
    assert_eq!((found[1]["level"].as_str(), found[1]["indicator"]["tlp"].as_str()), (Some("medium"), Some("TLP:GREEN")));
    assert_eq!((found[2]["observed"].as_str(), found[2]["category"]["code"].as_str()), (Some("Login.Evil.Example."), Some("NAPHISH")));
}

/// With `--registry`, each hit names the units and assets its record
/// touches and the level proposed for each: the same rule is graded higher
/// on the hospital's MLPS-3 network than on the school's.
#[test]
fn detect_with_a_registry_attributes_and_grades_each_hit() {
    let env = Env::new();
    let dir = env.dir.path();
    write_files(&dir.join("registry"), &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", ASSETS)]);
    write_files(
        &dir.join("rules"),
        &[(
            "shell.yml",
            "title: Web shell beacon\nid: shell-1\nlogsource: {product: test}\ndetection:\n  sel: {Url|contains: '/cmd.jsp'}\n  condition: sel\nlevel: critical\ntags: [attack.t1505.003]\n",
        )],
    );
    write_files(
        dir,
        &[(
            "events.jsonl",
            concat!(
                r#"{"Url": "http://x/cmd.jsp", "SourceIp": "198.51.100.1", "DestinationIp": "192.0.2.5"}"#,
                "\n",
                r#"{"Url": "http://x/cmd.jsp", "DestinationIp": "192.0.2.200", "DestinationHostname": "portal.hospital.example"}"#,
                "\n",
                r#"{"Url": "http://x/cmd.jsp", "DestinationIp": "203.0.113.9"}"#,
                "\n",
                "a text line that is no JSON and touches nothing\n",
            ),
        )],
    );
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let out = env.run(&["detect", "--rules", &p("rules"), "--registry", &p("registry"), &p("events.jsonl")], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("registry") && stderr.contains("2 units"), "{stderr}");
    let found = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(found.len(), 3, "{found:?}");
    let units = |f: &serde_json::Value| {
        f["affected"].as_array().unwrap().iter().map(|a| a["unit"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!((units(&found[0]), found[0]["proposed_level"].as_str()), (vec!["S1".to_string()], Some("IV")));
    assert_eq!(found[0]["affected"][0]["asset"], "cidr:192.0.2.0/25");
    assert_eq!((units(&found[1]), found[1]["proposed_level"].as_str()), (vec!["H1".to_string()], Some("III")), "{}", found[1]);
    assert!(found[1]["affected"][0]["grading"]["reasons"].to_string().contains("mlps>=3"));
    assert_eq!((units(&found[2]).len(), found[2]["proposed_level"].as_str()), (0, Some("IV")));
    // A registry with a bad record is refused whole, naming it.
    write_files(
        &dir.join("bad"),
        &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", "unit,kind,value\nS1,cidr,192.0.2.0/99\n")],
    );
    let out = env.run(&["detect", "--rules", &p("rules"), "--registry", &p("bad"), &p("events.jsonl")], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("assets.csv:2:value: prefix length `99`"), "{stderr}");
}

/// A rule whose regex is costly on long fields is named on stderr after the
/// run, with its cost; the run itself completes and finds what it should.
#[test]
fn detect_names_slow_rules() {
    let env = Env::new();
    let rules = env.dir.path().join("rules");
    write_files(
        &rules,
        &[
            (
                "costly.yml",
                "title: Nested quantifiers\nid: costly-1\nlogsource: {product: windows}\ndetection:\n  sel:\n    CommandLine|re: '^(\\w+\\s?)*[^\\w\\s]{2}$'\n  condition: sel\n",
            ),
            (
                "cheap.yml",
                "title: Cmd\nid: cheap-1\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n",
            ),
        ],
    );
    let events = env.dir.path().join("events.jsonl");
    let event = serde_json::json!({ "Image": "C:\\Windows\\cmd.exe", "CommandLine": format!("{} !", "word ".repeat(20_000)) });
    std::fs::write(&events, event.to_string() + "\n").unwrap();
    let out = env.run(&["detect", "--rules", rules.to_str().unwrap(), events.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let found = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(found.iter().map(|f| f["rule_id"].as_str().unwrap()).collect::<Vec<_>>(), ["cheap-1"]);
    let slow: Vec<&str> = stderr.lines().filter(|l| l.starts_with("slow rule:")).collect();
    assert!(slow.iter().any(|l| l.starts_with("slow rule: Nested quantifiers (costly-1): ")), "{stderr}");
}

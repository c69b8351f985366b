//! `shouwang demo`: the whole product on a laptop. The demo region, one
//! account per role (credentials printed at every start, kept in
//! `data/demo-accounts.txt`, readable by the owner only), and a stream of
//! Suricata alerts aimed at the region, replayed live into the ingest
//! spool so alerts and the board move while you watch.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use shouwang_store::{NewUser, Principal, Role, Store};

/// The unit whose operator the demo signs in as: it owns 10.6.158.1.
const DEMO_UNIT: &str = "U00042";
const DEMO_UNIT_ADDR: &str = "10.6.158.1";

/// Every `AIMED`-th replayed alert hits the demo unit, so its operator has
/// alerts and notices to work on; every other one of those is a beacon the
/// demo's auto-issue rule turns into an issued notice.
const AIMED: usize = 10;
const BEACON: (u64, &str, &str) = (2039001, "ET MALWARE Demo Cobalt Strike Beacon Check-in", "A Network Trojan was detected");

/// (username, display name, role, unit)
fn accounts(supervisor: Option<String>) -> Vec<(&'static str, &'static str, Role, Option<String>)> {
    let mut a = vec![
        ("admin", "中心管理员 Admin", Role::CentreAdmin, None),
        ("analyst", "值班分析员 Analyst", Role::Analyst, None),
        ("leader", "中心领导 Leader", Role::Leader, None),
        ("auditor", "审计员 Auditor", Role::Auditor, None),
        ("unit", "成员单位 Unit operator", Role::UnitOperator, Some(DEMO_UNIT.to_string())),
    ];
    if let Some(s) = supervisor {
        a.push(("supervisor", "主管单位 Supervisor", Role::Supervisor, Some(s)));
    }
    a
}

/// A password the rules accept: upper, lower, digit and a dash.
pub fn password() -> String {
    let tail: String = rand::thread_rng().sample_iter(rand::distributions::Alphanumeric).take(14).map(char::from).collect();
    format!("Sw-{tail}-7")
}

/// Creates the accounts that do not exist yet and prints every account's
/// credentials (from the file, for accounts made on an earlier run).
pub async fn accounts_and_credentials(store: &Store, data_dir: &std::path::Path, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let me = Principal::local("demo");
    let file = data_dir.join("demo-accounts.txt");
    let mut kept = std::fs::read_to_string(&file).unwrap_or_default();
    let supervisor = store.unit_summary(&me, DEMO_UNIT).await.ok().and_then(|u| u.supervisor);
    for (username, display, role, unit) in accounts(supervisor) {
        if kept.lines().any(|l| l.split_whitespace().next() == Some(username)) {
            continue;
        }
        let pw = password();
        let unit = unit.map(|u| shouwang_registry::UnitCode::parse(&u)).transpose().map_err(|e| anyhow::anyhow!(e))?;
        let unit_text = unit.as_ref().map_or("-".to_string(), |u| u.to_string());
        let user = NewUser { username: username.into(), display_name: display.into(), role, unit, password: Some(pw.clone()) };
        match store.create_user(&me, user).await {
            Ok(()) => kept.push_str(&format!("{username} {pw} {} {unit_text}\n", role.as_str())),
            // Made by an older `serve --demo` (admin): its password was shown then.
            Err(shouwang_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    write_private(&file, &kept).with_context(|| format!("cannot write {}", file.display()))?;
    println!();
    println!("守望 Shouwang demo: open http://{addr}/ and sign in as any of these (kept in {}):", file.display());
    println!("  {:<12} {:<22} {:<14} unit", "username", "password", "role");
    for line in kept.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [u, p, r, unit] = f[..] {
            println!("  {u:<12} {p:<22} {r:<14} {unit}");
        }
    }
    println!();
    Ok(())
}

/// A Sigma rule for the replay's scanner on the web sites of ten units
/// (U00040–U00049, the demo unit among them), on the ECS field names of
/// Shouwang's Suricata events.
const SCANNER_RULE: &str = r#"title: 演示：扫描器访问网站 Demo scanner on unit web sites
id: 4c1b6f2e-8d3a-4e5f-9a6b-7c8d9e0f1a2b
status: experimental
description: Requests from an automated scanner to the web sites of units U00040 to U00049, as the demo replay sends them.
logsource:
    product: suricata
detection:
    selection:
        http.user_agent|contains: 'scanner/1.0'
        url.domain|startswith: 'www.u0004'
    condition: selection
level: medium
tags:
    - attack.reconnaissance
    - attack.t1595
"#;

/// Rules and indicators for the demo's live detection, written under
/// `data/demo-content/` when missing (edits made there are kept) and used
/// when the configuration names none.
pub fn detection(data_dir: &std::path::Path) -> anyhow::Result<shouwang_alerts::DetectionConfig> {
    let dir = data_dir.join("demo-content");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).with_context(|| format!("cannot create {}", rules.display()))?;
    let rule = rules.join("demo_scanner.yml");
    let indicators = dir.join("indicators.csv");
    // Eight of the replay's 256 scanner addresses, a known-scanner feed.
    let feed: String = std::iter::once("type,value,confidence,tags\n".to_string())
        .chain((0..8).map(|i| format!("ip,203.0.113.{},80,scanner\n", 7 + i * 31)))
        .collect();
    for (path, text) in [(&rule, SCANNER_RULE), (&indicators, feed.as_str())] {
        if !path.exists() {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(shouwang_alerts::DetectionConfig { rules: vec![rules], indicators: vec![indicators], ..Default::default() })
}

/// On a centre with no auto-issue policy yet, one rule: the demo's beacon
/// alerts become incident notices without an analyst. An existing policy,
/// the user's, is left alone.
pub async fn auto_issue(store: &Store) -> anyhow::Result<()> {
    if !store.auto_issue_policy().await?.rules.is_empty() {
        return Ok(());
    }
    let rule = shouwang_workflow::AutoRule {
        name: "演示：木马回连自动通报 Demo beacon".into(),
        rule_prefix: format!("suricata:{}", BEACON.0),
        levels: vec![],
        kind: shouwang_workflow::Kind::Incident,
        level: None,
        tlp: None,
    };
    let policy = shouwang_workflow::AutoIssue { rules: vec![rule] };
    store.set_auto_issue_policy(&Principal::local("demo"), &policy, "demo set-up").await?;
    Ok(())
}

/// The `n`-th replayed alert: the pool's, aimed at the demo unit every
/// `AIMED`-th time, as the beacon every other of those.
fn replayed(pool: &[String], n: usize, stamp: &str) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(&pool[n % pool.len()]).ok()?;
    v["timestamp"] = stamp.into();
    if n.is_multiple_of(AIMED) {
        v["dest_ip"] = DEMO_UNIT_ADDR.into();
        if n.is_multiple_of(2 * AIMED) {
            // Nothing else in it names a unit, so it becomes one notice.
            v["src_ip"] = "192.0.2.77".into();
            v["http"]["hostname"] = "www.u00042.yunling.example".into();
            v["alert"]["signature_id"] = BEACON.0.into();
            v["alert"]["signature"] = BEACON.1.into();
            v["alert"]["category"] = BEACON.2.into();
        }
    }
    Some(v.to_string())
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(text.as_bytes())
}

/// Replays generated Suricata alerts into the spool, `per_second` a second,
/// stamped with the current time so they count as live.
pub fn spawn_replay(spool: Arc<shouwang_pipeline::Spool>, per_second: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let pool = shouwang_demo::eve_alerts(7, 5_000);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut next = 0usize;
        loop {
            tick.tick().await;
            let now = jiff::Timestamp::now();
            let stamp =
                now.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8))).strftime("%Y-%m-%dT%H:%M:%S%.6f%z").to_string();
            let lines: Vec<String> = (next..next + per_second as usize).filter_map(|n| replayed(&pool, n, &stamp)).collect();
            next += per_second as usize;
            let spool = spool.clone();
            let done = tokio::task::spawn_blocking(move || {
                let recs: Vec<shouwang_pipeline::SpoolRecord> = lines
                    .iter()
                    .map(|l| shouwang_pipeline::SpoolRecord {
                        format: shouwang_ingest::Format::Eve,
                        variant: "",
                        received: now,
                        source: "demo",
                        sensor: Some("demo-replay"),
                        reject: None,
                        bytes: l.as_bytes(),
                    })
                    .collect();
                spool.append(&recs)
            })
            .await;
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "demo replay: the spool refused events");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenth_replayed_alert_hits_the_demo_unit_and_every_twentieth_is_the_beacon() {
        let pool = shouwang_demo::eve_alerts(7, 50);
        let at = |n| serde_json::from_str::<serde_json::Value>(&replayed(&pool, n, "2026-11-23T10:00:00+0800").unwrap()).unwrap();
        let (beacon, aimed, plain) = (at(40), at(30), at(31));
        assert_eq!(beacon["dest_ip"], DEMO_UNIT_ADDR);
        assert_eq!(beacon["alert"]["signature_id"], BEACON.0);
        assert_eq!(beacon["src_ip"], "192.0.2.77");
        assert_eq!(aimed["dest_ip"], DEMO_UNIT_ADDR);
        assert_ne!(aimed["alert"]["signature_id"], BEACON.0);
        assert_ne!(plain["dest_ip"], DEMO_UNIT_ADDR);
        assert_eq!(plain["timestamp"], "2026-11-23T10:00:00+0800");
        // Past the end of the pool it wraps around.
        assert_eq!(at(31 + 50)["flow_id"], plain["flow_id"]);
    }
}

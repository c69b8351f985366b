//! Store behaviour, independent of backend.

use shouwang_registry::{self as reg, Bundle, UnitCode};
use shouwang_store::{Attributor, NewUser, Principal, Role, Store, StoreError};

pub fn admin() -> Principal {
    Principal::local("test")
}

fn small_demo() -> Bundle {
    shouwang_demo::generate(shouwang_demo::Spec { seed: 11, units: 200, assets: 3000 })
}

pub fn read_csv(files: &[(&str, &str)]) -> Bundle {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    reg::io::read_path(dir.path(), reg::io::Limits::default()).unwrap_or_else(|e| panic!("{e:?}"))
}

const REGIONS: &str = "code,name_zh,level,parent\nP,云岭省,province,\nC1,青川市,city,P\nC2,临江市,city,P\nD1,东城区,district,C1\n";
const UNITS: &str = "code,name_zh,kind,region,supervisor,jurisdiction,sector\n\
    EDU,省教育厅,party_government,P,,,education\n\
    C1-EDU,青川市教育局,party_government,C1,EDU,,education\n\
    C1-CAC,青川市委网信办,party_government,C1,,C1,government\n\
    S1,东城区第一中学,school,D1,C1-EDU,,education\n\
    S2,临江市第二中学,school,C2,C1-EDU,,education\n\
    H1,东城区人民医院,hospital,D1,,,health\n\
    H2,临江市人民医院,hospital,C2,,,health\n";

pub async fn base(store: &Store) {
    let b = read_csv(&[("regions.csv", REGIONS), ("units.csv", UNITS)]);
    let out = store.import(&admin(), &b, "set up", false).await.unwrap();
    assert!(out.applied, "{:?}", out.errors);
}

async fn import_assets(store: &Store, assets: &str, reason: &str) -> shouwang_store::ImportOutcome {
    let b = read_csv(&[("assets.csv", assets)]);
    store.import(&admin(), &b, reason, false).await.unwrap()
}

async fn who(att: &Attributor, p: &Principal, q: &str, at: Option<jiff::Timestamp>) -> Option<String> {
    att.refresh().await.unwrap();
    let r = att.attribute(p, &[q.to_string()], at).await.unwrap().remove(0);
    r.unit.map(|u| u.code)
}

pub async fn migrations_are_idempotent(store: &Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

pub async fn demo_import_then_attribute(store: &Store) {
    let b = small_demo();
    let out = store.import(&admin(), &b, "demo", false).await.unwrap();
    assert!(out.applied && out.errors.is_empty(), "{:?}", &out.errors[..out.errors.len().min(3)]);
    assert_eq!(out.summary.units_added.len(), 200);
    assert_eq!(out.summary.claims_opened.len(), b.assets.len());
    // Cloud tenants inside the big-data centre's /15 are nested overlaps.
    assert!(out.overlaps.iter().any(|o| o.relation == "nested" && o.a_unit == "YL-BDC"));
    let att = Attributor::new(store.clone()).await.unwrap();
    // Every network asset the generator made must attribute to its unit
    // (or, for a nested/duplicated claim, to the documented winner).
    let mut checked = 0;
    for (_, a) in b.assets.iter().filter(|(_, a)| a.unit.as_str().starts_with('U')) {
        let q = match &a.value {
            reg::AssetValue::Target(shouwang_attribution::Target::Net(n)) => n.last().to_string(),
            reg::AssetValue::Target(shouwang_attribution::Target::Domain(d)) => format!("x.{}", d.name),
            _ => continue,
        };
        let r = att.attribute(&admin(), std::slice::from_ref(&q), None).await.unwrap().remove(0);
        assert_eq!(r.status, "matched", "{q}");
        checked += 1;
        if a.precedence == 0 && !q.starts_with("x.") {
            // a unit's own /20 holds no one else's claims
            assert_eq!(r.unit.unwrap().code, a.unit.as_str(), "{q}");
        }
    }
    assert!(checked > 500, "{checked}");
    // The shared egress: precedence 10 beats 0.
    let tenant = b.assets.iter().find(|(_, a)| a.precedence == 10).unwrap().1.unit.to_string();
    assert_eq!(who(&att, &admin(), "203.0.113.7", None).await.as_deref(), Some(tenant.as_str()));
    assert_eq!(who(&att, &admin(), "203.0.113.8", None).await.as_deref(), Some("YL-BDC"));
    // Criticality is inherited from the unit's system.
    let system = b.assets.iter().find(|(_, a)| a.unit.as_str() == "YL-BDC" && a.value.kind() == reg::AssetKind::System).unwrap();
    let r = att.attribute(&admin(), &["www.yl-bdc.yunling.example".into()], None).await.unwrap().remove(0);
    let asset = r.asset.unwrap();
    assert_eq!(asset.system.as_deref(), Some(system.1.value.value().as_str()));
    assert_eq!(asset.criticality.mlps_level, system.1.criticality.mlps_level);
    assert!(asset.criticality.mlps_level.is_some());
}

pub async fn dry_run_changes_nothing(store: &Store) {
    base(store).await;
    let version = store.registry_version().await.unwrap();
    let before = reg::io::to_json(&store.export(&admin()).await.unwrap());
    let b = read_csv(&[("assets.csv", "unit,kind,value\nS1,cidr,192.0.2.0/25\n")]);
    let out = store.import(&admin(), &b, "try", true).await.unwrap();
    assert!(!out.applied && out.dry_run);
    assert_eq!(out.summary.claims_opened.len(), 1);
    assert_eq!(store.registry_version().await.unwrap(), version);
    assert_eq!(reg::io::to_json(&store.export(&admin()).await.unwrap()), before);
}

pub async fn export_import_round_trips_exactly(store: &Store) {
    let b = small_demo();
    assert!(store.import(&admin(), &b, "demo", false).await.unwrap().applied);
    let exported = store.export(&admin()).await.unwrap();
    // Into the same store: nothing to do.
    let again = store.import(&admin(), &exported, "re-import", true).await.unwrap();
    assert!(again.errors.is_empty(), "{:?}", &again.errors[..again.errors.len().min(3)]);
    assert!(again.summary.claims_opened.is_empty() && again.summary.claims_ended.is_empty() && again.summary.units_changed.is_empty());
    // Through CSV files into a fresh store: the same bytes come back out.
    let dir = tempfile::tempdir().unwrap();
    reg::io::write_csv_dir(&exported, dir.path()).unwrap();
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Store::open_sqlite_dir(fresh_dir.path()).await.unwrap();
    let read = reg::io::read_path(dir.path(), reg::io::Limits::default()).unwrap();
    assert!(fresh.import(&admin(), &read, "copy", false).await.unwrap().applied);
    let out2 = tempfile::tempdir().unwrap();
    reg::io::write_csv_dir(&fresh.export(&admin()).await.unwrap(), out2.path()).unwrap();
    for f in ["regions.csv", "units.csv", "contacts.csv", "assets.csv"] {
        let a = std::fs::read(dir.path().join(f)).unwrap();
        let b = std::fs::read(out2.path().join(f)).unwrap();
        assert!(a == b, "{f} differs after export → import → export");
    }
}

pub async fn moved_asset_keeps_history_and_answers_as_of(store: &Store) {
    base(store).await;
    let out = import_assets(store, "unit,kind,value\nH1,cidr,198.51.100.0/24\n", "H1 allocation").await;
    assert!(out.applied);
    let att = Attributor::new(store.clone()).await.unwrap();
    assert_eq!(who(&att, &admin(), "198.51.100.9", None).await.as_deref(), Some("H1"));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before_move = jiff::Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // An import naming only H2 would leave H1's claim in place: a tie.
    let b = read_csv(&[("assets.csv", "unit,kind,value\nH2,cidr,198.51.100.0/24\n")]);
    let out = store.import(&admin(), &b, "transfer to H2", true).await.unwrap();
    assert!(out.moved.is_empty(), "H1 was not named, so its claim stays: {:?}", out.moved);
    assert_eq!(out.overlaps.len(), 1, "two units claim the same /24");
    assert_eq!(out.overlaps[0].winner, None, "equal precedence is a tie to resolve");
    // One import naming both units (H1 through units.csv) moves the block.
    let b = read_csv(&[
        ("assets.csv", "unit,kind,value\nH2,cidr,198.51.100.0/24\n"),
        (
            "units.csv",
            &UNITS
                .lines()
                .filter(|l| !l.starts_with("H2") && !l.starts_with("EDU") && !l.starts_with("C1") && !l.starts_with('S'))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ]);
    let out = store.import(&admin(), &b, "transfer to H2", false).await.unwrap();
    assert!(out.applied, "{:?}", out.errors);
    assert_eq!(out.moved.len(), 1);
    assert_eq!((out.moved[0].from.as_str(), out.moved[0].to.as_str()), ("H1", "H2"));
    assert_eq!(who(&att, &admin(), "198.51.100.9", None).await.as_deref(), Some("H2"));
    assert_eq!(who(&att, &admin(), "198.51.100.9", Some(before_move)).await.as_deref(), Some("H1"));
    let hist = store.unit_history(&admin(), "H1").await.unwrap();
    assert_eq!(hist.len(), 1);
    assert!(hist[0].valid_to.is_some());
    assert_eq!(hist[0].end_reason.as_deref(), Some("transfer to H2"));
    assert_eq!(hist[0].opened_by, "local:test");
    assert_eq!(hist[0].open_reason, "H1 allocation");
}

pub async fn invalid_import_applies_nothing(store: &Store) {
    base(store).await;
    let version = store.registry_version().await.unwrap();
    let b = read_csv(&[("assets.csv", "unit,kind,value\nS1,cidr,192.0.2.0/25\nNOPE,cidr,192.0.2.128/25\n")]);
    let out = store.import(&admin(), &b, "bad", false).await.unwrap();
    assert!(!out.applied);
    assert_eq!(out.errors.len(), 1);
    assert!(out.errors[0].ends_with("assets.csv:3:unit: unknown unit `NOPE`"), "{}", out.errors[0]);
    assert_eq!(store.registry_version().await.unwrap(), version);
    assert_eq!(store.unit(&admin(), "S1").await.unwrap().assets.len(), 0);
    // No reason, no import.
    assert!(matches!(store.import(&admin(), &b, " ", false).await, Err(StoreError::Invalid(_))));
}

pub async fn tenancy_is_enforced_in_the_store(store: &Store) {
    base(store).await;
    import_assets(
        store,
        "unit,kind,value\nS1,cidr,192.0.2.0/26\nS2,cidr,192.0.2.64/26\nH1,cidr,192.0.2.128/26\nH2,cidr,192.0.2.192/26\n",
        "alloc",
    )
    .await;
    let unit = |role, u: &str| Principal { username: format!("{u}-user"), role, unit: Some(UnitCode::parse(u).unwrap()) };
    let codes = |v: Vec<shouwang_store::UnitSummary>| v.into_iter().map(|u| u.code).collect::<Vec<_>>();
    // A unit sees only itself.
    let s1 = unit(Role::UnitOperator, "S1");
    assert_eq!(codes(store.list_units(&s1, None, 100, 0).await.unwrap()), ["S1"]);
    assert!(matches!(store.unit(&s1, "S2").await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.unit_history(&s1, "H1").await, Err(StoreError::NotFound(_))));
    assert_eq!(store.export(&s1).await.unwrap().assets.len(), 1);
    // The city education bureau sees its schools in both cities (sector line);
    // the city CAC sees every unit in its city's regions (territorial line).
    let edu = unit(Role::Supervisor, "C1-EDU");
    assert_eq!(codes(store.list_units(&edu, None, 100, 0).await.unwrap()), ["C1-EDU", "S1", "S2"]);
    let cac = unit(Role::Supervisor, "C1-CAC");
    assert_eq!(codes(store.list_units(&cac, None, 100, 0).await.unwrap()), ["C1-CAC", "C1-EDU", "H1", "S1"]);
    // Attribution never names a unit the caller cannot see.
    let att = Attributor::new(store.clone()).await.unwrap();
    assert_eq!(who(&att, &s1, "192.0.2.1", None).await.as_deref(), Some("S1"));
    assert_eq!(who(&att, &s1, "192.0.2.130", None).await, None);
    assert_eq!(who(&att, &cac, "192.0.2.130", None).await.as_deref(), Some("H1"));
    assert_eq!(who(&att, &cac, "192.0.2.200", None).await, None);
    // Roles.
    let auditor = Principal { username: "aud".into(), role: Role::Auditor, unit: None };
    assert!(matches!(store.list_units(&auditor, None, 10, 0).await, Err(StoreError::Forbidden(_))));
    assert!(!store.audit_entries(&auditor, 10).await.unwrap().is_empty());
    let leader = Principal { username: "boss".into(), role: Role::Leader, unit: None };
    assert_eq!(store.list_units(&leader, None, 100, 0).await.unwrap().len(), 7);
    // Pages and search, for the centre (paged in SQL) and a supervisor (in the store).
    assert_eq!(codes(store.list_units(&leader, None, 3, 2).await.unwrap()), ["EDU", "H1", "H2"]);
    assert_eq!(codes(store.list_units(&leader, Some("临江"), 100, 0).await.unwrap()), ["H2", "S2"]);
    assert_eq!(codes(store.list_units(&leader, Some("临江"), 1, 1).await.unwrap()), ["S2"]);
    assert_eq!(codes(store.list_units(&cac, None, 2, 1).await.unwrap()), ["C1-EDU", "H1"]);
    assert_eq!(
        store.list_units(&leader, None, 100, 0).await.unwrap()[0].assets,
        store.unit_summary(&leader, "C1-CAC").await.unwrap().assets
    );
    assert!(matches!(store.unit_summary(&s1, "S2").await, Err(StoreError::NotFound(_))));
    let b = read_csv(&[("assets.csv", "unit,kind,value\nS1,cidr,198.51.100.0/24\n")]);
    assert!(matches!(store.import(&leader, &b, "x", false).await, Err(StoreError::Forbidden(_))));
    assert!(matches!(store.import(&s1, &b, "x", false).await, Err(StoreError::Forbidden(_))));
    assert!(matches!(store.audit_entries(&s1, 10).await, Err(StoreError::Forbidden(_))));
    let analyst = Principal { username: "ana".into(), role: Role::Analyst, unit: None };
    let nu = NewUser { username: "x".into(), display_name: "x".into(), role: Role::Leader, unit: None, password: None };
    assert!(matches!(store.create_user(&analyst, nu).await, Err(StoreError::Forbidden(_))));
}

pub async fn tokens_and_passwords(store: &Store) {
    base(store).await;
    let nu = |name: &str, role, unit: Option<&str>, pw: Option<&str>| NewUser {
        username: name.into(),
        display_name: name.into(),
        role,
        unit: unit.map(|u| UnitCode::parse(u).unwrap()),
        password: pw.map(str::to_string),
    };
    store.create_user(&admin(), nu("ops", Role::UnitOperator, Some("S1"), Some("Correct horse battery 9"))).await.unwrap();
    assert!(matches!(store.create_user(&admin(), nu("ops", Role::Analyst, None, None)).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.create_user(&admin(), nu("u2", Role::UnitOperator, None, None)).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.create_user(&admin(), nu("u3", Role::Analyst, Some("S1"), None)).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.create_user(&admin(), nu("u4", Role::Analyst, None, Some("short"))).await, Err(StoreError::Invalid(_))));
    let p = store.login("ops", "Correct horse battery 9").await.unwrap();
    assert_eq!((p.role, p.unit.as_ref().map(|u| u.as_str())), (Role::UnitOperator, Some("S1")));
    assert!(matches!(store.login("ops", "Wrong horse battery 9").await, Err(StoreError::Forbidden(_))));
    assert!(matches!(store.login("nobody", "Correct horse battery 9").await, Err(StoreError::Forbidden(_))));
    let token = store.create_token(&admin(), "ops", "laptop").await.unwrap();
    assert!(token.starts_with("sw_") && token.len() == 67);
    assert_eq!(store.principal_for_token(&token).await.unwrap(), Some(p.clone()));
    let mut wrong = token.clone();
    wrong.replace_range(10..11, if &token[10..11] == "a" { "b" } else { "a" });
    assert_eq!(store.principal_for_token(&wrong).await.unwrap(), None);
    assert_eq!(store.principal_for_token("sw_short").await.unwrap(), None);
    // Only the hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(store.pool()).await.unwrap();
    assert!(stored.iter().all(|h| h.len() == 64 && !h.contains(&token[3..])));
    // Revocation and disabling take effect at once, and are audited.
    let listed = store.list_tokens(&admin(), "ops").await.unwrap();
    assert_eq!((listed.len(), listed[0].name.as_str(), listed[0].revoked_at), (1, "laptop", None));
    let second = store.create_token(&p, "ops", "phone").await.unwrap();
    store.revoke_token(&admin(), listed[0].id, "laptop stolen").await.unwrap();
    assert_eq!(store.principal_for_token(&token).await.unwrap(), None);
    assert!(store.principal_for_token(&second).await.unwrap().is_some());
    assert!(matches!(store.revoke_token(&admin(), listed[0].id, "again").await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.disable_user(&p, "ops", "self").await, Err(StoreError::Forbidden(_))));
    store.disable_user(&admin(), "ops", "left the unit").await.unwrap();
    assert_eq!(store.principal_for_token(&second).await.unwrap(), None);
    assert!(matches!(store.login("ops", "Correct horse battery 9").await, Err(StoreError::Forbidden(_))));
    let audit = store.audit_entries(&admin(), 20).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "token.revoke" && e.reason == "laptop stolen"));
    assert!(audit.iter().any(|e| e.action == "user.disable" && e.target == "ops"));
    // A unit operator cannot mint tokens for others.
    assert!(matches!(store.create_token(&p, "nobody-else", "x").await, Err(StoreError::Forbidden(_))));
}

pub async fn history_and_audit_cannot_be_rewritten(store: &Store) {
    base(store).await;
    import_assets(store, "unit,kind,value\nS1,cidr,192.0.2.0/26\n", "alloc").await;
    let pool = store.pool();
    assert!(sqlx::query("UPDATE audit_log SET actor = 'someone else'").execute(pool).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_log").execute(pool).await.is_err());
    assert!(sqlx::query("UPDATE claims SET unit = 'S2'").execute(pool).await.is_err());
    assert!(sqlx::query("DELETE FROM claims").execute(pool).await.is_err());
    let entries = store.audit_entries(&admin(), 100).await.unwrap();
    assert!(entries.iter().any(|e| e.action == "registry.import" && e.reason == "alloc" && e.actor == "local:test"));
    // Ending a claim once is allowed; rewriting an ended claim is not.
    import_assets(store, "unit,kind,value\nS1,cidr,192.0.2.64/26\n", "swap").await;
    assert!(sqlx::query("UPDATE claims SET end_reason = 'rewritten' WHERE valid_to IS NOT NULL").execute(pool).await.is_err());
}

pub async fn overlaps_report_winner(store: &Store) {
    base(store).await;
    let out = import_assets(
        store,
        "unit,kind,value,precedence\nS1,cidr,10.0.0.0/16,0\nS2,cidr,10.0.1.0/24,0\nH1,domain,*.shared.example,5\nH2,domain,*.shared.example,1\n",
        "overlaps",
    )
    .await;
    assert!(out.applied);
    assert_eq!(out.overlaps.len(), 2, "{:?}", out.overlaps);
    // A later import reports only the overlaps it creates.
    let out = import_assets(store, "unit,kind,value,precedence\nH1,domain,*.shared.example,5\nH1,cidr,10.0.2.0/24,0\n", "more").await;
    assert_eq!(out.overlaps.len(), 1, "only H1's new /24 inside S1's /16: {:?}", out.overlaps);
    assert_eq!(out.overlaps[0].b_asset, "10.0.2.0/24");
    let o = store.overlaps(&admin()).await.unwrap();
    assert_eq!(o.len(), 3, "{o:?}");
    let nested = o.iter().find(|x| x.relation == "nested" && x.b_unit == "S2").unwrap();
    assert_eq!((nested.a_unit.as_str(), nested.winner.as_deref()), ("S1", Some("S2")));
    let equal = o.iter().find(|x| x.relation == "equal").unwrap();
    assert_eq!(equal.winner.as_deref(), Some("H1"));
    let att = Attributor::new(store.clone()).await.unwrap();
    assert_eq!(who(&att, &admin(), "www.shared.example", None).await.as_deref(), Some("H1"));
    assert_eq!(who(&att, &admin(), "10.0.1.1", None).await.as_deref(), Some("S2"));
    assert_eq!(who(&att, &admin(), "10.0.2.1", None).await.as_deref(), Some("H1"));
    assert_eq!(who(&att, &admin(), "10.0.3.1", None).await.as_deref(), Some("S1"));
}

pub async fn concurrent_imports_serialize(store: &Store) {
    base(store).await;
    let b = read_csv(&[("assets.csv", "unit,kind,value\nS1,cidr,192.0.2.0/26\nS1,domain,*.s1.example\n")]);
    // Three tasks on the multi-threaded runtime, released together.
    let b = std::sync::Arc::new(b);
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(3));
    let tasks: Vec<_> = ["first", "second", "third"]
        .into_iter()
        .map(|reason| {
            let (store, b, gate) = (store.clone(), b.clone(), gate.clone());
            tokio::spawn(async move {
                gate.wait().await;
                store.import(&admin(), &b, reason, false).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().expect("every import succeeds: later ones wait, then find nothing to do"));
    }
    let applied = outcomes.iter().filter(|o| o.applied).count();
    assert_eq!(applied, 1, "the later imports see the first one's claims and change nothing");
    let hist = store.unit_history(&admin(), "S1").await.unwrap();
    assert_eq!(hist.len(), 2, "one claim per asset, no duplicates: {hist:?}");
}

pub async fn events_are_tagged_with_owning_units_on_the_way_in(store: &Store) {
    use shouwang_ingest::parse::{Ctx, Eve, Parser};
    base(store).await;
    let out = import_assets(
        store,
        "unit,kind,value\nS1,cidr,192.0.2.0/26\nH1,domain,*.hospital.example\nH2,url,https://portal.example/app\n",
        "alloc",
    )
    .await;
    assert!(out.applied);
    let att = Attributor::new(store.clone()).await.unwrap();
    let line = r#"{"timestamp":"2026-11-21T15:04:05+0800","event_type":"alert","src_ip":"203.0.113.7","dest_ip":"192.0.2.5","dest_port":80,"proto":"TCP","alert":{"signature":"x"},"http":{"hostname":"WWW.Hospital.Example.","url":"/"}}"#;
    let dns = r#"{"timestamp":"2026-11-21T15:04:05+0800","event_type":"dns","src_ip":"198.51.100.1","dns":{"type":"query","rrname":"nobody.test","rrtype":"A"}}"#;
    let ctx = Ctx::new("sensor-1");
    let mut events = vec![Eve.parse(line.as_bytes(), &ctx).unwrap(), Eve.parse(dns.as_bytes(), &ctx).unwrap()];
    let mut ecs = shouwang_ingest::Event::new(jiff::Timestamp::now(), "event", "t");
    ecs.url = Some(shouwang_ingest::event::Url { full: Some("https://portal.example/app/login".into()), ..Default::default() });
    events.push(ecs);
    att.tag(&mut events);
    assert_eq!(events[0].shouwang.units, ["H1", "S1"], "destination address and (non-canonical) HTTP host");
    assert!(events[1].shouwang.units.is_empty(), "nobody owns these");
    assert_eq!(events[2].shouwang.units, ["H2"], "URL prefix");
}

pub fn hits(rule: &str, unit: Option<&str>, level: &str, at: &str, n: i64) -> shouwang_store::AlertHits {
    let t: jiff::Timestamp = at.parse().unwrap();
    shouwang_store::AlertHits {
        rule_id: rule.into(),
        title: format!("rule {rule}"),
        source: "sigma".into(),
        unit: unit.map(str::to_string),
        asset: unit.map(|u| format!("cidr:{u}")),
        window_start: "2026-11-01T10:00:00Z".parse().unwrap(),
        severity: "high".into(),
        category: Some("NABACKIMPL".into()),
        category_reason: Some("tag attack.t1505.003".into()),
        proposed_level: level.into(),
        grading: serde_json::json!({ "reasons": [format!("level {level}")] }),
        hits: n,
        first_seen: t,
        last_seen: t,
        samples: (0..n).map(|i| serde_json::json!({ "n": i, "at": at })).collect(),
    }
}

pub async fn alerts_aggregate_scope_and_keep_overrides(store: &Store) {
    use shouwang_store::AlertQuery;
    base(store).await;
    // Two batches of the same (rule, unit, asset, window) make one alert.
    store.record_alerts(&[hits("r1", Some("S1"), "IV", "2026-11-01T10:05:00Z", 3)], &[(7, 100)]).await.unwrap();
    store
        .record_alerts(
            &[
                hits("r1", Some("S1"), "III", "2026-11-01T10:01:00Z", 4),
                hits("r1", Some("H1"), "IV", "2026-11-01T10:02:00Z", 1),
                hits("r2", None, "II", "2026-11-01T10:03:00Z", 1),
            ],
            &[(7, 200), (8, 50)],
        )
        .await
        .unwrap();
    // An older mark never moves a stream back.
    store.record_alerts(&[], &[(7, 150)]).await.unwrap();
    assert_eq!(store.alert_mark(7).await.unwrap(), Some(200));
    assert_eq!(store.alert_mark(8).await.unwrap(), Some(50));
    assert_eq!(store.alert_mark(9).await.unwrap(), None);

    let all = store.alerts(&admin(), &AlertQuery::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    let s1 = all.iter().find(|a| a.hits.unit.as_deref() == Some("S1")).unwrap();
    assert_eq!(s1.hits.hits, 7);
    assert_eq!(s1.hits.first_seen, "2026-11-01T10:01:00Z".parse::<jiff::Timestamp>().unwrap());
    assert_eq!(s1.hits.last_seen, "2026-11-01T10:05:00Z".parse::<jiff::Timestamp>().unwrap());
    assert_eq!(s1.hits.samples.len(), shouwang_store::MAX_SAMPLES);
    // The more severe proposal wins, and is in force until someone overrides it.
    assert_eq!((s1.hits.proposed_level.as_str(), s1.level.as_str()), ("III", "III"));
    assert_eq!(s1.hits.grading["reasons"][0], "level III");

    // Filters.
    let q = |f: fn(&mut AlertQuery)| {
        let mut q = AlertQuery::default();
        f(&mut q);
        q
    };
    let ids = |v: Vec<shouwang_store::Alert>| {
        let mut r: Vec<String> = v.into_iter().map(|a| format!("{}@{}", a.hits.rule_id, a.hits.unit.unwrap_or_default())).collect();
        r.sort();
        r
    };
    assert_eq!(ids(store.alerts(&admin(), &q(|q| q.unit = Some("H1".into()))).await.unwrap()), ["r1@H1"]);
    assert_eq!(ids(store.alerts(&admin(), &q(|q| q.level = Some("II,III".into()))).await.unwrap()), ["r1@S1", "r2@"]);
    assert_eq!(ids(store.alerts(&admin(), &q(|q| q.category = Some("NA".into()))).await.unwrap()).len(), 3);
    assert_eq!(ids(store.alerts(&admin(), &q(|q| q.category = Some("MP".into()))).await.unwrap()).len(), 0);
    assert_eq!(ids(store.alerts(&admin(), &q(|q| q.rule = Some("r2".into()))).await.unwrap()), ["r2@"]);
    assert_eq!(
        ids(store.alerts(&admin(), &q(|q| q.from = Some("2026-11-01T10:02:30Z".parse().unwrap()))).await.unwrap()),
        ["r1@S1", "r2@"]
    );
    assert_eq!(ids(store.alerts(&admin(), &q(|q| q.to = Some("2026-11-01T10:01:30Z".parse().unwrap()))).await.unwrap()), ["r1@S1"]);
    assert!(matches!(store.alerts(&admin(), &q(|q| q.level = Some("V".into()))).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.alerts(&admin(), &q(|q| q.category = Some("MP' OR 1=1".into()))).await, Err(StoreError::Invalid(_))));

    // Tenancy: a school sees its own; its supervisor sees its schools; the
    // unattributed alert is the centre's alone; an auditor sees none.
    let unit = |role, u: &str| Principal { username: format!("{u}-user"), role, unit: Some(UnitCode::parse(u).unwrap()) };
    let school = unit(Role::UnitOperator, "S1");
    assert_eq!(ids(store.alerts(&school, &AlertQuery::default()).await.unwrap()), ["r1@S1"]);
    assert_eq!(ids(store.alerts(&school, &q(|q| q.unit = Some("H1".into()))).await.unwrap()), Vec::<String>::new());
    let edu = unit(Role::Supervisor, "C1-EDU");
    assert_eq!(ids(store.alerts(&edu, &AlertQuery::default()).await.unwrap()), ["r1@S1"]);
    let h1 = all.iter().find(|a| a.hits.unit.as_deref() == Some("H1")).unwrap().id;
    let r2 = all.iter().find(|a| a.hits.unit.is_none()).unwrap().id;
    assert!(matches!(store.alert(&school, h1).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.alert(&school, r2).await, Err(StoreError::NotFound(_))));
    let auditor = Principal { username: "aud".into(), role: Role::Auditor, unit: None };
    assert!(matches!(store.alerts(&auditor, &AlertQuery::default()).await, Err(StoreError::Forbidden(_))));

    // Overrides: analysts only, with a reason, audited, and kept when more hits arrive.
    assert!(matches!(store.set_alert_level(&school, s1.id, "IV", "not ours").await, Err(StoreError::Forbidden(_))));
    let analyst = Principal { username: "ana".into(), role: Role::Analyst, unit: None };
    assert!(matches!(store.set_alert_level(&analyst, s1.id, "IV", "  ").await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.set_alert_level(&analyst, s1.id, "4", "why").await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.set_alert_level(&analyst, 999_999, "IV", "why").await, Err(StoreError::NotFound(_))));
    let a = store.set_alert_level(&analyst, s1.id, "II", "test server holds exam data").await.unwrap();
    assert_eq!((a.level.as_str(), a.hits.proposed_level.as_str()), ("II", "III"));
    let o = a.overridden.unwrap();
    assert_eq!((o.by.as_str(), o.reason.as_str()), ("ana", "test server holds exam data"));
    store.record_alerts(&[hits("r1", Some("S1"), "IV", "2026-11-01T10:09:00Z", 1)], &[]).await.unwrap();
    let a = store.alert(&school, s1.id).await.unwrap();
    assert_eq!((a.level.as_str(), a.hits.hits), ("II", 8));
    // A more severe proposal after the override changes the proposal, not the decision.
    store.record_alerts(&[hits("r1", Some("S1"), "I", "2026-11-01T10:10:00Z", 1)], &[]).await.unwrap();
    let a = store.alert(&school, s1.id).await.unwrap();
    assert_eq!((a.level.as_str(), a.hits.proposed_level.as_str(), a.hits.hits), ("II", "I", 9));
    assert_eq!(a.hits.grading["reasons"][0], "level I");
    // Many alerts at once (several upsert statements), mixed with a merge.
    let mut many: Vec<_> = (0..450).map(|i| hits(&format!("bulk{i}"), Some("S1"), "IV", "2026-11-01T11:00:00Z", 1)).collect();
    many.push(hits("r1", Some("S1"), "IV", "2026-11-01T10:11:00Z", 2));
    store.record_alerts(&many, &[]).await.unwrap();
    let bulk = store.alerts(&admin(), &q(|q| q.limit = Some(1000))).await.unwrap();
    assert_eq!(bulk.iter().filter(|a| a.hits.rule_id.starts_with("bulk")).count(), 450);
    assert_eq!(store.alert(&school, s1.id).await.unwrap().hits.hits, 11);
    let audit = store.audit_entries(&admin(), 10).await.unwrap();
    let e = audit.iter().find(|e| e.action == "alert.level").expect("the override is audited");
    assert_eq!((e.actor.as_str(), e.target.clone(), e.reason.as_str()), ("ana", format!("alert:{}", s1.id), "test server holds exam data"));
    assert_eq!(e.detail["from"], "III");
    assert_eq!(e.detail["to"], "II");
    // A bad proposed level from detection is refused, and nothing of its batch is applied.
    let bad = hits("r9", Some("S1"), "V", "2026-11-01T10:00:00Z", 1);
    assert!(store.record_alerts(&[hits("r8", Some("S1"), "IV", "2026-11-01T10:00:00Z", 1), bad], &[(7, 900)]).await.is_err());
    assert_eq!(store.alert_mark(7).await.unwrap(), Some(200));
    assert!(store.alerts(&admin(), &q(|q| q.rule = Some("r8".into()))).await.unwrap().is_empty());
}

/// Migration 3 moves the samples that alerts held in their own row into
/// `alert_samples`, in order: rebuilt here as it was before, then migrated.
pub async fn alert_samples_survive_migration_3(store: &Store) {
    let admin = admin();
    let pool = store.pool();
    for sql in [
        "DROP TABLE alert_samples",
        "ALTER TABLE alerts ADD COLUMN samples TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE alerts ADD COLUMN samples_kept BIGINT NOT NULL DEFAULT 0",
        "DELETE FROM schema_migrations WHERE version = 3",
        "INSERT INTO alerts (rule_id, title, source, unit, asset, window_start, severity, category, category_reason, proposed_level, \
         grading, level, hits, first_seen, last_seen, samples, samples_kept, created_at, updated_at) VALUES ('r1', 'rule r1', 'sigma', '', '', \
         0, 'high', '', '', 'III', '{}', 'III', 2, 1, 2, '[{\"n\":0,\"at\":\"a\"},{\"n\":1,\"at\":\"b\"}]', 2, 1, 2)",
    ] {
        sqlx::raw_sql(sql).execute(pool).await.unwrap();
    }
    store.migrate().await.unwrap();
    let all = store.alerts(&admin, &Default::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].hits.samples, [serde_json::json!({ "n": 0, "at": "a" }), serde_json::json!({ "n": 1, "at": "b" })]);
    // And later hits add to the moved samples, up to the limit.
    let mut more = hits("r1", None, "III", "1970-01-01T00:00:00Z", 4);
    more.window_start = jiff::Timestamp::UNIX_EPOCH;
    store.record_alerts(&[more], &[]).await.unwrap();
    let a = store.alert(&admin, all[0].id).await.unwrap();
    assert_eq!((a.hits.hits, a.hits.samples.len()), (6, shouwang_store::MAX_SAMPLES));
    assert_eq!(a.hits.samples[2], serde_json::json!({ "n": 0, "at": "1970-01-01T00:00:00Z" }));
}

#[path = "notices.rs"]
mod notices;
pub use notices::*;
#[path = "delivery.rs"]
mod delivery;
pub use delivery::*;

/// Lifts the append-only triggers, as someone with the database's owner
/// rights could: what the hash chain is for.
async fn lift_audit_triggers(store: &Store) {
    let sql: &[&str] = match store.backend() {
        shouwang_store::Backend::Sqlite => &["DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"],
        shouwang_store::Backend::Postgres => &["ALTER TABLE audit_log DISABLE TRIGGER audit_append_only"],
    };
    for s in sql {
        sqlx::raw_sql(s).execute(store.pool()).await.unwrap();
    }
}

pub async fn audit_chain_finds_edits_deletions_and_a_cut_tail(store: &Store) {
    base(store).await;
    for i in 0..5 {
        store.record(&admin(), "test.step", &format!("t{i}"), "why", &serde_json::json!({ "i": i })).await.unwrap();
    }
    let ok = store.verify_audit(&admin(), None).await.unwrap();
    assert!(ok.intact(), "{:?}", ok.problems);
    assert_eq!(ok.entries, 6, "the import and five steps");
    let auditor = Principal { username: "aud".into(), role: Role::Auditor, unit: None };
    assert_eq!(store.verify_audit(&auditor, None).await.unwrap().head, ok.head);
    let analyst = Principal { username: "ana".into(), role: Role::Analyst, unit: None };
    assert!(matches!(store.verify_audit(&analyst, None).await, Err(StoreError::Forbidden(_))));
    // A head kept earlier is found in the chain as it grows; a made-up one is not.
    store.record(&admin(), "test.step", "t5", "why", &serde_json::json!({})).await.unwrap();
    assert!(store.verify_audit(&admin(), Some(&ok.head)).await.unwrap().intact());
    let r = store.verify_audit(&admin(), Some("ab".repeat(32).as_str())).await.unwrap();
    assert!(r.problems[0].contains("no longer passes through the head kept earlier"), "{:?}", r.problems);

    lift_audit_triggers(store).await;
    let pool = store.pool();
    let exec = |sql: &'static str| async move { sqlx::raw_sql(sql).execute(pool).await.unwrap() };
    // An edit is found, once, and undoing it makes the chain whole again.
    exec("UPDATE audit_log SET reason = 'nothing to see' WHERE target = 't2'").await;
    let r = store.verify_audit(&admin(), None).await.unwrap();
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(r.problems[0].contains("does not match its hash") && r.problems[0].contains("test.step on t2"), "{:?}", r.problems);
    exec("UPDATE audit_log SET reason = 'why' WHERE target = 't2'").await;
    assert!(store.verify_audit(&admin(), None).await.unwrap().intact());
    // A deleted entry leaves a gap.
    exec("DELETE FROM audit_log WHERE target = 't1'").await;
    let r = store.verify_audit(&admin(), None).await.unwrap();
    assert!(r.problems.iter().any(|p| p.contains("where 3 was expected: entries were deleted")), "{:?}", r.problems);
    // A cut-off tail disagrees with the head.
    exec("DELETE FROM audit_log WHERE target = 't5'").await;
    let r = store.verify_audit(&admin(), None).await.unwrap();
    assert_eq!(r.problems.len(), 3, "{:?}", r.problems);
    assert!(r.problems[2].starts_with("the head says 7 entries ending in"), "{:?}", r.problems);
}

pub async fn audit_chain_covers_entries_from_before_it(store: &Store) {
    base(store).await;
    store.record(&admin(), "test.step", "t", "why", &serde_json::json!({})).await.unwrap();
    // Back to the schema before migration 5, with two entries unchained.
    let undo: &[&str] = match store.backend() {
        shouwang_store::Backend::Sqlite => &[
            "DROP TRIGGER audit_no_update",
            "DROP TRIGGER audit_head_follows",
            "DROP TABLE audit_head",
            "ALTER TABLE audit_log DROP COLUMN seq",
            "ALTER TABLE audit_log DROP COLUMN hash",
            "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "DELETE FROM schema_migrations WHERE version = 5",
        ],
        shouwang_store::Backend::Postgres => &[
            "DROP TRIGGER audit_head_follows ON audit_log",
            "DROP FUNCTION audit_head_follows()",
            "DROP TABLE audit_head",
            "ALTER TABLE audit_log DROP COLUMN seq",
            "ALTER TABLE audit_log DROP COLUMN hash",
            "DELETE FROM schema_migrations WHERE version = 5",
        ],
    };
    for s in undo {
        sqlx::raw_sql(s).execute(store.pool()).await.unwrap();
    }
    store.migrate().await.unwrap();
    store.record(&admin(), "test.step", "after", "why", &serde_json::json!({})).await.unwrap();
    let r = store.verify_audit(&admin(), None).await.unwrap();
    assert!(r.intact(), "{:?}", r.problems);
    assert_eq!(r.entries, 3);
    assert!(sqlx::query("UPDATE audit_log SET actor = 'x'").execute(store.pool()).await.is_err(), "append-only again");
}

/// Idempotency keys: claimed once, replayed with the kept response, refused
/// for another request or while running, per caller, released after our
/// own failure, and forgotten after a day.
pub async fn request_keys_replay_refuse_and_expire(store: &Store) {
    use shouwang_store::Claim;
    let ana = Principal { username: "ana".into(), role: Role::Analyst, unit: None };
    let bob = Principal { username: "bob".into(), role: Role::Analyst, unit: None };
    let t: jiff::Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
    let claim = |p: &Principal, key: &str, body: &[u8], at: jiff::Timestamp| {
        let (store, p, key, body) = (store.clone(), p.clone(), key.to_string(), body.to_vec());
        async move { store.claim_request(&p, &key, "POST", "/api/v1/notices", &body, at).await.unwrap() }
    };
    assert_eq!(claim(&ana, "k1", b"{}", t).await, Claim::New);
    assert_eq!(claim(&ana, "k1", b"{}", t).await, Claim::InFlight);
    assert_eq!(claim(&ana, "k1", b"{\"x\":1}", t).await, Claim::Mismatch);
    assert_eq!(claim(&bob, "k1", b"{}", t).await, Claim::New, "keys are per caller");
    let body = "{\"id\":7,\"title\":\"弱口令\"}\u{0}\u{ff}".as_bytes();
    store.finish_request(&ana, "k1", 201, "application/json", body).await.unwrap();
    let replay = Claim::Replay { status: 201, content_type: "application/json".into(), body: body.to_vec() };
    assert_eq!(claim(&ana, "k1", b"{}", t).await, replay);
    // A second finish does not overwrite the kept response.
    store.finish_request(&ana, "k1", 500, "text/plain", b"x").await.unwrap();
    assert_eq!(claim(&ana, "k1", b"{}", t).await, replay);
    // Our failure lets the key go; a kept response is not released.
    store.release_request(&bob, "k1").await.unwrap();
    assert_eq!(claim(&bob, "k1", b"{}", t).await, Claim::New);
    store.release_request(&ana, "k1").await.unwrap();
    assert_eq!(claim(&ana, "k1", b"{}", t).await, replay);
    // A day later the key is forgotten.
    let later = t + jiff::SignedDuration::from_hours(25);
    assert_eq!(claim(&ana, "k1", b"{\"x\":1}", later).await, Claim::New);
    for bad in ["", "a b", "两"] {
        assert!(matches!(store.claim_request(&ana, bad, "POST", "/", b"", t).await, Err(StoreError::Invalid(_))), "{bad:?}");
    }
}

pub async fn web_sessions_sign_in_limit_expire_and_revoke(store: &Store) {
    use shouwang_store::{LOGIN_PER_ACCOUNT, SESSION_IDLE, SESSION_LIFETIME, new_totp_secret, totp_code};
    base(store).await;
    let now = jiff::Timestamp::from_second(1_795_000_000).unwrap();
    let user = |name: &str, pw: &str| NewUser {
        username: name.into(),
        display_name: name.into(),
        role: Role::Analyst,
        unit: None,
        password: Some(pw.into()),
    };
    // The password rules, each named in its refusal.
    for (pw, why) in [
        ("Short1!", "at least 12"),
        ("alllowercaseletters", "three of"),
        ("Duty-officer-2026", "username"),
        (&"Aa1!".repeat(100), "at most"),
    ] {
        match store.create_user(&admin(), user("duty-officer", pw)).await {
            Err(StoreError::Invalid(m)) => assert!(m.contains(why), "{pw}: {m}"),
            other => panic!("{pw}: {other:?}"),
        }
    }
    let pw = "Night shift 42";
    store.create_user(&admin(), user("duty-officer", pw)).await.unwrap();
    store.create_user(&admin(), user("second", pw)).await.unwrap();

    // Wrong password and unknown user: the same refusal.
    for (u, p) in [("duty-officer", "Night shift 43"), ("nobody", pw)] {
        assert!(
            matches!(store.sign_in(u, p, "10.0.0.1", "ua", now).await, Err(StoreError::Forbidden(m)) if m == "wrong username or password")
        );
    }
    let s = store.sign_in("Duty-Officer", pw, "10.0.0.1", "Mozilla/5.0", now).await.unwrap();
    assert!(s.token.starts_with("ss_") && s.token.len() == 67 && s.csrf.len() == 64 && !s.needs_totp);
    let live = store.session(&s.token, now).await.unwrap().expect("live session");
    assert_eq!((live.principal.username.as_str(), live.lang.as_str(), live.csrf.as_str()), ("duty-officer", "zh-CN", s.csrf.as_str()));
    // Only the token's hash is kept; a made-up token of the right shape is nobody.
    let hashes: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_all(store.pool()).await.unwrap();
    assert!(hashes.iter().all(|h| !h.contains(&s.token[3..])));
    assert!(store.session(&format!("ss_{}", "ab".repeat(32)), now).await.unwrap().is_none());
    assert!(store.session("ss_short", now).await.unwrap().is_none());

    // Idle and lifetime limits.
    let idle = now + SESSION_IDLE + jiff::SignedDuration::from_secs(1);
    assert!(store.session(&s.token, idle).await.unwrap().is_none());
    let mut t = now;
    while t < now + SESSION_LIFETIME {
        t += jiff::SignedDuration::from_mins(90);
        let alive = store.session(&s.token, t).await.unwrap().is_some();
        assert_eq!(alive, t < now + SESSION_LIFETIME, "at {t}");
    }

    // Rate limit: after five failures the right password is refused too,
    // another account from the same address is not, and the window ends.
    let later = now + jiff::SignedDuration::from_hours(20);
    for _ in 0..LOGIN_PER_ACCOUNT {
        assert!(matches!(store.sign_in("second", "Wrong guess 123", "10.0.0.9", "ua", later).await, Err(StoreError::Forbidden(_))));
    }
    match store.sign_in("second", pw, "10.0.0.9", "ua", later).await {
        Err(StoreError::Limited { retry_after, .. }) => assert!((1..=900).contains(&retry_after), "{retry_after}"),
        other => panic!("{other:?}"),
    }
    store.sign_in("duty-officer", pw, "10.0.0.9", "ua", later).await.unwrap();
    let after = later + jiff::SignedDuration::from_mins(16);
    let s2 = store.sign_in("second", pw, "10.0.0.9", "ua", after).await.unwrap();

    // Listing and revoking: one's own, never another user's.
    let mine = store.sign_in("duty-officer", pw, "10.0.0.2", "phone", after).await.unwrap();
    let me = store.session(&mine.token, after).await.unwrap().unwrap();
    let listed = store.sessions(&me.principal, after).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].user_agent, "phone");
    let other = store.session(&s2.token, after).await.unwrap().unwrap();
    assert!(matches!(store.revoke_session(&me.principal, other.id, after).await, Err(StoreError::NotFound(_))));
    assert!(store.session(&s2.token, after).await.unwrap().is_some());
    store.revoke_session(&me.principal, listed[1].id, after).await.unwrap();
    assert_eq!(store.sessions(&me.principal, after).await.unwrap().len(), 1);
    store.revoke_session(&admin(), other.id, after).await.unwrap();
    assert!(store.session(&s2.token, after).await.unwrap().is_none());

    // A password change ends the user's other sessions, not this one.
    let elsewhere = store.sign_in("duty-officer", pw, "10.0.0.3", "tablet", after).await.unwrap();
    assert!(matches!(store.change_password(&me, "Wrong one 1234", "New night 2026!", after).await, Err(StoreError::Forbidden(_))));
    assert!(matches!(store.change_password(&me, pw, "weak", after).await, Err(StoreError::Invalid(_))));
    store.change_password(&me, pw, "New night 2026!", after).await.unwrap();
    assert!(store.session(&elsewhere.token, after).await.unwrap().is_none());
    assert!(store.session(&mine.token, after).await.unwrap().is_some());
    assert!(matches!(store.sign_in("duty-officer", pw, "10.0.0.3", "ua", after).await, Err(StoreError::Forbidden(_))));

    // Language.
    store.set_language(&me.principal, "en").await.unwrap();
    assert_eq!(store.session(&mine.token, after).await.unwrap().unwrap().lang, "en");
    assert!(matches!(store.set_language(&me.principal, "<script>").await, Err(StoreError::Invalid(_))));

    // TOTP: enrolment needs a right code; then sign-in is half-open until
    // the code is given, and the code mints a new token.
    let (secret, url) = new_totp_secret("duty-officer");
    assert!(url.starts_with("otpauth://totp/Shouwang:duty-officer?secret="), "{url}");
    let code = totp_code(&secret, after).unwrap();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    assert!(matches!(store.enable_totp(&me.principal, &secret, wrong, after).await, Err(StoreError::Invalid(_))));
    store.enable_totp(&me.principal, &secret, &code, after).await.unwrap();
    let half = store.sign_in("duty-officer", "New night 2026!", "10.0.0.4", "ua", after).await.unwrap();
    assert!(half.needs_totp);
    assert!(store.session(&half.token, after).await.unwrap().unwrap().pending_totp);
    assert!(matches!(store.second_factor(&half.token, wrong, "10.0.0.4", "ua", after).await, Err(StoreError::Forbidden(_))));
    let full = store.second_factor(&half.token, &totp_code(&secret, after).unwrap(), "10.0.0.4", "ua", after).await.unwrap();
    assert_ne!(full.token, half.token);
    assert!(store.session(&half.token, after).await.unwrap().is_none());
    assert!(!store.session(&full.token, after).await.unwrap().unwrap().pending_totp);
    // A full session cannot be used to pass a second factor again.
    assert!(store.second_factor(&full.token, &totp_code(&secret, after).unwrap(), "10.0.0.4", "ua", after).await.is_err());

    // Signing out ends the token; sign-ins and refusals are audited.
    store.sign_out(&full.token, after).await.unwrap();
    assert!(store.session(&full.token, after).await.unwrap().is_none());
    let audit = store.audit_entries(&admin(), 200).await.unwrap();
    for action in ["session.create", "session.refused", "session.password", "session.revoke", "session.end", "user.password", "user.totp"] {
        assert!(audit.iter().any(|e| e.action == action), "no {action} in the audit trail");
    }
    assert!(audit.iter().all(|e| !e.detail.to_string().contains(pw)), "a password reached the audit trail");
}

pub async fn administrators_list_enable_and_reset_users(store: &Store) {
    base(store).await;
    let now = jiff::Timestamp::from_second(1_795_000_000).unwrap();
    let pw = "Night shift 42";
    let user = |name: &str, role: Role, unit: Option<&str>| NewUser {
        username: name.into(),
        display_name: format!("{name} 名"),
        role,
        unit: unit.map(|u| UnitCode::parse(u).unwrap()),
        password: Some(pw.into()),
    };
    store.create_user(&admin(), user("ops-s1", Role::UnitOperator, Some("S1"))).await.unwrap();
    store.create_user(&admin(), user("ana", Role::Analyst, None)).await.unwrap();
    let s = store.sign_in("ops-s1", pw, "10.0.0.1", "ua", now).await.unwrap();
    assert!(store.session(&s.token, now).await.unwrap().is_some());

    let list = store.users(&admin()).await.unwrap();
    let ops = list.iter().find(|u| u.username == "ops-s1").unwrap();
    assert_eq!((ops.role, ops.unit.as_deref(), ops.disabled, ops.password, ops.totp), (Role::UnitOperator, Some("S1"), false, true, false));
    assert_eq!(ops.last_seen, Some(now));
    assert_eq!(list.iter().find(|u| u.username == "ana").unwrap().last_seen, None);
    // Only administrators list or change users.
    let analyst = Principal { username: "ana".into(), role: Role::Analyst, unit: None };
    assert!(matches!(store.users(&analyst).await, Err(StoreError::Forbidden(_))));
    assert!(matches!(store.reset_password(&analyst, "ops-s1", "Another night 43", "x", now).await, Err(StoreError::Forbidden(_))));

    // A reset: the rules hold, the old password and every session end, failures are forgotten.
    for _ in 0..3 {
        let _ = store.sign_in("ops-s1", "wrong password 1A", "10.0.0.2", "ua", now).await;
    }
    assert!(matches!(store.reset_password(&admin(), "ops-s1", "short", "lost", now).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.reset_password(&admin(), "nobody", "Another night 43", "lost", now).await, Err(StoreError::NotFound(_))));
    store.reset_password(&admin(), "ops-s1", "Another night 43", "lost it", now).await.unwrap();
    assert!(store.session(&s.token, now).await.unwrap().is_none());
    assert!(store.sign_in("ops-s1", pw, "10.0.0.1", "ua", now).await.is_err());
    // Three failures before and one now: still under the limit of five, since the reset forgot the three.
    store.sign_in("ops-s1", "Another night 43", "10.0.0.1", "ua", now).await.unwrap();

    // Disable and enable: the session open before stays ended.
    let before = store.sign_in("ops-s1", "Another night 43", "10.0.0.1", "ua", now).await.unwrap();
    store.disable_user(&admin(), "ops-s1", "left the unit").await.unwrap();
    assert!(store.users(&admin()).await.unwrap().iter().any(|u| u.username == "ops-s1" && u.disabled));
    assert!(store.sign_in("ops-s1", "Another night 43", "10.0.0.1", "ua", now).await.is_err());
    assert!(matches!(store.enable_user(&admin(), "ana", "x").await, Err(StoreError::NotFound(_))));
    store.enable_user(&admin(), "ops-s1", "back").await.unwrap();
    assert!(store.session(&before.token, now).await.unwrap().is_none(), "a disabled user's session does not come back");
    store.sign_in("ops-s1", "Another night 43", "10.0.0.1", "ua", now).await.unwrap();

    let audit = store.audit_entries(&admin(), 100).await.unwrap();
    for action in ["user.password_reset", "user.disable", "user.enable"] {
        assert!(audit.iter().any(|e| e.action == action && e.target == "ops-s1"), "{action}");
    }
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains("Another night 43"), "no password in the audit trail");
}

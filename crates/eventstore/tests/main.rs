//! The embedded event store through its trait, on real SQLite files.

use shouwang_eventstore::*;
use shouwang_ingest::Event;
use shouwang_ingest::event::{Dns, DnsQuestion, Endpoint, Rule};

fn event(ts: &str, src: &str, dst: &str, units: &[&str]) -> Event {
    let mut e = Event::new(ts.parse().unwrap(), "alert", "suricata.alert");
    e.source = Some(Endpoint { ip: Some(src.parse().unwrap()), ..Default::default() });
    e.destination = Some(Endpoint { ip: Some(dst.parse().unwrap()), ..Default::default() });
    e.shouwang.units = units.iter().map(|u| u.to_string()).collect();
    e
}

fn accepted(stream: i64, pos: i64, event: Event) -> Accepted {
    Accepted::new(Origin { stream, pos }, event)
}

fn dead(stream: i64, pos: i64, reason: &str) -> DeadLetter {
    DeadLetter {
        origin: Origin { stream, pos },
        source: "file".into(),
        sensor: None,
        format: "eve".into(),
        context: None,
        reason: reason.into(),
        detail: "why".into(),
        received: jiff::Timestamp::now(),
        record: vec![b'x'; 100_000],
        record_len: 100_000,
    }
}

fn search(store: &SqliteEvents, q: Search) -> Vec<i64> {
    let mut ids: Vec<i64> = store.search(&q, &Scope::All).unwrap().into_iter().map(|h| h.id).collect();
    ids.sort();
    ids
}

fn sample(store: &SqliteEvents) -> i64 {
    let s = store.stream("file:/tmp/a.json").unwrap();
    let mut dns = event("2026-11-21T10:00:00Z", "10.1.2.3", "192.0.2.53", &["U1"]);
    dns.dns = Some(Dns { question: DnsQuestion { name: "WWW.Yunling.gov.cn.".into(), r#type: None }, ..Default::default() });
    let mut rule = event("2026-11-21T11:00:00Z", "10.9.9.9", "198.51.100.1", &["U2"]);
    rule.rule = Some(Rule { id: Some("2024897".into()), name: Some("ET WEB_SERVER Possible 100%_Webshell".into()), category: None });
    rule.message = Some("中文 告警 payload".into());
    let batch = Batch {
        events: vec![
            accepted(s.id, 0, dns),
            accepted(s.id, 100, rule),
            accepted(s.id, 200, event("2026-11-22T00:00:00Z", "2001:db8::1", "10.1.200.1", &["U1", "U2"])),
        ],
        dead: vec![dead(s.id, 300, "malformed")],
        checkpoint: Some((s.id, 400)),
    };
    let w = store.write(&batch).unwrap();
    assert_eq!(w, Written { events: 3, duplicates: 0, dead: 1 });
    s.id
}

#[test]
fn writes_are_idempotent_by_origin_and_checkpoints_follow() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEvents::open(dir.path()).unwrap();
    let id = sample(&store);
    assert_eq!(store.stream("file:/tmp/a.json").unwrap().position, 400);
    // The same batch again, as after a crash before the checkpoint: nothing new.
    let again = Batch {
        events: vec![accepted(id, 0, event("2026-11-21T10:00:00Z", "10.1.2.3", "192.0.2.53", &["U1"]))],
        dead: vec![dead(id, 300, "malformed")],
        checkpoint: None,
    };
    assert_eq!(store.write(&again).unwrap(), Written { events: 0, duplicates: 1, dead: 0 });
    let parts = store.partitions().unwrap();
    assert_eq!(parts.iter().map(|p| (p.day.as_str(), p.events)).collect::<Vec<_>>(), [("2026-11-22", 1), ("2026-11-21", 2)]);
    // Reopening sees the same state.
    drop(store);
    let store = SqliteEvents::open(dir.path()).unwrap();
    assert_eq!(store.search(&Search::default(), &Scope::All).unwrap().len(), 3);
}

#[test]
fn search_filters_narrow_and_scope_binds() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEvents::open(dir.path()).unwrap();
    sample(&store);
    let all = store.search(&Search::default(), &Scope::All).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].partition, "2026-11-22", "newest first");
    let [a, b, c] = [all[2].id, all[1].id, all[0].id];
    let ip = |s: &str| Search { ip: Some(IpRange::parse(s).unwrap()), ..Default::default() };
    assert_eq!(search(&store, ip("10.1.0.0/16")).len(), 2);
    assert_eq!(search(&store, ip("10.9.9.9")), [b]);
    assert_eq!(search(&store, ip("2001:db8::/32")), [c]);
    assert!(search(&store, ip("10.2.0.0/16")).is_empty());
    assert!(IpRange::parse("10.0.0.0/33").is_err() && IpRange::parse("example").is_err());
    let dom = |s: &str| Search { domain: Some(s.into()), ..Default::default() };
    assert_eq!(search(&store, dom("yunling.gov.cn")), [a]);
    assert_eq!(search(&store, dom("www.yunling.gov.cn")), [a]);
    assert!(search(&store, dom("ling.gov.cn")).is_empty(), "label boundaries, not substrings");
    let rule = |s: &str| Search { rule: Some(s.into()), ..Default::default() };
    assert_eq!(search(&store, rule("100%_web")), [b], "LIKE metacharacters are literal");
    assert!(search(&store, rule("100%%web")).is_empty());
    assert_eq!(search(&store, rule("2024897")), [b]);
    assert_eq!(search(&store, Search { text: Some("告警".into()), ..Default::default() }), [b]);
    assert_eq!(search(&store, Search { unit: Some("U1".into()), ..Default::default() }).len(), 2);
    let day = Search {
        from: Some("2026-11-21T10:30:00Z".parse().unwrap()),
        to: Some("2026-11-22T00:00:00Z".parse().unwrap()),
        ..Default::default()
    };
    assert_eq!(search(&store, day), [b], "`to` is exclusive");
    let u2 = Scope::Units(vec!["U2".into()]);
    assert_eq!(store.search(&Search::default(), &u2).unwrap().len(), 2);
    assert!(store.search(&Search { unit: Some("U1".into()), ..Default::default() }, &Scope::Units(vec![])).unwrap().is_empty());
    assert_eq!(store.search(&Search { limit: 1, ..Default::default() }, &Scope::All).unwrap().len(), 1);
    let empty = Search {
        from: Some("2026-11-22T00:00:00Z".parse().unwrap()),
        to: Some("2026-11-21T00:00:00Z".parse().unwrap()),
        ..Default::default()
    };
    assert!(matches!(store.search(&empty, &Scope::All), Err(EventStoreError::Invalid(_))));
    let doc: serde_json::Value = serde_json::from_str(&all[1].doc).unwrap();
    assert_eq!(doc["rule"]["id"], "2024897");
}

#[test]
fn dead_letters_are_kept_cut_counted_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEvents::open(dir.path()).unwrap();
    let id = sample(&store);
    store.write(&Batch { dead: vec![dead(id, 500, "not_utf8")], ..Default::default() }).unwrap();
    let open = store.dead_letters(&DeadQuery::default()).unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open[0].letter.record.len(), DEAD_LETTER_KEEP);
    assert_eq!(open[0].letter.record_len, 100_000);
    assert_eq!(open[0].stream, "file:/tmp/a.json");
    let counts = store.dead_letter_counts().unwrap();
    assert_eq!(counts.iter().map(|c| (c.reason.as_str(), c.open)).collect::<Vec<_>>(), [("malformed", 1), ("not_utf8", 1)]);
    store.mark_replayed(&[open[0].id]).unwrap();
    store.update_dead_letter(open[1].id, "bad_value", "still wrong").unwrap();
    let left = store.dead_letters(&DeadQuery::default()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].letter.reason.as_str(), left[0].letter.detail.as_str()), ("bad_value", "still wrong"));
    assert_eq!(store.dead_letters(&DeadQuery { all: true, ..Default::default() }).unwrap().len(), 2);
    assert_eq!(store.dead_letters(&DeadQuery { reason: Some("malformed".into()), ..Default::default() }).unwrap().len(), 0);
}

#[test]
fn retention_drops_whole_days() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEvents::open(dir.path()).unwrap();
    sample(&store);
    let dropped = store.retain("2026-11-22".parse().unwrap()).unwrap();
    assert_eq!(dropped, ["2026-11-21"]);
    assert_eq!(store.search(&Search::default(), &Scope::All).unwrap().len(), 1);
    assert!(!dir.path().join("events-2026-11-21.sqlite").exists());
    // Writing to a dropped day again re-creates it.
    let s = store.stream("x").unwrap();
    store
        .write(&Batch { events: vec![accepted(s.id, 0, event("2026-11-21T01:00:00Z", "10.0.0.1", "10.0.0.2", &[]))], ..Default::default() })
        .unwrap();
    assert_eq!(store.partitions().unwrap().len(), 2);
}

/// Block keys are bucketed by 64 blocks: searches must see every bucket,
/// and the newest-first cut must hold across blocks and buckets.
#[test]
fn searches_span_blocks_and_key_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEvents::open(dir.path()).unwrap();
    let s = store.stream("spool:1").unwrap();
    const N: i64 = 40_000;
    // Batches of 300: 134 blocks, three key buckets.
    for chunk in (0..N).collect::<Vec<_>>().chunks(300) {
        let events = chunk
            .iter()
            .map(|&i| {
                let mut e = event(
                    &format!("2026-11-21T{:02}:{:02}:{:02}Z", i % 24, i / 24 % 60, i % 60),
                    &format!("10.0.{}.{}", i % 7, i % 200),
                    "192.0.2.1",
                    &[["U1", "U2", "U3"][(i % 3) as usize]],
                );
                e.dns = Some(Dns {
                    question: DnsQuestion { name: format!("h{}.zone{}.example", i, i % 5), r#type: None },
                    ..Default::default()
                });
                accepted(s.id, i, e)
            })
            .collect();
        store.write(&Batch { events, dead: vec![], checkpoint: Some((s.id, chunk[chunk.len() - 1])) }).unwrap();
    }
    let count = |q: Search| store.search(&Search { limit: MAX_SEARCH_LIMIT, ..q }, &Scope::All).unwrap().len();
    // 40,000 / 7 rounded up for remainder 3: 5,714.
    assert_eq!(count(Search { ip: Some(IpRange::parse("10.0.3.0/24").unwrap()), ..Default::default() }), 5_714);
    assert_eq!(count(Search { domain: Some("zone4.example".into()), ..Default::default() }), 8_000);
    assert_eq!(count(Search { domain: Some("h39999.zone4.example".into()), ..Default::default() }), 1);
    assert_eq!(count(Search { unit: Some("U3".into()), ip: Some(IpRange::parse("10.0.0.0/24").unwrap()), ..Default::default() }), 1_905);
    let scoped = store.search(&Search { limit: 10, ..Default::default() }, &Scope::Units(vec!["U2".into()])).unwrap();
    assert_eq!(scoped.len(), 10);
    // Newest first across blocks: the times are shuffled over the batches,
    // so the ten newest come from many blocks.
    let times = |hits: &[Hit]| -> Vec<String> {
        hits.iter()
            .map(|h| serde_json::from_str::<serde_json::Value>(&h.doc).unwrap()["@timestamp"].as_str().unwrap().to_string())
            .collect()
    };
    let newest = store.search(&Search { limit: 25, ..Default::default() }, &Scope::All).unwrap();
    let got = times(&newest);
    let mut want = got.clone();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(got, want);
    assert!(got.iter().all(|t| t.starts_with("2026-11-21T23:")), "{got:?}");
    let all = store.search(&Search { limit: MAX_SEARCH_LIMIT, ..Default::default() }, &Scope::All).unwrap();
    assert!(times(&all).windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(store.partitions().unwrap()[0].events, N as u64);
    assert!(scoped.iter().all(|h| h.doc.contains("\"U2\"")));
    assert_eq!(store.partitions().unwrap()[0].events, N as u64);
}

/// A replay after a crash need not cut batches where the first run did: an
/// event inside a stored block's run is a duplicate, one outside is new.
#[test]
fn replays_with_other_batch_boundaries_store_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEvents::open(dir.path()).unwrap();
    let s = store.stream("file:/x").unwrap();
    let ev = |i: i64| {
        let mut e = event(&format!("2026-11-21T10:00:{:02}Z", i % 60), "10.0.0.1", "10.0.0.2", &["U1"]);
        e.event.original = Some(format!("{{\"n\":{i},\"text\":\"原文 \\\"quoted\\\"\"}}"));
        accepted(s.id, i * 10, e)
    };
    let batch = |r: std::ops::Range<i64>| Batch { events: r.map(ev).collect(), dead: vec![], checkpoint: None };
    assert_eq!(store.write(&batch(0..40)).unwrap().events, 40);
    assert_eq!(store.write(&batch(40..100)).unwrap().events, 60);
    // The replay straddles both blocks and runs past them.
    assert_eq!(store.write(&batch(20..130)).unwrap(), Written { events: 30, duplicates: 80, dead: 0 });
    // The same position twice in one batch is one event and one duplicate.
    let mut twice = batch(130..131);
    twice.events.push(ev(130));
    assert_eq!(store.write(&twice).unwrap(), Written { events: 1, duplicates: 1, dead: 0 });
    let hits = store.search(&Search { limit: 1000, ..Default::default() }, &Scope::All).unwrap();
    assert_eq!(hits.len(), 131);
    let mut ns: Vec<i64> = hits
        .iter()
        .map(|h| {
            let doc: serde_json::Value = serde_json::from_str(&h.doc).unwrap();
            let original: serde_json::Value = serde_json::from_str(doc["event"]["original"].as_str().unwrap()).unwrap();
            assert_eq!(original["text"], "原文 \"quoted\"", "the original comes back verbatim inside the document");
            original["n"].as_i64().unwrap()
        })
        .collect();
    ns.sort();
    assert_eq!(ns, (0..131).collect::<Vec<_>>());
    // Free text reaches the original record too.
    assert_eq!(search(&store, Search { text: Some("\"N\":77,".into()), ..Default::default() }).len(), 1);
}

/// A damaged partition (bad compressed bytes, a lying size, a truncated
/// block) is reported as corrupt by name of the problem, never a panic.
#[test]
fn damaged_blocks_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEvents::open(dir.path()).unwrap();
    sample(&store);
    drop(store);
    let file = dir.path().join("events-2026-11-21.sqlite");
    let good: (i64, Vec<u8>) = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("SELECT raw_len, data FROM blocks LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let truncated = zstd::bulk::compress(&zstd::bulk::decompress(&good.1, good.0 as usize).unwrap()[..30], 1).unwrap();
    for (raw_len, data, says) in [
        (good.0, vec![0, 1, 2, 3], "block:"),
        (i64::MAX, good.1.clone(), "block size"),
        (good.0 + 1, good.1.clone(), "recorded"),
        (30, truncated, "truncated"),
    ] {
        let c = rusqlite::Connection::open(&file).unwrap();
        c.execute("UPDATE blocks SET raw_len = ?1, data = ?2", rusqlite::params![raw_len, data]).unwrap();
        drop(c);
        let store = SqliteEvents::open(dir.path()).unwrap();
        let q = Search {
            from: Some("2026-11-21T00:00:00Z".parse().unwrap()),
            to: Some("2026-11-22T00:00:00Z".parse().unwrap()),
            ..Default::default()
        };
        match store.search(&q, &Scope::All) {
            Err(EventStoreError::Corrupt(m)) => assert!(m.contains(says), "{m}"),
            other => panic!("expected a corrupt-block error with `{says}`, got {other:?}"),
        }
    }
}

use std::io::Write;

use shouwang_eventstore::{DeadLetter, DeadQuery, EventStore, Origin};
use shouwang_ingest::Format;
use shouwang_pipeline::{FileOptions, Source};

use crate::env;

fn eve(ts: &str, dest: &str) -> String {
    format!(
        r#"{{"timestamp":"{ts}","event_type":"alert","src_ip":"198.51.100.9","src_port":1234,"dest_ip":"{dest}","dest_port":80,"proto":"TCP","alert":{{"signature_id":2024897,"signature":"ET WEB_SERVER webshell","category":"Web Application Attack","severity":1}}}}"#
    )
}

fn opts() -> FileOptions {
    FileOptions {
        source: Source { name: "file".into(), sensor: Some("sensor-qc-01".into()), format: None, variant: String::new() },
        from_start: false,
    }
}

#[test]
fn a_file_with_bad_records_stores_the_good_ones_and_dead_letters_the_rest() {
    let mut env = env();
    env.pipeline.max_record = 4096;
    let path = env.dir.path().join("eve.json");
    let mut body = Vec::new();
    body.extend(eve("2026-11-21T15:04:05+0800", "192.0.2.5").as_bytes());
    body.extend(b"\n{\"timestamp\":\"2026-11-21T15:04:05+0800\",\"event_type\":\"alert\",\"src_ip\n"); // truncated JSON
    body.extend(b"\n\xff\xfe{\"event_type\":\"alert\"}\n"); // invalid UTF-8 (after a blank line)
    body.extend(b"{\"event_type\":\"alert\",\"x\":\"a\0b\"}\n"); // NUL
    body.extend(std::iter::repeat_n(b'{', 1_000_000)); // a line far over the limit
    body.push(b'\n');
    body.extend(eve("2026-11-21T15:05:00+0800", "198.51.100.200").as_bytes()); // last line, no newline
    std::fs::write(&path, &body).unwrap();

    let r = env.pipeline.ingest_file(&path, &opts(), &mut |_, _| {}).unwrap();
    assert_eq!(r.format, "eve");
    assert_eq!((r.records, r.events, r.dead_letters, r.to), (6, 2, 4, body.len() as u64));
    assert_eq!(
        r.rejected.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(),
        [("malformed", 1), ("not_utf8", 1), ("nul_byte", 1), ("too_large", 1)]
    );
    let all = env.all();
    assert_eq!(all.len(), 2);
    let first = all.iter().find(|e| e["destination"]["ip"] == "192.0.2.5").unwrap();
    assert_eq!(first["shouwang"]["units"], serde_json::json!(["YL-CAC"]), "attributed on the way in");
    assert_eq!(first["shouwang"]["sensor"], "sensor-qc-01");
    assert_eq!(first["shouwang"]["source"], "file");

    let dead = env.events.dead_letters(&DeadQuery::default()).unwrap();
    let big = dead.iter().find(|d| d.letter.reason == "too_large").unwrap();
    assert_eq!(big.letter.record_len, 1_000_000);
    assert!(big.letter.detail.contains("1000000 bytes"), "{}", big.letter.detail);
    let trunc = dead.iter().find(|d| d.letter.reason == "malformed").unwrap();
    let pos = body.windows(2).position(|w| w == b"\n{").unwrap() as i64 + 1;
    assert_eq!(trunc.letter.origin.pos, pos, "dead letters name the byte offset of their record");
    assert!(trunc.stream.starts_with("file:") && trunc.stream.contains("eve.json"));

    // A second run resumes at the end: nothing is read again.
    let again = env.pipeline.ingest_file(&path, &opts(), &mut |_, _| {}).unwrap();
    assert_eq!((again.from, again.records), (body.len() as u64, 0));
    // Appended lines are picked up from the checkpoint.
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(f, "\n{}", eve("2026-11-22T09:00:00+0800", "192.0.2.6")).unwrap();
    let more = env.pipeline.ingest_file(&path, &opts(), &mut |_, _| {}).unwrap();
    assert_eq!((more.records, more.events), (1, 1));
    // Reading it all again from the start stores nothing twice.
    let full = env.pipeline.ingest_file(&path, &FileOptions { from_start: true, ..opts() }, &mut |_, _| {}).unwrap();
    assert_eq!((full.records, full.events, full.duplicates, full.dead_letters), (7, 0, 3, 0));
    assert_eq!(env.all().len(), 3);
}

const SCAN_RDP: &str = "\"timestamp\",\"ip\",\"protocol\",\"port\",\"hostname\",\"tag\",\"asn\",\"geo\",\"region\",\"city\",\"naics\",\"sic\",\"sector\",\"severity\"\n";

#[test]
fn a_report_is_resumed_with_its_header_and_a_directory_is_walked() {
    let env = env();
    let reports = env.dir.path().join("reports");
    std::fs::create_dir_all(reports.join("nested")).unwrap();
    let path = reports.join("2026-11-21-scan_rdp-yunling.csv");
    let row = |ip: &str| {
        format!("\"2026-11-21 03:12:44\",\"{ip}\",\"tcp\",3389,,\"rdp\",64500,\"CN\",\"YUNLING\",\"QINGCHUAN\",0,0,,\"medium\"\n")
    };
    std::fs::write(&path, format!("{SCAN_RDP}{}{}", row("192.0.2.1"), row("not-an-ip"))).unwrap();
    std::fs::write(reports.join("nested/sensor.eve.json"), eve("2026-11-21T15:04:05+0800", "192.0.2.5") + "\n").unwrap();
    std::fs::write(reports.join(".hidden"), "ignored").unwrap();
    std::fs::write(reports.join("unknown.txt"), "what is this\n").unwrap();

    let results = env.pipeline.ingest_dir(&reports, &opts(), &mut |_, _, _| {}).unwrap();
    let names: Vec<String> = results.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["2026-11-21-scan_rdp-yunling.csv", "sensor.eve.json", "unknown.txt"]);
    let csv = results[0].1.as_ref().unwrap();
    assert_eq!((csv.format.as_str(), csv.records, csv.events, csv.dead_letters), ("shadowserver:scan_rdp", 2, 1, 1));
    assert!(results[1].1.is_ok());
    let err = results[2].1.as_ref().unwrap_err().to_string();
    assert!(err.contains("unknown.txt") && err.contains("--format"), "{err}");

    // Resume after appending: the header row, before the checkpoint, is read for the new row.
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(row("192.0.2.2").as_bytes()).unwrap();
    let more = env.pipeline.ingest_file(&path, &opts(), &mut |_, _| {}).unwrap();
    assert_eq!((more.records, more.events), (1, 1));
    let stored = env.all();
    let rdp: Vec<_> = stored.iter().filter(|e| e["event"]["dataset"] == "shadowserver.scan_rdp").collect();
    assert_eq!(rdp.len(), 2);
    let dead = env.events.dead_letters(&DeadQuery::default()).unwrap();
    assert_eq!(dead[0].letter.format, "shadowserver:scan_rdp");
    assert!(dead[0].letter.context.as_deref().unwrap().starts_with("\"timestamp\""));
}

#[test]
fn dead_letters_replay_once_a_parser_accepts_them() {
    let env = env();
    let stream = env.events.stream("http:sensor-9").unwrap();
    let letter = |pos: i64, record: &str, len: u64| DeadLetter {
        origin: Origin { stream: stream.id, pos },
        source: "http".into(),
        sensor: Some("sensor-9".into()),
        format: Format::Eve.spec(""),
        context: None,
        reason: "malformed".into(),
        detail: "as an older parser saw it".into(),
        received: jiff::Timestamp::now(),
        record: record.as_bytes().to_vec(),
        record_len: len,
    };
    let good = eve("2026-11-21T15:04:05+0800", "192.0.2.5");
    let batch = shouwang_eventstore::Batch {
        dead: vec![letter(0, &good, good.len() as u64), letter(10, "{\"still\":\"bad\"}", 15), letter(20, "{\"cut", 200_000)],
        ..Default::default()
    };
    env.events.write(&batch).unwrap();
    let r = env.pipeline.replay(&DeadQuery::default()).unwrap();
    assert_eq!(r, shouwang_pipeline::ReplayReport { tried: 3, replayed: 1, still_rejected: 1, not_replayable: 1 });
    let all = env.all();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["shouwang"]["sensor"], "sensor-9");
    assert_eq!(all[0]["shouwang"]["units"], serde_json::json!(["YL-CAC"]));
    let open = env.events.dead_letters(&DeadQuery::default()).unwrap();
    assert_eq!(open.len(), 2);
    assert_ne!(open[0].letter.detail, "as an older parser saw it", "a failed replay records the current reason");
    // Replaying again changes nothing.
    let again = env.pipeline.replay(&DeadQuery::default()).unwrap();
    assert_eq!(again.replayed, 0);
    assert_eq!(env.all().len(), 1);
}

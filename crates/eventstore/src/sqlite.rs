//! The embedded event store: one SQLite file per UTC day of event time
//! (`events-YYYY-MM-DD.sqlite`), so retention deletes files instead of rows
//! and a time-bounded search opens only the days it covers; plus one
//! `ingest.sqlite` holding stream checkpoints and dead letters.
//!
//! An event's partition follows from its own timestamp, so a replayed record
//! lands in the same file as before and its `(stream, pos)` key is caught
//! there. Commits are `synchronous=FULL`: a batch reported written survives
//! a power cut, not only a killed process, and batches amortise the fsync.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use shouwang_ingest::Event;

use crate::*;

const META_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS streams(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  position INTEGER NOT NULL DEFAULT 0,
  updated INTEGER);
CREATE TABLE IF NOT EXISTS dead_letters(
  id INTEGER PRIMARY KEY,
  stream INTEGER NOT NULL REFERENCES streams(id),
  pos INTEGER NOT NULL,
  source TEXT NOT NULL,
  sensor TEXT,
  format TEXT NOT NULL,
  context TEXT,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  received INTEGER NOT NULL,
  record BLOB NOT NULL,
  record_len INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  UNIQUE(stream, pos));
CREATE INDEX IF NOT EXISTS dead_letters_open ON dead_letters(status, source, reason);";

/// Addresses are 16-byte blobs (IPv4 as `::ffff:a.b.c.d`) so a CIDR block
/// is one `BETWEEN` on an index. Names are stored label-reversed
/// (`cn.gov.yunling.www`) so "this domain and its subdomains" is a prefix range.
///
/// Every secondary index on a random key (addresses, units, names) leads
/// with `bucket`, the event id divided into runs of 2^[`BUCKET_SHIFT`]. A
/// batch's inserts then land in the newest bucket's few pages instead of
/// dirtying a page per event across the whole day's index, which made each
/// commit rewrite most of every index as the partition grew. A search seeks
/// once per bucket (`bucket IN buckets`), a few thousand seeks for a day.
const PARTITION_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  bucket INTEGER NOT NULL,
  stream INTEGER NOT NULL,
  pos INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  dataset TEXT NOT NULL,
  src_ip BLOB,
  dst_ip BLOB,
  rule TEXT,
  rule_id TEXT,
  doc TEXT NOT NULL,
  UNIQUE(stream, pos));
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_src ON events(bucket, src_ip) WHERE src_ip IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_dst ON events(bucket, dst_ip) WHERE dst_ip IS NOT NULL;
CREATE TABLE IF NOT EXISTS event_units(bucket INTEGER NOT NULL, unit TEXT NOT NULL, event INTEGER NOT NULL, PRIMARY KEY(bucket, unit, event)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_names(bucket INTEGER NOT NULL, name TEXT NOT NULL, event INTEGER NOT NULL, PRIMARY KEY(bucket, name, event)) WITHOUT ROWID;";

/// Partition layout version, in `PRAGMA user_version`; an older file is refused by name.
const PARTITION_VERSION: i64 = 2;

/// An index bucket holds 2^14 events: small enough that a batch dirties few
/// pages, large enough that a day is a few thousand buckets.
const BUCKET_SHIFT: u32 = 14;

/// Every bucket of the partition, for `bucket IN buckets`.
fn buckets_cte() -> String {
    format!(
        "WITH RECURSIVE buckets(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM buckets WHERE b < (SELECT coalesce(max(id), 0) >> {BUCKET_SHIFT} FROM events))"
    )
}

pub struct SqliteEvents {
    dir: PathBuf,
    meta: Mutex<Connection>,
    /// Open partitions for writing, by day number since the epoch.
    writers: Mutex<HashMap<i64, Connection>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EventStoreError + '_ {
    move |source| EventStoreError::Io { path: path.display().to_string(), source }
}

fn open_rw(path: &Path, schema: &str) -> Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.execute_batch(schema)?;
    Ok(c)
}

const DAY_US: i64 = 86_400_000_000;

fn day_of(ts: jiff::Timestamp) -> i64 {
    ts.as_microsecond().div_euclid(DAY_US)
}

fn date_of(day: i64) -> jiff::civil::Date {
    jiff::Timestamp::from_second(day * 86_400).expect("days come from valid timestamps").to_zoned(jiff::tz::TimeZone::UTC).date()
}

fn day_from_date(d: jiff::civil::Date) -> i64 {
    d.to_zoned(jiff::tz::TimeZone::UTC).map(|z| day_of(z.timestamp())).unwrap_or(i64::MIN)
}

fn partition_file(day: i64) -> String {
    format!("events-{}.sqlite", date_of(day))
}

fn day_from_file(name: &str) -> Option<i64> {
    let date = name.strip_prefix("events-")?.strip_suffix(".sqlite")?;
    date.parse::<jiff::civil::Date>().ok().map(day_from_date)
}

fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// `www.Yunling.gov.cn.` → `cn.gov.yunling.www`.
fn reversed_name(name: &str) -> String {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut labels: Vec<&str> = name.split('.').collect();
    labels.reverse();
    labels.join(".")
}

fn event_names(e: &Event) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for ep in [&e.source, &e.destination].into_iter().flatten() {
        names.extend(ep.domain.as_deref());
    }
    names.extend(e.dns.as_ref().map(|d| d.question.name.as_str()));
    names.extend(e.url.as_ref().and_then(|u| u.domain.as_deref()));
    names.extend(e.tls.as_ref().and_then(|t| t.server_name.as_deref()));
    let mut out: Vec<String> = names.into_iter().filter(|n| !n.trim().is_empty()).map(reversed_name).collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl SqliteEvents {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteEvents> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let meta = open_rw(&dir.join("ingest.sqlite"), META_SCHEMA)?;
        Ok(SqliteEvents { dir: dir.to_path_buf(), meta: Mutex::new(meta), writers: Mutex::new(HashMap::new()) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Partition days present on disk, newest first, within `[from, to)`.
    fn days(&self, from: Option<i64>, to: Option<i64>) -> Result<Vec<i64>> {
        let mut days = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            if let Some(day) = entry.file_name().to_str().and_then(day_from_file)
                && from.is_none_or(|f| day >= f)
                && to.is_none_or(|t| day <= t)
            {
                days.push(day);
            }
        }
        days.sort_unstable_by(|a, b| b.cmp(a));
        Ok(days)
    }

    fn write_partition(conn: &mut Connection, events: &[&Accepted]) -> Result<(u64, u64)> {
        let tx = conn.transaction()?;
        let (mut written, mut dup) = (0, 0);
        {
            // Ids are assigned here, densely, so the bucket is known before the insert.
            let mut next: i64 = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM events", [], |r| r.get(0))?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO events(id, bucket, stream, pos, ts, dataset, src_ip, dst_ip, rule, rule_id, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(stream, pos) DO NOTHING",
            )?;
            let mut unit = tx.prepare_cached("INSERT OR IGNORE INTO event_units(bucket, unit, event) VALUES (?1, ?2, ?3)")?;
            let mut name = tx.prepare_cached("INSERT OR IGNORE INTO event_names(bucket, name, event) VALUES (?1, ?2, ?3)")?;
            for a in events {
                let e = &a.event;
                let doc = serde_json::to_string(e).map_err(|err| EventStoreError::Corrupt(err.to_string()))?;
                let src = e.source.as_ref().and_then(|s| s.ip).map(ip_key);
                let dst = e.destination.as_ref().and_then(|s| s.ip).map(ip_key);
                let rule = e.rule.as_ref();
                let (id, bucket) = (next, next >> BUCKET_SHIFT);
                let n = ins.execute(params![
                    id,
                    bucket,
                    a.origin.stream,
                    a.origin.pos,
                    e.timestamp.as_microsecond(),
                    e.event.dataset,
                    src.as_ref().map(|k| &k[..]),
                    dst.as_ref().map(|k| &k[..]),
                    rule.and_then(|r| r.name.as_deref()),
                    rule.and_then(|r| r.id.as_deref()),
                    doc,
                ])?;
                if n == 0 {
                    dup += 1;
                    continue;
                }
                written += 1;
                next += 1;
                for u in &e.shouwang.units {
                    unit.execute(params![bucket, u, id])?;
                }
                for n in event_names(e) {
                    name.execute(params![bucket, n, id])?;
                }
            }
        }
        tx.commit()?;
        Ok((written, dup))
    }

    /// A partition file appears under its final name only with its schema
    /// in place, so a concurrent search never opens a half-made one.
    fn open_partition(&self, day: i64) -> Result<Connection> {
        let path = self.dir.join(partition_file(day));
        if !path.exists() {
            let tmp = self.dir.join(format!("{}.{}.new", partition_file(day), std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            let c = Connection::open(&tmp)?;
            c.execute_batch(PARTITION_SCHEMA)?;
            c.pragma_update(None, "user_version", PARTITION_VERSION)?;
            drop(c);
            // A hard link never replaces: if another process made the file first, use theirs.
            match std::fs::hard_link(&tmp, &path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(EventStoreError::Io { path: path.display().to_string(), source: e }),
            }
            std::fs::remove_file(&tmp).map_err(io(&tmp))?;
        }
        // The schema is in place (made above, or by whoever made the file); check its version first.
        let c = open_rw(&path, "")?;
        check_version(&c, &path)?;
        // A batch touches far more pages than the default 2 MiB cache holds;
        // a spill writes pages to the WAL mid-transaction, and again later.
        c.pragma_update(None, "cache_size", -65_536)?;
        Ok(c)
    }

    fn read_partition(&self, day: i64) -> Result<Connection> {
        let path = self.dir.join(partition_file(day));
        let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        check_version(&c, &path)?;
        Ok(c)
    }
}

fn check_version(c: &Connection, path: &Path) -> Result<()> {
    let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v != PARTITION_VERSION {
        return Err(EventStoreError::Corrupt(format!(
            "{}: partition layout {v}, this version reads {PARTITION_VERSION}; re-ingest or move the file away",
            path.display()
        )));
    }
    Ok(())
}

/// `%`, `_` and the escape itself, escaped for `LIKE … ESCAPE '\'`.
fn like_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 2);
    p.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The WHERE clause and its parameters for one search, the same in every partition.
fn search_sql(q: &Search, scope: &Scope) -> (String, Vec<Value>) {
    let mut w: Vec<String> = Vec::new();
    let mut p: Vec<Value> = Vec::new();
    let bind = |p: &mut Vec<Value>, v: Value| {
        p.push(v);
        format!("?{}", p.len())
    };
    if let Some(f) = q.from {
        let a = bind(&mut p, Value::Integer(f.as_microsecond()));
        w.push(format!("e.ts >= {a}"));
    }
    if let Some(t) = q.to {
        let a = bind(&mut p, Value::Integer(t.as_microsecond()));
        w.push(format!("e.ts < {a}"));
    }
    if let Scope::Units(units) = scope {
        let list: Vec<String> = units.iter().map(|u| bind(&mut p, Value::Text(u.clone()))).collect();
        w.push(format!(
            "e.id IN (SELECT event FROM event_units WHERE bucket IN buckets AND unit IN ({}))",
            if list.is_empty() { "NULL".into() } else { list.join(",") }
        ));
    }
    if let Some(u) = &q.unit {
        let a = bind(&mut p, Value::Text(u.clone()));
        w.push(format!("e.id IN (SELECT event FROM event_units WHERE bucket IN buckets AND unit = {a})"));
    }
    if let Some(r) = &q.ip {
        let lo = bind(&mut p, Value::Blob(ip_key(r.first).to_vec()));
        let hi = bind(&mut p, Value::Blob(ip_key(r.last).to_vec()));
        w.push(format!(
            "e.id IN (SELECT id FROM events WHERE bucket IN buckets AND src_ip BETWEEN {lo} AND {hi}
                      UNION SELECT id FROM events WHERE bucket IN buckets AND dst_ip BETWEEN {lo} AND {hi})"
        ));
    }
    if let Some(d) = &q.domain {
        let rev = reversed_name(d);
        let exact = bind(&mut p, Value::Text(rev.clone()));
        let lo = bind(&mut p, Value::Text(format!("{rev}.")));
        let hi = bind(&mut p, Value::Text(format!("{rev}/")));
        w.push(format!(
            "e.id IN (SELECT event FROM event_names WHERE bucket IN buckets AND name = {exact}
                      UNION SELECT event FROM event_names WHERE bucket IN buckets AND name >= {lo} AND name < {hi})"
        ));
    }
    if let Some(r) = &q.rule {
        let like = bind(&mut p, Value::Text(like_pattern(r)));
        let id = bind(&mut p, Value::Text(r.clone()));
        w.push(format!("(e.rule LIKE {like} ESCAPE '\\' OR e.rule_id = {id})"));
    }
    if let Some(t) = &q.text {
        let like = bind(&mut p, Value::Text(like_pattern(t)));
        w.push(format!("e.doc LIKE {like} ESCAPE '\\'"));
    }
    if let Some(d) = &q.dataset {
        let a = bind(&mut p, Value::Text(d.clone()));
        w.push(format!("e.dataset = {a}"));
    }
    let clause = if w.is_empty() { String::new() } else { format!("WHERE {}", w.join(" AND ")) };
    (clause, p)
}

fn dead_letter_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredDeadLetter> {
    let received: i64 = r.get("received")?;
    Ok(StoredDeadLetter {
        id: r.get("id")?,
        stream: r.get("stream_name")?,
        status: r.get("status")?,
        letter: DeadLetter {
            origin: Origin { stream: r.get("stream")?, pos: r.get("pos")? },
            source: r.get("source")?,
            sensor: r.get("sensor")?,
            format: r.get("format")?,
            context: r.get("context")?,
            reason: r.get("reason")?,
            detail: r.get("detail")?,
            received: jiff::Timestamp::from_microsecond(received).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            record: r.get("record")?,
            record_len: r.get::<_, i64>("record_len")? as u64,
        },
    })
}

impl EventStore for SqliteEvents {
    fn stream(&self, name: &str) -> Result<Stream> {
        let meta = self.meta.lock().expect("meta lock");
        let get = |meta: &Connection| {
            meta.query_row("SELECT id, name, position FROM streams WHERE name = ?1", [name], |r| {
                Ok(Stream { id: r.get(0)?, name: r.get(1)?, position: r.get(2)? })
            })
            .optional()
        };
        // A read for the common case: the spool consumer asks on every poll,
        // and a write would be a synchronous commit each time.
        if let Some(s) = get(&meta)? {
            return Ok(s);
        }
        meta.execute("INSERT INTO streams(name) VALUES (?1) ON CONFLICT(name) DO NOTHING", [name])?;
        Ok(get(&meta)?.expect("inserted above"))
    }

    fn streams(&self) -> Result<Vec<Stream>> {
        let meta = self.meta.lock().expect("meta lock");
        let mut st = meta.prepare("SELECT id, name, position FROM streams ORDER BY id")?;
        let rows = st.query_map([], |r| Ok(Stream { id: r.get(0)?, name: r.get(1)?, position: r.get(2)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn write(&self, batch: &Batch) -> Result<Written> {
        let mut out = Written::default();
        if !batch.events.is_empty() {
            let mut by_day: Vec<(i64, Vec<&Accepted>)> = Vec::new();
            for a in &batch.events {
                let day = day_of(a.event.timestamp);
                match by_day.iter_mut().find(|(d, _)| *d == day) {
                    Some((_, v)) => v.push(a),
                    None => by_day.push((day, vec![a])),
                }
            }
            let mut writers = self.writers.lock().expect("writers lock");
            for (day, events) in by_day {
                let conn = match writers.entry(day) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => v.insert(self.open_partition(day)?),
                };
                let (w, d) = Self::write_partition(conn, &events)?;
                out.events += w;
                out.duplicates += d;
            }
        }
        if batch.dead.is_empty() && batch.checkpoint.is_none() {
            return Ok(out);
        }
        let mut meta = self.meta.lock().expect("meta lock");
        let tx = meta.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO dead_letters(stream, pos, source, sensor, format, context, reason, detail, received, record, record_len)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(stream, pos) DO NOTHING",
            )?;
            for d in &batch.dead {
                let keep = &d.record[..d.record.len().min(DEAD_LETTER_KEEP)];
                out.dead += ins.execute(params![
                    d.origin.stream,
                    d.origin.pos,
                    d.source,
                    d.sensor,
                    d.format,
                    d.context,
                    d.reason,
                    d.detail,
                    d.received.as_microsecond(),
                    keep,
                    d.record_len as i64
                ])? as u64;
            }
            if let Some((stream, pos)) = batch.checkpoint {
                tx.execute(
                    "UPDATE streams SET position = ?2, updated = ?3 WHERE id = ?1",
                    params![stream, pos, jiff::Timestamp::now().as_microsecond()],
                )?;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn search(&self, q: &Search, scope: &Scope) -> Result<Vec<Hit>> {
        let limit = match q.limit {
            0 => 100,
            n => n.min(MAX_SEARCH_LIMIT),
        };
        if let (Some(f), Some(t)) = (q.from, q.to)
            && f >= t
        {
            return Err(EventStoreError::Invalid(format!("the range is empty: from {f} is not before to {t}")));
        }
        let (clause, params) = search_sql(q, scope);
        let sql = format!("{} SELECT e.id, e.doc FROM events e {clause} ORDER BY e.ts DESC, e.id DESC LIMIT {limit}", buckets_cte());
        let mut hits = Vec::new();
        // `to` is exclusive: an instant exactly at midnight needs no partition for that day.
        let to_day = q.to.map(|t| day_of(t - jiff::SignedDuration::from_micros(1)));
        for day in self.days(q.from.map(day_of), to_day)? {
            let conn = self.read_partition(day)?;
            let mut st = conn.prepare(&sql)?;
            let rows = st.query_map(params_from_iter(params.iter()), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let name = date_of(day).to_string();
            for row in rows {
                let (id, doc) = row?;
                hits.push(Hit { partition: name.clone(), id, doc });
            }
            if hits.len() >= limit {
                hits.truncate(limit);
                break;
            }
        }
        Ok(hits)
    }

    fn dead_letters(&self, q: &DeadQuery) -> Result<Vec<StoredDeadLetter>> {
        let meta = self.meta.lock().expect("meta lock");
        let limit = match q.limit {
            0 => 100,
            n => n.min(MAX_SEARCH_LIMIT),
        } as i64;
        let mut st = meta.prepare(
            "SELECT d.*, s.name AS stream_name FROM dead_letters d JOIN streams s ON s.id = d.stream
             WHERE (?1 IS NULL OR d.source = ?1) AND (?2 IS NULL OR d.reason = ?2)
               AND (?3 OR d.status = 'open') AND d.id > ?4
             ORDER BY d.id LIMIT ?5",
        )?;
        let rows = st.query_map(params![q.source, q.reason, q.all, q.after_id.unwrap_or(0), limit], dead_letter_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn dead_letter_counts(&self) -> Result<Vec<DeadCount>> {
        let meta = self.meta.lock().expect("meta lock");
        let mut st = meta.prepare(
            "SELECT source, reason, sum(status = 'open'), sum(status <> 'open') FROM dead_letters
             GROUP BY source, reason ORDER BY source, reason",
        )?;
        let rows = st.query_map([], |r| {
            Ok(DeadCount { source: r.get(0)?, reason: r.get(1)?, open: r.get::<_, i64>(2)? as u64, replayed: r.get::<_, i64>(3)? as u64 })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn mark_replayed(&self, ids: &[i64]) -> Result<()> {
        let mut meta = self.meta.lock().expect("meta lock");
        let tx = meta.transaction()?;
        {
            let mut st = tx.prepare_cached("UPDATE dead_letters SET status = 'replayed' WHERE id = ?1")?;
            for id in ids {
                st.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn update_dead_letter(&self, id: i64, reason: &str, detail: &str) -> Result<()> {
        let meta = self.meta.lock().expect("meta lock");
        meta.execute("UPDATE dead_letters SET reason = ?2, detail = ?3 WHERE id = ?1", params![id, reason, detail])?;
        Ok(())
    }

    fn partitions(&self) -> Result<Vec<Partition>> {
        let mut out = Vec::new();
        for day in self.days(None, None)? {
            let path = self.dir.join(partition_file(day));
            let bytes = ["", "-wal"]
                .iter()
                .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
                .map(|m| m.len())
                .sum();
            // Rows are never deleted from a partition, so the largest rowid is the count.
            let events: Option<i64> =
                self.read_partition(day)?.query_row("SELECT max(id) FROM events", [], |r| r.get(0)).optional()?.flatten();
            out.push(Partition { day: date_of(day).to_string(), events: events.unwrap_or(0) as u64, bytes });
        }
        Ok(out)
    }

    fn retain(&self, keep_from: jiff::civil::Date) -> Result<Vec<String>> {
        let cutoff = day_from_date(keep_from);
        let mut writers = self.writers.lock().expect("writers lock");
        let mut dropped = Vec::new();
        for day in self.days(None, Some(cutoff - 1))? {
            writers.remove(&day);
            let path = self.dir.join(partition_file(day));
            for suffix in ["-wal", "-shm", ""] {
                let p = PathBuf::from(format!("{}{suffix}", path.display()));
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(EventStoreError::Io { path: p.display().to_string(), source: e }),
                }
            }
            dropped.push(date_of(day).to_string());
        }
        Ok(dropped)
    }
}

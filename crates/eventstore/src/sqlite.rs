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
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};

use crate::block::{self, Kind, Matcher, ip_key, reversed_name};
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

/// A partition holds blocks (see [`crate::block`]): each row is the
/// compressed events of one batch for one stream, with its stream-position
/// and time bounds. Per event there is no row and no index entry: the
/// writer's cost was index maintenance, one entry per event in five indexes.
/// `block_keys` lists each block's distinct addresses (16-byte blobs, IPv4
/// as `::ffff:a.b.c.d`, so a CIDR block is one range), units, names
/// (label-reversed, `cn.gov.yunling.www`, so "a domain and its subdomains"
/// is a prefix range) and datasets.
///
/// The keys lead with `bucket` (block id >> [`BUCKET_SHIFT`]): a batch's
/// inserts land in the newest bucket's pages instead of dirtying a page per
/// key across the whole day. A search seeks once per bucket.
///
/// Replays are caught by position: a stream's events for one day from one
/// batch all go into one block, and batches are consecutive runs of the
/// stream, so an event whose position lies within a stored block's
/// `first_pos..=last_pos` for its stream was stored in that block.
const PARTITION_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS blocks(
  id INTEGER PRIMARY KEY,
  stream INTEGER NOT NULL,
  first_pos INTEGER NOT NULL,
  last_pos INTEGER NOT NULL,
  ts_min INTEGER NOT NULL,
  ts_max INTEGER NOT NULL,
  events INTEGER NOT NULL,
  raw_len INTEGER NOT NULL,
  data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_stream ON blocks(stream, last_pos);
CREATE INDEX IF NOT EXISTS blocks_time ON blocks(ts_max);
CREATE TABLE IF NOT EXISTS block_keys(
  bucket INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  key BLOB NOT NULL,
  block INTEGER NOT NULL,
  PRIMARY KEY(bucket, kind, key, block)) WITHOUT ROWID;";

/// Partition layout version, in `PRAGMA user_version`; an older file is refused by name.
const PARTITION_VERSION: i64 = 3;

/// A key bucket spans 64 blocks (up to 256k events at full batches): a
/// batch dirties few pages, and a day is at most a few thousand buckets.
const BUCKET_SHIFT: u32 = 6;

/// Block ids within a partition leave room for this many events per block
/// in a hit's id (`block << SLOT_BITS | slot`).
const SLOT_BITS: u32 = 20;

/// Every bucket of the partition, for `bucket IN buckets`.
fn buckets_cte() -> String {
    format!(
        "WITH RECURSIVE buckets(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM buckets WHERE b < (SELECT coalesce(max(id), 0) >> {BUCKET_SHIFT} FROM blocks))"
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

    /// Stores one day's events of a batch: a block per stream, minus the
    /// events a stored block already holds. One transaction, taken for
    /// writing up front so a second writing process waits instead of failing.
    fn write_partition(conn: &mut Connection, events: &[&Accepted]) -> Result<(u64, u64)> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (mut written, mut dup) = (0, 0);
        {
            let mut next: i64 = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM blocks", [], |r| r.get(0))?;
            let mut stored =
                tx.prepare_cached("SELECT first_pos, last_pos FROM blocks WHERE stream = ?1 AND last_pos >= ?2 AND first_pos <= ?3")?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO blocks(id, stream, first_pos, last_pos, ts_min, ts_max, events, raw_len, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut key = tx.prepare_cached("INSERT OR IGNORE INTO block_keys(bucket, kind, key, block) VALUES (?1, ?2, ?3, ?4)")?;
            let mut streams: Vec<i64> = events.iter().map(|a| a.origin.stream).collect();
            streams.sort_unstable();
            streams.dedup();
            for stream in streams {
                let mine: Vec<&Accepted> = events.iter().copied().filter(|a| a.origin.stream == stream).collect();
                let lo = mine.iter().map(|a| a.origin.pos).min().expect("at least one");
                let hi = mine.iter().map(|a| a.origin.pos).max().expect("at least one");
                let ranges: Vec<(i64, i64)> =
                    stored.query_map(params![stream, lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
                let all = mine.len();
                let mut fresh: Vec<&Accepted> =
                    mine.into_iter().filter(|a| !ranges.iter().any(|&(f, l)| (f..=l).contains(&a.origin.pos))).collect();
                // A position twice in one batch is one record.
                fresh.sort_by_key(|a| a.origin.pos);
                fresh.dedup_by_key(|a| a.origin.pos);
                dup += (all - fresh.len()) as u64;
                for chunk in fresh.chunks(1 << SLOT_BITS) {
                    let b = block::encode(chunk)?;
                    let id = next;
                    next += 1;
                    ins.execute(params![
                        id,
                        stream,
                        b.first_pos,
                        b.last_pos,
                        b.ts_min,
                        b.ts_max,
                        chunk.len() as i64,
                        b.raw_len as i64,
                        b.data
                    ])?;
                    for (kind, k) in &b.keys {
                        key.execute(params![id >> BUCKET_SHIFT, *kind as u8, k, id])?;
                    }
                    written += chunk.len() as u64;
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
            // WAL before the schema: the mode is kept in the file, so the
            // file is never seen in rollback mode under its final name (a
            // read-only search cannot roll back a hot journal left by a kill).
            c.pragma_update(None, "journal_mode", "WAL")?;
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
        // A checkpoint fsyncs the database file: every 32 MiB of WAL rather
        // than every 4 MiB took commit time from 1.6 s to 0.95 s per 200k events.
        c.pragma_update(None, "wal_autocheckpoint", 8192)?;
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

/// The SQL that picks a partition's candidate blocks for a search, newest
/// first, and its parameters: time bounds, then one key condition per
/// filter that has keys. Everything else is checked per event.
fn candidates_sql(q: &Search, scope: &Scope) -> (String, Vec<Value>) {
    let mut w: Vec<String> = Vec::new();
    let mut p: Vec<Value> = Vec::new();
    let bind = |p: &mut Vec<Value>, v: Value| {
        p.push(v);
        format!("?{}", p.len())
    };
    if let Some(f) = q.from {
        let a = bind(&mut p, Value::Integer(f.as_microsecond()));
        w.push(format!("ts_max >= {a}"));
    }
    if let Some(t) = q.to {
        let a = bind(&mut p, Value::Integer(t.as_microsecond()));
        w.push(format!("ts_min < {a}"));
    }
    let keyed = |kind: Kind, cond: String| {
        format!("id IN (SELECT block FROM block_keys WHERE bucket IN buckets AND kind = {} AND {cond})", kind as u8)
    };
    if let Scope::Units(units) = scope {
        let list: Vec<String> = units.iter().map(|u| bind(&mut p, Value::Blob(u.as_bytes().to_vec()))).collect();
        w.push(keyed(Kind::Unit, format!("key IN ({})", if list.is_empty() { "NULL".into() } else { list.join(",") })));
    }
    if let Some(u) = &q.unit {
        let a = bind(&mut p, Value::Blob(u.as_bytes().to_vec()));
        w.push(keyed(Kind::Unit, format!("key = {a}")));
    }
    if let Some(r) = &q.ip {
        let lo = bind(&mut p, Value::Blob(ip_key(r.first).to_vec()));
        let hi = bind(&mut p, Value::Blob(ip_key(r.last).to_vec()));
        w.push(keyed(Kind::Ip, format!("key BETWEEN {lo} AND {hi}")));
    }
    if let Some(d) = &q.domain {
        let rev = reversed_name(d);
        let exact = bind(&mut p, Value::Blob(rev.as_bytes().to_vec()));
        let lo = bind(&mut p, Value::Blob(format!("{rev}.").into_bytes()));
        let hi = bind(&mut p, Value::Blob(format!("{rev}/").into_bytes()));
        // Two seeks, not an OR the planner would answer by scanning every name.
        let (a, b) = (keyed(Kind::Name, format!("key = {exact}")), keyed(Kind::Name, format!("key >= {lo} AND key < {hi}")));
        w.push(format!("({a} OR {b})"));
    }
    if let Some(d) = &q.dataset {
        let a = bind(&mut p, Value::Blob(d.as_bytes().to_vec()));
        w.push(keyed(Kind::Dataset, format!("key = {a}")));
    }
    let clause = if w.is_empty() { String::new() } else { format!("WHERE {}", w.join(" AND ")) };
    (format!("{} SELECT id, ts_max FROM blocks {clause} ORDER BY ts_max DESC, id DESC", buckets_cte()), p)
}

/// The newest `limit` hits seen so far, oldest on top.
struct Newest {
    limit: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(i64, i64, String)>>,
}

impl Newest {
    /// The (time, id) an event must beat to enter, once the page is full.
    fn floor(&self) -> Option<(i64, i64)> {
        let oldest = self.heap.peek().filter(|_| self.heap.len() >= self.limit)?;
        Some((oldest.0.0, oldest.0.1))
    }
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
        let (sql, params) = candidates_sql(q, scope);
        let matcher = Matcher::new(q, scope);
        let mut hits: Vec<Hit> = Vec::new();
        // `to` is exclusive: an instant exactly at midnight needs no partition for that day.
        let to_day = q.to.map(|t| day_of(t - jiff::SignedDuration::from_micros(1)));
        for day in self.days(q.from.map(day_of), to_day)? {
            let conn = self.read_partition(day)?;
            let blocks: Vec<(i64, i64)> = conn
                .prepare(&sql)?
                .query_map(params_from_iter(params.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut newest = Newest { limit, heap: Default::default() };
            let mut data = conn.prepare_cached("SELECT raw_len, data FROM blocks WHERE id = ?1")?;
            for (block, ts_max) in blocks {
                // Blocks come newest first by their newest event: once the
                // heap is full and this block cannot beat it, none can.
                if newest.floor().is_some_and(|(ts, _)| ts_max < ts) {
                    break;
                }
                let (raw_len, bytes): (i64, Vec<u8>) = data.query_row([block], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let raw = block::decompress(&bytes, raw_len)?;
                for slot in block::slots(&raw) {
                    let slot = slot?;
                    let id = (block << SLOT_BITS) | slot.index as i64;
                    if newest.floor().is_some_and(|floor| (slot.ts, id) < floor) || !matcher.matches(&slot)? {
                        continue;
                    }
                    newest.heap.push(std::cmp::Reverse((slot.ts, id, slot.document()?)));
                    if newest.heap.len() > limit {
                        newest.heap.pop();
                    }
                }
            }
            let name = date_of(day).to_string();
            let mut day_hits: Vec<(i64, i64, String)> = newest.heap.into_iter().map(|r| r.0).collect();
            day_hits.sort_unstable_by_key(|h| std::cmp::Reverse((h.0, h.1)));
            hits.extend(day_hits.into_iter().map(|(_, id, doc)| Hit { partition: name.clone(), id, doc }));
            // Days come newest first: a full page from later days cannot be beaten by earlier ones.
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
            let events: i64 = self.read_partition(day)?.query_row("SELECT coalesce(sum(events), 0) FROM blocks", [], |r| r.get(0))?;
            out.push(Partition { day: date_of(day).to_string(), events: events as u64, bytes });
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

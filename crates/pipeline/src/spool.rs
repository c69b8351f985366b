//! The durable spool for network sources (HTTP, syslog): records are
//! appended to segment files and fsynced before the sender is acknowledged;
//! a consumer processes them later, at least once, from its checkpoint.
//!
//! Segment `NNNNNNNNNNNN.seg` holds frames `len:u32le crc32:u32le body`,
//! body = `format:u8 received_us:i64le source_len:u8 source sensor_len:u8
//! sensor [variant_len:u8 variant] [reason:u8 detail_len:u16le detail]
//! record`; bit 0x40 of `format` says a variant (a JSON field map's name)
//! follows, bit 0x80 that the source already refused the record. Each segment is one stream of the event store, so its
//! checkpoint is a byte offset like a file's, and the store's origin key
//! turns a replay after a crash into counted duplicates. A torn frame at
//! the end of the newest segment (a crash mid-write, never acknowledged) is
//! cut off when the spool is opened.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use shouwang_ingest::{Format, Reason};

use crate::Counters;

/// A segment is sealed and a new one started past this size.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
const FRAME_HEADER: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool I/O on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The backlog is over its limit: the sender should retry later.
    #[error("the spool holds {backlog} unprocessed bytes, over its {limit}-byte limit")]
    Full { backlog: u64, limit: u64 },
    #[error("record of {0} bytes is over the spool's record limit")]
    TooLarge(usize),
}

/// One record as a source hands it over.
#[derive(Debug, Clone, Copy)]
pub struct SpoolRecord<'a> {
    pub format: Format,
    /// The format's variant (`waf_acme` in `json:waf_acme`), or empty.
    pub variant: &'a str,
    pub received: jiff::Timestamp,
    pub source: &'a str,
    pub sensor: Option<&'a str>,
    /// Set when the source already refused the record (a frame whose octet
    /// count lies): spooled all the same, so it becomes a dead letter in order.
    pub reject: Option<(Reason, &'a str)>,
    pub bytes: &'a [u8],
}

/// A record read back, with its segment and offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Spooled {
    pub segment: u64,
    pub pos: u64,
    pub format: Format,
    pub variant: String,
    pub received: jiff::Timestamp,
    pub source: String,
    pub sensor: Option<String>,
    pub reject: Option<(Reason, String)>,
    pub bytes: Vec<u8>,
}

/// A frame read back at its offset: the record, or why it could not be decoded.
pub type Frame = (u64, Result<Spooled, String>);

struct Active {
    number: u64,
    file: File,
    len: u64,
}

pub struct Spool {
    dir: PathBuf,
    active: Mutex<Active>,
    /// Bumped on every append; the consumer waits on it.
    appended: (Mutex<u64>, Condvar),
    pub max_backlog: u64,
    pub max_record: usize,
    counters: Arc<Counters>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.display().to_string(), source }
}

fn segment_name(n: u64) -> String {
    format!("{n:012}.seg")
}

pub fn segment_stream(n: u64) -> String {
    format!("spool:{n:012}")
}

fn format_code(f: Format) -> u8 {
    Format::ALL.iter().position(|x| *x == f).expect("every format is in ALL") as u8
}

/// Reads the frame at the start of `buf`: `Some((total_len, spooled))`, or
/// `None` if `buf` holds no complete, intact frame.
fn decode(buf: &[u8], segment: u64, pos: u64) -> Option<(usize, Result<Spooled, String>)> {
    let len = u32::from_le_bytes(buf.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(buf.get(4..8)?.try_into().ok()?);
    let body = buf.get(FRAME_HEADER..FRAME_HEADER + len)?;
    if crc32fast::hash(body) != crc {
        return Some((FRAME_HEADER + len, Err(format!("checksum mismatch in spool segment {segment} at {pos}"))));
    }
    let parse = || -> Option<Spooled> {
        let code = *body.first()?;
        let format = *Format::ALL.get(usize::from(code & 0x3f))?;
        let received = i64::from_le_bytes(body.get(1..9)?.try_into().ok()?);
        let mut at = 9;
        let text = |at: &mut usize| -> Option<String> {
            let n = usize::from(*body.get(*at)?);
            let s = std::str::from_utf8(body.get(*at + 1..*at + 1 + n)?).ok()?.to_string();
            *at += 1 + n;
            Some(s)
        };
        let source = text(&mut at)?;
        let sensor = text(&mut at)?;
        let variant = if code & 0x40 != 0 { text(&mut at)? } else { String::new() };
        let reject = if code & 0x80 != 0 {
            let reason = *Reason::ALL.get(usize::from(*body.get(at)?))?;
            let n = usize::from(u16::from_le_bytes(body.get(at + 1..at + 3)?.try_into().ok()?));
            let detail = String::from_utf8_lossy(body.get(at + 3..at + 3 + n)?).into_owned();
            at += 3 + n;
            Some((reason, detail))
        } else {
            None
        };
        Some(Spooled {
            segment,
            pos,
            format,
            variant,
            received: jiff::Timestamp::from_microsecond(received).ok()?,
            source,
            sensor: Some(sensor).filter(|s| !s.is_empty()),
            reject,
            bytes: body[at..].to_vec(),
        })
    };
    Some((FRAME_HEADER + len, parse().ok_or_else(|| format!("undecodable spool frame in segment {segment} at {pos}"))))
}

fn encode(out: &mut Vec<u8>, r: &SpoolRecord<'_>) {
    let clip = |s: &str, max: usize| -> usize {
        // Names are config-given and short; cut at a char boundary.
        let mut n = s.len().min(max);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        n
    };
    let (src, sen, var) = (clip(r.source, 255), r.sensor.map_or(0, |s| clip(s, 255)), clip(r.variant, 255));
    let det = r.reject.map_or(0, |(_, d)| clip(d, 4096));
    let body_len = 1 + 8 + 1 + src + 1 + sen + if var > 0 { 1 + var } else { 0 } + r.reject.map_or(0, |_| 3 + det) + r.bytes.len();
    let start = out.len();
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(format_code(r.format) | if var > 0 { 0x40 } else { 0 } | if r.reject.is_some() { 0x80 } else { 0 });
    out.extend_from_slice(&r.received.as_microsecond().to_le_bytes());
    out.push(src as u8);
    out.extend_from_slice(&r.source.as_bytes()[..src]);
    out.push(sen as u8);
    out.extend_from_slice(&r.sensor.unwrap_or("").as_bytes()[..sen]);
    if var > 0 {
        out.push(var as u8);
        out.extend_from_slice(&r.variant.as_bytes()[..var]);
    }
    if let Some((reason, detail)) = r.reject {
        out.push(Reason::ALL.iter().position(|x| *x == reason).expect("every reason is in ALL") as u8);
        out.extend_from_slice(&(det as u16).to_le_bytes());
        out.extend_from_slice(&detail.as_bytes()[..det]);
    }
    out.extend_from_slice(r.bytes);
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

impl Spool {
    /// Opens the spool in `dir`, cutting a torn frame off the newest segment.
    pub fn open(dir: &Path, max_backlog: u64, max_record: usize, counters: Arc<Counters>) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let segments = list_segments(dir)?;
        let number = segments.last().copied().unwrap_or(1);
        let path = dir.join(segment_name(number));
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io_err(&path))?;
        let good = intact_length(&mut file).map_err(io_err(&path))?;
        if good < file.metadata().map_err(io_err(&path))?.len() {
            tracing::warn!(segment = number, keep = good, "cutting a torn frame off the spool (never acknowledged)");
            file.set_len(good).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
        }
        let backlog: u64 = segments.iter().filter_map(|n| std::fs::metadata(dir.join(segment_name(*n))).ok()).map(|m| m.len()).sum();
        counters.spool_backlog_bytes.store(backlog as i64, Relaxed);
        Ok(Spool {
            dir: dir.to_path_buf(),
            active: Mutex::new(Active { number, file, len: good }),
            appended: (Mutex::new(0), Condvar::new()),
            max_backlog,
            max_record,
            counters,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether a sender should be told to come back later.
    pub fn check_room(&self) -> Result<(), SpoolError> {
        let backlog = self.counters.spool_backlog_bytes.load(Relaxed).max(0) as u64;
        if backlog > self.max_backlog { Err(SpoolError::Full { backlog, limit: self.max_backlog }) } else { Ok(()) }
    }

    /// Appends `records` and fsyncs them: when this returns `Ok`, they
    /// survive a crash and the sender may be acknowledged.
    pub fn append(&self, records: &[SpoolRecord<'_>]) -> Result<(), SpoolError> {
        if records.is_empty() {
            return Ok(());
        }
        self.check_room()?;
        let mut buf = Vec::with_capacity(records.iter().map(|r| r.bytes.len() + 64).sum());
        for r in records {
            if r.bytes.len() > self.max_record {
                return Err(SpoolError::TooLarge(r.bytes.len()));
            }
            encode(&mut buf, r);
        }
        let mut active = self.active.lock().expect("spool lock");
        let path = self.dir.join(segment_name(active.number));
        active.file.write_all(&buf).map_err(io_err(&path))?;
        active.file.sync_data().map_err(io_err(&path))?;
        active.len += buf.len() as u64;
        if active.len >= SEGMENT_BYTES {
            let next = active.number + 1;
            let path = self.dir.join(segment_name(next));
            let file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io_err(&path))?;
            // The new name must be durable before anything in it is acknowledged.
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io_err(&self.dir))?;
            *active = Active { number: next, file, len: 0 };
        }
        drop(active);
        self.counters.spooled.fetch_add(records.len() as u64, Relaxed);
        self.counters.spool_backlog_bytes.fetch_add(buf.len() as i64, Relaxed);
        let (lock, cv) = &self.appended;
        *lock.lock().expect("spool notify lock") += 1;
        cv.notify_all();
        Ok(())
    }

    /// The segment being written, and its intact length.
    pub fn active(&self) -> (u64, u64) {
        let a = self.active.lock().expect("spool lock");
        (a.number, a.len)
    }

    pub fn segments(&self) -> Result<Vec<u64>, SpoolError> {
        list_segments(&self.dir)
    }

    /// Reads the frames of `segment` from `pos` up to `limit` bytes of
    /// intact data. Returns the records (or per-frame decode errors with
    /// their positions) and the offset after the last whole frame.
    pub fn read(&self, segment: u64, pos: u64, max_bytes: usize) -> Result<(Vec<Frame>, u64), SpoolError> {
        let (active, active_len) = self.active();
        let path = self.dir.join(segment_name(segment));
        let end = if segment == active { active_len } else { std::fs::metadata(&path).map_err(io_err(&path))?.len() };
        if pos >= end {
            return Ok((Vec::new(), pos));
        }
        let mut f = File::open(&path).map_err(io_err(&path))?;
        f.seek(SeekFrom::Start(pos)).map_err(io_err(&path))?;
        let want = (end - pos).min(max_bytes.max(self.max_record + 1024) as u64) as usize;
        let mut buf = vec![0; want];
        f.read_exact(&mut buf).map_err(io_err(&path))?;
        let mut out = Vec::new();
        let mut at = 0usize;
        while let Some((n, r)) = decode(&buf[at..], segment, pos + at as u64) {
            out.push((pos + at as u64, r));
            at += n;
        }
        if out.is_empty() && segment != active && want as u64 == end - pos {
            // A sealed segment whose tail does not decode (disk damage): report it, move past it.
            out.push((pos, Err(format!("unreadable tail of spool segment {segment} from {pos} ({} bytes)", end - pos))));
            at = buf.len();
        }
        Ok((out, pos + at as u64))
    }

    pub fn remove(&self, segment: u64) -> Result<(), SpoolError> {
        let path = self.dir.join(segment_name(segment));
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&path).map_err(io_err(&path))?;
        self.counters.spool_backlog_bytes.fetch_sub(len as i64, Relaxed);
        Ok(())
    }

    /// Waits until something is appended or `timeout` passes.
    pub fn wait(&self, seen: &mut u64, timeout: Duration) {
        let (lock, cv) = &self.appended;
        let guard = lock.lock().expect("spool notify lock");
        let guard = if *guard == *seen { cv.wait_timeout(guard, timeout).expect("spool notify lock").0 } else { guard };
        *seen = *guard;
    }
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, SpoolError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        if let Some(n) = e.file_name().to_str().and_then(|n| n.strip_suffix(".seg")).and_then(|n| n.parse::<u64>().ok()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Length of the leading run of intact frames.
fn intact_length(f: &mut File) -> std::io::Result<u64> {
    f.seek(SeekFrom::Start(0))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, &mut *f);
    let mut good = 0u64;
    let mut header = [0u8; FRAME_HEADER];
    let mut body = Vec::new();
    loop {
        if r.read_exact(&mut header).is_err() {
            return Ok(good);
        }
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        body.resize(len, 0);
        if r.read_exact(&mut body).is_err() || crc32fast::hash(&body) != u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) {
            return Ok(good);
        }
        good += (FRAME_HEADER + len) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let c = Arc::new(Counters::default());
        let spool = Spool::open(dir.path(), 1 << 30, 1 << 20, c.clone()).unwrap();
        let now = jiff::Timestamp::from_second(1_763_700_000).unwrap();
        let rec = |b: &'static [u8]| SpoolRecord {
            format: Format::Syslog,
            variant: "",
            received: now,
            source: "syslog-tcp",
            sensor: Some("fw-01"),
            reject: None,
            bytes: b,
        };
        let refused = SpoolRecord { reject: Some((Reason::Malformed, "count lies")), ..rec(b"xyz") };
        let mapped = SpoolRecord { format: Format::Json, variant: "waf_acme", ..rec(b"{}") };
        let both = SpoolRecord { variant: "waf_acme", ..refused };
        spool.append(&[rec(b"<34>one"), rec(b"<34>\xff two"), refused, mapped, both]).unwrap();
        let (seg, len) = spool.active();
        drop(spool);
        // A crash mid-append leaves half a frame.
        let path = dir.path().join(segment_name(seg));
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, b'x']).unwrap();
        let spool = Spool::open(dir.path(), 1 << 30, 1 << 20, c).unwrap();
        assert_eq!(spool.active(), (seg, len), "the torn frame is cut off");
        let (frames, end) = spool.read(seg, 0, 1 << 20).unwrap();
        assert_eq!(end, len);
        let got: Vec<_> = frames.into_iter().map(|(_, r)| r.unwrap()).collect();
        assert_eq!(got.len(), 5);
        assert_eq!(
            (got[3].format, got[3].variant.as_str(), got[3].bytes.as_slice(), got[3].reject.is_none()),
            (Format::Json, "waf_acme", &b"{}"[..], true)
        );
        assert_eq!((got[4].variant.as_str(), got[4].reject.clone()), ("waf_acme", Some((Reason::Malformed, "count lies".into()))));
        assert_eq!(got[2].variant, "", "without a variant the frame is laid out as before variants existed");
        assert_eq!((got[2].reject.clone(), got[2].bytes.as_slice()), (Some((Reason::Malformed, "count lies".into())), &b"xyz"[..]));
        assert_eq!(got[0].reject, None);
        assert_eq!(
            (got[1].bytes.as_slice(), got[1].sensor.as_deref(), got[1].source.as_str()),
            (&b"<34>\xff two"[..], Some("fw-01"), "syslog-tcp")
        );
        assert_eq!((got[0].received, got[0].format), (now, Format::Syslog));
        assert!(spool.read(seg, end, 1 << 20).unwrap().0.is_empty());
    }
}

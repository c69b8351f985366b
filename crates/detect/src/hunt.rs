//! Offline hunting: rules over files of events, without a server, the way an
//! analyst uses chainsaw or Hayabusa. Input is read as a stream of records:
//! JSON values one per line or spread over lines (evtx exports), and any
//! other line as plain text for keyword rules. A Windows event export is
//! flattened first ([`crate::windows`]). A record that cannot be read is
//! counted and reported with its line, and reading goes on after it.

use std::io::Read;

use shouwang_ingest::framing::{Frame, LineReader};

use serde::Serialize;
use serde_json::Value;

use crate::{Hit, JsonEvent, PlainEvent, Rules};

/// A JSON value spread over more lines than this is given up on.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// One rule firing on one record of an input.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub hit: Hit,
    pub input: String,
    /// 1-based line where the record (for a correlation: the record that
    /// completed it) begins.
    pub line: u64,
}

/// A record that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub input: String,
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HuntReport {
    pub records: u64,
    pub findings: u64,
    pub unreadable: u64,
}

/// Runs `rules` over `reader`, calling `found` for each hit, `record` with
/// each JSON record as matched (flattened if it was a Windows export) and
/// its line, for other matching such as indicators, and `bad` for each
/// record that cannot be read. Errors only if the input itself fails.
pub fn hunt(
    rules: &mut Rules,
    input: &str,
    reader: impl Read,
    found: &mut dyn FnMut(Finding),
    record: &mut dyn FnMut(&Value, u64),
    bad: &mut dyn FnMut(Unreadable),
) -> std::io::Result<HuntReport> {
    let mut report = HuntReport::default();
    let mut pending = Pending::default();
    // Whether JSON values span lines; decided by the first one.
    let mut multiline: Option<bool> = None;
    let mut line_no = 0u64;
    let mut eval = |record_at: u64, rec: Record<'_>, report: &mut HuntReport| {
        let mut hits = |hits: Vec<Hit>, report: &mut HuntReport| {
            report.records += 1;
            report.findings += hits.len() as u64;
            for hit in hits {
                found(Finding { hit, input: input.to_string(), line: record_at });
            }
        };
        let mut one = |v: &Value, report: &mut HuntReport| {
            let flat = crate::windows::flatten(v);
            let event = flat.as_ref().unwrap_or(v);
            record(event, record_at);
            hits(rules.process_event(&JsonEvent::borrow(event)), report);
        };
        match rec {
            // An array of events (some exporters write one) is its elements.
            Record::Json(Value::Array(items)) => items.iter().for_each(|v| one(v, report)),
            Record::Json(v) => one(&v, report),
            Record::Text(text) => hits(rules.process_event(&PlainEvent::new(text.to_string())), report),
        }
    };
    let mut unreadable = |line: u64, reason: String, report: &mut HuntReport| {
        report.unreadable += 1;
        bad(Unreadable { input: input.to_string(), line, reason });
    };
    // Lines are read with bounded memory: a line past the limit is
    // reported by its length, never held whole.
    let mut lines = LineReader::new(reader, 0, MAX_RECORD);
    while let Some(frame) = lines.next_frame()? {
        line_no += 1;
        let raw = match frame {
            Frame::Record { bytes, .. } => bytes,
            Frame::TooLong { len, .. } => {
                unreadable(line_no, format!("a line of {len} bytes, over the {MAX_RECORD}-byte limit"), &mut report);
                if !pending.text.is_empty() {
                    unreadable(pending.line, format!("JSON value cut by the over-long line {line_no}"), &mut report);
                    pending = Pending::default();
                }
                continue;
            }
        };
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim_end_matches('\r'),
            Err(e) => {
                unreadable(line_no, format!("not UTF-8 at byte {}", e.valid_up_to()), &mut report);
                continue;
            }
        };
        if pending.text.is_empty() && !pending.skipping {
            if text.trim().is_empty() {
                continue;
            }
            if !text.trim_start().starts_with(['{', '[']) {
                eval(line_no, Record::Text(text), &mut report);
                continue;
            }
            // The first JSON record decides the layout: a value complete on
            // its line means JSON lines, where every record is one line and
            // a broken one costs only itself; an incomplete one means values
            // spread over lines (pretty-printed exports).
            if multiline != Some(true) {
                match serde_json::from_str::<Value>(text) {
                    Ok(v) => {
                        multiline = Some(false);
                        eval(line_no, Record::Json(v), &mut report);
                        continue;
                    }
                    Err(e) if e.is_eof() && multiline.is_none() => multiline = Some(true),
                    Err(e) => {
                        unreadable(line_no, format!("JSON: {e}"), &mut report);
                        continue;
                    }
                }
            }
            pending.line = line_no;
        }
        pending.push(text);
        // Parsed once, when its brackets close: never on every line, which
        // would be quadratic in a value's length.
        if pending.depth > 0 {
            if pending.text.len() > MAX_RECORD && !pending.skipping {
                unreadable(pending.line, format!("a JSON value longer than {MAX_RECORD} bytes"), &mut report);
                // Its remaining lines are read to its end, not kept.
                pending.skipping = true;
                pending.text = String::new();
            }
            continue;
        }
        if pending.skipping {
            pending = Pending::default();
            continue;
        }
        match serde_json::from_str::<Value>(&pending.text) {
            Ok(v) => eval(pending.line, Record::Json(v), &mut report),
            Err(e) => unreadable(pending.line, format!("JSON value on lines {}–{line_no}: {e}", pending.line), &mut report),
        }
        pending = Pending::default();
    }
    if !pending.text.is_empty() && !pending.skipping {
        unreadable(pending.line, "the input ends inside a JSON value".into(), &mut report);
    }
    Ok(report)
}

/// One record of an input: a JSON value, or a text line for keyword rules.
enum Record<'a> {
    Json(Value),
    Text(&'a str),
}

/// A JSON value being read over several lines, with its bracket depth
/// (outside strings) so it is parsed once, when it closes.
#[derive(Default)]
struct Pending {
    text: String,
    line: u64,
    depth: i64,
    in_string: bool,
    escaped: bool,
    /// Past [`MAX_RECORD`] and reported: lines are counted for depth only.
    skipping: bool,
}

impl Pending {
    fn push(&mut self, line: &str) {
        for b in line.bytes() {
            match (self.in_string, self.escaped, b) {
                (true, true, _) => self.escaped = false,
                (true, false, b'\\') => self.escaped = true,
                (true, false, b'"') => self.in_string = false,
                (false, _, b'"') => self.in_string = true,
                (false, _, b'{' | b'[') => self.depth += 1,
                (false, _, b'}' | b']') => self.depth -= 1,
                _ => {}
            }
        }
        if !self.skipping {
            self.text.push_str(line);
            self.text.push('\n');
        }
    }
}

//! Reading indicators from the formats peers share them in. Every importer
//! has the same contract: each record that cannot be used is reported with
//! where it is and why, every other record loads, and nothing panics.

pub mod csv;
pub mod misp;
pub mod stix;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Indicator, Tlp};

/// Reads indicators from `path` by what it is: a directory holding
/// `manifest.json` (a MISP feed), a `.csv` file, or a JSON file that is a
/// STIX bundle or a MISP event.
pub fn read_path(path: &std::path::Path, defaults: &Defaults, add: &mut dyn FnMut(Indicator)) -> Result<ImportReport, String> {
    let open = || std::fs::File::open(path).map(std::io::BufReader::new).map_err(|e| format!("{}: {e}", path.display()));
    if path.is_dir() {
        return misp::read_feed(path, defaults, add);
    }
    if path.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")) {
        return csv::read(open()?, defaults, add);
    }
    // JSON: look at the start to tell a STIX bundle from a MISP event.
    let mut head = vec![0; 4096];
    let n = std::io::Read::read(&mut open()?, &mut head).map_err(|e| e.to_string())?;
    let head = String::from_utf8_lossy(&head[..n]);
    if head.contains("\"Event\"") {
        misp::read_event(open()?, defaults, add)
    } else if head.contains("\"bundle\"") {
        stix::read(open()?, defaults, add)
    } else {
        Err(format!("{}: not a CSV file, a STIX bundle, a MISP event or a MISP feed directory", path.display()))
    }
}

/// Rejections kept in full; past this many only their reasons are counted.
pub const MAX_DETAILED: usize = 10_000;

/// What an import applies to indicators that do not say.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub source: String,
    pub confidence: u8,
    pub tlp: Tlp,
}

impl Defaults {
    /// Confidence 50 and TLP:AMBER (limited sharing) unless the data says
    /// otherwise: an unmarked indicator is not assumed to be public.
    pub fn new(source: &str) -> Defaults {
        Defaults { source: source.to_string(), confidence: 50, tlp: Tlp::Amber }
    }
}

/// One record that was not loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// Where: `line 12`, `objects[3]`, `Event.Attribute[7]`.
    pub at: String,
    /// The value as written (its first 200 characters).
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Records read (rows, objects, attributes).
    pub read: u64,
    pub loaded: u64,
    /// Records that are not indicators (other object types, attributes not
    /// marked for detection), counted and left alone.
    pub skipped: u64,
    /// The first [`MAX_DETAILED`] rejections in full.
    pub rejected: Vec<Rejected>,
    /// Rejections by reason class, all of them.
    pub rejected_by_reason: BTreeMap<String, u64>,
}

impl ImportReport {
    pub fn rejected_total(&self) -> u64 {
        self.rejected_by_reason.values().sum()
    }

    /// Adds the counts and rejections of a later part of the same input.
    pub(crate) fn merge(&mut self, later: ImportReport) {
        self.read += later.read;
        self.loaded += later.loaded;
        self.skipped += later.skipped;
        let room = MAX_DETAILED.saturating_sub(self.rejected.len());
        self.rejected.extend(later.rejected.into_iter().take(room));
        for (reason, n) in later.rejected_by_reason {
            *self.rejected_by_reason.entry(reason).or_default() += n;
        }
    }

    pub(crate) fn reject(&mut self, at: String, value: &str, reason: String) {
        *self.rejected_by_reason.entry(class(&reason)).or_default() += 1;
        if self.rejected.len() < MAX_DETAILED {
            let value: String = value.chars().take(200).collect();
            self.rejected.push(Rejected { at, value, reason: clip(&reason) });
        }
    }
}

/// A reason with each particular (the parts in backticks) cut to 100
/// characters: a reason quotes the value, which may be megabytes.
fn clip(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().min(400));
    for (n, part) in reason.split('`').enumerate() {
        if n > 0 {
            out.push('`');
        }
        match part.char_indices().nth(100) {
            Some((cut, _)) if n % 2 == 1 => {
                out.push_str(&part[..cut]);
                out.push('…');
            }
            _ => out.push_str(part),
        }
    }
    out
}

/// A reason with its particulars (the parts in backticks) blanked, so the
/// same mistake on many records counts as one class: "`…` is not an IPv4 or
/// IPv6 address".
fn class(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    for (n, part) in reason.split('`').enumerate() {
        if n % 2 == 1 {
            out.push_str("`…`");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// A timestamp as feeds write them: RFC 3339, or a date (midnight UTC).
pub(crate) fn time(s: &str) -> Result<jiff::Timestamp, String> {
    let s = s.trim();
    s.parse::<jiff::Timestamp>()
        .or_else(|_| {
            s.parse::<jiff::civil::Date>()
                .map_err(|e| e.to_string())
                .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| e.to_string()))
        })
        .map_err(|_| format!("`{s}` is not an RFC 3339 time or a date"))
}

pub(crate) fn check_validity(i: &Indicator) -> Result<(), String> {
    match (i.valid_from, i.valid_until) {
        (Some(f), Some(u)) if u <= f => Err(format!("valid until `{u}` is not after valid from `{f}`")),
        _ => Ok(()),
    }
}

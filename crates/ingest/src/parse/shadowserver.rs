//! Shadowserver report CSVs. One parser per report file, built from its
//! header row: the columns are mapped to ECS by one table (data), not by code
//! per report, so the scan family (`ip`, `port`, `hostname`, …) and the event
//! family (`src_*` / `dst_*`) both work, and a report that gains a column
//! still parses. Columns without an ECS home are kept in `labels`.
//!
//! As in IntelMQ, the host a report is about (the scanned or infected one in
//! the constituency) is `source.*`; an event report's `dst_*` is the peer.
//! Timestamps are Shadowserver's UTC `YYYY-MM-DD HH:MM:SS`.

use super::{Ctx, Parser, check_time, civil_utc, csv_record, parse_ip, parse_port, stamp, text};
use crate::event::*;
use crate::reject::{Reason, Reject};

/// Where a column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Timestamp,
    SourceIp,
    SourcePort,
    SourceDomain,
    DestIp,
    DestPort,
    DestDomain,
    Transport,
    RuleName,
    RuleCategory,
    Severity,
    Label,
}

/// The mapping table: Shadowserver column name → ECS field.
const COLUMNS: &[(&str, Field)] = &[
    ("timestamp", Field::Timestamp),
    ("ip", Field::SourceIp),
    ("src_ip", Field::SourceIp),
    ("port", Field::SourcePort),
    ("src_port", Field::SourcePort),
    ("hostname", Field::SourceDomain),
    ("src_hostname", Field::SourceDomain),
    ("dst_ip", Field::DestIp),
    ("dst_port", Field::DestPort),
    ("dst_hostname", Field::DestDomain),
    ("protocol", Field::Transport),
    ("infection", Field::RuleName),
    ("tag", Field::RuleCategory),
    ("severity", Field::Severity),
];

pub struct Shadowserver {
    dataset: String,
    columns: Vec<(String, Field)>,
}

impl Shadowserver {
    /// The report type from Shadowserver's file naming,
    /// `YYYY-MM-DD-<report>-<organisation>.csv` (`scan_rdp` from
    /// `2026-11-21-scan_rdp-yunling.csv`); other names are used whole.
    pub fn report_from_file_name(name: &str) -> String {
        let stem = name.rsplit('/').next().unwrap_or(name).trim_end_matches(".csv");
        let parts: Vec<&str> = stem.split('-').collect();
        let dated = parts.len() >= 4 && parts[..3].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if dated { parts[3].to_string() } else { stem.to_string() }
    }

    /// From a report's header row and its name (e.g. `scan_rdp`, usually
    /// taken from the file name). The header must name `timestamp` and the
    /// report's host (`ip` or `src_ip`).
    pub fn from_header(header: &[u8], report: &str) -> Result<Shadowserver, Reject> {
        let header = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header);
        let rec = csv_record(header, "Shadowserver header")?;
        let columns: Vec<(String, Field)> = rec
            .iter()
            .map(|name| {
                let name = name.trim().to_ascii_lowercase();
                let field = COLUMNS.iter().find(|(c, _)| *c == name).map_or(Field::Label, |(_, f)| *f);
                (name, field)
            })
            .collect();
        for required in [Field::Timestamp, Field::SourceIp] {
            if !columns.iter().any(|(_, f)| *f == required) {
                let what = if required == Field::Timestamp { "`timestamp`" } else { "`ip` or `src_ip`" };
                return Err(Reject::new(Reason::MissingField, format!("Shadowserver header has no {what} column")));
            }
        }
        let report: String = report.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>().to_ascii_lowercase();
        Ok(Shadowserver { dataset: format!("shadowserver.{}", if report.is_empty() { "report" } else { &report }), columns })
    }
}

fn severity(s: &str) -> Option<u8> {
    match s.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(10),
        "high" => Some(8),
        "medium" => Some(5),
        "low" => Some(3),
        "info" => Some(1),
        _ => None,
    }
}

fn time(raw: &str) -> Result<jiff::Timestamp, Reject> {
    let t = raw.trim();
    let ts = civil_utc(&["%Y-%m-%d %H:%M:%S"], t)
        .or_else(|| t.parse::<jiff::Timestamp>().ok())
        .ok_or_else(|| Reject::new(Reason::BadTimestamp, format!("timestamp `{t}` is not `YYYY-MM-DD HH:MM:SS` (UTC)")))?;
    check_time(ts, t)
}

impl Parser for Shadowserver {
    fn name(&self) -> &'static str {
        "shadowserver"
    }

    fn parse(&self, record: &[u8], ctx: &Ctx) -> Result<Event, Reject> {
        let line = text(record, ctx)?.trim_end_matches(['\r', '\n']);
        let rec = csv_record(line.as_bytes(), "row")?;
        if rec.len() != self.columns.len() {
            return Err(Reject::new(Reason::Malformed, format!("row has {} fields, the header has {}", rec.len(), self.columns.len())));
        }
        let mut e = Event::new(jiff::Timestamp::UNIX_EPOCH, "event", &self.dataset);
        let mut saw_time = false;
        for ((name, field), value) in self.columns.iter().zip(rec.iter()) {
            if value.trim().is_empty() {
                continue;
            }
            match field {
                Field::Timestamp => {
                    e.timestamp = time(value)?;
                    saw_time = true;
                }
                Field::SourceIp => e.source.get_or_insert_with(Endpoint::default).ip = Some(parse_ip(name, value)?),
                Field::SourcePort => e.source.get_or_insert_with(Endpoint::default).port = Some(parse_port(name, value)?),
                Field::SourceDomain => e.source.get_or_insert_with(Endpoint::default).domain = Some(value.trim().to_string()),
                Field::DestIp => e.destination.get_or_insert_with(Endpoint::default).ip = Some(parse_ip(name, value)?),
                Field::DestPort => e.destination.get_or_insert_with(Endpoint::default).port = Some(parse_port(name, value)?),
                Field::DestDomain => e.destination.get_or_insert_with(Endpoint::default).domain = Some(value.trim().to_string()),
                Field::Transport => e.network = Some(Network { transport: Some(value.trim().to_ascii_lowercase()), ..Default::default() }),
                Field::RuleName => e.rule.get_or_insert_with(Rule::default).name = Some(value.to_string()),
                Field::RuleCategory => e.rule.get_or_insert_with(Rule::default).category = Some(value.to_string()),
                Field::Severity => e.event.severity = severity(value),
                Field::Label => {
                    e.labels.insert(name.clone(), value.to_string());
                }
            }
        }
        if !saw_time {
            return Err(Reject::new(Reason::MissingField, "row has an empty timestamp"));
        }
        if e.source.as_ref().and_then(|s| s.ip).is_none() {
            return Err(Reject::new(Reason::MissingField, "row has an empty ip"));
        }
        Ok(stamp(e, self.name(), line, ctx))
    }
}

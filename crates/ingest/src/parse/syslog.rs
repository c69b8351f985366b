//! Syslog, RFC 5424 and RFC 3164, parsed by `syslog_loose` (Vector's
//! parser: RFC 5424 first, then the looser RFC 3164). Syslog is free text,
//! so anything that passes the shared checks becomes an event; what the
//! header did not give (a time, a host) is left empty or, for the time,
//! taken from the receive time.
//!
//! RFC 3164 timestamps carry no year and no zone: the year is the receive
//! time's (the previous one for a month later than the receive month, so a
//! 31 December line read on 1 January lands in the right year), and the zone
//! is the source's configured offset (UTC unless set).

use chrono::{Datelike, FixedOffset};
use syslog_loose::{Protocol, Variant};

use super::{Ctx, Parser, check_time, stamp, text};
use crate::event::*;
use crate::reject::{Reason, Reject};

pub struct Syslog {
    /// Offset for timestamps that carry none (RFC 3164 senders in China
    /// usually log UTC+8: configure it per source).
    pub offset: FixedOffset,
}

impl Default for Syslog {
    fn default() -> Self {
        Syslog { offset: FixedOffset::east_opt(0).expect("zero offset") }
    }
}

/// Syslog severity 0 (emergency) … 7 (debug) onto 0–10, higher is worse.
fn severity(code: u8) -> u8 {
    [10, 9, 8, 7, 5, 3, 1, 0][usize::from(code.min(7))]
}

impl Parser for Syslog {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn parse(&self, record: &[u8], ctx: &Ctx) -> Result<Event, Reject> {
        let line = text(record, ctx)?.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return Err(Reject::new(Reason::Malformed, "empty syslog message"));
        }
        let received = chrono::DateTime::from_timestamp(ctx.received.as_second(), 0)
            .map(|t| t.with_timezone(&self.offset))
            .ok_or_else(|| Reject::new(Reason::BadTimestamp, "receive time out of range"))?;
        let (year, month) = (received.year(), received.month());
        let resolve = move |(m, ..): syslog_loose::IncompleteDate| if m > month { year - 1 } else { year };
        let m = syslog_loose::parse_message_with_year_tz(line, resolve, Some(self.offset), Variant::Either);
        let when = match m.timestamp {
            Some(t) => {
                let ts = jiff::Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)
                    .map_err(|e| Reject::new(Reason::BadTimestamp, format!("syslog timestamp: {e}")))?;
                check_time(ts, &t.to_rfc3339())?
            }
            None => ctx.received,
        };
        let (dataset, version) = match m.protocol {
            Protocol::RFC5424(v) => ("syslog.rfc5424", Some(v.to_string())),
            Protocol::RFC3164 => ("syslog.rfc3164", None),
        };
        let mut e = Event::new(when, "event", dataset);
        e.message = Some(m.msg.to_string());
        let sev = m.severity.map(|s| s as u8);
        e.event.severity = sev.map(severity);
        let code_name =
            |code: u8, name: &str| CodeName { code, name: name.trim_start_matches("LOG_").trim_start_matches("SEV_").to_ascii_lowercase() };
        let procid = m.procid.as_ref().map(|p| p.to_string());
        e.log = Some(Log {
            syslog: SyslogFields {
                facility: m.facility.map(|f| code_name(f as u8, f.as_str())),
                severity: m.severity.map(|s| code_name(s as u8, s.as_str())),
                priority: m.facility.zip(m.severity).map(|(f, s)| (f as u8) * 8 + s as u8),
                version,
                hostname: m.hostname.map(str::to_string),
                appname: m.appname.map(str::to_string),
                procid: procid.clone(),
                msgid: m.msgid.map(str::to_string),
                structured_data: m
                    .structured_data
                    .iter()
                    .map(|el| (el.id.to_string(), el.params().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
                    .collect(),
            },
        });
        e.host = m.hostname.map(|h| Host { hostname: Some(h.to_string()) });
        if m.appname.is_some() || procid.is_some() {
            e.process = Some(Process { name: m.appname.map(str::to_string), pid: procid.and_then(|p| p.parse().ok()) });
        }
        Ok(stamp(e, self.name(), line, ctx))
    }
}

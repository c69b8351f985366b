//! Parser stages. Every format has the same shape: a small type with a
//! stable `name` and one `parse` method from one record's bytes to one
//! [`Event`] or a typed [`Reject`]. Adding a format is copy-and-fill.

mod cef;
mod eve;
mod json;
mod shadowserver;
mod syslog;

pub use cef::Cef;
pub use eve::Eve;
pub use json::{ECS_TARGETS, FieldMap, FieldMaps, JsonLines};
pub use shadowserver::Shadowserver;
pub use syslog::Syslog;

use crate::event::Event;
use crate::reject::{Reason, Reject};

/// What every parser is told about the record besides its bytes.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// When the record was received (events without a time of their own get this).
    pub received: jiff::Timestamp,
    /// The configured source name, copied into `shouwang.source`.
    pub source: String,
    /// Largest record accepted, in bytes.
    pub max_record_bytes: usize,
}

impl Ctx {
    pub fn new(source: &str) -> Ctx {
        Ctx { received: jiff::Timestamp::now(), source: source.to_string(), max_record_bytes: DEFAULT_MAX_RECORD }
    }
}

/// 1 MiB: a Suricata alert with a large payload field is well under this.
pub const DEFAULT_MAX_RECORD: usize = 1024 * 1024;

pub trait Parser: Send + Sync {
    /// Stable name, recorded in `shouwang.parser` and in dead letters.
    fn name(&self) -> &'static str;
    fn parse(&self, record: &[u8], ctx: &Ctx) -> Result<Event, Reject>;
}

/// The checks every text format shares: size, NUL bytes, UTF-8.
pub(crate) fn text<'a>(record: &'a [u8], ctx: &Ctx) -> Result<&'a str, Reject> {
    if record.len() > ctx.max_record_bytes {
        return Err(Reject::new(Reason::TooLarge, format!("{} bytes, over the {}-byte record limit", record.len(), ctx.max_record_bytes)));
    }
    // memchr is SIMD: the byte loop it replaces cost a tenth of EVE parsing.
    if let Some(i) = memchr::memchr(0, record) {
        return Err(Reject::new(Reason::NulByte, format!("NUL byte at offset {i}")));
    }
    std::str::from_utf8(record).map_err(|e| {
        Reject::new(Reason::NotUtf8, format!("not valid UTF-8 at byte {} (GBK/GB18030 senders must be converted)", e.valid_up_to()))
    })
}

/// Fills the provenance fields every parser sets.
pub(crate) fn stamp(mut e: Event, parser: &'static str, record: &str, ctx: &Ctx) -> Event {
    e.event.original = Some(record.to_string());
    e.shouwang.source = ctx.source.clone();
    e.shouwang.parser = parser.to_string();
    e.shouwang.received = Some(ctx.received);
    e
}

/// Event times outside 1970–2100 are data errors (a clock at epoch 0 is
/// fine; year 20240 is not), and storage partitions by time.
pub(crate) fn check_time(t: jiff::Timestamp, raw: &str) -> Result<jiff::Timestamp, Reject> {
    let year = t.to_zoned(jiff::tz::TimeZone::UTC).year();
    if (1970..=2100).contains(&year) { Ok(t) } else { Err(Reject::new(Reason::BadTimestamp, format!("`{raw}` is outside 1970–2100"))) }
}

pub(crate) fn parse_ip(field: &str, s: &str) -> Result<std::net::IpAddr, Reject> {
    s.trim().parse().map_err(|_| Reject::new(Reason::BadValue, format!("{field} `{s}` is not an IP address")))
}

pub(crate) fn parse_port(field: &str, s: &str) -> Result<u16, Reject> {
    s.trim().parse().map_err(|_| Reject::new(Reason::BadValue, format!("{field} `{s}` is not a port")))
}

/// A zone-less civil time in one of `formats`, taken as UTC.
pub(crate) fn civil_utc(formats: &[&str], s: &str) -> Option<jiff::Timestamp> {
    formats
        .iter()
        .find_map(|f| jiff::civil::DateTime::strptime(f, s).ok())
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
}

/// JSON-lines formats take one object per line; anything else is malformed
/// before a parser sees it.
pub(crate) fn json_object<'a>(line: &'a str, format: &str) -> Result<&'a str, Reject> {
    if line.trim_start().starts_with('{') {
        Ok(line)
    } else {
        Err(Reject::new(Reason::Malformed, format!("{format} is one JSON object per line")))
    }
}

/// One CSV record (a header or a row) from one line.
pub(crate) fn csv_record(line: &[u8], what: &str) -> Result<csv::StringRecord, Reject> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(line);
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec),
        Ok(false) => Err(Reject::new(Reason::Malformed, format!("empty {what}"))),
        Err(e) => Err(Reject::new(Reason::Malformed, format!("{what}: {e}"))),
    }
}

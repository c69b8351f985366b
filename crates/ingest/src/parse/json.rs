//! Generic JSON lines: records that are already ECS, or any JSON mapped to
//! ECS by a declarative field map from configuration (`"srcip" ->
//! "source.ip"`), so a new sensor needs configuration, not code. Values are
//! coerced where the intent is clear (`"80"` for a port, `8` for a rule id);
//! anything else that does not fit is rejected naming the ECS field.
//!
//! A record's own `shouwang` object is dropped: provenance and attribution
//! are Shouwang's to set, never the sender's.

use serde_json::{Map, Value};

use super::{Ctx, Parser, check_time, json_object, stamp, text};
use crate::event::Event;
use crate::reject::{Reason, Reject};

/// ECS fields a field map may target.
pub const ECS_TARGETS: &[&str] = &[
    "@timestamp",
    "message",
    "event.kind",
    "event.dataset",
    "event.action",
    "event.severity",
    "source.ip",
    "source.port",
    "source.domain",
    "destination.ip",
    "destination.port",
    "destination.domain",
    "network.transport",
    "network.protocol",
    "url.full",
    "url.domain",
    "url.path",
    "dns.question.name",
    "dns.question.type",
    "http.request_method",
    "http.response_status_code",
    "tls.server_name",
    "file.name",
    "file.sha256",
    "rule.id",
    "rule.name",
    "rule.category",
    "observer.vendor",
    "observer.product",
    "observer.hostname",
    "host.hostname",
    "process.name",
    "process.pid",
];

/// Targets whose value is a number.
const NUMERIC: &[&str] = &["event.severity", "source.port", "destination.port", "http.response_status_code", "process.pid"];

/// A declarative field map (`[formats.NAME]` in the configuration): source
/// path (dotted, through nested objects) → ECS field, the dataset its events
/// carry, and the UTC offset of times written without a zone.
#[derive(Debug, Clone)]
pub struct FieldMap {
    pairs: Vec<(String, &'static str)>,
    dataset: String,
    offset: jiff::tz::Offset,
}

impl FieldMap {
    /// Validates every target against [`ECS_TARGETS`] (config-time, no I/O).
    pub fn new<S: AsRef<str>>(dataset: &str, pairs: impl IntoIterator<Item = (S, S)>) -> Result<FieldMap, String> {
        let mut out = Vec::new();
        for (src, dst) in pairs {
            let (src, dst) = (src.as_ref().trim(), dst.as_ref().trim());
            if src.is_empty() {
                return Err(format!("empty source field for `{dst}`"));
            }
            let target =
                ECS_TARGETS.iter().find(|t| **t == dst).ok_or_else(|| format!("`{dst}` is not a supported ECS field (see ECS_TARGETS)"))?;
            out.push((src.to_string(), *target));
        }
        if out.is_empty() {
            return Err("maps no fields".into());
        }
        let dataset = dataset.trim();
        if dataset.is_empty() || !dataset.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return Err(format!("dataset `{dataset}` must be non-empty letters, digits, `.`, `_` or `-` (e.g. `vendor.waf`)"));
        }
        Ok(FieldMap { pairs: out, dataset: dataset.to_string(), offset: jiff::tz::Offset::UTC })
    }

    /// Times without a zone (`2026-11-21 09:30:00`) are read at this offset
    /// (`+08:00` for devices that log Beijing time); UTC by default.
    pub fn with_utc_offset(mut self, offset: &str) -> Result<FieldMap, String> {
        self.offset = parse_offset(offset).ok_or_else(|| format!("utc_offset `{offset}` is not an offset like `+08:00`"))?;
        Ok(self)
    }
}

/// `Z`, `UTC`, `+08`, `+08:00`, `-05:30`.
fn parse_offset(s: &str) -> Option<jiff::tz::Offset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(jiff::tz::Offset::UTC);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = s[1..].split_once(':').unwrap_or((&s[1..], "00"));
    let two = |x: &str| (x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit())).then(|| x.parse::<i32>().ok()).flatten();
    let (h, m) = (two(h)?, two(m)?);
    if h > 23 || m > 59 {
        return None;
    }
    jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

/// The configured field maps by name: the `NAME` in a `json:NAME` format.
#[derive(Debug, Clone, Default)]
pub struct FieldMaps {
    maps: std::collections::BTreeMap<String, std::sync::Arc<FieldMap>>,
}

impl FieldMaps {
    /// Adds a map; its name goes into format specs and dead letters, so it is
    /// kept to lower-case letters, digits, `_` and `-`.
    pub fn insert(&mut self, name: &str, map: FieldMap) -> Result<(), String> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
            return Err(format!("format name `{name}` must be lower-case letters, digits, `_` or `-`"));
        }
        self.maps.insert(name.to_string(), std::sync::Arc::new(map));
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&std::sync::Arc<FieldMap>> {
        self.maps.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.maps.keys().map(String::as_str)
    }
}

pub struct JsonLines {
    map: Option<std::sync::Arc<FieldMap>>,
    dataset: String,
}

impl JsonLines {
    /// Records that are already ECS documents.
    pub fn ecs(dataset: &str) -> JsonLines {
        JsonLines { map: None, dataset: dataset.to_string() }
    }

    /// Records mapped by `map`; fields it does not name become `labels`.
    pub fn mapped(map: std::sync::Arc<FieldMap>) -> JsonLines {
        let dataset = map.dataset.clone();
        JsonLines { map: Some(map), dataset }
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    v.get(path).or_else(|| path.split('.').try_fold(v, |cur, seg| cur.get(seg)))
}

fn put(obj: &mut Map<String, Value>, path: &str, value: Value) {
    let mut segs: Vec<&str> = if path == "@timestamp" { vec![path] } else { path.split('.').collect() };
    let last = segs.pop().expect("non-empty path");
    let mut cur = obj;
    for seg in segs {
        let next = cur.entry(seg).or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        cur = next.as_object_mut().expect("made an object above");
    }
    cur.insert(last.to_string(), value);
}

/// Numbers for numeric fields, strings for the rest, where the intent is clear.
fn coerce(target: &str, v: Value, offset: jiff::tz::Offset) -> Value {
    if target == "@timestamp" {
        return match timestamp(&v, offset) {
            Some(t) => Value::String(t.to_string()),
            None => v, // left for the schema to reject, naming `@timestamp`
        };
    }
    match (NUMERIC.contains(&target), v) {
        (true, Value::String(s)) => s.trim().parse::<u64>().map(Value::from).unwrap_or(Value::String(s)),
        (false, Value::Number(n)) => Value::String(n.to_string()),
        (false, Value::Bool(b)) => Value::String(b.to_string()),
        (_, other) => other,
    }
}

/// RFC 3339; Unix seconds or milliseconds (number or digits); or a civil
/// time without a zone (`2026-11-21 09:30:00`, `2026/11/21 09:30:00.123`),
/// read at the map's offset.
fn timestamp(v: &Value, offset: jiff::tz::Offset) -> Option<jiff::Timestamp> {
    let epoch = |n: i64| {
        // Seconds until the year 5138; beyond that the number is milliseconds.
        if n.abs() < 100_000_000_000 { jiff::Timestamp::from_second(n).ok() } else { jiff::Timestamp::from_millisecond(n).ok() }
    };
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)).and_then(epoch),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = s.parse::<jiff::Timestamp>() {
                return Some(t);
            }
            if !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_digit()) {
                return s.parse().ok().and_then(epoch);
            }
            let civil = s.parse::<jiff::civil::DateTime>().ok().or_else(|| {
                ["%Y/%m/%d %H:%M:%S%.f", "%Y/%m/%d %H:%M:%S"].iter().find_map(|f| jiff::civil::DateTime::strptime(f, s).ok())
            })?;
            offset.to_timestamp(civil).ok()
        }
        _ => None,
    }
}

fn scalar_label(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Parser for JsonLines {
    fn name(&self) -> &'static str {
        "json"
    }

    fn parse(&self, record: &[u8], ctx: &Ctx) -> Result<Event, Reject> {
        let line = text(record, ctx)?.trim_end_matches(['\r', '\n']);
        json_object(line, "a JSON-lines record")?;
        let v: Value = serde_json::from_str(line).map_err(|e| Reject::new(Reason::Malformed, format!("JSON: {e}")))?;
        let mut obj = match &self.map {
            None => match v {
                Value::Object(o) => o,
                _ => unreachable!("starts with `{{`"),
            },
            Some(map) => {
                let mut out = Map::new();
                let mut used = std::collections::HashSet::new();
                let mut set = std::collections::HashSet::new();
                for (src, dst) in &map.pairs {
                    // Two source fields may feed one ECS field (`src` or
                    // `source_ip`): the first present, in map order, wins.
                    if set.contains(dst) {
                        continue;
                    }
                    if let Some(val) = lookup(&v, src).filter(|x| !x.is_null()) {
                        set.insert(*dst);
                        put(&mut out, dst, coerce(dst, val.clone(), map.offset));
                        used.insert(src.split('.').next().unwrap_or(src));
                    }
                }
                let labels: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| !used.contains(k.as_str()))
                    .filter_map(|(k, x)| scalar_label(x).map(|s| (k.clone(), Value::String(s))))
                    .collect();
                if !labels.is_empty() {
                    out.insert("labels".into(), Value::Object(labels));
                }
                out
            }
        };
        obj.remove("shouwang");
        let received = Value::String(ctx.received.to_string());
        obj.entry("@timestamp").or_insert(received);
        let event = obj.entry("event").or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = event.as_object_mut() {
            meta.entry("kind").or_insert_with(|| "event".into());
            meta.entry("dataset").or_insert_with(|| self.dataset.clone().into());
            meta.remove("original");
        }
        let e: Event = serde_path_to_error::deserialize(Value::Object(obj)).map_err(|err| {
            let path = err.path().to_string();
            let reason = if path == "@timestamp" { Reason::BadTimestamp } else { Reason::BadValue };
            Reject::new(reason, format!("{path}: {}", err.inner()))
        })?;
        check_time(e.timestamp, &e.timestamp.to_string())?;
        Ok(stamp(e, self.name(), line, ctx))
    }
}

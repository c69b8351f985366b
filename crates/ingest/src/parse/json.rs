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

/// Source path (dotted, through nested objects) → ECS field.
#[derive(Debug, Clone)]
pub struct FieldMap {
    pairs: Vec<(String, &'static str)>,
}

impl FieldMap {
    /// Validates every target against [`ECS_TARGETS`] (config-time, no I/O).
    pub fn new<S: AsRef<str>>(pairs: impl IntoIterator<Item = (S, S)>) -> Result<FieldMap, String> {
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
        Ok(FieldMap { pairs: out })
    }
}

pub struct JsonLines {
    map: Option<FieldMap>,
    dataset: String,
}

impl JsonLines {
    /// Records that are already ECS documents.
    pub fn ecs(dataset: &str) -> JsonLines {
        JsonLines { map: None, dataset: dataset.to_string() }
    }

    /// Records mapped by `map`; fields it does not name become `labels`.
    pub fn mapped(map: FieldMap, dataset: &str) -> JsonLines {
        JsonLines { map: Some(map), dataset: dataset.to_string() }
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
fn coerce(target: &str, v: Value) -> Value {
    match (NUMERIC.contains(&target), v) {
        (true, Value::String(s)) => s.trim().parse::<u64>().map(Value::from).unwrap_or(Value::String(s)),
        (false, Value::Number(n)) => Value::String(n.to_string()),
        (false, Value::Bool(b)) => Value::String(b.to_string()),
        (_, other) => other,
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
                for (src, dst) in &map.pairs {
                    if let Some(val) = lookup(&v, src).filter(|x| !x.is_null()) {
                        put(&mut out, dst, coerce(dst, val.clone()));
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

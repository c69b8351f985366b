//! MISP events (`{"Event": {…}}`) and MISP feeds (a directory holding
//! `manifest.json` and one `<uuid>.json` event file per event). Attributes
//! marked for detection (`to_ids`), in events and in their objects, become
//! indicators; composite types (`domain|ip`, `ip-dst|port`,
//! `filename|sha256`) give the parts Shouwang matches. TLP and tags come
//! from the event's tags, overridden by the attribute's own.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::{Defaults, ImportReport, time};
use crate::model::{Indicator, Kind, Tlp, canonical};

/// One event (an export of a single MISP event).
pub fn read_event(input: impl Read, defaults: &Defaults, add: &mut dyn FnMut(Indicator)) -> Result<ImportReport, String> {
    let v: Value = serde_json::from_reader(input).map_err(|e| format!("not JSON: {e}"))?;
    let mut report = ImportReport::default();
    event(&v, "", defaults, &mut report, add)?;
    Ok(report)
}

/// A feed directory: every event its `manifest.json` lists. An event file
/// that is missing or broken is reported, and the others load.
pub fn read_feed(dir: &Path, defaults: &Defaults, add: &mut dyn FnMut(Indicator)) -> Result<ImportReport, String> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let manifest: Value = serde_json::from_str(&text).map_err(|e| format!("manifest.json is not JSON: {e}"))?;
    let uuids = manifest.as_object().ok_or("manifest.json is not an object of event uuids")?;
    let mut report = ImportReport::default();
    let mut names: Vec<&String> = uuids.keys().collect();
    names.sort();
    for uuid in names {
        // A uuid is a file name here: nothing that could leave the directory.
        if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            report.reject(format!("manifest.json[{uuid}]"), uuid, format!("`{uuid}` is not an event uuid"));
            continue;
        }
        let file = dir.join(format!("{uuid}.json"));
        let parsed = std::fs::read(&file)
            .map_err(|e| format!("cannot read `{uuid}.json`: {e}"))
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| format!("`{uuid}.json` is not JSON: {e}")));
        match parsed {
            Ok(v) => {
                if let Err(why) = event(&v, &format!("{uuid}.json: "), defaults, &mut report, add) {
                    report.reject(format!("{uuid}.json"), uuid, why);
                }
            }
            Err(why) => report.reject(format!("{uuid}.json"), uuid, why),
        }
    }
    Ok(report)
}

fn event(v: &Value, prefix: &str, defaults: &Defaults, report: &mut ImportReport, add: &mut dyn FnMut(Indicator)) -> Result<(), String> {
    let e = v.get("Event").ok_or("not a MISP event (no \"Event\")")?;
    let (event_tlp, event_tags) = tags(e.get("Tag"));
    let org = e.pointer("/Orgc/name").and_then(Value::as_str);
    let source = match (org, e.get("uuid").and_then(Value::as_str)) {
        (Some(o), Some(u)) => format!("{} ({o}, event {u})", defaults.source),
        (None, Some(u)) => format!("{} (event {u})", defaults.source),
        _ => defaults.source.clone(),
    };
    let base = Indicator {
        kind: Kind::Ip,
        value: String::new(),
        source,
        confidence: defaults.confidence,
        tlp: event_tlp.unwrap_or(defaults.tlp),
        valid_from: None,
        valid_until: None,
        tags: event_tags,
    };
    let attrs = |x: &Value| x.get("Attribute").and_then(Value::as_array).cloned().unwrap_or_default();
    for (n, a) in attrs(e).iter().enumerate() {
        attribute(a, &format!("{prefix}Event.Attribute[{n}]"), &base, report, add);
    }
    for (o, obj) in e.get("Object").and_then(Value::as_array).into_iter().flatten().enumerate() {
        for (n, a) in attrs(obj).iter().enumerate() {
            attribute(a, &format!("{prefix}Event.Object[{o}].Attribute[{n}]"), &base, report, add);
        }
    }
    Ok(())
}

/// The TLP among `tags` (the most restrictive, if several) and the others' names.
fn tags(v: Option<&Value>) -> (Option<Tlp>, Vec<String>) {
    let mut tlp = None;
    let mut names = Vec::new();
    for name in v.and_then(Value::as_array).into_iter().flatten().filter_map(|t| t.get("name").and_then(Value::as_str)) {
        match Tlp::parse(name).filter(|_| name.to_ascii_lowercase().starts_with("tlp:")) {
            Some(t) => tlp = tlp.max(Some(t)),
            None => names.push(name.to_string()),
        }
    }
    (tlp, names)
}

/// The parts of a MISP attribute type Shouwang matches, by position in a
/// composite value (`domain|ip` → [(0, domain), (1, ip)]).
fn parts(misp_type: &str) -> Vec<(usize, Kind)> {
    let one = |t: &str| -> Option<Kind> {
        Some(match t {
            "ip-src" | "ip-dst" | "ip" => Kind::Ip,
            "domain" => Kind::Domain,
            "hostname" => Kind::Hostname,
            "url" => Kind::Url,
            "md5" => Kind::Md5,
            "sha1" => Kind::Sha1,
            "sha256" => Kind::Sha256,
            "email" | "email-src" | "email-dst" => Kind::Email,
            _ => return None,
        })
    };
    misp_type.split('|').enumerate().filter_map(|(n, t)| one(t).map(|k| (n, k))).collect()
}

fn attribute(a: &Value, at: &str, base: &Indicator, report: &mut ImportReport, add: &mut dyn FnMut(Indicator)) {
    report.read += 1;
    let misp_type = a.get("type").and_then(Value::as_str).unwrap_or_default();
    let raw = a.get("value").and_then(Value::as_str).unwrap_or_default();
    let to_ids = match a.get("to_ids") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    };
    let wanted = parts(misp_type);
    if !to_ids || wanted.is_empty() {
        report.skipped += 1;
        return;
    }
    let (tlp, own_tags) = tags(a.get("Tag"));
    let first_seen = match a.get("first_seen").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        None => None,
        Some(t) => match time(t) {
            Ok(t) => Some(t),
            Err(why) => return report.reject(at.to_string(), raw, format!("first_seen: {why}")),
        },
    };
    let values: Vec<&str> = raw.split('|').collect();
    if values.len() != misp_type.split('|').count() {
        return report.reject(at.to_string(), raw, format!("type `{misp_type}` needs `|`-separated parts, the value has {}", values.len()));
    }
    for (n, kind) in wanted {
        let value = values[n];
        match canonical(kind, value) {
            Ok(value) => {
                report.loaded += 1;
                let mut tags = base.tags.clone();
                tags.extend(own_tags.iter().cloned());
                add(Indicator { kind, value, tlp: tlp.unwrap_or(base.tlp), valid_from: first_seen, tags, ..base.clone() });
            }
            Err(why) => report.reject(at.to_string(), value, why),
        }
    }
}

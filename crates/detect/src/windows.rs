//! Windows events as exported to JSON by evtx tools (`{"Event": {"System":
//! …, "EventData": …}}`), flattened to the record Sigma's Windows rules name
//! fields in: the event data fields at the top level (`Image`,
//! `CommandLine`, `TargetUserName`), beside `EventID`, `Channel`,
//! `Provider_Name`, `Computer` and the other `System` values. This is the
//! shape pySigma's Windows pipelines and the SigmaHQ regression tests assume.
//! The record also carries its Sigma log source (`logsource.product`,
//! `.service`, `.category`) from `data/windows_logsources.toml`, so rules
//! written for other products, services or categories are skipped.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// Event fields the engine reads an event's Sigma log source from.
pub const LOGSOURCE_FIELDS: [&str; 3] = ["logsource.product", "logsource.service", "logsource.category"];

#[derive(serde::Deserialize)]
struct Routes {
    services: HashMap<String, String>,
    categories: HashMap<String, HashMap<String, String>>,
}

fn routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(|| {
        toml::from_str(include_str!("../data/windows_logsources.toml")).expect("the built-in log source table parses (tested)")
    })
}

/// The Sigma log source of a flattened record: product `windows`, and the
/// service and category its channel and event id give, where known.
fn route(flat: &Map<String, Value>) -> [Option<&'static str>; 3] {
    let r = routes();
    let channel = flat.get("Channel").and_then(Value::as_str);
    let service = channel.and_then(|c| r.services.get(c)).map(String::as_str);
    let id = flat.get("EventID").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let category = channel.zip(id).and_then(|(c, id)| r.categories.get(c)?.get(&id)).map(String::as_str);
    [Some("windows"), service, category]
}

/// The flat record of one exported event, or `None` if `v` is not one.
pub fn flatten(v: &Value) -> Option<Value> {
    let event = v.get("Event")?.as_object()?;
    let mut out = Map::new();
    if let Some(system) = event.get("System").and_then(Value::as_object) {
        for (k, x) in system {
            match (k.as_str(), x) {
                ("Provider", p) => {
                    if let Some(name) = attribute(p, "Name") {
                        out.insert("Provider_Name".into(), name.clone());
                    }
                }
                ("TimeCreated", t) => {
                    if let Some(at) = attribute(t, "SystemTime") {
                        out.insert("TimeCreated".into(), at.clone());
                    }
                }
                // `{"#text": 4688, "#attributes": {…}}` in some exports.
                (_, Value::Object(o)) if o.contains_key("#text") => {
                    out.insert(k.clone(), o["#text"].clone());
                }
                (_, Value::Object(_)) => {}
                _ => {
                    out.insert(k.clone(), x.clone());
                }
            }
        }
    }
    // Event data wins over a `System` value of the same name, as in the
    // rules (`EventData.Level` is not the record's level, but rules that
    // name `Level` on such events mean the data).
    if let Some(data) = event.get("EventData").and_then(Value::as_object) {
        data_fields(data, &mut out);
    }
    // UserData holds one element whose children are the fields.
    if let Some(user) = event.get("UserData").and_then(Value::as_object) {
        for (k, inner) in user {
            match inner.as_object() {
                Some(o) if k != "#attributes" => data_fields(o, &mut out),
                _ => {}
            }
        }
    }
    for (field, value) in LOGSOURCE_FIELDS.iter().zip(route(&out)) {
        if let Some(v) = value {
            out.insert((*field).to_string(), Value::from(v));
        }
    }
    Some(Value::Object(out))
}

fn attribute<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get("#attributes")?.get(name)
}

/// Some providers (Windows Defender) name data fields with spaces
/// (`Threat Name`); Sigma rules name them without (`ThreatName`), so both
/// names are given.
fn data_fields(data: &Map<String, Value>, out: &mut Map<String, Value>) {
    for (k, x) in data {
        if k == "#attributes" {
            continue;
        }
        if k.contains(' ') {
            out.entry(k.replace(' ', "")).or_insert_with(|| x.clone());
        }
        out.insert(k.clone(), x.clone());
    }
}

/// Every JSON value in `text`: one per line, or several concatenated (as
/// evtx exports write them). Stops at the first value that does not parse,
/// returning what came before and the error.
pub fn values(text: &str) -> (Vec<Value>, Option<serde_json::Error>) {
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match v {
            Ok(v) => out.push(v),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn system_and_data_fields_land_at_the_top() {
        let v = json!({"Event": {"#attributes": {"xmlns": "x"}, "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "g"}},
            "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "pc1",
            "TimeCreated": {"#attributes": {"SystemTime": "2025-11-27T07:40:10.165324Z"}},
            "Execution": {"#attributes": {"ProcessID": 1}}},
            "EventData": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami", "#attributes": {"a": 1},
                "Threat Name": "Virus:DOS/EICAR_Test_File"}}});
        let f = super::flatten(&v).unwrap();
        assert_eq!(f["EventID"], 1);
        assert_eq!(f["Provider_Name"], "Microsoft-Windows-Sysmon");
        assert_eq!(f["Channel"], "Microsoft-Windows-Sysmon/Operational");
        assert_eq!(f["TimeCreated"], "2025-11-27T07:40:10.165324Z");
        assert_eq!(f["CommandLine"], "cmd /c whoami");
        assert_eq!((&f["ThreatName"], &f["Threat Name"]), (&json!("Virus:DOS/EICAR_Test_File"), &json!("Virus:DOS/EICAR_Test_File")));
        assert!(f.get("#attributes").is_none() && f.get("Execution").is_none());
        let ls: Vec<_> = super::LOGSOURCE_FIELDS.iter().map(|k| f[*k].as_str()).collect();
        assert_eq!(ls, [Some("windows"), Some("sysmon"), Some("process_creation")]);
        let user = json!({"Event": {"System": {"EventID": {"#text": 5861, "#attributes": {"q": 1}}},
            "UserData": {"Operation_ClientFailure": {"#attributes": {"xmlns": "m"}, "User": "u", "Id": "{0}"}}}});
        let f = super::flatten(&user).unwrap();
        assert_eq!((f["EventID"].as_i64(), f["User"].as_str()), (Some(5861), Some("u")));
        assert_eq!((f["logsource.product"].as_str(), f.get("logsource.service")), (Some("windows"), None), "unknown channel: unset");
        assert!(super::flatten(&json!({"not": "an event"})).is_none());
    }

    #[test]
    fn the_log_source_table_parses_and_names_known_sigma_values() {
        let r = super::routes();
        assert!(r.services.len() > 30);
        assert_eq!(r.categories["Security"]["4688"], "process_creation");
        assert!(!r.categories["Microsoft-Windows-Sysmon/Operational"].contains_key("13"), "registry events stay unset");
    }

    #[test]
    fn concatenated_values_are_split_and_a_bad_tail_is_reported() {
        let (v, e) = super::values("{\"a\":1}{\"a\":2}\n{\"a\":3}\n{\"a\":");
        assert_eq!(v.len(), 3);
        assert!(e.unwrap().is_eof());
    }
}

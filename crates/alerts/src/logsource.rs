//! Each event's Sigma log source, from `data/logsources.toml`.

use serde::Deserialize;
use serde_json::{Map, Value};
use shouwang_ingest::Event;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    dataset: String,
    appname: Option<String>,
    product: String,
    service: Option<String>,
    category: Option<String>,
}

#[derive(Debug, Deserialize)]
struct File {
    source: Vec<Entry>,
}

pub struct LogSources {
    entries: Vec<Entry>,
}

impl LogSources {
    pub fn builtin() -> LogSources {
        LogSources::from_toml(include_str!("../data/logsources.toml")).expect("the built-in log source table parses (tested)")
    }

    pub fn from_toml(text: &str) -> Result<LogSources, String> {
        let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(LogSources { entries: f.source })
    }

    /// `{"product", "service"?, "category"?}` for `event`.
    pub fn of(&self, event: &Event) -> Value {
        let dataset = event.event.dataset.as_str();
        let appname = event.log.as_ref().and_then(|l| l.syslog.appname.as_deref());
        let hit = self.entries.iter().find(|e| {
            let ds = match e.dataset.strip_suffix('*') {
                Some(prefix) => dataset.starts_with(prefix),
                None => dataset == e.dataset,
            };
            ds && e.appname.as_deref().is_none_or(|want| appname.is_some_and(|a| a.eq_ignore_ascii_case(want)))
        });
        let mut m = Map::new();
        match hit {
            Some(e) => {
                m.insert("product".into(), e.product.clone().into());
                if let Some(s) = &e.service {
                    m.insert("service".into(), s.clone().into());
                }
                if let Some(c) = &e.category {
                    m.insert("category".into(), c.clone().into());
                }
            }
            None => {
                let module = dataset.split('.').next().unwrap_or(dataset);
                m.insert("product".into(), module.into());
            }
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_and_appnames_pick_their_log_source() {
        let ls = LogSources::builtin();
        let ev = |dataset: &str, app: Option<&str>| {
            let mut e = Event::new(jiff::Timestamp::UNIX_EPOCH, "event", dataset);
            if let Some(a) = app {
                let mut log = shouwang_ingest::event::Log::default();
                log.syslog.appname = Some(a.into());
                e.log = Some(log);
            }
            ls.of(&e)
        };
        assert_eq!(ev("suricata.dns", None), serde_json::json!({"product": "suricata", "category": "dns"}));
        assert_eq!(ev("suricata.tls", None), serde_json::json!({"product": "suricata"}));
        assert_eq!(ev("syslog.rfc3164", Some("SSHD")), serde_json::json!({"product": "linux", "service": "sshd"}));
        assert_eq!(ev("syslog.rfc5424", Some("kernel")), serde_json::json!({"product": "linux", "service": "syslog"}));
        assert_eq!(ev("acme.waf", None), serde_json::json!({"product": "acme"}));
    }
}

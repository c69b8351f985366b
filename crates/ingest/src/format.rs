//! The formats a source can carry, how to recognise one from a file's name
//! and first line, and the parser for each. A parser is rebuilt from the
//! format's name and its context (a CSV report's header row), which is what
//! a dead letter stores, so a fixed parser can replay it.

use crate::parse::{Cef, Eve, FieldMaps, JsonLines, Parser, Shadowserver, Syslog};
use crate::reject::Reject;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Suricata EVE JSON lines.
    Eve,
    /// JSON lines already in ECS.
    Json,
    /// Syslog, RFC 5424 or RFC 3164.
    Syslog,
    /// ArcSight CEF, bare or behind a syslog header.
    Cef,
    /// A Shadowserver report CSV (header row first).
    Shadowserver,
}

impl Format {
    pub const ALL: [Format; 5] = [Format::Eve, Format::Json, Format::Syslog, Format::Cef, Format::Shadowserver];

    pub fn name(self) -> &'static str {
        match self {
            Format::Eve => "eve",
            Format::Json => "json",
            Format::Syslog => "syslog",
            Format::Cef => "cef",
            Format::Shadowserver => "shadowserver",
        }
    }

    pub fn from_name(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("unknown format `{s}` (eve, json, syslog, cef, shadowserver)"))
    }

    /// `FORMAT[:VARIANT]`: the variant names a Shadowserver report
    /// (`shadowserver:scan_rdp`) or a configured JSON field map
    /// (`json:waf_acme`). What a dead letter records so it can be parsed again.
    pub fn spec(self, variant: &str) -> String {
        if self.has_variants() && !variant.is_empty() { format!("{}:{variant}", self.name()) } else { self.name().to_string() }
    }

    /// The inverse of [`Format::spec`]; `--format` and `?format=` take it.
    pub fn from_spec(spec: &str) -> Result<(Format, String), String> {
        let (name, variant) = spec.split_once(':').unwrap_or((spec, ""));
        let format = Format::from_name(name)?;
        let variant = variant.trim();
        if !variant.is_empty() && !format.has_variants() {
            return Err(format!("format `{}` takes no `:{variant}` (only json:MAP and shadowserver:REPORT do)", format.name()));
        }
        Ok((format, variant.to_string()))
    }

    fn has_variants(self) -> bool {
        matches!(self, Format::Json | Format::Shadowserver)
    }

    /// Whether the first record is a header the others need.
    pub fn has_header(self) -> bool {
        self == Format::Shadowserver
    }

    /// Recognises a format from a file's name and first non-empty line.
    pub fn detect(file_name: Option<&str>, first_line: &[u8]) -> Option<Format> {
        let line = first_line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(first_line);
        let text = String::from_utf8_lossy(&line[..line.len().min(4096)]);
        let t = text.trim_start();
        if t.starts_with('{') {
            return Some(if t.contains("\"event_type\"") { Format::Eve } else { Format::Json });
        }
        if t.contains("CEF:") {
            return Some(Format::Cef);
        }
        let csv_name = file_name.is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv"));
        let header = t.to_ascii_lowercase();
        let cols: Vec<&str> = header.split(',').map(|c| c.trim().trim_matches('"')).collect();
        if cols.contains(&"timestamp") && (cols.contains(&"ip") || cols.contains(&"src_ip")) {
            return Some(Format::Shadowserver);
        }
        if csv_name {
            return None;
        }
        let b = t.as_bytes();
        let pri = b.first() == Some(&b'<') && b.get(1).is_some_and(u8::is_ascii_digit);
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        if pri || MONTHS.iter().any(|m| t.starts_with(m) && t.as_bytes().get(3) == Some(&b' ')) {
            return Some(Format::Syslog);
        }
        None
    }

    /// The parser for this format. `context` is the header row for formats
    /// that have one; `variant` names a Shadowserver report (from its file
    /// name) or one of `maps` for JSON (none: the records are already ECS).
    pub fn parser(self, context: Option<&[u8]>, variant: &str, maps: &FieldMaps) -> Result<Box<dyn Parser>, Reject> {
        Ok(match self {
            Format::Eve => Box::new(Eve),
            Format::Json if variant.is_empty() => Box::new(JsonLines::ecs("json.event")),
            Format::Json => match maps.get(variant) {
                Some(map) => Box::new(JsonLines::mapped(map.clone())),
                None => {
                    return Err(Reject::new(
                        crate::Reason::Unsupported,
                        format!("no field map `{variant}` is configured (a `[formats.{variant}]` table)"),
                    ));
                }
            },
            Format::Syslog => Box::new(Syslog::default()),
            Format::Cef => Box::new(Cef),
            Format::Shadowserver => {
                let header =
                    context.ok_or_else(|| Reject::new(crate::Reason::MissingField, "a Shadowserver report needs its header row"))?;
                Box::new(Shadowserver::from_header(header, variant)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_from_first_line() {
        let d = |name: Option<&str>, l: &str| Format::detect(name, l.as_bytes());
        assert_eq!(d(None, r#"{"timestamp":"x","event_type":"alert"}"#), Some(Format::Eve));
        assert_eq!(d(None, r#" {"@timestamp":"x"}"#), Some(Format::Json));
        assert_eq!(d(None, "<34>1 2026-11-22T10:00:00Z host app - - - msg"), Some(Format::Syslog));
        assert_eq!(d(None, "Nov 22 10:00:00 host sshd[1]: hi"), Some(Format::Syslog));
        assert_eq!(d(None, "<13>Nov 22 10:00:00 fw CEF:0|V|P|1|1|n|5|src=10.0.0.1"), Some(Format::Cef));
        assert_eq!(d(Some("2026-11-21-scan_rdp-x.csv"), "\u{feff}\"timestamp\",\"ip\",\"port\""), Some(Format::Shadowserver));
        assert_eq!(d(Some("a.csv"), "name,value"), None);
        assert_eq!(d(None, "hello world"), None);
    }

    #[test]
    fn specs_round_trip_and_only_json_and_reports_have_variants() {
        for (f, v) in [(Format::Json, "waf_acme"), (Format::Shadowserver, "scan_rdp"), (Format::Eve, ""), (Format::Json, "")] {
            assert_eq!(Format::from_spec(&f.spec(v)).unwrap(), (f, v.to_string()));
        }
        assert_eq!(Format::Eve.spec("x"), "eve");
        let e = Format::from_spec("syslog:x").unwrap_err();
        assert!(e.contains("takes no `:x`"), "{e}");
        assert!(Format::from_spec("yaml").is_err());
        let maps = FieldMaps::default();
        let e = Format::Json.parser(None, "nope", &maps).err().unwrap();
        assert!(e.to_string().contains("no field map `nope`"), "{e}");
    }
}

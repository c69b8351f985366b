//! The observables in an event: which fields hold addresses, names, URLs,
//! hashes and email addresses, for the field names events arrive with
//! (ECS, Windows/Sysmon, Suricata EVE). Each is looked up once.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use crate::{IndicatorRef, Intel, Observable};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    Ip,
    Name,
    Url,
    Hash,
    /// Sysmon's `Hashes`: `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`.
    HashList,
    Email,
}

/// Field → what it holds. A path is looked up as a flat key first, then
/// through nested objects.
const FIELDS: &[(&str, Holds)] = &[
    // ECS (and Shouwang's normalised events)
    ("source.ip", Holds::Ip),
    ("destination.ip", Holds::Ip),
    ("client.ip", Holds::Ip),
    ("server.ip", Holds::Ip),
    ("source.domain", Holds::Name),
    ("destination.domain", Holds::Name),
    ("dns.question.name", Holds::Name),
    ("url.domain", Holds::Name),
    ("tls.server_name", Holds::Name),
    ("tls.client.server_name", Holds::Name),
    ("url.full", Holds::Url),
    ("url.original", Holds::Url),
    ("file.sha256", Holds::Hash),
    ("file.hash.md5", Holds::Hash),
    ("file.hash.sha1", Holds::Hash),
    ("file.hash.sha256", Holds::Hash),
    ("email.from.address", Holds::Email),
    ("email.to.address", Holds::Email),
    // Windows and Sysmon
    ("SourceIp", Holds::Ip),
    ("DestinationIp", Holds::Ip),
    ("IpAddress", Holds::Ip),
    ("DestinationHostname", Holds::Name),
    ("QueryName", Holds::Name),
    ("Hashes", Holds::HashList),
    // Suricata EVE as written
    ("src_ip", Holds::Ip),
    ("dest_ip", Holds::Ip),
    ("dns.rrname", Holds::Name),
    ("http.hostname", Holds::Name),
    ("tls.sni", Holds::Name),
];

/// One indicator an event matched, and where.
#[derive(Debug, Clone, Serialize)]
pub struct Sighting<'i, 'e> {
    /// The event field the observable was in.
    pub field: &'static str,
    /// The observable as the event wrote it.
    pub observed: &'e str,
    /// The observable as it was looked up (allow-lists take the same).
    #[serde(skip)]
    pub observable: Observable<'e>,
    pub indicator: IndicatorRef<'i>,
}

fn get<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    v.get(path).or_else(|| path.split('.').try_fold(v, |cur, seg| cur.get(seg)))
}

/// Strings at `v`: the value, or each string of an array.
fn strings(v: &Value) -> impl Iterator<Item = &str> {
    let (one, many) = match v {
        Value::String(s) => (Some(s.as_str()), &[][..]),
        Value::Array(a) => (None, a.as_slice()),
        _ => (None, &[][..]),
    };
    one.into_iter().chain(many.iter().filter_map(Value::as_str))
}

/// Calls `f` with each observable of `event` and the field it was in:
/// addresses, names, URLs, hashes, email addresses, in the ECS, Sysmon,
/// Windows and EVE fields listed above.
pub fn observables<'v>(event: &'v Value, mut f: impl FnMut(&'static str, Observable<'v>, &'v str)) {
    for (field, holds) in FIELDS {
        let Some(v) = get(event, field) else { continue };
        for s in strings(v) {
            let s = s.trim();
            match holds {
                Holds::Ip => {
                    if let Ok(ip) = s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                        f(field, Observable::Ip(ip), s);
                    }
                }
                Holds::Name => f(field, Observable::Name(s.trim_end_matches('.')), s),
                Holds::Url => f(field, Observable::Url(s), s),
                Holds::Hash => f(field, Observable::Hash(s), s),
                Holds::Email => f(field, Observable::Email(s), s),
                Holds::HashList => {
                    for part in s.split(',') {
                        if let Some((_, h)) = part.split_once('=') {
                            f(field, Observable::Hash(h.trim()), h.trim());
                        }
                    }
                }
            }
        }
    }
}

impl Intel {
    /// Every indicator valid at `at` that an observable of `event` matches.
    pub fn sightings<'e>(&self, event: &'e Value, at: jiff::Timestamp) -> Vec<Sighting<'_, 'e>> {
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        observables(event, |field, observable, observed| {
            for indicator in self.lookup(observable, at) {
                out.push(Sighting { field, observed, observable, indicator });
            }
        });
        out
    }
}

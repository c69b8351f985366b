//! Suricata EVE JSON, one record per line. The common five-tuple and the
//! event-type sections Shouwang uses (alert, anomaly, dns, http, tls, flow,
//! fileinfo) are mapped to ECS; other event types are kept as generic events
//! (`suricata.<type>`) rather than rejected. Unknown fields are ignored:
//! Suricata adds fields between versions.

use std::borrow::Cow;

use serde::Deserialize;

use super::{Ctx, Parser, check_time, json_object, parse_ip, stamp, text};
use crate::event::*;
use crate::reject::{Reason, Reject};

pub struct Eve;

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    src_ip: Option<Cow<'a, str>>,
    src_port: Option<u16>,
    #[serde(borrow)]
    dest_ip: Option<Cow<'a, str>>,
    dest_port: Option<u16>,
    #[serde(borrow)]
    proto: Option<Cow<'a, str>>,
    #[serde(borrow)]
    app_proto: Option<Cow<'a, str>>,
    #[serde(borrow)]
    community_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    host: Option<Cow<'a, str>>,
    #[serde(borrow)]
    alert: Option<Alert<'a>>,
    #[serde(borrow)]
    anomaly: Option<Anomaly<'a>>,
    #[serde(borrow)]
    dns: Option<DnsSection<'a>>,
    #[serde(borrow)]
    http: Option<HttpSection<'a>>,
    #[serde(borrow)]
    tls: Option<TlsSection<'a>>,
    flow: Option<Flow>,
    #[serde(borrow)]
    fileinfo: Option<FileInfo<'a>>,
}

#[derive(Deserialize)]
struct Alert<'a> {
    signature_id: Option<u64>,
    #[serde(borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    category: Option<Cow<'a, str>>,
    severity: Option<u8>,
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Anomaly<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
}

/// EVE dns v2 puts `rrname` on the section; v3 (Suricata 8) lists `queries`.
#[derive(Deserialize)]
struct DnsSection<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rcode: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    queries: Vec<DnsQuery<'a>>,
}

#[derive(Deserialize)]
struct DnsQuery<'a> {
    #[serde(borrow)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct HttpSection<'a> {
    #[serde(borrow)]
    hostname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_method: Option<Cow<'a, str>>,
    status: Option<u16>,
    #[serde(borrow)]
    http_user_agent: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TlsSection<'a> {
    #[serde(borrow)]
    sni: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subject: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Flow {
    bytes_toserver: Option<u64>,
    bytes_toclient: Option<u64>,
    pkts_toserver: Option<u64>,
    pkts_toclient: Option<u64>,
}

#[derive(Deserialize)]
struct FileInfo<'a> {
    #[serde(borrow)]
    filename: Option<Cow<'a, str>>,
    size: Option<u64>,
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
}

fn own(s: &Option<Cow<'_, str>>) -> Option<String> {
    s.as_deref().map(str::to_string)
}

/// Suricata severity 1 (highest) … 4 onto ECS-style 0–10, higher is worse.
fn severity(s: u8) -> u8 {
    match s {
        0 | 1 => 8,
        2 => 5,
        3 => 3,
        _ => 1,
    }
}

impl Parser for Eve {
    fn name(&self) -> &'static str {
        "suricata_eve"
    }

    fn parse(&self, record: &[u8], ctx: &Ctx) -> Result<Event, Reject> {
        let line = text(record, ctx)?;
        json_object(line, "an EVE record")?;
        let r: Record<'_> = serde_json::from_str(line).map_err(|e| {
            let reason = if e.is_data() { Reason::BadValue } else { Reason::Malformed };
            Reject::new(reason, format!("EVE JSON: {e}"))
        })?;
        let event_type = r.event_type.as_deref().ok_or_else(|| Reject::new(Reason::MissingField, "EVE record has no event_type"))?;
        let raw_time = r.timestamp.as_deref().ok_or_else(|| Reject::new(Reason::MissingField, "EVE record has no timestamp"))?;
        let time = raw_time
            .parse::<jiff::Timestamp>()
            .map_err(|e| Reject::new(Reason::BadTimestamp, format!("timestamp `{raw_time}`: {e}")))
            .and_then(|t| check_time(t, raw_time))?;
        let kind = if event_type == "alert" { "alert" } else { "event" };
        let mut e = Event::new(time, kind, &format!("suricata.{event_type}"));
        let endpoint = |ip: &Option<Cow<'_, str>>, port: Option<u16>, field| -> Result<Option<Endpoint>, Reject> {
            let ip = ip.as_deref().map(|s| parse_ip(field, s)).transpose()?;
            Ok((ip.is_some() || port.is_some()).then_some(Endpoint { ip, port, domain: None }))
        };
        e.source = endpoint(&r.src_ip, r.src_port, "src_ip")?;
        e.destination = endpoint(&r.dest_ip, r.dest_port, "dest_ip")?;
        if r.proto.is_some() || r.app_proto.is_some() || r.community_id.is_some() || r.flow.is_some() {
            let flow = r.flow.as_ref();
            let sum = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a.saturating_add(b));
            e.network = Some(Network {
                transport: r.proto.as_deref().map(str::to_ascii_lowercase),
                protocol: r.app_proto.as_deref().filter(|p| *p != "failed").map(str::to_string),
                community_id: own(&r.community_id),
                bytes: flow.and_then(|f| sum(f.bytes_toserver, f.bytes_toclient)),
                packets: flow.and_then(|f| sum(f.pkts_toserver, f.pkts_toclient)),
            });
        }
        if let Some(host) = &r.host {
            e.observer = Some(Observer {
                vendor: Some("OISF".into()),
                product: Some("Suricata".into()),
                hostname: Some(host.to_string()),
                version: None,
            });
        }
        if let Some(a) = &r.alert {
            e.rule = Some(Rule { id: a.signature_id.map(|i| i.to_string()), name: own(&a.signature), category: own(&a.category) });
            e.event.severity = a.severity.map(severity);
            e.event.action = own(&a.action);
            e.message = own(&a.signature);
        }
        if let Some(a) = &r.anomaly {
            e.event.action = own(&a.event).or_else(|| own(&a.kind));
        }
        if let Some(d) = &r.dns {
            let (name, rtype) = match d.queries.first() {
                Some(q) => (own(&q.rrname), own(&q.rrtype)),
                None => (own(&d.rrname), own(&d.rrtype)),
            };
            if let Some(name) = name {
                e.dns = Some(Dns { question: DnsQuestion { name, r#type: rtype }, response_code: own(&d.rcode), r#type: own(&d.kind) });
            }
        }
        if let Some(h) = &r.http {
            let full = match (&h.hostname, &h.url) {
                (Some(host), Some(path)) if path.starts_with('/') => Some(format!("http://{host}{path}")),
                _ => None,
            };
            e.url = Some(Url { full, domain: own(&h.hostname), path: own(&h.url) });
            e.http =
                Some(Http { request_method: own(&h.http_method), response_status_code: h.status, user_agent: own(&h.http_user_agent) });
            if let (Some(d), Some(host)) = (&mut e.destination, &h.hostname) {
                d.domain = Some(host.to_string());
            }
        }
        if let Some(t) = &r.tls {
            e.tls = Some(Tls { server_name: own(&t.sni), version: own(&t.version), server_subject: own(&t.subject) });
        }
        if let Some(f) = &r.fileinfo {
            e.file = Some(File { name: own(&f.filename), size: f.size, sha256: own(&f.sha256) });
        }
        Ok(stamp(e, self.name(), line, ctx))
    }
}

//! A threat indicator: one observable value (an address or network, a
//! name, a URL, a file hash, an email address) with where it came from, how
//! far it is trusted, how far it may be shared (TLP), and when it is valid.
//! Values are stored canonical, so the same indicator from two feeds, or an
//! event's observable written another way, compares equal.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;
use shouwang_attribution::{DomainName, IpNet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An address or a network (CIDR).
    Ip,
    /// A domain and every name below it.
    Domain,
    /// One host name, exactly.
    Hostname,
    Url,
    Md5,
    Sha1,
    Sha256,
    Email,
}

impl Kind {
    pub const ALL: [Kind; 8] = [Kind::Ip, Kind::Domain, Kind::Hostname, Kind::Url, Kind::Md5, Kind::Sha1, Kind::Sha256, Kind::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Domain => "domain",
            Kind::Hostname => "hostname",
            Kind::Url => "url",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Email => "email",
        }
    }

    /// Our names and the common synonyms feeds use (MISP types, STIX hash
    /// names), in any case.
    pub fn parse(s: &str) -> Option<Kind> {
        const NAMES: &[(&str, Kind)] = &[
            ("ip", Kind::Ip),
            ("ipv4", Kind::Ip),
            ("ipv6", Kind::Ip),
            ("ip-src", Kind::Ip),
            ("ip-dst", Kind::Ip),
            ("cidr", Kind::Ip),
            ("ipv4-addr", Kind::Ip),
            ("ipv6-addr", Kind::Ip),
            ("domain", Kind::Domain),
            ("domain-name", Kind::Domain),
            ("hostname", Kind::Hostname),
            ("host", Kind::Hostname),
            ("fqdn", Kind::Hostname),
            ("url", Kind::Url),
            ("uri", Kind::Url),
            ("link", Kind::Url),
            ("md5", Kind::Md5),
            ("sha1", Kind::Sha1),
            ("sha-1", Kind::Sha1),
            ("sha256", Kind::Sha256),
            ("sha-256", Kind::Sha256),
            ("email", Kind::Email),
            ("email-src", Kind::Email),
            ("email-dst", Kind::Email),
            ("email-addr", Kind::Email),
        ];
        let s = s.trim();
        NAMES.iter().find(|(name, _)| name.eq_ignore_ascii_case(s)).map(|&(_, k)| k)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Traffic Light Protocol 2.0: how far a recipient may share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Tlp {
    #[serde(rename = "TLP:CLEAR")]
    Clear,
    #[serde(rename = "TLP:GREEN")]
    Green,
    #[serde(rename = "TLP:AMBER")]
    Amber,
    #[serde(rename = "TLP:AMBER+STRICT")]
    AmberStrict,
    #[serde(rename = "TLP:RED")]
    Red,
}

impl Tlp {
    /// The TLP 2.0 label, as written on documents: `TLP:AMBER+STRICT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// `TLP:AMBER`, `amber`, `tlp:amber+strict`; TLP 1.0's `WHITE` is `CLEAR`.
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim();
        let s = match s.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("tlp:") => &s[4..],
            _ => s,
        };
        [
            ("clear", Tlp::Clear),
            ("white", Tlp::Clear),
            ("green", Tlp::Green),
            ("amber", Tlp::Amber),
            ("amber+strict", Tlp::AmberStrict),
            ("red", Tlp::Red),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, t)| t)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    pub kind: Kind,
    /// Canonical (see [`canonical`]).
    pub value: String,
    /// The feed or file it came from.
    pub source: String,
    /// 0–100.
    pub confidence: u8,
    pub tlp: Tlp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<jiff::Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<jiff::Timestamp>,
    pub tags: Vec<String>,
}

impl Indicator {
    /// Whether it applies to an event seen at `at`.
    pub fn valid_at(&self, at: jiff::Timestamp) -> bool {
        self.valid_from.is_none_or(|f| f <= at) && self.valid_until.is_none_or(|u| at < u)
    }
}

/// An indicator as the index holds it, borrowed from it: what a lookup
/// returns, without copying. Serialises as [`Indicator`] does; validity is
/// kept to the second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IndicatorRef<'a> {
    pub kind: Kind,
    pub value: &'a str,
    pub source: &'a str,
    pub confidence: u8,
    pub tlp: Tlp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<jiff::Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<jiff::Timestamp>,
    pub tags: &'a [Box<str>],
}

impl IndicatorRef<'_> {
    pub fn to_indicator(&self) -> Indicator {
        Indicator {
            kind: self.kind,
            value: self.value.to_string(),
            source: self.source.to_string(),
            confidence: self.confidence,
            tlp: self.tlp,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            tags: self.tags.iter().map(|t| t.to_string()).collect(),
        }
    }
}

/// The canonical form of `raw` as a `kind` value, or why it is not one.
///
/// - IP: an address or CIDR; IPv4-mapped IPv6 (`::ffff:192.0.2.1`) is the
///   IPv4 address; host bits set in a CIDR are an error (`10.1.2.3/8`).
/// - Domain, hostname: lower case, IDN as punycode, no trailing dot.
/// - URL: parsed and re-serialised (scheme and host lower case, punycode,
///   default port dropped, percent-encoding normalised), fragment dropped.
/// - Hashes: lower-case hex of the exact length.
/// - Email: `local@domain`, lower case, the domain canonical.
pub fn canonical(kind: Kind, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("empty value".into());
    }
    match kind {
        Kind::Ip => ip(raw).map(net_text),
        Kind::Domain | Kind::Hostname => DomainName::parse(raw).map(|d| d.as_str().to_string()).map_err(|e| e.to_string()),
        Kind::Url => url(raw),
        Kind::Md5 => hex(raw, 32),
        Kind::Sha1 => hex(raw, 40),
        Kind::Sha256 => hex(raw, 64),
        Kind::Email => {
            let (local, domain) = raw.rsplit_once('@').ok_or("no `@`")?;
            if local.is_empty() || local.contains(char::is_whitespace) {
                return Err(format!("`{local}` is not an email local part"));
            }
            let domain = DomainName::parse(domain).map_err(|e| e.to_string())?;
            Ok(format!("{}@{}", local.to_lowercase(), domain.as_str()))
        }
    }
}

/// `a.b.c.d/len` without the formatting machinery, which was a tenth of
/// loading a feed of addresses.
fn net_text(n: IpNet) -> String {
    let IpNet::V4 { addr, len } = n else { return n.to_string() };
    let mut out = String::with_capacity(18);
    for (i, octet) in addr.to_be_bytes().into_iter().chain([len]).enumerate() {
        out.push_str(match i {
            0 => "",
            4 => "/",
            _ => ".",
        });
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
    out
}

/// An address or network; IPv4-mapped IPv6 becomes IPv4.
pub fn ip(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim().trim_start_matches('[').trim_end_matches(']');
    // Most feed lines are one IPv4 address.
    if let Ok(a) = raw.parse::<std::net::Ipv4Addr>() {
        return Ok(IpNet::V4 { addr: a.into(), len: 32 });
    }
    let (addr, len) = match raw.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (raw, None),
    };
    let parsed: IpAddr = addr.parse().map_err(|_| format!("`{addr}` is not an IPv4 or IPv6 address"))?;
    let (unmapped, len) = match (parsed, len) {
        (IpAddr::V6(v6), l) if v6.to_ipv4_mapped().is_some() => {
            let l = match l {
                None => None,
                Some(l) => Some(l.parse::<u8>().ok().and_then(|n| n.checked_sub(96)).ok_or(format!("`/{l}` is not a mapped IPv4 length"))?),
            };
            (IpAddr::V4(v6.to_ipv4_mapped().expect("checked")), l.map(|n| n.to_string()))
        }
        (a, l) => (a, l.map(str::to_string)),
    };
    let text = match len {
        Some(l) => format!("{unmapped}/{l}"),
        None => unmapped.to_string(),
    };
    IpNet::parse(&text).map_err(|e| e.to_string())
}

/// The URL as events are looked up by (see [`canonical`]).
pub fn url(raw: &str) -> Result<String, String> {
    let mut u = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if u.host().is_none() {
        return Err("a URL without a host".into());
    }
    u.set_fragment(None);
    Ok(u.to_string())
}

fn hex(raw: &str, len: usize) -> Result<String, String> {
    if raw.len() != len || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("not {len} hexadecimal digits"));
    }
    Ok(raw.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_canonical_or_say_why_not() {
        let ok = |k, raw: &str, want: &str| assert_eq!(canonical(k, raw).as_deref(), Ok(want), "{raw}");
        ok(Kind::Ip, " 192.0.2.1 ", "192.0.2.1/32");
        ok(Kind::Ip, "::ffff:192.0.2.1", "192.0.2.1/32");
        ok(Kind::Ip, "::ffff:192.0.2.0/120", "192.0.2.0/24");
        ok(Kind::Ip, "[2001:db8::1]", "2001:db8::1/128");
        ok(Kind::Ip, "198.51.100.0/24", "198.51.100.0/24");
        ok(Kind::Ip, "0.0.0.0/0", "0.0.0.0/0");
        ok(Kind::Ip, "255.10.0.9", "255.10.0.9/32");
        ok(Kind::Domain, "Evil.Example.", "evil.example");
        ok(Kind::Hostname, "bücher.example", "xn--bcher-kva.example");
        ok(Kind::Url, "HTTP://Evil.Example:80/a%7eb?q=1#frag", "http://evil.example/a%7eb?q=1");
        ok(Kind::Sha256, &"AB".repeat(32), &"ab".repeat(32));
        ok(Kind::Email, "Boss@Example.TEST", "boss@example.test");
        let bad = |k, raw: &str, why: &str| {
            let e = canonical(k, raw).unwrap_err();
            assert!(e.contains(why), "{raw}: {e}");
        };
        bad(Kind::Ip, "10.1.2.3/8", "host bits");
        bad(Kind::Ip, "999.1.1.1", "not an IPv4 or IPv6 address");
        bad(Kind::Ip, "::ffff:1.2.3.4/64", "mapped IPv4 length");
        bad(Kind::Domain, "exa mple.test", "");
        bad(Kind::Url, "not a url", "not a URL");
        bad(Kind::Md5, "abc", "32 hexadecimal");
        bad(Kind::Sha1, &"g".repeat(40), "40 hexadecimal");
        bad(Kind::Email, "no-at.example", "no `@`");
        bad(Kind::Ip, "  ", "empty");
        assert_eq!(Tlp::parse("TLP:WHITE"), Some(Tlp::Clear));
        assert_eq!(Tlp::parse("tlp:amber+strict"), Some(Tlp::AmberStrict));
        assert_eq!(Kind::parse("SHA-256"), Some(Kind::Sha256));
    }
}

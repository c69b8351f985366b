//! Validated network identifiers: the only way a string becomes something the
//! index can hold. Every constructor is a `parse`, and every value is stored in
//! canonical form so that equal assets compare equal (`10.0.0.0/8` and
//! `10.0.0.0/08`, `Example.TEST.` and `example.test`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why a string is not a valid network identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The address part is not an IPv4 or IPv6 address.
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    BadAddress(String),
    /// The prefix length is not a number or is longer than the address.
    #[error("prefix length `{len}` is not valid for {family} (0..={max})")]
    BadPrefixLen { len: String, family: &'static str, max: u8 },
    /// Bits below the prefix length are set, so the network is ambiguous.
    #[error("`{given}` has host bits set; the network is `{network}`")]
    HostBitsSet { given: String, network: String },
    /// A range whose start is above its end.
    #[error("range `{0}` runs backwards (start is above end)")]
    RangeBackwards(String),
    /// A range whose ends are of different address families.
    #[error("range `{0}` mixes IPv4 and IPv6")]
    RangeMixedFamily(String),
    /// Not a valid DNS name after IDNA mapping.
    #[error("`{value}` is not a valid domain name: {reason}")]
    BadDomain { value: String, reason: &'static str },
    /// Not an AS number (`AS64500` or `64500`).
    #[error("`{0}` is not an AS number (expected AS1..AS4294967295)")]
    BadAsn(String),
    /// A network where one address was expected (attribution takes one value).
    #[error("`{0}` looks like a network; attribute one address, name, URL, email address or AS number")]
    NotSingle(String),
    /// Not an absolute http(s) URL with a host.
    #[error("`{value}` is not an http(s) URL: {reason}")]
    BadUrl { value: String, reason: String },
}

/// An IPv4 or IPv6 network in CIDR notation, with no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpNet {
    V4 { addr: u32, len: u8 },
    V6 { addr: u128, len: u8 },
}

impl IpNet {
    /// Parses `a.b.c.d/len`, `x::/len`, or a bare address (a host route).
    /// Host bits set are an error, not silently masked: a registry entry of
    /// `10.1.2.3/8` almost always means someone typed the wrong thing.
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        let s = s.trim();
        let (addr_s, len_s) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr_s.parse().map_err(|_| TargetError::BadAddress(addr_s.to_string()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len_s {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max && !l.starts_with('+') => n,
                _ => return Err(TargetError::BadPrefixLen { len: l.to_string(), family: if max == 32 { "IPv4" } else { "IPv6" }, max }),
            },
        };
        let net = match addr {
            IpAddr::V4(a) => IpNet::V4 { addr: u32::from(a) & mask32(len), len },
            IpAddr::V6(a) => IpNet::V6 { addr: u128::from(a) & mask128(len), len },
        };
        if net.first() != addr {
            return Err(TargetError::HostBitsSet { given: s.to_string(), network: net.to_string() });
        }
        Ok(net)
    }

    pub fn prefix_len(&self) -> u8 {
        match *self {
            IpNet::V4 { len, .. } | IpNet::V6 { len, .. } => len,
        }
    }

    pub fn first(&self) -> IpAddr {
        match *self {
            IpNet::V4 { addr, .. } => IpAddr::V4(Ipv4Addr::from(addr)),
            IpNet::V6 { addr, .. } => IpAddr::V6(Ipv6Addr::from(addr)),
        }
    }

    pub fn last(&self) -> IpAddr {
        match *self {
            IpNet::V4 { addr, len } => IpAddr::V4(Ipv4Addr::from(addr | !mask32(len))),
            IpNet::V6 { addr, len } => IpAddr::V6(Ipv6Addr::from(addr | !mask128(len))),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip) {
            (IpNet::V4 { addr, len }, IpAddr::V4(a)) => u32::from(a) & mask32(len) == addr,
            (IpNet::V6 { addr, len }, IpAddr::V6(a)) => u128::from(a) & mask128(len) == addr,
            _ => false,
        }
    }
}

pub(crate) fn mask32(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) }
}

pub(crate) fn mask128(len: u8) -> u128 {
    if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.first(), self.prefix_len())
    }
}

impl FromStr for IpNet {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An inclusive address range `first-last` of one family; used for
/// allocations that are not aligned to a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpRange {
    first: IpAddr,
    last: IpAddr,
}

impl IpRange {
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        let s = s.trim();
        let (a, b) = s.split_once('-').ok_or_else(|| TargetError::BadAddress(s.to_string()))?;
        let first: IpAddr = a.trim().parse().map_err(|_| TargetError::BadAddress(a.trim().to_string()))?;
        let last: IpAddr = b.trim().parse().map_err(|_| TargetError::BadAddress(b.trim().to_string()))?;
        if first.is_ipv4() != last.is_ipv4() {
            return Err(TargetError::RangeMixedFamily(s.to_string()));
        }
        if first > last {
            return Err(TargetError::RangeBackwards(s.to_string()));
        }
        Ok(IpRange { first, last })
    }

    pub fn first(&self) -> IpAddr {
        self.first
    }

    pub fn last(&self) -> IpAddr {
        self.last
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// A DNS name in canonical form: IDNA-mapped to ASCII (punycode), lower
/// case, without a trailing dot. `政府.example` becomes `xn--mxtq1m.example`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(Box<str>);

impl DomainName {
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        let raw = s.trim();
        let bad = |reason| TargetError::BadDomain { value: raw.to_string(), reason };
        let trimmed = raw.strip_suffix('.').unwrap_or(raw);
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        // Fast path: the common case is already-lowercase ASCII, and the
        // IDNA machinery costs far more than the lookup it feeds.
        let ascii = if trimmed.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
            trimmed.to_string()
        } else {
            url::Host::parse(trimmed)
                .ok()
                .and_then(|h| match h {
                    url::Host::Domain(d) => Some(d),
                    _ => None,
                })
                .ok_or_else(|| bad("not a host name (IDNA mapping failed)"))?
        };
        if ascii.len() > 253 {
            return Err(bad("longer than 253 characters"));
        }
        for label in ascii.split('.') {
            if label.is_empty() {
                return Err(bad("empty label"));
            }
            if label.len() > 63 {
                return Err(bad("label longer than 63 characters"));
            }
            if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(bad("labels may hold only letters, digits, '-' and '_'"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label starts or ends with '-'"));
            }
        }
        if ascii.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(bad("looks like an IP address, not a name"));
        }
        Ok(DomainName(ascii.into_boxed_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A domain asset: either exactly one name, or a name and every name below
/// it, written `*.example.test` (which covers `example.test` itself too).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainPattern {
    pub name: DomainName,
    pub subdomains: bool,
}

impl DomainPattern {
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        let s = s.trim();
        match s.strip_prefix("*.") {
            Some(rest) => Ok(DomainPattern { name: DomainName::parse(rest)?, subdomains: true }),
            None => Ok(DomainPattern { name: DomainName::parse(s)?, subdomains: false }),
        }
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subdomains {
            f.write_str("*.")?;
        }
        f.write_str(self.name.as_str())
    }
}

/// An autonomous system number, written `AS64500`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asn(pub u32);

impl Asn {
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        let t = s.trim();
        let digits = t.strip_prefix("AS").or_else(|| t.strip_prefix("as")).unwrap_or(t);
        match digits.parse::<u32>() {
            Ok(n) if n > 0 && !digits.starts_with('+') => Ok(Asn(n)),
            _ => Err(TargetError::BadAsn(s.to_string())),
        }
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AS{}", self.0)
    }
}

/// A web address owned as a prefix on path-segment boundaries:
/// `https://portal.example.test/app` covers `/app`, `/app/` and `/app/x`,
/// not `/apple`. Scheme, query and fragment are not part of the match: a
/// site served over http and https is the same site.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UrlPrefix {
    /// The canonical URL as written back out (scheme kept for display).
    url: Box<str>,
    /// `host[:port]` + path without trailing slash: the index key.
    key: Box<str>,
}

impl UrlPrefix {
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        let u = parse_http_url(s)?;
        let key = url_key(&u, u.path());
        let mut display = u.clone();
        display.set_query(None);
        display.set_fragment(None);
        Ok(UrlPrefix { url: display.as_str().into(), key: key.into() })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for UrlPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

pub(crate) fn parse_http_url(s: &str) -> Result<url::Url, TargetError> {
    let s = s.trim();
    let bad = |reason: String| TargetError::BadUrl { value: s.to_string(), reason };
    let u = url::Url::parse(s).map_err(|e| bad(e.to_string()))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(bad(format!("scheme `{}` is not http or https", u.scheme())));
    }
    if u.host().is_none() {
        return Err(bad("no host".into()));
    }
    Ok(u)
}

/// `host[:port]/path` with the trailing slash removed; `port()` is already
/// `None` for the scheme's default port.
pub(crate) fn url_key(u: &url::Url, path: &str) -> String {
    let host = u.host_str().unwrap_or_default();
    let path = path.trim_end_matches('/');
    match u.port() {
        Some(p) => format!("{host}:{p}{path}"),
        None => format!("{host}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_rejects_what_a_registry_must_not_hold() {
        assert!(matches!(IpNet::parse("10.0.0.0/33"), Err(TargetError::BadPrefixLen { .. })));
        assert!(matches!(IpNet::parse("1.2.3"), Err(TargetError::BadAddress(_))));
        assert!(matches!(IpNet::parse("10.0.0.1/8"), Err(TargetError::HostBitsSet { .. })));
        assert!(matches!(IpNet::parse("2001:db8::1/32"), Err(TargetError::HostBitsSet { .. })));
        assert!(matches!(IpNet::parse("10.0.0.0/+8"), Err(TargetError::BadPrefixLen { .. })));
        assert!(matches!(IpNet::parse("2001:db8::/129"), Err(TargetError::BadPrefixLen { .. })));
        let e = IpNet::parse("10.0.0.1/8").unwrap_err().to_string();
        assert!(e.contains("10.0.0.0/8"), "{e}");
    }

    #[test]
    fn cidr_canonical_forms() {
        assert_eq!(IpNet::parse("10.0.0.0/08").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(IpNet::parse("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        assert_eq!(IpNet::parse("2001:DB8:0::/32").unwrap().to_string(), "2001:db8::/32");
        assert_eq!(IpNet::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
    }

    #[test]
    fn ranges() {
        assert_eq!(IpRange::parse("192.0.2.10 - 192.0.2.20").unwrap().to_string(), "192.0.2.10-192.0.2.20");
        assert!(matches!(IpRange::parse("192.0.2.20-192.0.2.10"), Err(TargetError::RangeBackwards(_))));
        assert!(matches!(IpRange::parse("192.0.2.1-2001:db8::1"), Err(TargetError::RangeMixedFamily(_))));
    }

    #[test]
    fn domains() {
        assert_eq!(DomainName::parse("WWW.Example.TEST.").unwrap().as_str(), "www.example.test");
        assert_eq!(DomainName::parse("政府.example").unwrap().as_str(), "xn--mxtq1m.example");
        assert!(DomainName::parse("a..test").is_err());
        assert!(DomainName::parse("-a.test").is_err());
        assert!(DomainName::parse("").is_err());
        assert!(DomainName::parse(&"a".repeat(64)).is_err());
        assert!(DomainName::parse("192.0.2.1").is_err());
        assert!(DomainName::parse("a b.test").is_err());
        let p = DomainPattern::parse("*.Example.test").unwrap();
        assert!(p.subdomains);
        assert_eq!(p.to_string(), "*.example.test");
    }

    #[test]
    fn asns_and_urls() {
        assert_eq!(Asn::parse("AS64500").unwrap(), Asn(64500));
        assert_eq!(Asn::parse("64500").unwrap(), Asn(64500));
        assert!(Asn::parse("AS0").is_err());
        assert!(Asn::parse("ASx").is_err());
        let u = UrlPrefix::parse("HTTPS://Portal.Example.test:443/app/?q=1#f").unwrap();
        assert_eq!(u.as_str(), "https://portal.example.test/app/");
        assert_eq!(u.key(), "portal.example.test/app");
        assert!(UrlPrefix::parse("ftp://example.test/").is_err());
        assert!(UrlPrefix::parse("not a url").is_err());
    }
}

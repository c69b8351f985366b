use std::net::IpAddr;

use crate::target::{Asn, DomainName, TargetError, parse_http_url};

/// What someone asks "who owns this?" about. Parsing decides the kind from
/// the text alone, so CLI, API and later pipeline stages agree on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Ip(IpAddr),
    Domain(DomainName),
    Email { local: String, domain: DomainName },
    Url(url::Url),
    Asn(Asn),
}

impl Query {
    /// `192.0.2.7`, `2001:db8::1`, `[2001:db8::1]`, `www.example.test`,
    /// `soc@example.test`, `https://example.test/x`, `AS64500`.
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        let s = s.trim();
        if let Ok(ip) = s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Ok(Query::Ip(ip));
        }
        if s.contains("://") {
            return parse_http_url(s).map(Query::Url);
        }
        if s.contains('/') || (s.contains('-') && s.split('-').all(|p| p.trim().parse::<IpAddr>().is_ok())) {
            return Err(TargetError::NotSingle(s.to_string()));
        }
        if let Some((local, domain)) = s.rsplit_once('@') {
            return Ok(Query::Email { local: local.to_string(), domain: DomainName::parse(domain)? });
        }
        let upper = s.as_bytes();
        if upper.len() > 2 && upper[..2].eq_ignore_ascii_case(b"AS") && upper[2..].iter().all(u8::is_ascii_digit) {
            return Asn::parse(s).map(Query::Asn);
        }
        DomainName::parse(s).map(Query::Domain)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Query::Ip(_) => "ip",
            Query::Domain(_) => "domain",
            Query::Email { .. } => "email",
            Query::Url(_) => "url",
            Query::Asn(_) => "asn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_text() {
        assert_eq!(Query::parse("203.0.113.7").unwrap().kind(), "ip");
        assert_eq!(Query::parse("[2001:db8::1]").unwrap().kind(), "ip");
        assert_eq!(Query::parse("WWW.example.test").unwrap().kind(), "domain");
        assert_eq!(Query::parse("soc@Example.test").unwrap().kind(), "email");
        assert_eq!(Query::parse("https://a.example.test/x").unwrap().kind(), "url");
        assert_eq!(Query::parse("as64500").unwrap().kind(), "asn");
        assert!(Query::parse("1.2.3").is_err());
        assert!(Query::parse("").is_err());
        assert!(Query::parse("ftp://x.test/").is_err());
        assert!(Query::parse("a@").is_err());
        assert_eq!(Query::parse("10.0.0.0/8"), Err(TargetError::NotSingle("10.0.0.0/8".into())));
        assert_eq!(Query::parse("192.0.2.1-192.0.2.9"), Err(TargetError::NotSingle("192.0.2.1-192.0.2.9".into())));
    }
}

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use foldhash::fast::RandomState;

use crate::domains::DomainTable;
use crate::lpm::{Poptrie, Span, flatten};
use crate::query::Query;
use crate::target::{Asn, DomainPattern, IpNet, IpRange, UrlPrefix, url_key};

/// Something a unit can own, as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Net(IpNet),
    Range(IpRange),
    Asn(Asn),
    Domain(DomainPattern),
    Url(UrlPrefix),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Net(n) => n.fmt(f),
            Target::Range(r) => r.fmt(f),
            Target::Asn(a) => a.fmt(f),
            Target::Domain(d) => d.fmt(f),
            Target::Url(u) => u.fmt(f),
        }
    }
}

/// How a query reached its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The address fell in an owned prefix or range (longest prefix wins).
    Address,
    /// The name equals an owned exact domain.
    DomainExact,
    /// The name is at or below an owned `*.domain` (most specific wins).
    DomainSuffix,
    /// A URL fell under an owned URL prefix.
    UrlPrefix,
    /// An AS number equal to an owned ASN.
    Asn,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Address => "address",
            MatchKind::DomainExact => "domain_exact",
            MatchKind::DomainSuffix => "domain_suffix",
            MatchKind::UrlPrefix => "url_prefix",
            MatchKind::Asn => "asn",
        }
    }
}

/// Collects targets with their payloads, then builds an [`Index`].
pub struct IndexBuilder<T> {
    entries: Vec<(Target, i64, T)>,
}

impl<T> Default for IndexBuilder<T> {
    fn default() -> Self {
        IndexBuilder { entries: Vec::new() }
    }
}

/// An overlap between two entries' address space (entry positions, in the
/// order they were added). Exact duplicates of a domain, URL or ASN count too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    pub a: usize,
    pub b: usize,
    /// `a` strictly contains `b` (most specific wins: `b`).
    pub nested: bool,
}

impl<T> IndexBuilder<T> {
    pub fn with_capacity(n: usize) -> Self {
        IndexBuilder { entries: Vec::with_capacity(n) }
    }

    /// Adds an owned target. `precedence` breaks ties between claims of
    /// equal specificity (higher wins); the payload is what lookups return.
    pub fn add(&mut self, target: Target, precedence: i64, payload: T) {
        self.entries.push((target, precedence, payload));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Address-space overlaps between entries, for the registry's overlap
    /// report: pairs where one contains the other or where they intersect.
    pub fn overlaps(&self) -> Vec<Overlap> {
        let mut out = Vec::new();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut keyed: HashMap<String, usize> = HashMap::new();
        for (i, (t, _, _)) in self.entries.iter().enumerate() {
            match net_bounds(t) {
                Some(Bounds::V4(a, b)) => v4.push((a as u128, b as u128, i)),
                Some(Bounds::V6(a, b)) => v6.push((a, b, i)),
                None => {
                    if let Some(&j) = keyed.get(&t.to_string()) {
                        out.push(Overlap { a: j, b: i, nested: false });
                    } else {
                        keyed.insert(t.to_string(), i);
                    }
                }
            }
        }
        sweep(&mut v4, &mut out);
        sweep(&mut v6, &mut out);
        out
    }

    pub fn build(self) -> Index<T> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut domains: Vec<(usize, bool, u32, i64)> = Vec::new();
        let mut urls: HashMap<Box<str>, (i64, u32), RandomState> = HashMap::default();
        let mut asns: HashMap<u32, (i64, u32), RandomState> = HashMap::default();
        let mut payloads = Vec::with_capacity(self.entries.len());
        let mut targets = Vec::with_capacity(self.entries.len());
        for (i, (target, precedence, payload)) in self.entries.into_iter().enumerate() {
            let value = u32::try_from(i + 1).expect("more than 4 billion entries");
            match net_bounds(&target) {
                Some(Bounds::V4(first, last)) => v4.push(Span { first, last, precedence, value }),
                Some(Bounds::V6(first, last)) => v6.push(Span { first, last, precedence, value }),
                None => match &target {
                    Target::Domain(d) => domains.push((i, d.subdomains, value, precedence)),
                    Target::Url(u) => keep_better_in(&mut urls, u.key().into(), precedence, value),
                    Target::Asn(a) => keep_better_in(&mut asns, a.0, precedence, value),
                    Target::Net(_) | Target::Range(_) => unreachable!("handled by net_bounds"),
                },
            }
            payloads.push(payload);
            targets.push(target);
        }
        let names: Vec<(&str, bool, u32, i64)> = domains
            .iter()
            .map(|&(i, sub, value, precedence)| match &targets[i] {
                Target::Domain(d) => (d.name.as_str(), sub, value, precedence),
                _ => unreachable!("only domain targets were collected"),
            })
            .collect();
        let domains = DomainTable::build(&names);
        let url_hosts = urls.keys().map(|k| key_host(k).into()).collect();
        Index {
            v4: Poptrie::build(&flatten(&v4)),
            v6: Poptrie::build(&flatten(&v6)),
            domains,
            urls: urls.into_iter().map(|(k, (_, v))| (k, v)).collect(),
            url_hosts,
            asns: asns.into_iter().map(|(k, (_, v))| (k, v)).collect(),
            payloads,
            targets,
        }
    }
}

/// The host of a URL key (`host[:port]/path`, IPv6 hosts in brackets).
fn key_host(key: &str) -> &str {
    let end = if key.starts_with('[') { key.find(']').map_or(key.len(), |i| i + 1) } else { key.find([':', '/']).unwrap_or(key.len()) };
    &key[..end]
}

/// Same key claimed twice: higher precedence wins, then the first added.
fn keep_better_in<K: std::hash::Hash + Eq>(map: &mut HashMap<K, (i64, u32), RandomState>, k: K, precedence: i64, value: u32) {
    let cell = map.entry(k).or_insert((precedence, value));
    if precedence > cell.0 {
        *cell = (precedence, value);
    }
}

enum Bounds {
    V4(u32, u32),
    V6(u128, u128),
}

fn net_bounds(t: &Target) -> Option<Bounds> {
    let (first, last) = match t {
        Target::Net(n) => (n.first(), n.last()),
        Target::Range(r) => (r.first(), r.last()),
        _ => return None,
    };
    Some(match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => Bounds::V4(a.into(), b.into()),
        (IpAddr::V6(a), IpAddr::V6(b)) => Bounds::V6(a.into(), b.into()),
        _ => unreachable!("targets are validated single-family"),
    })
}

/// Sweep over intervals sorted by start (ties: widest first); every
/// interval still open when another starts overlaps it.
fn sweep(spans: &mut [(u128, u128, usize)], out: &mut Vec<Overlap>) {
    spans.sort_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)).then(x.2.cmp(&y.2)));
    let mut open: Vec<(u128, u128, usize)> = Vec::new();
    for &(first, last, i) in spans.iter() {
        open.retain(|o| o.1 >= first);
        for o in &open {
            let nested = o.0 <= first && last <= o.1 && (o.0, o.1) != (first, last);
            out.push(Overlap { a: o.2, b: i, nested });
        }
        open.push((first, last, i));
    }
}

/// The immutable attribution index. Built once per registry version and
/// swapped in whole; lookups take `&self` and never lock.
pub struct Index<T> {
    v4: Poptrie<u32, 20>,
    v6: Poptrie<u128, 14>,
    domains: DomainTable,
    urls: HashMap<Box<str>, u32, RandomState>,
    /// The hosts of `urls`, so a URL on another host need not be parsed.
    url_hosts: HashSet<Box<str>, RandomState>,
    asns: HashMap<u32, u32, RandomState>,
    payloads: Vec<T>,
    targets: Vec<Target>,
}

/// A successful lookup.
#[derive(Debug)]
pub struct Hit<'a, T> {
    pub kind: MatchKind,
    pub target: &'a Target,
    pub payload: &'a T,
}

impl<T> Index<T> {
    pub fn len(&self) -> usize {
        self.payloads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }

    fn hit(&self, kind: MatchKind, value: u32) -> Option<Hit<'_, T>> {
        let i = value.checked_sub(1)? as usize;
        Some(Hit { kind, target: &self.targets[i], payload: &self.payloads[i] })
    }

    /// Raw entry number for an IPv4 key (0 = none): the benchmark's unit.
    #[inline]
    pub fn lookup_v4(&self, addr: u32) -> u32 {
        self.v4.get(addr)
    }

    #[inline]
    pub fn lookup_v6(&self, addr: u128) -> u32 {
        self.v6.get(addr)
    }

    /// Batch form of [`lookup_v4`](Self::lookup_v4): much faster per
    /// lookup when the index is not in cache (see `Poptrie::get_many`).
    pub fn lookup_v4_many(&self, addrs: &[u32], out: &mut [u32]) {
        self.v4.get_many(addrs, out)
    }

    pub fn lookup_v6_many(&self, addrs: &[u128], out: &mut [u32]) {
        self.v6.get_many(addrs, out)
    }

    pub fn ip(&self, ip: IpAddr) -> Option<Hit<'_, T>> {
        let v = match ip {
            IpAddr::V4(a) => self.v4.get(a.into()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.v4.get(v4.into()),
                None => self.v6.get(a.into()),
            },
        };
        self.hit(MatchKind::Address, v)
    }

    /// Most specific owner of a (canonical) name: an exact entry for the
    /// name itself, else the nearest `*.` entry at or above it.
    pub fn domain(&self, name: &str) -> Option<Hit<'_, T>> {
        let mut rest = name;
        let mut first = true;
        loop {
            if let Some((exact, tree)) = self.domains.get(rest) {
                if first && exact != 0 {
                    return self.hit(MatchKind::DomainExact, exact);
                }
                if tree != 0 {
                    return self.hit(MatchKind::DomainSuffix, tree);
                }
            }
            first = false;
            rest = rest.split_once('.')?.1;
        }
    }

    /// Batch form of [`domain`](Self::domain) returning raw entry numbers
    /// (0 = none; entry `n` is the `n`th target added, from 1). Names are
    /// resolved in lockstep groups so their table probes overlap in memory.
    pub fn domain_many(&self, names: &[&str], out: &mut [u32]) {
        const LANES: usize = 16;
        assert_eq!(names.len(), out.len(), "one output per name");
        for (names, out) in names.chunks(LANES).zip(out.chunks_mut(LANES)) {
            let mut rest: [&str; LANES] = [""; LANES];
            rest[..names.len()].copy_from_slice(names);
            let mut pending: u32 = (1u32 << names.len()) - 1;
            let mut first = true;
            out.fill(0);
            while pending != 0 {
                let mut lanes = pending;
                while lanes != 0 {
                    let l = lanes.trailing_zeros() as usize;
                    lanes &= lanes - 1;
                    if let Some((exact, tree)) = self.domains.get(rest[l]) {
                        let v = if first && exact != 0 { exact } else { tree };
                        if v != 0 {
                            out[l] = v;
                            pending &= !(1 << l);
                            continue;
                        }
                    }
                    match rest[l].split_once('.') {
                        Some((_, r)) => rest[l] = r,
                        None => pending &= !(1 << l),
                    }
                }
                first = false;
            }
        }
    }

    /// URL prefix on segment boundaries, longest first; then the host.
    pub fn url(&self, u: &url::Url) -> Option<Hit<'_, T>> {
        if !self.urls.is_empty() {
            let mut path = u.path().trim_end_matches('/');
            loop {
                if let Some(&v) = self.urls.get(url_key(u, path).as_str()) {
                    return self.hit(MatchKind::UrlPrefix, v);
                }
                if path.is_empty() {
                    break;
                }
                path = &path[..path.rfind('/').unwrap_or(0)];
            }
        }
        match u.host()? {
            url::Host::Domain(d) => self.domain(d),
            url::Host::Ipv4(a) => self.ip(IpAddr::V4(a)),
            url::Host::Ipv6(a) => self.ip(IpAddr::V6(a)),
        }
    }

    /// Whether any URL is claimed: callers can skip parsing URLs otherwise.
    pub fn has_url_claims(&self) -> bool {
        !self.urls.is_empty()
    }

    /// Whether a URL prefix claim could match `full`, judged from its host
    /// without a full URL parse (which costs far more than the lookup). A
    /// plain lower-case host that no claim names is a sure "no"; anything
    /// unusual (an address, escapes, IDN, upper case) answers "maybe".
    pub fn may_claim_url(&self, full: &str) -> bool {
        if self.urls.is_empty() {
            return false;
        }
        let Some((_, rest)) = full.split_once("://") else { return true };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        let host = host.split(':').next().unwrap_or_default();
        let plain = host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !plain || host.is_empty() || host.ends_with('.') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return true;
        }
        self.url_hosts.contains(host)
    }

    pub fn asn(&self, asn: Asn) -> Option<Hit<'_, T>> {
        self.hit(MatchKind::Asn, self.asns.get(&asn.0).copied().unwrap_or(0))
    }

    pub fn lookup(&self, q: &Query) -> Option<Hit<'_, T>> {
        match q {
            Query::Ip(ip) => self.ip(*ip),
            Query::Domain(d) => self.domain(d.as_str()),
            Query::Email { domain, .. } => self.domain(domain.as_str()),
            Query::Url(u) => self.url(u),
            Query::Asn(a) => self.asn(*a),
        }
    }

    /// Heap bytes of the address tries (what answers IP lookups).
    pub fn trie_bytes(&self) -> (usize, usize) {
        (self.v4.heap_bytes(), self.v6.heap_bytes())
    }

    /// Heap bytes of the domain table (slots and names).
    pub fn domain_table_bytes(&self) -> usize {
        if self.domains.is_empty() { 0 } else { self.domains.heap_bytes() }
    }

    pub fn payloads(&self) -> &[T] {
        &self.payloads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        if let Ok(n) = IpNet::parse(s) {
            Target::Net(n)
        } else if let Ok(r) = IpRange::parse(s) {
            Target::Range(r)
        } else if s.contains("://") {
            Target::Url(UrlPrefix::parse(s).unwrap())
        } else if s.starts_with("AS") {
            Target::Asn(Asn::parse(s).unwrap())
        } else {
            Target::Domain(DomainPattern::parse(s).unwrap())
        }
    }

    fn who(ix: &Index<&'static str>, q: &str) -> Option<(&'static str, MatchKind)> {
        ix.lookup(&Query::parse(q).unwrap()).map(|h| (*h.payload, h.kind))
    }

    fn index() -> Index<&'static str> {
        let mut b = IndexBuilder::default();
        b.add(t("10.0.0.0/8"), 0, "province");
        b.add(t("10.1.0.0/16"), 0, "city");
        b.add(t("10.1.2.3"), 0, "host");
        b.add(t("192.0.2.10-192.0.2.20"), 0, "range");
        b.add(t("2001:db8::/32"), 0, "v6");
        b.add(t("2001:db8:1::/48"), 0, "v6-site");
        b.add(t("*.example.test"), 0, "zone");
        b.add(t("www.example.test"), 0, "www");
        b.add(t("*.edu.example.test"), 0, "edu");
        b.add(t("https://portal.example.test/app"), 0, "app");
        b.add(t("AS64500"), 0, "asn");
        b.add(t("203.0.113.0/24"), 1, "high");
        b.add(t("203.0.113.0/24"), 0, "low");
        b.build()
    }

    #[test]
    fn address_longest_prefix() {
        let ix = index();
        assert_eq!(who(&ix, "10.9.9.9"), Some(("province", MatchKind::Address)));
        assert_eq!(who(&ix, "10.1.9.9"), Some(("city", MatchKind::Address)));
        assert_eq!(who(&ix, "10.1.2.3"), Some(("host", MatchKind::Address)));
        assert_eq!(who(&ix, "192.0.2.15").unwrap().0, "range");
        assert_eq!(who(&ix, "192.0.2.21"), None);
        assert_eq!(who(&ix, "2001:db8:1::5").unwrap().0, "v6-site");
        assert_eq!(who(&ix, "2001:db8:2::5").unwrap().0, "v6");
        assert_eq!(who(&ix, "::ffff:10.1.2.3").unwrap().0, "host");
        assert_eq!(who(&ix, "203.0.113.9").unwrap().0, "high");
    }

    #[test]
    fn domains_urls_emails_asns() {
        let ix = index();
        assert_eq!(who(&ix, "www.example.test"), Some(("www", MatchKind::DomainExact)));
        assert_eq!(who(&ix, "a.www.example.test"), Some(("zone", MatchKind::DomainSuffix)));
        assert_eq!(who(&ix, "example.test"), Some(("zone", MatchKind::DomainSuffix)));
        assert_eq!(who(&ix, "school.edu.example.test").unwrap().0, "edu");
        assert_eq!(who(&ix, "other.test"), None);
        assert_eq!(who(&ix, "soc@mail.edu.example.test").unwrap().0, "edu");
        assert_eq!(who(&ix, "https://portal.example.test/app/x?y=1"), Some(("app", MatchKind::UrlPrefix)));
        assert_eq!(who(&ix, "http://portal.example.test/app"), Some(("app", MatchKind::UrlPrefix)));
        assert_eq!(who(&ix, "https://portal.example.test/apple"), Some(("zone", MatchKind::DomainSuffix)));
        assert_eq!(who(&ix, "http://10.1.2.3/x").unwrap().0, "host");
        assert_eq!(who(&ix, "AS64500"), Some(("asn", MatchKind::Asn)));
        assert_eq!(who(&ix, "AS64501"), None);
    }

    #[test]
    fn url_host_precheck_never_hides_a_claim() {
        let ix = index();
        for full in ["https://portal.example.test/app/x?y=1", "http://u:p@portal.example.test:443/app", "HTTP://PORTAL.example.test/app"] {
            assert!(ix.may_claim_url(full), "{full}");
        }
        // Unusual hosts are left to the full parse rather than guessed at.
        for full in [
            "http://10.1.2.3/x",
            "http://[2001:db8::1]/x",
            "http://portal.example.test./app",
            "http://portal%2Eexample.test/app",
            "no scheme",
        ] {
            assert!(ix.may_claim_url(full), "{full}");
        }
        for full in [
            "http://www.example.test/app",
            "https://other.test/app?x",
            "http://portal.example.test.evil.test/app",
            "http://xn--fsq.test/app",
        ] {
            assert!(!ix.may_claim_url(full), "{full}");
        }
        assert!(!IndexBuilder::<&str>::default().build().may_claim_url("http://portal.example.test/app"));
        assert_eq!(key_host("[2001:db8::1]:8080/a"), "[2001:db8::1]");
        assert_eq!(key_host("portal.example.test:8443/app"), "portal.example.test");
        assert_eq!(key_host("portal.example.test"), "portal.example.test");
    }

    #[test]
    fn duplicate_domain_claims_follow_precedence_then_first_added() {
        let mut b = IndexBuilder::default();
        b.add(t("*.shared.test"), 0, "first");
        b.add(t("*.shared.test"), 0, "second");
        b.add(t("www.shared.test"), 1, "low");
        b.add(t("www.shared.test"), 3, "high");
        b.add(t("www.shared.test"), 2, "mid");
        let ix = b.build();
        assert_eq!(who(&ix, "a.shared.test").unwrap().0, "first");
        assert_eq!(who(&ix, "www.shared.test").unwrap().0, "high");
        assert_eq!(who(&ix, "x.www.shared.test").unwrap().0, "first");
        assert!(ix.domain_table_bytes() > 0);
        let names = ["a.shared.test", "www.shared.test", "x.www.shared.test", "shared.test", "nope.test", "test", ""];
        let mut out = [0; 7];
        ix.domain_many(&names, &mut out);
        let single: Vec<u32> = names
            .iter()
            .map(|n| ix.domain(n).map_or(0, |h| ix.payloads.iter().position(|p| std::ptr::eq(p, h.payload)).unwrap() as u32 + 1))
            .collect();
        assert_eq!(out.to_vec(), single);
        assert_eq!(out[..4], [1, 4, 1, 1]);
    }

    #[test]
    fn overlaps_are_reported() {
        let mut b = IndexBuilder::default();
        b.add(t("10.0.0.0/8"), 0, 0);
        b.add(t("10.1.0.0/16"), 0, 1);
        b.add(t("10.1.0.0/16"), 0, 2);
        b.add(t("10.2.0.0-10.3.0.0"), 0, 3);
        b.add(t("10.3.0.0/16"), 0, 4);
        b.add(t("*.example.test"), 0, 5);
        b.add(t("*.example.test"), 0, 6);
        b.add(t("192.0.2.0/24"), 0, 7);
        let mut o = b.overlaps();
        o.sort_by_key(|o| (o.a, o.b));
        let pairs: Vec<_> = o.iter().map(|o| (o.a, o.b, o.nested)).collect();
        assert_eq!(pairs, vec![(0, 1, true), (0, 2, true), (0, 3, true), (0, 4, true), (1, 2, false), (3, 4, false), (5, 6, false)]);
    }
}

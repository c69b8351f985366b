//! The indicator index: each observable kind in the structure that answers
//! it fastest. Addresses and networks go in the attribution crate's poptrie
//! (longest prefix wins), names in its domain table (an exact hostname, else
//! the nearest domain above), and URLs, hashes and email addresses in one
//! hash map. Indicators with the same value from several feeds share one
//! entry, so a lookup returns all of them.

use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;
use shouwang_attribution::{DomainName, DomainPattern, Index, IndexBuilder, Target};

use crate::model::{Indicator, Kind, canonical, ip};

/// Something seen in an event, to look up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observable<'a> {
    Ip(IpAddr),
    /// A domain or host name.
    Name(&'a str),
    Url(&'a str),
    /// MD5, SHA-1 or SHA-256, told apart by length.
    Hash(&'a str),
    Email(&'a str),
}

/// An immutable set of indicators, built once and swapped whole on reload.
pub struct Intel {
    indicators: Vec<Indicator>,
    /// Entry (the payload stored in `nets` and `exact`) → its indicators.
    entries: Vec<Vec<u32>>,
    nets: Index<u32>,
    /// URLs, hashes and email addresses: per kind, canonical value → entry.
    exact: HashMap<Kind, HashMap<Box<str>, u32, RandomState>, RandomState>,
}

#[derive(Default)]
pub struct IntelBuilder {
    indicators: Vec<Indicator>,
}

impl IntelBuilder {
    /// Adds an indicator whose value is already canonical (the importers
    /// make it so).
    pub fn add(&mut self, indicator: Indicator) {
        self.indicators.push(indicator);
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// Builds the index, leaving out indicators that expired before `now`.
    pub fn build(self, now: jiff::Timestamp) -> Intel {
        let indicators: Vec<Indicator> = self.indicators.into_iter().filter(|i| i.valid_until.is_none_or(|u| u > now)).collect();
        let mut entry_of: HashMap<(Kind, &str), u32, RandomState> = HashMap::default();
        let mut entries: Vec<Vec<u32>> = Vec::new();
        let mut nets = IndexBuilder::with_capacity(indicators.len());
        let mut exact: HashMap<Kind, HashMap<Box<str>, u32, RandomState>, RandomState> = HashMap::default();
        for (n, i) in indicators.iter().enumerate() {
            let key = (i.kind, i.value.as_str());
            if let Some(&e) = entry_of.get(&key) {
                entries[e as usize].push(n as u32);
                continue;
            }
            let e = entries.len() as u32;
            entries.push(vec![n as u32]);
            entry_of.insert(key, e);
            let target = match i.kind {
                Kind::Ip => ip(&i.value).ok().map(Target::Net),
                Kind::Domain | Kind::Hostname => {
                    DomainName::parse(&i.value).ok().map(|name| Target::Domain(DomainPattern { name, subdomains: i.kind == Kind::Domain }))
                }
                Kind::Url | Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Email => {
                    exact.entry(i.kind).or_default().insert(i.value.as_str().into(), e);
                    None
                }
            };
            if let Some(t) = target {
                nets.add(t, 0, e);
            }
        }
        Intel { indicators, entries, nets: nets.build(), exact }
    }
}

impl Intel {
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// The indicators `o` matches that are valid at `at` (the event's time).
    pub fn lookup(&self, o: Observable<'_>, at: jiff::Timestamp) -> Vec<&Indicator> {
        let Some(entry) = self.entry(o) else { return Vec::new() };
        self.entries[entry as usize].iter().map(|&n| &self.indicators[n as usize]).filter(|i| i.valid_at(at)).collect()
    }

    /// Whether anything matches `o`, whatever its validity (allow-lists).
    pub fn contains(&self, o: Observable<'_>) -> bool {
        self.entry(o).is_some()
    }

    fn entry(&self, o: Observable<'_>) -> Option<u32> {
        match o {
            Observable::Ip(a) => self.nets.ip(a).map(|h| *h.payload),
            Observable::Name(n) => {
                let name = DomainName::parse(n).ok()?;
                self.nets.domain(name.as_str()).map(|h| *h.payload)
            }
            Observable::Url(u) => self.exact_entry(Kind::Url, u),
            Observable::Hash(h) => {
                let kind = match h.len() {
                    32 => Kind::Md5,
                    40 => Kind::Sha1,
                    64 => Kind::Sha256,
                    _ => return None,
                };
                self.exact_entry(kind, h)
            }
            Observable::Email(e) => self.exact_entry(Kind::Email, e),
        }
    }

    fn exact_entry(&self, kind: Kind, raw: &str) -> Option<u32> {
        // No canonicalising (which allocates) for a kind no indicator has.
        let values = self.exact.get(&kind)?;
        values.get(canonical(kind, raw).ok()?.as_str()).copied()
    }
}

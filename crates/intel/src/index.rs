//! The indicator index, laid out for feed scale: ten million indicators in
//! well under a gigabyte, built in seconds.
//!
//! Each distinct (kind, value) is an *entry*. Values sit back to back in one
//! string; an entry's indicators (the same value from several feeds) are a
//! chain of 16-byte records. What repeats across millions of records (kind,
//! source, confidence, TLP, tag set) is interned once as a *profile*. Single
//! IPv4 addresses are answered by a hash table, networks by poptries
//! (longest prefix wins); names, URLs, hashes and email addresses by hash
//! tables of 4-byte entry numbers compared against the shared string, so no
//! key is a heap allocation of its own. Adding only appends; duplicates are
//! merged at build time, one cache-sized part of the hash space at a time.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use shouwang_attribution::lpm::{Flat, Poptrie, Span, flatten_nested};
use shouwang_attribution::{DomainName, IpNet};

use crate::model::{Indicator, IndicatorRef, Kind, Tlp, canonical};

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

/// End of a record chain; an entry whose chain is empty has expired.
const END: u32 = u32::MAX;
/// Validity bounds are whole seconds since 1970 in a `u32` (to 2106):
/// `from` 0 and `until` `NO_END` mean unbounded.
const NO_END: u32 = u32::MAX;

/// One indicator, less its value (held by its entry).
#[derive(Debug, Clone, Copy)]
struct Record {
    profile: u32,
    from: u32,
    until: u32,
    /// The entry's next record, or [`END`].
    next: u32,
}

impl Record {
    fn valid_at(&self, at: i64) -> bool {
        (self.from == 0 || i64::from(self.from) <= at) && (self.until == NO_END || at < i64::from(self.until))
    }
}

/// The metadata indicators share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Profile {
    kind: Kind,
    confidence: u8,
    tlp: Tlp,
    source: u32,
    tags: u32,
}

/// Values back to back in one string: item `e` is `text[ends[e-1]..ends[e]]`.
#[derive(Default)]
struct Values {
    text: String,
    ends: Vec<u64>,
}

impl Values {
    fn get(&self, e: u32) -> &str {
        let e = e as usize;
        let start = if e == 0 { 0 } else { self.ends[e - 1] as usize };
        &self.text[start..self.ends[e] as usize]
    }
}

/// Hash tables are split by these many bits of the hash, so a build works
/// on one cache-sized part at a time instead of probing all of memory.
const PART_BITS: u32 = 8;

fn part(hash: u64) -> usize {
    // Bits the tables themselves use neither for buckets (low) nor tags (top 7).
    (hash >> 32) as usize & ((1 << PART_BITS) - 1)
}

/// Every indicator added is an *item*: its value, its kind and its record.
/// The first item of each distinct (kind, value) becomes the entry that
/// lookups find and that heads the chain of all their records.
#[derive(Default)]
struct Entries {
    values: Values,
    kinds: Vec<Kind>,
    records: Vec<Record>,
    /// Per item: the first record of its chain if it is a live entry, else [`END`].
    heads: Vec<u32>,
    profiles: Vec<Profile>,
    sources: Vec<Box<str>>,
    tag_sets: Vec<Box<[Box<str>]>>,
    /// Entry numbers by (kind, value), in `1 << PART_BITS` parts.
    tables: Vec<HashTable<u32>>,
    hasher: RandomState,
}

impl Entries {
    fn hash(&self, kind: Kind, value: &str) -> u64 {
        self.hasher.hash_one((kind, value))
    }

    /// Item `e`'s hash, as its table holds it.
    fn hash_of(&self, e: u32) -> u64 {
        self.hash(self.kinds[e as usize], self.values.get(e))
    }

    fn find(&self, kind: Kind, key: &str) -> Option<u32> {
        let hash = self.hash(kind, key);
        self.tables.get(part(hash))?.find(hash, |&e| self.kinds[e as usize] == kind && self.values.get(e) == key).copied()
    }
}

/// Collects indicators; [`build`](IntelBuilder::build) makes the index.
/// Adding only appends: deduplication waits for the build.
#[derive(Default)]
pub struct IntelBuilder {
    entries: Entries,
    profile_ids: HashMap<Profile, u32, RandomState>,
    source_ids: HashMap<Box<str>, u32, RandomState>,
    tag_ids: HashMap<Vec<String>, u32, RandomState>,
    /// The profile of the record added last.
    last_profile: u32,
}

/// The id of `key` in an interning table, adding it to `list` if new.
fn intern<K, Q, V>(ids: &mut HashMap<K, u32, RandomState>, list: &mut Vec<V>, key: &Q, make: impl FnOnce() -> (K, V)) -> u32
where
    K: std::borrow::Borrow<Q> + Eq + std::hash::Hash,
    Q: Eq + std::hash::Hash + ?Sized,
{
    if let Some(&id) = ids.get(key) {
        return id;
    }
    let id = u32::try_from(list.len()).expect("fewer than 4 billion distinct values");
    let (k, v) = make();
    ids.insert(k, id);
    list.push(v);
    id
}

/// Whole seconds: a start rounds down and an end up, so rounding can only
/// widen validity (by under a second), never lose a match.
fn seconds(t: Option<jiff::Timestamp>, end: bool) -> u32 {
    let Some(t) = t else { return if end { NO_END } else { 0 } };
    let s = t.as_second() + i64::from(end && t.subsec_nanosecond() > 0);
    s.clamp(0, i64::from(NO_END) - 1) as u32
}

impl IntelBuilder {
    /// Adds an indicator whose value is already canonical (the importers
    /// make it so).
    pub fn add(&mut self, i: Indicator) {
        let x = &mut self.entries;
        assert!(x.records.len() < END as usize, "fewer than 4 billion indicators");
        // A feed's records mostly share their source and tags with the
        // record before: compare with it before hashing.
        let last = x.profiles.get(self.last_profile as usize).copied();
        let source = match last {
            Some(p) if *x.sources[p.source as usize] == *i.source => p.source,
            _ => intern(&mut self.source_ids, &mut x.sources, i.source.as_str(), || (i.source.as_str().into(), i.source.as_str().into())),
        };
        let tags = match last {
            Some(p) if x.tag_sets[p.tags as usize].iter().map(|t| &**t).eq(i.tags.iter().map(String::as_str)) => p.tags,
            _ => intern(&mut self.tag_ids, &mut x.tag_sets, i.tags.as_slice(), || {
                (i.tags.clone(), i.tags.iter().map(|t| t.as_str().into()).collect())
            }),
        };
        let profile = Profile { kind: i.kind, confidence: i.confidence, tlp: i.tlp, source, tags };
        let profile = match last {
            Some(p) if p == profile => self.last_profile,
            _ => intern(&mut self.profile_ids, &mut x.profiles, &profile, || (profile, profile)),
        };
        self.last_profile = profile;
        x.values.text.push_str(&i.value);
        x.values.ends.push(x.values.text.len() as u64);
        x.kinds.push(i.kind);
        x.records.push(Record { profile, from: seconds(i.valid_from, false), until: seconds(i.valid_until, true), next: END });
    }

    /// Indicators added so far.
    pub fn len(&self) -> usize {
        self.entries.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.records.is_empty()
    }

    /// Builds the index, leaving out indicators that expired before `now`.
    pub fn build(self, now: jiff::Timestamp) -> Intel {
        let mut x = self.entries;
        let n = x.records.len();
        // Hash every item in order (reading the text once, front to back),
        // then list (hash, item) part by part with a counting sort.
        let hashes: Vec<u64> = (0..n as u32).map(|e| x.hash_of(e)).collect();
        let mut starts = vec![0usize; (1 << PART_BITS) + 1];
        for &h in &hashes {
            starts[part(h) + 1] += 1;
        }
        for p in 1..starts.len() {
            starts[p] += starts[p - 1];
        }
        let mut order = vec![(0u64, 0u32); n];
        let mut fill = starts.clone();
        for (e, h) in hashes.into_iter().enumerate() {
            order[fill[part(h)]] = (h, e as u32);
            fill[part(h)] += 1;
        }
        // Deduplicate part by part, each part's table small enough to stay
        // in cache. Every item starts as its own entry; one equal to an
        // earlier entry joins that entry's chain instead. Values are read
        // only when hashes collide, so a new value costs no random access.
        x.heads = (0..n as u32).collect();
        x.tables = Vec::with_capacity(1 << PART_BITS);
        for p in 0..1 << PART_BITS {
            let items = &order[starts[p]..starts[p + 1]];
            let mut table = HashTable::with_capacity(items.len());
            for &(h, j) in items {
                let same = |&e: &u32| x.kinds[e as usize] == x.kinds[j as usize] && x.values.get(e) == x.values.get(j);
                match table.find(h, same) {
                    Some(&e) => {
                        x.records[j as usize].next = x.heads[e as usize];
                        x.heads[e as usize] = j;
                        x.heads[j as usize] = END;
                    }
                    None => {
                        table.insert_unique(h, j, |&e| x.hash_of(e));
                    }
                }
            }
            x.tables.push(table);
        }
        drop(order);
        let (live, emptied) = expire(&mut x, now.as_second());
        if emptied > 0 {
            // What has expired is found nowhere.
            let mut tables = std::mem::take(&mut x.tables);
            for table in &mut tables {
                table.retain(|e| x.heads[*e as usize] != END);
                table.shrink_to_fit(|&e| x.hash_of(e));
            }
            x.tables = tables;
        }
        // One pass over the live entries: which kinds there are, and where
        // each address or network goes. Single IPv4 addresses, most of a
        // feed, go in a hash table (one or two memory reads); networks in
        // the poptries. An address is more specific than any network, so it
        // is looked up first.
        let mut has = [false; 8];
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let mut hosts = HashTable::new();
        for e in (0..n as u32).filter(|&e| x.heads[e as usize] != END) {
            let kind = x.kinds[e as usize];
            has[kind as usize] = true;
            if kind != Kind::Ip {
                continue;
            }
            // Canonical values parse; one that did not would match nothing.
            match IpNet::parse(x.values.get(e)).map(|n| (n.first(), n.last())) {
                Ok((IpAddr::V4(a), IpAddr::V4(b))) if a == b => {
                    let a = u32::from(a);
                    hosts.insert_unique(x.hasher.hash_one(a), (a, e), |&(a, _)| x.hasher.hash_one(a));
                }
                Ok((IpAddr::V4(a), IpAddr::V4(b))) => v4.push(Span { first: a.into(), last: b.into(), precedence: 0, value: e + 1 }),
                Ok((IpAddr::V6(a), IpAddr::V6(b))) => v6.push(Span { first: a.into(), last: b.into(), precedence: 0, value: e + 1 }),
                _ => {}
            }
        }
        let v4: Flat<u32> = flatten_nested(&mut v4);
        let v6: Flat<u128> = flatten_nested(&mut v6);
        x.values.text.shrink_to_fit();
        x.values.ends.shrink_to_fit();
        x.kinds.shrink_to_fit();
        x.records.shrink_to_fit();
        hosts.shrink_to_fit(|&(a, _)| x.hasher.hash_one(a));
        Intel { hosts, v4: Poptrie::build(&v4), v6: Poptrie::build(&v6), entries: x, live, has }
    }
}

/// Unlinks the records that expired before `now` from every chain, keeping
/// order; an entry left with none is no longer live. Returns the records
/// kept and the entries emptied.
fn expire(x: &mut Entries, now: i64) -> (usize, usize) {
    let (mut live, mut emptied) = (0, 0);
    for head in x.heads.iter_mut().filter(|h| **h != END) {
        let (mut r, mut last) = (*head, END);
        *head = END;
        while r != END {
            let next = x.records[r as usize].next;
            let rec = &mut x.records[r as usize];
            if rec.until == NO_END || i64::from(rec.until) > now {
                rec.next = END;
                match last {
                    END => *head = r,
                    l => x.records[l as usize].next = r,
                }
                last = r;
                live += 1;
            }
            r = next;
        }
        emptied += usize::from(*head == END);
    }
    (live, emptied)
}

/// An immutable set of indicators, built once and swapped whole on reload.
pub struct Intel {
    entries: Entries,
    /// IPv4 addresses (/32) and their entries.
    hosts: HashTable<(u32, u32)>,
    /// IPv4 networks.
    v4: Poptrie<u32, 20>,
    v6: Poptrie<u128, 14>,
    /// Indicators not expired at build time.
    live: usize,
    /// Per [`Kind`]: whether any entry is of that kind.
    has: [bool; 8],
}

impl Default for Intel {
    fn default() -> Self {
        IntelBuilder::default().build(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// The indicators of one entry valid at a time (see [`Intel::lookup`]).
pub struct Matches<'a> {
    intel: &'a Intel,
    entry: u32,
    next: u32,
    at: i64,
}

impl<'a> Iterator for Matches<'a> {
    type Item = IndicatorRef<'a>;

    fn next(&mut self) -> Option<IndicatorRef<'a>> {
        let x = &self.intel.entries;
        while self.next != END {
            let r = x.records[self.next as usize];
            self.next = r.next;
            if r.valid_at(self.at) {
                return Some(self.intel.view(self.entry, r));
            }
        }
        None
    }
}

impl Intel {
    /// Indicators in use (not expired when it was built).
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The indicators `o` matches that are valid at `at` (the event's time).
    pub fn lookup(&self, o: Observable<'_>, at: jiff::Timestamp) -> Matches<'_> {
        let (entry, next) = match self.entry(o) {
            Some(e) => (e, self.entries.heads[e as usize]),
            None => (0, END),
        };
        Matches { intel: self, entry, next, at: at.as_second() }
    }

    /// Whether anything matches `o`, whatever its validity (allow-lists).
    pub fn contains(&self, o: Observable<'_>) -> bool {
        self.entry(o).is_some()
    }

    fn view(&self, entry: u32, r: Record) -> IndicatorRef<'_> {
        let x = &self.entries;
        let p = x.profiles[r.profile as usize];
        let time = |s: u32| jiff::Timestamp::from_second(i64::from(s)).ok();
        IndicatorRef {
            kind: p.kind,
            value: x.values.get(entry),
            source: &x.sources[p.source as usize],
            confidence: p.confidence,
            tlp: p.tlp,
            valid_from: (r.from != 0).then(|| time(r.from)).flatten(),
            valid_until: (r.until != NO_END).then(|| time(r.until)).flatten(),
            tags: &x.tag_sets[p.tags as usize],
        }
    }

    fn entry(&self, o: Observable<'_>) -> Option<u32> {
        let x = &self.entries;
        match o {
            Observable::Ip(a) => {
                let v4 = match a {
                    IpAddr::V4(a) => a,
                    IpAddr::V6(a) => match a.to_ipv4_mapped() {
                        Some(v4) => v4,
                        None => return self.v6.get(a.into()).checked_sub(1),
                    },
                };
                let a = u32::from(v4);
                match self.hosts.find(x.hasher.hash_one(a), |&(h, _)| h == a) {
                    Some(&(_, e)) => Some(e),
                    None => self.v4.get(a).checked_sub(1),
                }
            }
            Observable::Name(n) => {
                let owned;
                let name = match fast_name(n) {
                    Some(n) => n,
                    None => {
                        owned = DomainName::parse(n).ok()?;
                        owned.as_str()
                    }
                };
                // The exact host name, else the nearest domain at or above.
                if let Some(e) = x.find(Kind::Hostname, name) {
                    return Some(e);
                }
                let mut rest = name;
                loop {
                    if let Some(e) = x.find(Kind::Domain, rest) {
                        return Some(e);
                    }
                    rest = rest.split_once('.')?.1;
                }
            }
            Observable::Hash(h) => {
                let h = h.trim();
                let kind = match h.len() {
                    32 => Kind::Md5,
                    40 => Kind::Sha1,
                    64 => Kind::Sha256,
                    _ => return None,
                };
                let mut buf = [0u8; 64];
                let lower = &mut buf[..h.len()];
                lower.copy_from_slice(h.as_bytes());
                lower.make_ascii_lowercase();
                x.find(kind, std::str::from_utf8(lower).ok()?)
            }
            // Rarer, and their canonical forms need parsing: allocate.
            Observable::Url(u) => self.exact(Kind::Url, u),
            Observable::Email(e) => self.exact(Kind::Email, e),
        }
    }

    fn exact(&self, kind: Kind, raw: &str) -> Option<u32> {
        // No canonicalising (which allocates) for a kind no indicator has.
        if !self.has[kind as usize] {
            return None;
        }
        self.entries.find(kind, &canonical(kind, raw).ok()?)
    }
}

/// A name that is already canonical as written (lower-case ASCII, the
/// common case), without its trailing dot; `None` if it needs mapping.
fn fast_name(n: &str) -> Option<&str> {
    let n = n.trim();
    let n = n.strip_suffix('.').unwrap_or(n);
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')).then_some(n)
}

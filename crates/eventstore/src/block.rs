//! A block: the events of one batch, one stream and one day, stored as one
//! compressed row. Per event the payload holds a fixed header (event time,
//! stream position, lengths), the normalised document as JSON without
//! `event.original`, and the original record as raw bytes:
//!
//! ```text
//! [ts i64][pos i64][doc_len u32][orig_len u32 | u32::MAX for none][doc][original]  × events
//! ```
//!
//! Searches find candidate blocks through the block's keys (its distinct
//! addresses, units, names and datasets) and time bounds, then check each
//! event here: time from the header, free text on the raw bytes, and the
//! rest on the parsed document, only for events that got that far.

use std::collections::HashSet;
use std::net::IpAddr;

use foldhash::fast::RandomState;
use shouwang_ingest::Event;

use crate::{Accepted, EventStoreError, Result, Scope, Search};

/// zstd level 1: compression is on the writer's critical path.
const LEVEL: i32 = 1;
const HEADER: usize = 8 + 8 + 4 + 4;
const NO_ORIGINAL: u32 = u32::MAX;
/// A block's uncompressed size is recorded; anything larger than this is
/// corruption, not a reason to allocate.
pub(crate) const MAX_RAW: usize = 1 << 30;

/// Which kind of value a block key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A source or destination address, as a 16-byte key.
    Ip = 1,
    Unit = 2,
    /// A domain name, label-reversed.
    Name = 3,
    Dataset = 4,
}

/// Everything a block row needs, built from a group of accepted events.
pub(crate) struct Encoded {
    pub first_pos: i64,
    pub last_pos: i64,
    pub ts_min: i64,
    pub ts_max: i64,
    pub raw_len: usize,
    pub data: Vec<u8>,
    /// Distinct keys, sorted, so the inserts walk the index in order.
    pub keys: Vec<(Kind, Vec<u8>)>,
}

pub(crate) fn encode(events: &[&Accepted]) -> Result<Encoded> {
    let mut raw = Vec::with_capacity(events.len() * 2048);
    // Keys are collected borrowed and deduplicated before any is copied:
    // a block repeats its units, datasets and many addresses thousands of times.
    let mut ips: HashSet<[u8; 16], RandomState> = HashSet::default();
    let mut texts: HashSet<(Kind, &str), RandomState> = HashSet::default();
    let mut names: HashSet<String, RandomState> = HashSet::default();
    let (mut first_pos, mut last_pos, mut ts_min, mut ts_max) = (i64::MAX, i64::MIN, i64::MAX, i64::MIN);
    for a in events {
        let e = &a.event;
        let ts = e.timestamp.as_microsecond();
        (first_pos, last_pos) = (first_pos.min(a.origin.pos), last_pos.max(a.origin.pos));
        (ts_min, ts_max) = (ts_min.min(ts), ts_max.max(ts));
        let at = raw.len();
        raw.extend_from_slice(&ts.to_le_bytes());
        raw.extend_from_slice(&a.origin.pos.to_le_bytes());
        raw.extend_from_slice(&[0; 8]);
        // The original travels beside the event (see `Accepted`); one still
        // inside the event is stored there, not lost.
        serde_json::to_writer(&mut raw, e).map_err(|err| EventStoreError::Corrupt(err.to_string()))?;
        let doc_len = raw.len() - at - HEADER;
        let orig_len = match &a.original {
            Some(o) => {
                raw.extend_from_slice(o.as_bytes());
                u32::try_from(o.len()).ok().filter(|&n| n != NO_ORIGINAL)
            }
            None => Some(NO_ORIGINAL),
        };
        let (Ok(doc_len), Some(orig_len)) = (u32::try_from(doc_len), orig_len) else {
            return Err(EventStoreError::Invalid("an event over 4 GiB".into()));
        };
        raw[at + 16..at + 20].copy_from_slice(&doc_len.to_le_bytes());
        raw[at + 20..at + 24].copy_from_slice(&orig_len.to_le_bytes());
        ips.extend([&e.source, &e.destination].into_iter().flatten().filter_map(|ep| ep.ip).map(ip_key));
        texts.extend(e.shouwang.units.iter().map(|u| (Kind::Unit, u.as_str())));
        texts.insert((Kind::Dataset, e.event.dataset.as_str()));
        names.extend(event_names(e));
    }
    let mut keys: Vec<(Kind, Vec<u8>)> = ips.into_iter().map(|k| (Kind::Ip, k.to_vec())).collect();
    keys.extend(texts.into_iter().map(|(kind, t)| (kind, t.as_bytes().to_vec())));
    keys.extend(names.into_iter().map(|n| (Kind::Name, n.into_bytes())));
    keys.sort_unstable();
    if raw.len() > MAX_RAW {
        return Err(EventStoreError::Invalid(format!("a block of {} bytes; batches must be smaller", raw.len())));
    }
    let data = zstd::bulk::compress(&raw, LEVEL).map_err(|e| EventStoreError::Corrupt(format!("compressing a block: {e}")))?;
    Ok(Encoded { first_pos, last_pos, ts_min, ts_max, raw_len: raw.len(), data, keys })
}

pub(crate) fn decompress(data: &[u8], raw_len: i64) -> Result<Vec<u8>> {
    let cap =
        usize::try_from(raw_len).ok().filter(|&n| n <= MAX_RAW).ok_or_else(|| EventStoreError::Corrupt(format!("block size {raw_len}")))?;
    let raw = zstd::bulk::decompress(data, cap).map_err(|e| EventStoreError::Corrupt(format!("block: {e}")))?;
    if raw.len() != cap {
        return Err(EventStoreError::Corrupt(format!("block holds {} bytes, {cap} recorded", raw.len())));
    }
    Ok(raw)
}

/// One event in a decompressed block.
pub(crate) struct Slot<'a> {
    pub index: usize,
    pub ts: i64,
    pub doc: &'a [u8],
    pub original: Option<&'a [u8]>,
}

/// The events of a decompressed block, in stored order.
pub(crate) fn slots(raw: &[u8]) -> impl Iterator<Item = Result<Slot<'_>>> + '_ {
    let mut at = 0;
    let mut index = 0;
    std::iter::from_fn(move || {
        if at == raw.len() {
            return None;
        }
        let corrupt = || Some(Err(EventStoreError::Corrupt(format!("block truncated at byte {at}"))));
        let Some(h) = raw.get(at..at + HEADER) else { return corrupt() };
        let num = |r: std::ops::Range<usize>| u64::from_le_bytes(h[r].try_into().expect("8 bytes"));
        let len = |r: std::ops::Range<usize>| u32::from_le_bytes(h[r].try_into().expect("4 bytes"));
        let (ts, doc_len, orig_len) = (num(0..8) as i64, len(16..20) as usize, len(20..24));
        let doc_end = at + HEADER + doc_len;
        let end = doc_end + if orig_len == NO_ORIGINAL { 0 } else { orig_len as usize };
        let (Some(doc), Some(orig)) = (raw.get(at + HEADER..doc_end), raw.get(doc_end..end)) else { return corrupt() };
        let slot = Slot { index, ts, doc, original: (orig_len != NO_ORIGINAL).then_some(orig) };
        (at, index) = (end, index + 1);
        Some(Ok(slot))
    })
}

impl Slot<'_> {
    /// The stored document with `event.original` put back: what a search returns.
    pub fn document(&self) -> Result<String> {
        let corrupt = |e: serde_json::Error| EventStoreError::Corrupt(format!("stored event: {e}"));
        let Some(original) = self.original else {
            return String::from_utf8(self.doc.to_vec()).map_err(|e| EventStoreError::Corrupt(e.to_string()));
        };
        let mut doc: serde_json::Value = serde_json::from_slice(self.doc).map_err(corrupt)?;
        let original = String::from_utf8_lossy(original).into_owned();
        if let Some(meta) = doc.get_mut("event").and_then(|m| m.as_object_mut()) {
            meta.insert("original".into(), serde_json::Value::String(original));
        }
        serde_json::to_string(&doc).map_err(corrupt)
    }
}

/// A search's per-event test, prepared once.
pub(crate) struct Matcher<'q> {
    q: &'q Search,
    scope: &'q Scope,
    from: i64,
    to: i64,
    text: Option<memchr::memmem::Finder<'static>>,
    /// The address range as stored keys, converted once per search.
    ip: Option<([u8; 16], [u8; 16])>,
    rule: Option<String>,
    domain: Option<String>,
    needs_doc: bool,
}

impl<'q> Matcher<'q> {
    pub fn new(q: &'q Search, scope: &'q Scope) -> Matcher<'q> {
        let text = q.text.as_ref().map(|t| memchr::memmem::Finder::new(t.to_ascii_lowercase().as_bytes()).into_owned());
        let needs_doc = matches!(scope, Scope::Units(_))
            || q.unit.is_some()
            || q.ip.is_some()
            || q.domain.is_some()
            || q.rule.is_some()
            || q.dataset.is_some();
        Matcher {
            q,
            scope,
            from: q.from.map_or(i64::MIN, |t| t.as_microsecond()),
            to: q.to.map_or(i64::MAX, |t| t.as_microsecond()),
            text,
            ip: q.ip.map(|r| (ip_key(r.first), ip_key(r.last))),
            rule: q.rule.as_ref().map(|r| r.to_ascii_lowercase()),
            domain: q.domain.as_deref().map(reversed_name),
            needs_doc,
        }
    }

    pub fn matches(&self, slot: &Slot<'_>) -> Result<bool> {
        if !(self.from <= slot.ts && slot.ts < self.to) {
            return Ok(false);
        }
        if let Some(f) = &self.text {
            let has = |b: &[u8]| f.find(&b.to_ascii_lowercase()).is_some();
            if !has(slot.doc) && !slot.original.is_some_and(has) {
                return Ok(false);
            }
        }
        if !self.needs_doc {
            return Ok(true);
        }
        let e: Event = serde_json::from_slice(slot.doc).map_err(|e| EventStoreError::Corrupt(format!("stored event: {e}")))?;
        Ok(self.matches_event(&e))
    }

    fn matches_event(&self, e: &Event) -> bool {
        let units = &e.shouwang.units;
        if let Scope::Units(allowed) = self.scope
            && !units.iter().any(|u| allowed.contains(u))
        {
            return false;
        }
        if self.q.unit.as_ref().is_some_and(|u| !units.contains(u)) {
            return false;
        }
        if let Some((lo, hi)) = &self.ip {
            let inside =
                [&e.source, &e.destination].into_iter().flatten().filter_map(|ep| ep.ip).any(|ip| (lo..=hi).contains(&&ip_key(ip)));
            if !inside {
                return false;
            }
        }
        if let Some(d) = &self.domain {
            let under = |n: &String| n == d || (n.len() > d.len() && n.starts_with(d.as_str()) && n.as_bytes()[d.len()] == b'.');
            if !event_names(e).iter().any(under) {
                return false;
            }
        }
        if let Some(r) = &self.rule {
            let rule = e.rule.as_ref();
            let by_name = rule.and_then(|x| x.name.as_deref()).is_some_and(|n| n.to_ascii_lowercase().contains(r.as_str()));
            let by_id = rule.and_then(|x| x.id.as_deref()) == self.q.rule.as_deref();
            if !by_name && !by_id {
                return false;
            }
        }
        self.q.dataset.as_ref().is_none_or(|d| &e.event.dataset == d)
    }
}

pub(crate) fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// `www.Yunling.gov.cn.` → `cn.gov.yunling.www`.
pub(crate) fn reversed_name(name: &str) -> String {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut labels: Vec<&str> = name.split('.').collect();
    labels.reverse();
    labels.join(".")
}

/// Every name an event carries, label-reversed, once each.
pub(crate) fn event_names(e: &Event) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for ep in [&e.source, &e.destination].into_iter().flatten() {
        names.extend(ep.domain.as_deref());
    }
    names.extend(e.dns.as_ref().map(|d| d.question.name.as_str()));
    names.extend(e.url.as_ref().and_then(|u| u.domain.as_deref()));
    names.extend(e.tls.as_ref().and_then(|t| t.server_name.as_deref()));
    let mut out: Vec<String> = names.into_iter().filter(|n| !n.trim().is_empty()).map(reversed_name).collect();
    out.sort_unstable();
    out.dedup();
    out
}

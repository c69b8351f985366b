//! Attribution as a service: the in-memory index built from the store,
//! swapped atomically when the registry changes, filtered by the caller's
//! visibility so a unit never learns who owns someone else's address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;
use shouwang_attribution::{Index, IndexBuilder, Query};
use shouwang_registry::{AssetKind, AssetValue, Criticality};

use crate::access::{Perm, Principal};
use crate::{Result, Store, now_micros};

#[derive(Debug, Clone, Serialize)]
pub struct UnitRef {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssetView {
    pub kind: String,
    pub value: String,
    pub system: Option<String>,
    /// The asset's own criticality over that of the system it belongs to.
    pub criticality: Criticality,
    pub valid_from: jiff::Timestamp,
}

struct Entry {
    unit: Arc<UnitRef>,
    asset: AssetView,
}

/// A registered asset an event touches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Affected {
    pub unit: String,
    /// `kind:value` as registered (`cidr:192.0.2.0/24`, `domain:example.cn`).
    pub asset: String,
    pub criticality: Criticality,
}

/// One answer, one JSON line: see README "Attribution output".
#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    pub query: String,
    /// ip | domain | email | url | asn; absent when the query did not parse.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// matched | unmatched | invalid
    pub status: &'static str,
    /// How it matched: address | domain_exact | domain_suffix | url_prefix | asn.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The instant asked about, when not now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<jiff::Timestamp>,
}

struct Snapshot {
    version: i64,
    index: Index<Entry>,
}

/// How many past-instant indexes to keep: a batch asks about one instant.
const PAST_CACHE: usize = 4;

/// Indexes for past instants, keyed by `Store::claims_epoch`.
type PastCache = Mutex<Vec<((i64, i64), Arc<Snapshot>)>>;

/// Holds the live index and answers lookups without locking.
pub struct Attributor {
    store: Store,
    live: ArcSwap<Snapshot>,
    past: PastCache,
}

impl Attributor {
    pub async fn new(store: Store) -> Result<Attributor> {
        let version = store.registry_version().await?;
        let index = build(&store, now_micros()).await?;
        Ok(Attributor { store, live: ArcSwap::from_pointee(Snapshot { version, index }), past: Mutex::new(Vec::new()) })
    }

    /// Rebuilds and swaps in a new index if the registry changed. Lookups
    /// running meanwhile keep using the old one. Returns true if rebuilt.
    pub async fn refresh(&self) -> Result<bool> {
        let version = self.store.registry_version().await?;
        if version == self.live.load().version {
            return Ok(false);
        }
        let started = std::time::Instant::now();
        let index = build(&self.store, now_micros()).await?;
        let entries = index.len();
        self.live.store(Arc::new(Snapshot { version, index }));
        tracing::info!(version, entries, ms = started.elapsed().as_millis() as u64, "attribution index rebuilt");
        Ok(true)
    }

    /// Registry version and entry count of the live index.
    pub fn stats(&self) -> (i64, usize) {
        let s = self.live.load();
        (s.version, s.index.len())
    }

    /// Attributes each query, as of `at` (default: now).
    pub async fn attribute(&self, p: &Principal, queries: &[String], at: Option<jiff::Timestamp>) -> Result<Vec<Attribution>> {
        p.require(Perm::Attribute)?;
        let vis = self.store.visibility(p).await?;
        let snap = match at {
            None => self.live.load_full(),
            Some(t) => self.past(t.as_microsecond()).await?,
        };
        Ok(queries
            .iter()
            .map(|q| {
                let mut a = Attribution {
                    query: q.clone(),
                    kind: None,
                    status: "invalid",
                    matched_by: None,
                    unit: None,
                    asset: None,
                    reason: None,
                    at,
                };
                match Query::parse(q) {
                    Err(e) => a.reason = Some(e.to_string()),
                    Ok(query) => {
                        a.kind = Some(query.kind());
                        match snap.index.lookup(&query).filter(|h| vis.sees(&h.payload.unit.code)) {
                            Some(hit) => {
                                a.status = "matched";
                                a.matched_by = Some(hit.kind.as_str());
                                a.unit = Some((*hit.payload.unit).clone());
                                a.asset = Some(hit.payload.asset.clone());
                            }
                            None => {
                                a.status = "unmatched";
                                a.reason =
                                    Some(format!("no unit {} owns this {}", if at.is_some() { "then" } else { "now" }, query.kind()));
                            }
                        }
                    }
                }
                a
            })
            .collect())
    }

    /// Attribution on the way in: every unit owning one of the event's
    /// addresses, names or URLs goes into `shouwang.units` (sorted, once
    /// each). System-level, like the pipeline it serves: who may *read* the
    /// event is decided later, from these units, by the store.
    pub fn tag<'e>(&self, events: impl IntoIterator<Item = &'e mut shouwang_ingest::Event>) {
        let snap = self.live.load();
        for e in events {
            let mut units: Vec<String> = Vec::new();
            owners(&snap.index, e, |entry| units.push(entry.unit.code.clone()));
            units.sort_unstable();
            units.dedup();
            e.shouwang.units = units;
        }
    }

    /// The registered assets an event touches, each with its unit and
    /// criticality (for grading what fired on it). System-level, like [`Attributor::tag`].
    pub fn affected(&self, e: &shouwang_ingest::Event) -> Vec<Affected> {
        let snap = self.live.load();
        let mut out: Vec<Affected> = Vec::new();
        owners(&snap.index, e, |entry| add_affected(&mut out, entry));
        out.sort_by(|a, b| (&a.unit, &a.asset).cmp(&(&b.unit, &b.asset)));
        out
    }

    /// The registered assets owning any of these addresses and names: for
    /// records that are not ECS events (offline hunting over exports).
    pub fn affected_by(&self, ips: &[std::net::IpAddr], names: &[&str]) -> Vec<Affected> {
        let snap = self.live.load();
        let ix = &snap.index;
        let mut out: Vec<Affected> = Vec::new();
        let hits = ips.iter().filter_map(|ip| ix.ip(*ip)).chain(names.iter().filter_map(|n| domain_hit(ix, n)));
        for h in hits {
            add_affected(&mut out, h.payload);
        }
        out.sort_by(|a, b| (&a.unit, &a.asset).cmp(&(&b.unit, &b.asset)));
        out
    }

    async fn past(&self, at: i64) -> Result<Arc<Snapshot>> {
        let key = self.store.claims_epoch(at).await?;
        if let Some((_, s)) = self.past.lock().expect("cache lock").iter().find(|(k, _)| *k == key) {
            return Ok(s.clone());
        }
        let snap = Arc::new(Snapshot { version: -1, index: build(&self.store, at).await? });
        let mut cache = self.past.lock().expect("cache lock");
        if cache.len() >= PAST_CACHE {
            cache.remove(0);
        }
        cache.push((key, snap.clone()));
        Ok(snap)
    }
}

/// Adds the entry's asset to `out` unless it is there already.
fn add_affected(out: &mut Vec<Affected>, entry: &Entry) {
    let asset = format!("{}:{}", entry.asset.kind, entry.asset.value);
    if !out.iter().any(|a| a.unit == entry.unit.code && a.asset == asset) {
        out.push(Affected { unit: entry.unit.code.clone(), asset, criticality: entry.asset.criticality.clone() });
    }
}

/// Calls `found` with the index entry owning each of the event's
/// addresses, names and URLs.
fn owners(ix: &Index<Entry>, e: &shouwang_ingest::Event, mut found: impl FnMut(&Entry)) {
    let mut names: Vec<&str> = Vec::with_capacity(4);
    for ep in [&e.source, &e.destination].into_iter().flatten() {
        if let Some(h) = ep.ip.and_then(|ip| ix.ip(ip)) {
            found(h.payload);
        }
        names.extend(ep.domain.as_deref());
    }
    names.extend(e.dns.as_ref().map(|d| d.question.name.as_str()));
    names.extend(e.url.as_ref().and_then(|u| u.domain.as_deref()));
    names.extend(e.tls.as_ref().and_then(|t| t.server_name.as_deref()));
    // An HTTP host is both destination.domain and url.domain:
    // canonicalise and look up each name once.
    names.sort_unstable();
    names.dedup();
    for name in names {
        if let Some(h) = domain_hit(ix, name) {
            found(h.payload);
        }
    }
    // The URL's host was looked up above; a full URL parse only
    // matters when someone claims a URL prefix on that host.
    if let Some(full) = e.url.as_ref().and_then(|u| u.full.as_deref())
        && ix.may_claim_url(full)
        && let Ok(Query::Url(u)) = Query::parse(full)
        && let Some(h) = ix.url(&u)
    {
        found(h.payload);
    }
}

/// Names in events are not always canonical (upper case, trailing dot, IDN).
fn domain_hit<'a>(ix: &'a Index<Entry>, name: &str) -> Option<shouwang_attribution::Hit<'a, Entry>> {
    match shouwang_attribution::DomainName::parse(name) {
        Ok(d) => ix.domain(d.as_str()),
        Err(_) => None,
    }
}

async fn build(store: &Store, at: i64) -> Result<Index<Entry>> {
    let claims = store.claims_at(at).await?;
    let systems: HashMap<(&str, &str), &Criticality> = claims
        .iter()
        .filter(|(c, _, _)| c.kind == AssetKind::System.as_str())
        .map(|(c, _, _)| ((c.unit.as_str(), c.value.as_str()), &c.criticality))
        .collect();
    let mut units: HashMap<&str, Arc<UnitRef>> = HashMap::new();
    let mut b = IndexBuilder::with_capacity(claims.len());
    for (c, name_zh, name_en) in &claims {
        let AssetValue::Target(target) = c.to_asset()?.value else { continue };
        let unit = units
            .entry(c.unit.as_str())
            .or_insert_with(|| Arc::new(UnitRef { code: c.unit.clone(), name_zh: name_zh.clone(), name_en: name_en.clone() }))
            .clone();
        let base = c.system.as_deref().and_then(|s| systems.get(&(c.unit.as_str(), s)));
        let criticality = base.map_or_else(|| c.criticality.clone(), |b| c.criticality.over(b));
        let asset =
            AssetView { kind: c.kind.clone(), value: c.value.clone(), system: c.system.clone(), criticality, valid_from: c.valid_from };
        b.add(target, c.precedence, Entry { unit, asset });
    }
    Ok(b.build())
}

//! A set of registry records read from files, and the checks that need more
//! than one record: duplicates, unknown references, hierarchy cycles.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::model::*;
use crate::records::*;

/// Records read from one import, each with where it came from.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub regions: Vec<(Origin, Region)>,
    pub units: Vec<(Origin, Unit)>,
    pub contacts: Vec<(Origin, Contact)>,
    pub assets: Vec<(Origin, Asset)>,
    /// The import carried a contacts section (possibly empty): the contact
    /// lists of the units it names are replaced.
    pub has_contacts: bool,
    /// The import carried an assets section (possibly empty): the asset
    /// lists of the units it names are replaced, ending claims not listed.
    pub has_assets: bool,
}

impl Bundle {
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty() && self.units.is_empty() && self.contacts.is_empty() && self.assets.is_empty()
    }

    pub fn record_count(&self) -> usize {
        self.regions.len() + self.units.len() + self.contacts.len() + self.assets.len()
    }
}

/// One rejected record or file: `file:line:field: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub origin: Origin,
    pub field: Option<String>,
    pub reason: String,
}

impl ImportError {
    pub fn new(origin: &Origin, field: Option<&str>, reason: impl Into<String>) -> Self {
        ImportError { origin: origin.clone(), field: field.map(str::to_string), reason: reason.into() }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}:{}: {}", self.origin, field, self.reason),
            None => write!(f, "{}: {}", self.origin, self.reason),
        }
    }
}

/// What the store already holds that a bundle may refer to.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// region code -> (level, parent)
    pub regions: HashMap<RegionCode, (RegionLevel, Option<RegionCode>)>,
    /// unit code -> supervisor
    pub units: HashMap<UnitCode, Option<UnitCode>>,
}

/// Every cross-record problem in `bundle` given what the store holds.
/// Records in the bundle replace stored ones with the same key.
pub fn validate(bundle: &Bundle, known: &Known) -> Vec<ImportError> {
    let mut errs = Vec::new();

    // Regions: the bundle's view overrides the store's.
    let mut regions = known.regions.clone();
    let mut seen: HashMap<&RegionCode, &Origin> = HashMap::new();
    for (o, r) in &bundle.regions {
        if let Some(first) = seen.insert(&r.code, o) {
            errs.push(ImportError::new(o, Some("code"), format!("duplicate region `{}` (first at {first})", r.code)));
        }
        regions.insert(r.code.clone(), (r.level, r.parent.clone()));
    }
    for (o, r) in &bundle.regions {
        let Some(parent) = &r.parent else { continue };
        match regions.get(parent) {
            None => errs.push(ImportError::new(o, Some("parent"), format!("unknown parent region `{parent}`"))),
            Some((plevel, _)) if plevel.child() != Some(r.level) => {
                errs.push(ImportError::new(o, Some("level"), format!("a {} cannot sit under the {} `{parent}`", r.level, plevel)))
            }
            Some(_) => {}
        }
        if let Some(cycle) = find_cycle(&r.code, |c| regions.get(c).and_then(|(_, p)| p.as_ref())) {
            errs.push(ImportError::new(o, Some("parent"), format!("region hierarchy has a cycle: {cycle}")));
        }
    }

    // Units.
    let mut units = known.units.clone();
    let mut seen: HashMap<&UnitCode, &Origin> = HashMap::new();
    for (o, u) in &bundle.units {
        if let Some(first) = seen.insert(&u.code, o) {
            errs.push(ImportError::new(o, Some("code"), format!("duplicate unit `{}` (first at {first})", u.code)));
        }
        units.insert(u.code.clone(), u.supervisor.clone());
    }
    for (o, u) in &bundle.units {
        if !regions.contains_key(&u.region) {
            errs.push(ImportError::new(o, Some("region"), format!("unknown region `{}`", u.region)));
        }
        if let Some(j) = &u.jurisdiction
            && !regions.contains_key(j)
        {
            errs.push(ImportError::new(o, Some("jurisdiction"), format!("unknown region `{j}`")));
        }
        if let Some(s) = &u.supervisor {
            if !units.contains_key(s) {
                errs.push(ImportError::new(o, Some("supervisor"), format!("unknown supervising unit `{s}`")));
            } else if let Some(cycle) = find_cycle(&u.code, |c| units.get(c).and_then(Option::as_ref)) {
                errs.push(ImportError::new(o, Some("supervisor"), format!("supervision has a cycle: {cycle}")));
            }
        }
    }

    // Contacts: the same person in the same role twice is a typo, not two contacts.
    let mut seen: HashMap<(&UnitCode, ContactRole, &str), &Origin> = HashMap::new();
    for (o, c) in &bundle.contacts {
        if !units.contains_key(&c.unit) {
            errs.push(ImportError::new(o, Some("unit"), format!("unknown unit `{}`", c.unit)));
        }
        if let Some(first) = seen.insert((&c.unit, c.role, c.name.as_str()), o) {
            errs.push(ImportError::new(o, Some("name"), format!("duplicate contact (first at {first})")));
        }
    }

    // Assets.
    let mut seen: HashMap<(&UnitCode, &AssetValue), &Origin> = HashMap::new();
    let systems: HashSet<(&UnitCode, &str)> = bundle
        .assets
        .iter()
        .filter_map(|(_, a)| match &a.value {
            AssetValue::System(name) => Some((&a.unit, name.as_str())),
            _ => None,
        })
        .collect();
    for (o, a) in &bundle.assets {
        if !units.contains_key(&a.unit) {
            errs.push(ImportError::new(o, Some("unit"), format!("unknown unit `{}`", a.unit)));
        }
        if let Some(first) = seen.insert((&a.unit, &a.value), o) {
            errs.push(ImportError::new(
                o,
                Some("value"),
                format!("duplicate asset `{}` for this unit (first at {first})", a.value.value()),
            ));
        }
        if let Some(s) = &a.system {
            if matches!(a.value, AssetValue::System(_)) {
                errs.push(ImportError::new(o, Some("system"), "a system cannot belong to another system"));
            } else if !systems.contains(&(&a.unit, s.as_str())) {
                errs.push(ImportError::new(o, Some("system"), format!("unit `{}` has no system asset named `{s}` in this import", a.unit)));
            }
        }
    }
    errs
}

/// If following `next` from `start` comes back to `start`, the path.
fn find_cycle<'a, K: Eq + fmt::Display + 'a>(start: &'a K, next: impl Fn(&K) -> Option<&'a K>) -> Option<String> {
    let mut path = vec![start];
    let mut cur = start;
    // Bounded walk: a chain longer than this is itself a data error.
    for _ in 0..10_000 {
        cur = next(cur)?;
        if cur == start {
            path.push(cur);
            return Some(path.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(" → "));
        }
        if path.contains(&cur) {
            return None; // a cycle further up: reported at its own members
        }
        path.push(cur);
    }
    Some(format!("{start} → … (more than 10000 levels)"))
}

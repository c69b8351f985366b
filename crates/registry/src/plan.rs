//! What an import would change: the diff a dry run shows and the store applies.
//!
//! An import is a statement about the units it names: their fields, and (when
//! it carries those sections) their complete contact and asset lists. Units
//! it does not name are untouched. An asset listed as before is unchanged; one
//! no longer listed has its claim ended; one whose attributes changed has its
//! claim ended and a new one opened, so history is never overwritten.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::bundle::Bundle;
use crate::model::*;
use crate::records::*;

/// The registry's current state, as the store sees it (open claims only).
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub regions: HashMap<RegionCode, Region>,
    pub units: HashMap<UnitCode, Unit>,
    pub contacts: HashMap<UnitCode, Vec<Contact>>,
    pub assets: HashMap<UnitCode, Vec<Asset>>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub regions_added: Vec<Region>,
    pub regions_changed: Vec<Region>,
    pub units_added: Vec<Unit>,
    pub units_changed: Vec<Unit>,
    /// Units whose contact list is replaced, with the new list.
    pub contacts_replaced: Vec<(UnitCode, Vec<Contact>)>,
    /// Claims to open (new assets, moved-in assets, changed attributes).
    pub claims_opened: Vec<Asset>,
    /// Claims to end: (unit, asset).
    pub claims_ended: Vec<(UnitCode, AssetValue)>,
    /// Records that match what is stored.
    pub unchanged: usize,
}

/// An asset whose claim ends at one unit and opens at another in one import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub kind: &'static str,
    pub value: String,
    pub from: String,
    pub to: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.regions_added.is_empty()
            && self.regions_changed.is_empty()
            && self.units_added.is_empty()
            && self.units_changed.is_empty()
            && self.contacts_replaced.is_empty()
            && self.claims_opened.is_empty()
            && self.claims_ended.is_empty()
    }

    pub fn moved(&self) -> Vec<Moved> {
        let ended: HashMap<&AssetValue, &UnitCode> = self.claims_ended.iter().map(|(u, v)| (v, u)).collect();
        self.claims_opened
            .iter()
            .filter_map(|a| {
                let from = ended.get(&a.value)?;
                (**from != a.unit).then(|| Moved {
                    kind: a.value.kind().as_str(),
                    value: a.value.value(),
                    from: from.to_string(),
                    to: a.unit.to_string(),
                })
            })
            .collect()
    }
}

/// Computes the plan. `bundle` must already have passed `validate`.
pub fn plan(bundle: &Bundle, current: &Current) -> Plan {
    let mut p = Plan::default();
    for (_, r) in &bundle.regions {
        match current.regions.get(&r.code) {
            None => p.regions_added.push(r.clone()),
            Some(old) if old != r => p.regions_changed.push(r.clone()),
            Some(_) => p.unchanged += 1,
        }
    }
    for (_, u) in &bundle.units {
        match current.units.get(&u.code) {
            None => p.units_added.push(u.clone()),
            Some(old) if old != u => p.units_changed.push(u.clone()),
            Some(_) => p.unchanged += 1,
        }
    }
    let named_units =
        |extra: Vec<&UnitCode>| -> BTreeSet<UnitCode> { bundle.units.iter().map(|(_, u)| &u.code).chain(extra).cloned().collect() };
    if bundle.has_contacts {
        let mut by_unit: HashMap<&UnitCode, Vec<Contact>> = HashMap::new();
        for (_, c) in &bundle.contacts {
            by_unit.entry(&c.unit).or_default().push(c.clone());
        }
        for unit in named_units(bundle.contacts.iter().map(|(_, c)| &c.unit).collect()) {
            let new = by_unit.remove(&unit).unwrap_or_default();
            let old = current.contacts.get(&unit).map(Vec::as_slice).unwrap_or_default();
            if same_set(old, &new) {
                p.unchanged += new.len();
            } else {
                p.contacts_replaced.push((unit, new));
            }
        }
    }
    if bundle.has_assets {
        let mut by_unit: HashMap<&UnitCode, Vec<&Asset>> = HashMap::new();
        for (_, a) in &bundle.assets {
            by_unit.entry(&a.unit).or_default().push(a);
        }
        for unit in named_units(bundle.assets.iter().map(|(_, a)| &a.unit).collect()) {
            let new = by_unit.remove(&unit).unwrap_or_default();
            let old: HashMap<&AssetValue, &Asset> =
                current.assets.get(&unit).map(|v| v.iter().map(|a| (&a.value, a)).collect()).unwrap_or_default();
            let mut kept = BTreeSet::new();
            for a in new {
                match old.get(&a.value) {
                    Some(o) if same_claim(o, a) => {
                        p.unchanged += 1;
                        kept.insert(&a.value);
                    }
                    Some(_) => {
                        // Attributes changed: end the old claim, open a new one.
                        p.claims_ended.push((unit.clone(), a.value.clone()));
                        p.claims_opened.push(a.clone());
                        kept.insert(&a.value);
                    }
                    None => p.claims_opened.push(a.clone()),
                }
            }
            let mut gone: Vec<_> = old.keys().filter(|v| !kept.contains(*v)).map(|v| (*v).clone()).collect();
            gone.sort();
            p.claims_ended.extend(gone.into_iter().map(|v| (unit.clone(), v)));
        }
    }
    p
}

/// Contact lists compare as sets: order in a file carries no meaning.
fn same_set(a: &[Contact], b: &[Contact]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// Same claim if everything but the start time matches (an import without
/// `valid_from` restates a claim, it does not restart it).
fn same_claim(old: &Asset, new: &Asset) -> bool {
    old.system == new.system
        && old.precedence == new.precedence
        && old.criticality == new.criticality
        && old.note == new.note
        && new.valid_from.is_none_or(|t| Some(t) == old.valid_from)
}

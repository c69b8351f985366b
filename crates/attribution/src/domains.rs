//! The domain table: most-specific suffix match with one memory access per
//! probed suffix.
//!
//! A general hash map keyed by `Box<str>` costs three dependent cache misses
//! per hit (control bytes, bucket, heap string). Here each slot holds the
//! suffix's 64-bit hash and its two entry ids inline, in one flat
//! linear-probing array kept at most half full, so a probe is one access.
//! The name is compared once, on the final match, so a hash collision can
//! cost a probe but can never produce a wrong answer.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;

/// 16 bytes: four slots per cache line.
#[derive(Clone, Copy, Default)]
struct Slot {
    /// High half of the name's hash; 0 marks an empty slot.
    fingerprint: u32,
    /// Where the name sits in `names`: a length byte, then the bytes.
    at: u32,
    /// Entry ids (0 = none) for the exact name and for `*.name`.
    exact: u32,
    tree: u32,
}

pub(crate) struct DomainTable {
    slots: Box<[Slot]>,
    mask: usize,
    names: Vec<u8>,
    state: RandomState,
}

impl DomainTable {
    /// `entries`: (name, subdomains, entry id, precedence). For a name
    /// claimed twice the higher precedence wins, then the first added.
    pub(crate) fn build(entries: &[(&str, bool, u32, i64)]) -> DomainTable {
        let cap = (entries.len() * 2).next_power_of_two().max(16);
        let mut t = DomainTable {
            slots: vec![Slot::default(); cap].into_boxed_slice(),
            mask: cap - 1,
            names: Vec::new(),
            state: RandomState::default(),
        };
        // Build-time map from name to slot: distinct names get distinct
        // slots even if their 64-bit hashes collide.
        let mut slot_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(entries.len());
        let mut best: std::collections::HashMap<(usize, bool), i64> = std::collections::HashMap::new();
        for &(name, subdomains, id, precedence) in entries {
            let i = *slot_of.entry(name).or_insert_with(|| {
                let (mut i, fingerprint) = t.place(name);
                while t.slots[i].fingerprint != 0 {
                    i = (i + 1) & t.mask;
                }
                t.slots[i] = Slot { fingerprint, at: t.names.len() as u32, ..Slot::default() };
                // Names are at most 253 bytes (DomainName checks), so one length byte.
                t.names.push(name.len() as u8);
                t.names.extend_from_slice(name.as_bytes());
                i
            });
            if best.get(&(i, subdomains)).is_none_or(|&p| precedence > p) {
                best.insert((i, subdomains), precedence);
                let slot = &mut t.slots[i];
                if subdomains { slot.tree = id } else { slot.exact = id }
            }
        }
        t
    }

    /// Home slot (low bits) and fingerprint (high half, never 0).
    #[inline]
    fn place(&self, name: &str) -> (usize, u32) {
        let h = self.state.hash_one(name);
        (h as usize & self.mask, ((h >> 32) as u32).max(1))
    }

    /// (exact entry, subtree entry) for exactly `name`.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<(u32, u32)> {
        let (mut i, fingerprint) = self.place(name);
        loop {
            let s = &self.slots[i];
            if s.fingerprint == 0 {
                return None;
            }
            let at = s.at as usize;
            if s.fingerprint == fingerprint
                && self.names.get(at).is_some_and(|&len| usize::from(len) == name.len())
                && self.names.get(at + 1..at + 1 + name.len()) == Some(name.as_bytes())
            {
                return Some((s.exact, s.tree));
            }
            i = (i + 1) & self.mask;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.iter().all(|s| s.fingerprint == 0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>() + self.names.capacity()
    }
}

//! Longest-prefix match as a poptrie (Asai & Ohara, SIGCOMM 2015).
//!
//! The input is not a prefix list but a *flattened* map: disjoint, sorted
//! address intervals, each carrying the winning entry (or 0 for "nobody").
//! Overlap resolution (most specific wins, then precedence) happens once,
//! while flattening; the trie only answers "which interval holds this key".
//!
//! Layout: a direct-pointing table on the top `S` bits, then 64-way nodes of
//! 6 bits each. A node stores two bitmaps instead of 64 child slots:
//! `vector` marks children that are nodes, `leafvec` marks where a run of
//! equal leaves starts. A child's slot is a popcount of the bitmap below it,
//! so a node is 24 bytes however sparse it is, and runs of identical leaves
//! (the common case: most of a /24 belongs to one unit) cost one `u32`.
//! A lookup is one table read plus one node and popcount per 6 bits, with no
//! branches that depend on the data beyond "node or leaf".
//!
//! Sparse deep prefixes (IPv6 /64s and /128s far from any other) would make
//! chains of nodes with one interesting child each: a dependent memory access
//! and 24+ bytes per 6 bits. Such chains are path-compressed into one *skip
//! node*: "if the next 6·k bits equal X continue k levels down, else the
//! answer is v".

/// An unsigned key type: IPv4 as `u32`, IPv6 as `u128`.
pub trait Key: Copy + Ord + std::fmt::Debug {
    const BITS: u32;
    const ZERO: Self;
    const MAX: Self;
    /// Bits `[from, from + n)` counted from the most significant bit.
    fn bits(self, from: u32, n: u32) -> usize;
    /// The first key of the block at `index` of size `2^(BITS - depth)`
    /// within the block starting at `base`.
    fn child_base(base: Self, index: usize, depth: u32, stride: u32) -> Self;
    /// The last key of the block of size `2^(BITS - depth)` starting at `base`.
    fn block_last(base: Self, depth: u32) -> Self;
    fn succ(self) -> Self;
    fn pred(self) -> Self;
    /// `a` and `b` agree on their first `depth` bits.
    fn same_block(a: Self, b: Self, depth: u32) -> bool;
    /// The first key of the `depth`-bit block holding `a`.
    fn block_first(a: Self, depth: u32) -> Self;
}

macro_rules! impl_key {
    ($t:ty) => {
        impl Key for $t {
            const BITS: u32 = <$t>::BITS;
            const ZERO: Self = 0;
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn bits(self, from: u32, n: u32) -> usize {
                ((self << from) >> (Self::BITS - n)) as usize
            }
            fn child_base(base: Self, index: usize, depth: u32, stride: u32) -> Self {
                base | ((index as $t) << (Self::BITS - depth - stride))
            }
            fn block_last(base: Self, depth: u32) -> Self {
                if depth >= Self::BITS { base } else { base | (Self::MAX >> depth) }
            }
            fn succ(self) -> Self {
                self.wrapping_add(1)
            }
            fn pred(self) -> Self {
                self.wrapping_sub(1)
            }
            fn same_block(a: Self, b: Self, depth: u32) -> bool {
                depth == 0 || (a ^ b) >> (Self::BITS - depth) == 0
            }
            fn block_first(a: Self, depth: u32) -> Self {
                if depth >= Self::BITS { a } else { a & !(Self::MAX >> depth) }
            }
        }
    };
}
impl_key!(u32);
impl_key!(u128);

const STRIDE: u32 = 6;
const NODE_BIT: u32 = 1 << 31;
/// A skip node's `vector` holds the skipped level count in its top 4 bits
/// and the expected key bits below; its `leafvec` is all ones. No ordinary
/// node has a bit set in both bitmaps, so `vector & leafvec != 0` marks it.
const SKIP_MASK: u64 = (1 << 60) - 1;
const MAX_SKIP_LEVELS: u32 = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Node {
    vector: u64,
    leafvec: u64,
    base0: u32,
    base1: u32,
}

/// The built structure. `S` is the width of the direct-pointing table;
/// `(K::BITS - S)` must be a multiple of 6 so every node is a full stride.
#[derive(Debug, Clone)]
pub struct Poptrie<K: Key, const S: u32> {
    direct: Box<[u32]>,
    nodes: Vec<Node>,
    leaves: Vec<u32>,
    _key: std::marker::PhantomData<K>,
}

/// Disjoint sorted intervals: `starts[i]..starts[i+1]` maps to `values[i]`.
/// `starts[0]` is always `K::ZERO`, so every key falls in exactly one.
#[derive(Debug, Clone)]
pub struct Flat<K> {
    pub starts: Vec<K>,
    pub values: Vec<u32>,
}

impl<K: Key> Flat<K> {
    /// Index of the interval holding `k`.
    fn find(&self, k: K) -> usize {
        self.starts.partition_point(|&s| s <= k) - 1
    }

    /// The value if `[lo, hi]` lies in one interval.
    fn uniform(&self, lo: K, hi: K) -> Option<u32> {
        let i = self.find(lo);
        match self.starts.get(i + 1) {
            Some(&next) if next <= hi => None,
            _ => Some(self.values[i]),
        }
    }

    /// The first and last change points in `(lo, hi]`, if any.
    fn changes_in(&self, lo: K, hi: K) -> Option<(K, K)> {
        let i = self.starts.partition_point(|&s| s <= lo);
        let j = self.starts.partition_point(|&s| s <= hi);
        (i < j).then(|| (self.starts[i], self.starts[j - 1]))
    }

    /// Reference lookup by binary search (tests and benchmarks compare to it).
    pub fn get(&self, k: K) -> u32 {
        self.values[self.find(k)]
    }
}

impl<K: Key, const S: u32> Poptrie<K, S> {
    const CHECK: () = assert!((K::BITS - S).is_multiple_of(STRIDE) && S <= 24);

    pub fn build(flat: &Flat<K>) -> Self {
        let () = Self::CHECK;
        let mut t = Poptrie { direct: Box::default(), nodes: Vec::new(), leaves: Vec::new(), _key: Default::default() };
        let mut direct = vec![0u32; 1 << S];
        for (i, slot) in direct.iter_mut().enumerate() {
            let base = K::child_base(K::ZERO, i, 0, S);
            *slot = match flat.uniform(base, K::block_last(base, S)) {
                Some(v) => {
                    assert!(v < NODE_BIT, "entry id overflow");
                    v
                }
                None => {
                    let at = t.nodes.len();
                    t.nodes.push(Node::default());
                    t.fill(flat, at, base, S);
                    NODE_BIT | at as u32
                }
            };
        }
        t.direct = direct.into_boxed_slice();
        t
    }

    /// Fills node `at`, covering the block at `base` of depth `depth`.
    fn fill(&mut self, flat: &Flat<K>, at: usize, base: K, depth: u32) {
        if let Some((levels, sub)) = Self::skip_target(flat, base, depth) {
            let target = self.nodes.len();
            self.nodes.push(Node::default());
            let expected = sub.bits(depth, levels * STRIDE) as u64;
            self.nodes[at] =
                Node { vector: (u64::from(levels) << 60) | expected, leafvec: u64::MAX, base0: flat.get(base), base1: target as u32 };
            self.fill(flat, target, sub, depth + levels * STRIDE);
            return;
        }
        let mut node = Node { base0: self.leaves.len() as u32, ..Node::default() };
        let mut inner = Vec::new();
        let mut last_leaf: Option<u32> = None;
        for c in 0..64usize {
            let lo = K::child_base(base, c, depth, STRIDE);
            let hi = K::block_last(lo, depth + STRIDE);
            match flat.uniform(lo, hi) {
                Some(v) => {
                    if last_leaf != Some(v) {
                        node.leafvec |= 1 << c;
                        self.leaves.push(v);
                        last_leaf = Some(v);
                    }
                }
                None => {
                    node.vector |= 1 << c;
                    inner.push(lo);
                }
            }
        }
        // Children of one node are contiguous, so one base plus a popcount
        // finds any of them.
        node.base1 = self.nodes.len() as u32;
        self.nodes.resize(self.nodes.len() + inner.len(), Node::default());
        self.nodes[at] = node;
        for (j, lo) in inner.into_iter().enumerate() {
            self.fill(flat, node.base1 as usize + j, lo, depth + STRIDE);
        }
    }

    /// If everything in the block at `base` has one value `v` except inside
    /// one deeper block at least two levels down, the number of levels to
    /// skip and that block's first key (the deepest such block that still
    /// needs a node).
    fn skip_target(flat: &Flat<K>, base: K, depth: u32) -> Option<(u32, K)> {
        let hi = K::block_last(base, depth);
        if flat.get(base) != flat.get(hi) {
            return None;
        }
        // Values differ from v only on [first, last - 1].
        let (first, last) = flat.changes_in(base, hi)?;
        let (a, z) = (first, last.pred());
        let mut best = None;
        let mut levels = 2;
        while levels <= MAX_SKIP_LEVELS && depth + levels * STRIDE <= K::BITS - STRIDE {
            let d = depth + levels * STRIDE;
            if !K::same_block(a, z, d) {
                break;
            }
            let sub = K::block_first(a, d);
            if flat.uniform(sub, K::block_last(sub, d)).is_some() {
                break; // that block is a leaf: stop at the node above it
            }
            best = Some((levels, sub));
            levels += 1;
        }
        best
    }

    /// The value of the interval holding `key` (0 = none).
    #[inline]
    pub fn get(&self, key: K) -> u32 {
        let e = self.direct[key.bits(0, S)];
        if e & NODE_BIT == 0 {
            return e;
        }
        let mut node = &self.nodes[(e & !NODE_BIT) as usize];
        let mut depth = S;
        loop {
            if node.vector & node.leafvec != 0 {
                let bits = (node.vector >> 60) as u32 * STRIDE;
                if key.bits(depth, bits) as u64 != node.vector & SKIP_MASK {
                    return node.base0;
                }
                node = &self.nodes[node.base1 as usize];
                depth += bits;
                continue;
            }
            let c = key.bits(depth, STRIDE) as u32;
            let upto = (2u64 << c).wrapping_sub(1); // bits 0..=c
            if node.vector & (1 << c) != 0 {
                let i = node.base1 + (node.vector & upto).count_ones() - 1;
                node = &self.nodes[i as usize];
                depth += STRIDE;
            } else {
                let i = node.base0 + (node.leafvec & upto).count_ones() - 1;
                return self.leaves[i as usize];
            }
        }
    }

    /// Looks up every key of `keys` into `out` (same length). Lookups are
    /// walked in lockstep groups: each round loads one node per unfinished
    /// lookup, and those loads are independent, so the CPU overlaps their
    /// cache misses instead of waiting on one chain at a time. Same answers
    /// as [`get`](Self::get), several times the throughput on a cold cache.
    pub fn get_many(&self, keys: &[K], out: &mut [u32]) {
        const LANES: usize = 16;
        assert_eq!(keys.len(), out.len(), "one output per key");
        for (keys, out) in keys.chunks(LANES).zip(out.chunks_mut(LANES)) {
            let mut node = [0u32; LANES];
            let mut depth = [S; LANES];
            let mut pending = 0u32; // bit l: lane l still walking nodes
            for (l, &k) in keys.iter().enumerate() {
                let e = self.direct[k.bits(0, S)];
                out[l] = e;
                node[l] = e & !NODE_BIT;
                pending |= (e >> 31) << l;
            }
            while pending != 0 {
                let mut lanes = pending;
                while lanes != 0 {
                    let l = lanes.trailing_zeros() as usize;
                    lanes &= lanes - 1;
                    let n = &self.nodes[node[l] as usize];
                    if n.vector & n.leafvec != 0 {
                        let bits = (n.vector >> 60) as u32 * STRIDE;
                        if keys[l].bits(depth[l], bits) as u64 == n.vector & SKIP_MASK {
                            node[l] = n.base1;
                            depth[l] += bits;
                        } else {
                            out[l] = n.base0;
                            pending &= !(1 << l);
                        }
                        continue;
                    }
                    let c = keys[l].bits(depth[l], STRIDE) as u32;
                    let upto = (2u64 << c).wrapping_sub(1);
                    if n.vector & (1 << c) != 0 {
                        node[l] = n.base1 + (n.vector & upto).count_ones() - 1;
                        depth[l] += STRIDE;
                    } else {
                        out[l] = self.leaves[(n.base0 + (n.leafvec & upto).count_ones() - 1) as usize];
                        pending &= !(1 << l);
                    }
                }
            }
        }
    }

    #[cfg(test)]
    fn skip_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| n.vector & n.leafvec != 0).count()
    }

    /// Heap bytes held: what "memory per prefix" is measured from.
    pub fn heap_bytes(&self) -> usize {
        self.direct.len() * 4 + self.nodes.capacity() * std::mem::size_of::<Node>() + self.leaves.capacity() * 4
    }
}

/// One claimed interval to flatten.
#[derive(Debug, Clone, Copy)]
pub struct Span<K> {
    pub first: K,
    pub last: K,
    /// Higher wins among spans of the same size.
    pub precedence: i64,
    /// Value to store; must be non-zero.
    pub value: u32,
}

/// Resolves overlaps and produces disjoint intervals: a smaller span wins
/// over a larger one it overlaps (most specific wins); among equal sizes the
/// higher precedence wins, then the lower value (first registered).
pub fn flatten<K: Key + Size>(spans: &[Span<K>]) -> Flat<K> {
    let mut order: Vec<&Span<K>> = spans.iter().collect();
    // Paint least specific first so more specific spans overwrite them.
    order.sort_by(|a, b| b.size().cmp(&a.size()).then(a.precedence.cmp(&b.precedence)).then(b.value.cmp(&a.value)));
    let mut map: std::collections::BTreeMap<K, u32> = std::collections::BTreeMap::new();
    map.insert(K::ZERO, 0);
    for s in order {
        // Value in force just after `last`, to restore after the span.
        let after = if s.last == K::MAX {
            None
        } else {
            Some((s.last.succ(), *map.range(..=s.last.succ()).next_back().expect("key 0 is always present").1))
        };
        let doomed: Vec<K> = map.range(s.first..=s.last).map(|(k, _)| *k).collect();
        for k in doomed {
            map.remove(&k);
        }
        map.insert(s.first, s.value);
        if let Some((k, v)) = after {
            map.entry(k).or_insert(v);
        }
    }
    // Merge neighbours with equal values so the trie sees true boundaries.
    let mut flat = Flat { starts: Vec::with_capacity(map.len()), values: Vec::with_capacity(map.len()) };
    for (k, v) in map {
        if flat.values.last() != Some(&v) {
            flat.starts.push(k);
            flat.values.push(v);
        }
    }
    flat
}

/// [`flatten`] for spans that are nested or disjoint, never partly
/// overlapping (CIDR prefixes are): one sort and a stack instead of an
/// ordered map, so millions of threat-feed prefixes flatten in a second.
/// The innermost span wins; of identical spans, the one sorted last.
/// Precedence is not consulted.
pub fn flatten_nested<K: Key + Size>(spans: &mut [Span<K>]) -> Flat<K> {
    spans.sort_unstable_by(|a, b| a.first.cmp(&b.first).then(b.last.cmp(&a.last)).then(a.value.cmp(&b.value)));
    let mut flat = Flat { starts: Vec::with_capacity(2 * spans.len() + 1), values: Vec::with_capacity(2 * spans.len() + 1) };
    flat.set(K::ZERO, 0);
    let mut open: Vec<&Span<K>> = Vec::new();
    for s in spans.iter() {
        while open.last().is_some_and(|o| o.last < s.first) {
            flat.close(&mut open);
        }
        flat.set(s.first, s.value);
        open.push(s);
    }
    while !open.is_empty() {
        flat.close(&mut open);
    }
    flat.starts.shrink_to_fit();
    flat.values.shrink_to_fit();
    flat
}

impl<K: Key> Flat<K> {
    /// Sets the value from `start` on; a later call for the same start
    /// replaces it, and a value equal to the one before extends that.
    fn set(&mut self, start: K, value: u32) {
        if self.starts.last() == Some(&start) {
            self.starts.pop();
            self.values.pop();
        }
        if self.values.last() != Some(&value) {
            self.starts.push(start);
            self.values.push(value);
        }
    }

    /// Closes the innermost open span: its parent's value resumes after it.
    fn close(&mut self, open: &mut Vec<&Span<K>>) {
        let done = open.pop().expect("called with a span open");
        if done.last != K::MAX {
            self.set(done.last.succ(), open.last().map_or(0, |p| p.value));
        }
    }
}

/// Span size for ordering, as `last - first` (fits the key type).
pub trait Size {
    fn span_size(first: Self, last: Self) -> u128;
}
impl Size for u32 {
    fn span_size(first: Self, last: Self) -> u128 {
        u128::from(last - first)
    }
}
impl Size for u128 {
    fn span_size(first: Self, last: Self) -> u128 {
        last - first
    }
}

impl<K: Key + Size> Span<K> {
    fn size(&self) -> u128 {
        K::span_size(self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(first: u32, last: u32, value: u32) -> Span<u32> {
        Span { first, last, precedence: 0, value }
    }

    /// Deterministic xorshift so the test needs no dependency.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn most_specific_wins_then_precedence() {
        let spans = [
            span(0x0a00_0000, 0x0aff_ffff, 1), // 10/8
            span(0x0a01_0000, 0x0a01_ffff, 2), // 10.1/16
            Span { first: 0x0a01_0100, last: 0x0a01_01ff, precedence: 5, value: 3 },
            Span { first: 0x0a01_0100, last: 0x0a01_01ff, precedence: 1, value: 4 },
        ];
        let flat = flatten(&spans);
        let t = Poptrie::<u32, 14>::build(&flat);
        assert_eq!(t.get(0x0a00_0001), 1);
        assert_eq!(t.get(0x0a01_0001), 2);
        assert_eq!(t.get(0x0a01_0105), 3); // equal size: precedence 5 beats 1
        assert_eq!(t.get(0x0a02_0000), 1);
        assert_eq!(t.get(0x0b00_0000), 0);
        assert_eq!(t.get(0), 0);
        assert_eq!(t.get(u32::MAX), 0);
    }

    #[test]
    fn matches_reference_on_random_spans() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let mut spans = Vec::new();
        for v in 1..3000u32 {
            let len = 8 + (rng(&mut seed) % 25) as u32; // /8 ../32
            let addr = (rng(&mut seed) as u32) & super::super::target::mask32(len as u8);
            let last = addr | !super::super::target::mask32(len as u8);
            spans.push(span(addr, last, v));
        }
        spans.push(span(u32::MAX - 3, u32::MAX, 9999)); // touches the top edge
        let flat = flatten(&spans);
        let t = Poptrie::<u32, 14>::build(&flat);
        let t20 = Poptrie::<u32, 20>::build(&flat);
        for s in &spans {
            for k in [s.first, s.last, s.first.wrapping_sub(1), s.last.wrapping_add(1)] {
                assert_eq!(t.get(k), flat.get(k), "key {k:#x}");
                assert_eq!(t20.get(k), flat.get(k), "key {k:#x}");
            }
        }
        let keys: Vec<u32> = (0..100_000).map(|_| rng(&mut seed) as u32).chain(spans.iter().map(|s| s.last)).collect();
        let mut many = vec![0; keys.len()];
        t.get_many(&keys, &mut many);
        for (&k, &m) in keys.iter().zip(&many) {
            assert_eq!(t.get(k), flat.get(k));
            assert_eq!(m, flat.get(k), "get_many key {k:#x}");
        }
        // Brute force on a sample: the winner is the smallest span holding k.
        for _ in 0..2000 {
            let k = spans[(rng(&mut seed) % spans.len() as u64) as usize].first;
            let best = spans.iter().filter(|s| s.first <= k && k <= s.last).min_by_key(|s| (s.last - s.first, s.value));
            assert_eq!(t.get(k), best.map_or(0, |s| s.value));
        }
    }

    #[test]
    fn nested_prefixes_flatten_as_the_general_flatten_does() {
        let mut seed = 11;
        for round in 0..50 {
            // Distinct prefixes in a small space, so they nest often.
            let mut seen = std::collections::HashSet::new();
            let mut spans = Vec::new();
            for _ in 0..(20 + round * 20) {
                let len = 20 + (rng(&mut seed) % 13) as u32;
                let first = (0x0a00_0000 | (rng(&mut seed) as u32 & 0x3fff)) & (u32::MAX << (32 - len));
                let last = first | u32::MAX.checked_shr(len).unwrap_or(0);
                if seen.insert((first, last)) {
                    spans.push(Span { first, last, precedence: 0, value: spans.len() as u32 + 1 });
                }
            }
            spans.push(Span { first: 0, last: u32::MAX, precedence: 0, value: spans.len() as u32 + 1 });
            let want = flatten(&spans);
            let got = flatten_nested(&mut spans);
            assert_eq!((got.starts, got.values), (want.starts, want.values), "round {round}");
        }
        let edge = flatten_nested(&mut [Span { first: u32::MAX, last: u32::MAX, precedence: 0, value: 7 }]);
        assert_eq!((edge.starts, edge.values), (vec![0, u32::MAX], vec![0, 7]));
        assert_eq!(flatten_nested::<u32>(&mut []).values, vec![0]);
    }

    #[test]
    fn sparse_ipv6_uses_skip_nodes_and_matches_reference() {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let base: u128 = 0x2001_0db8 << 96;
        let mut spans = Vec::new();
        for v in 1..4000u32 {
            let len = [32u32, 40, 48, 56, 64, 64, 96, 127, 128][(rng(&mut seed) % 9) as usize];
            let r = (u128::from(rng(&mut seed)) << 64) | u128::from(rng(&mut seed));
            let host = if len == 128 { 0 } else { u128::MAX >> len };
            let first = (base | (r >> 32)) & !host;
            spans.push(Span { first, last: first | host, precedence: 0, value: v });
        }
        let flat = flatten(&spans);
        let t = Poptrie::<u128, 14>::build(&flat);
        assert!(t.skip_nodes() > 100, "sparse prefixes should compress: {}", t.skip_nodes());
        let mut keys = Vec::new();
        for s in &spans {
            // Edges, and keys that agree with a skipped path except in one bit.
            keys.extend([s.first, s.last, s.first.wrapping_sub(1), s.last.wrapping_add(1)]);
            keys.push(s.first ^ (1 << (rng(&mut seed) % 96)));
        }
        for _ in 0..20_000 {
            keys.push(base | (((u128::from(rng(&mut seed)) << 64) | u128::from(rng(&mut seed))) >> 32));
        }
        let mut many = vec![0; keys.len()];
        t.get_many(&keys, &mut many);
        for (&k, &m) in keys.iter().zip(&many) {
            assert_eq!(t.get(k), flat.get(k), "get {k:#x}");
            assert_eq!(m, flat.get(k), "get_many {k:#x}");
        }
    }

    #[test]
    fn ipv6_host_routes_and_edges() {
        let base: u128 = 0x2001_0db8 << 96;
        let spans = vec![
            Span { first: base, last: base | (u128::MAX >> 32), precedence: 0, value: 1 },
            Span { first: base | 0x1234, last: base | 0x1234, precedence: 0, value: 2 },
            Span { first: u128::MAX, last: u128::MAX, precedence: 0, value: 3 },
        ];
        let flat = flatten(&spans);
        let t = Poptrie::<u128, 14>::build(&flat);
        assert_eq!(t.get(base | 0x1234), 2);
        assert_eq!(t.get(base | 0x1235), 1);
        assert_eq!(t.get(base - 1), 0);
        assert_eq!(t.get(u128::MAX), 3);
        assert_eq!(t.get(u128::MAX - 1), 0);
    }
}

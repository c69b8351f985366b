//! `shouwang-bench`: the numbers in BENCHMARKS.md.
//!
//! Every comparison is measured in the same process on the same seeded
//! corpus, and every subject must return the same answers as ours before its
//! time counts. Each figure is the median of `--runs` runs, with min and max.
//!
//!     cargo run --release -p shouwang-bench -- [--runs 5] [--only lookups|build|import|ingest|e2e|intel|detect|hunt|notices|outbox] [--indicators N] [--copies N] [--notices N] [--messages N] [--hot] [--profile RUNG]
//!
//! Run under `taskset -c 1` for a one-core figure.

// The same allocator as the server binary, so the rungs measure what ships.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod console;
mod detect;
mod hunt;
mod intel;
mod notices;
mod outbox;
mod pathway;

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use prefix_trie::PrefixMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shouwang_attribution::lpm::{Flat, Span, flatten};
use shouwang_attribution::{DomainName, DomainPattern, Index, IndexBuilder, IpNet, Target};

const SEED: u64 = 42;
const N_V4: usize = 100_000;
const N_V6: usize = 100_000;
const N_DOMAINS: usize = 200_000;
const N_QUERIES: usize = 1_000_000;
/// The linear scan is O(prefixes) per lookup: time it on a sample.
const N_LINEAR: usize = 2_000;

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(|a, b| a.total_cmp(b));
    Stats { median: v[v.len() / 2], min: v[0], max: v[v.len() - 1] }
}

/// Whether each subject's rounds run back to back (`--hot`: its data stays
/// in cache, the usual microbenchmark) or interleaved with the others (the
/// default: each round starts with caches partly evicted, and drifting
/// machine noise hits all subjects alike).
static HOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--profile TEXT`: run only the rungs whose name ends with TEXT, `--runs`
/// times, print nothing and exit: a clean loop for `perf record`.
static PROFILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Returns lookups/s per subject. A subject is (name, queries per call, the call).
fn compare(runs: usize, subjects: &mut [(&str, usize, &mut dyn FnMut() -> u64)]) -> Vec<(String, Stats)> {
    if let Some(pattern) = PROFILE.get() {
        for (_, _, f) in subjects.iter_mut().filter(|(name, _, _)| name.ends_with(pattern.as_str())) {
            for _ in 0..runs {
                black_box(f());
            }
        }
        std::process::exit(0);
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); subjects.len()];
    let mut time = |i: usize, n: usize, f: &mut dyn FnMut() -> u64| {
        let t = Instant::now();
        black_box(f());
        rates[i].push(n as f64 / t.elapsed().as_secs_f64());
    };
    if HOT.load(std::sync::atomic::Ordering::Relaxed) {
        for (i, (_, n, f)) in subjects.iter_mut().enumerate() {
            black_box(f()); // warm caches and branch predictors
            for _ in 0..runs {
                time(i, *n, *f);
            }
        }
    } else {
        for (_, _, f) in subjects.iter_mut() {
            black_box(f());
        }
        for _ in 0..runs {
            for (i, (_, n, f)) in subjects.iter_mut().enumerate() {
                time(i, *n, *f);
            }
        }
    }
    subjects.iter().zip(rates).map(|((name, _, _), r)| (name.to_string(), stats(r))).collect()
}

fn mps(s: &Stats) -> String {
    if s.median >= 1e6 {
        format!("{:.1} M/s (min {:.1}, max {:.1})", s.median / 1e6, s.min / 1e6, s.max / 1e6)
    } else {
        format!("{:.1} k/s (min {:.1}, max {:.1})", s.median / 1e3, s.min / 1e3, s.max / 1e3)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(5);
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    let want = |s: &str| only.as_deref().is_none_or(|o| o == s);
    let hot = args.iter().any(|a| a == "--hot");
    if let Some(p) = args.iter().position(|a| a == "--profile").and_then(|i| args.get(i + 1)) {
        PROFILE.set(p.clone()).expect("set once");
    }
    HOT.store(hot, std::sync::atomic::Ordering::Relaxed);
    let regime = if hot { "hot: each subject's rounds back to back" } else { "interleaved: subjects alternate every round" };
    println!("# shouwang-bench: {runs} runs per figure, seed {SEED}, {regime}\n");
    let corpus = shouwang_demo::corpus(SEED, N_V4, N_V6, N_DOMAINS);
    if want("build") {
        build(&corpus, runs);
    }
    if want("lookups") {
        lookups(&corpus, runs);
    }
    if want("import") {
        import(runs);
    }
    if want("e2e") {
        e2e(runs);
    }
    if want("ingest") {
        ingest(runs);
    }
    if want("detect") {
        // `--indicators N` (default 1M, the issue's full-pipeline scale).
        let n =
            args.iter().position(|a| a == "--indicators").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
        detect::run(runs, n);
    }
    if want("hunt") {
        // `--copies N`: how many times the regression samples are repeated.
        let n = args.iter().position(|a| a == "--copies").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(400);
        hunt::run(runs, n);
    }
    if want("notices") {
        // `--notices N` (default 1M, the issue's scale).
        let n = args.iter().position(|a| a == "--notices").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
        notices::run(runs, n);
    }
    if want("console") {
        // `--notices N` (default 1M, the issue's scale).
        let n = args.iter().position(|a| a == "--notices").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
        let alerts =
            args.iter().position(|a| a == "--alerts").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(200_000);
        console::run(runs, n, alerts);
    }
    if want("outbox") {
        // `--messages N` per run.
        let n = args.iter().position(|a| a == "--messages").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(5_000);
        outbox::run(runs, n);
        pathway::run(runs);
    }
    if want("intel") {
        // `--indicators N` (default 10M, the issue's scale).
        let n =
            args.iter().position(|a| a == "--indicators").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
        intel::run(runs, n);
    }
}

fn builder(c: &shouwang_demo::Corpus, v6: bool) -> IndexBuilder<u32> {
    let mut b = IndexBuilder::with_capacity(c.v4.len() + c.domains.len());
    let mut n = 0u32;
    for &(a, l) in &c.v4 {
        b.add(Target::Net(IpNet::parse(&format!("{}/{l}", Ipv4Addr::from(a))).unwrap()), 0, n);
        n += 1;
    }
    if v6 {
        for &(a, l) in &c.v6 {
            b.add(Target::Net(IpNet::parse(&format!("{}/{l}", Ipv6Addr::from(a))).unwrap()), 0, n);
            n += 1;
        }
    }
    for d in &c.domains {
        b.add(Target::Domain(DomainPattern::parse(d).unwrap()), 0, n);
        n += 1;
    }
    b
}

fn build(c: &shouwang_demo::Corpus, runs: usize) {
    println!("## Index build: {N_V4} IPv4 prefixes + {N_DOMAINS} domains\n");
    let times: Vec<f64> = (0..runs)
        .map(|_| {
            let b = builder(c, false);
            let t = Instant::now();
            black_box(b.build());
            t.elapsed().as_secs_f64()
        })
        .collect();
    let s = stats(times);
    println!("- build: median {:.3} s (min {:.3}, max {:.3}); target ≤ 1 s", s.median, s.min, s.max);
    let ix = builder(c, true).build();
    let (b4, b6) = ix.trie_bytes();
    println!("- IPv4 trie: {} bytes = {:.1} bytes/prefix; target ≤ 100", b4, b4 as f64 / N_V4 as f64);
    println!("- IPv6 trie ({N_V6} prefixes): {} bytes = {:.1} bytes/prefix", b6, b6 as f64 / N_V6 as f64);
    println!();
}

fn lookups(c: &shouwang_demo::Corpus, runs: usize) {
    let ix: Index<u32> = builder(c, true).build();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);

    // IPv4: 90% inside a random prefix, 10% anywhere in 10/8 (some miss).
    let q4: Vec<u32> = (0..N_QUERIES)
        .map(|_| {
            if rng.gen_bool(0.9) {
                let (a, l) = c.v4[rng.gen_range(0..c.v4.len())];
                a | (rng.r#gen::<u32>() & if l == 32 { 0 } else { u32::MAX >> l })
            } else {
                0x0a00_0000 | (rng.r#gen::<u32>() & 0x00ff_ffff)
            }
        })
        .collect();
    let mut pt4: PrefixMap<(u32, u8), u32> = PrefixMap::new();
    let mut spans4 = Vec::new();
    for (i, &(a, l)) in c.v4.iter().enumerate() {
        pt4.insert((a, l), i as u32 + 1);
        spans4.push(Span { first: a, last: a | if l == 32 { 0 } else { u32::MAX >> l }, precedence: 0, value: i as u32 + 1 });
    }
    let flat4: Flat<u32> = flatten(&spans4);
    let ours = |a: u32| ix.lookup_v4(a);
    let crate_lpm = |a: u32| pt4.get_lpm(&(a, 32)).map_or(0, |(_, v)| *v);
    let linear = |a: u32| {
        let mut best: Option<(u8, u32)> = None;
        for (i, &(p, l)) in c.v4.iter().enumerate() {
            let m = if l == 0 { 0 } else { u32::MAX << (32 - l) };
            if a & m == p && best.is_none_or(|(bl, _)| l > bl) {
                best = Some((l, i as u32 + 1));
            }
        }
        best.map_or(0, |b| b.1)
    };
    // Same answers first: ours numbers entries in insertion order from 1.
    for &a in &q4 {
        assert_eq!(ours(a), crate_lpm(a), "IPv4 {} disagrees with prefix-trie", Ipv4Addr::from(a));
        assert_eq!(ours(a), flat4.get(a));
    }
    for &a in &q4[..N_LINEAR] {
        assert_eq!(ours(a), linear(a));
    }
    let mut many = vec![0; q4.len()];
    ix.lookup_v4_many(&q4, &mut many);
    assert!(q4.iter().zip(&many).all(|(&a, &m)| ours(a) == m), "batch IPv4 lookups disagree");
    let hits = q4.iter().filter(|&&a| ours(a) != 0).count();
    println!("## IPv4 lookups: {N_V4} prefixes, {N_QUERIES} queries ({hits} hit), one thread\n");
    let rows = compare(
        runs,
        &mut [
            ("shouwang poptrie, one at a time", q4.len(), &mut || q4.iter().map(|&a| ours(a) as u64).sum()),
            ("shouwang poptrie, batches of 1024", q4.len(), &mut || batched(&q4, |k, o| ix.lookup_v4_many(k, o))),
            ("prefix-trie 0.10 get_lpm", q4.len(), &mut || q4.iter().map(|&a| crate_lpm(a) as u64).sum()),
            ("binary search on flattened intervals", q4.len(), &mut || q4.iter().map(|&a| flat4.get(a) as u64).sum()),
            ("linear scan (first 2,000 queries)", N_LINEAR, &mut || q4[..N_LINEAR].iter().map(|&a| linear(a) as u64).sum()),
        ],
    );
    table(&rows, "≥ 30 M/s");

    ipv6(&c.v6, "scattered: /32 to /128 at random places in 2001:db8::/32", runs, &mut rng);
    ipv6(&c.v6_sites, "registry-shaped: 2,000 units' /48s holding /56s, /64s and hosts", runs, &mut rng);

    // Domains: names at and below the corpus entries, plus misses.
    let labels = ["www", "a", "mail", "x1", "portal", "api"];
    let qd: Vec<String> = (0..N_QUERIES)
        .map(|_| {
            let d = &c.domains[rng.gen_range(0..c.domains.len())];
            let base = d.strip_prefix("*.").unwrap_or(d);
            match rng.gen_range(0..10) {
                0..=4 => base.to_string(),
                5..=8 => format!("{}.{base}", labels[rng.gen_range(0..labels.len())]),
                _ => format!("miss{}.yunling.example", rng.gen_range(0..1000)),
            }
        })
        .collect();
    // General-purpose baseline: std HashMap (SipHash) over owned strings,
    // walking suffixes the same way.
    let mut naive: HashMap<String, (u32, u32)> = HashMap::new();
    for (i, d) in c.domains.iter().enumerate() {
        let p = DomainPattern::parse(d).unwrap();
        let e = naive.entry(p.name.as_str().to_string()).or_default();
        let v = (N_V4 + N_V6 + i) as u32 + 1;
        if p.subdomains { e.1 = v } else { e.0 = v }
    }
    let naive_lookup = |name: &str| -> u32 {
        let mut rest = name.to_string();
        let mut first = true;
        loop {
            if let Some(&(exact, tree)) = naive.get(&rest) {
                if first && exact != 0 {
                    return exact;
                }
                if tree != 0 {
                    return tree;
                }
            }
            first = false;
            match rest.split_once('.') {
                Some((_, r)) => rest = r.to_string(),
                None => return 0,
            }
        }
    };
    let ours_d = |name: &str| ix.domain(name).map_or(0, |h| *h.payload + 1);
    let linear_d = |name: &str| -> u32 {
        let mut best: Option<(usize, u32)> = None;
        for (i, d) in c.domains.iter().enumerate() {
            let (base, tree) = match d.strip_prefix("*.") {
                Some(b) => (b, true),
                None => (d.as_str(), false),
            };
            let hit = name == base
                || (tree && name.ends_with(base) && name.as_bytes()[name.len() - base.len() - 1] == b'.' && name.len() > base.len());
            // Longer base is more specific; at equal base, exact beats tree.
            let score = base.len() * 2 + usize::from(!tree && name == base);
            if hit && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, (N_V4 + N_V6 + i) as u32 + 1));
            }
        }
        best.map_or(0, |b| b.1)
    };
    // Queries live in one buffer, as names sliced from input lines do; a
    // separate heap allocation per name would time cache misses, not lookups.
    let mut buf = String::with_capacity(qd.iter().map(|q| q.len()).sum());
    let mut spans = Vec::with_capacity(qd.len());
    for q in &qd {
        spans.push((buf.len(), buf.len() + q.len()));
        buf.push_str(q);
    }
    let qd: Vec<&str> = spans.iter().map(|&(a, b)| &buf[a..b]).collect();
    for q in &qd {
        assert_eq!(ours_d(q), naive_lookup(q), "domain {q}");
    }
    for q in &qd[..N_LINEAR] {
        assert_eq!(ours_d(q), linear_d(q), "domain {q} vs linear");
    }
    let mut many = vec![0; qd.len()];
    ix.domain_many(&qd, &mut many);
    assert!(qd.iter().zip(&many).all(|(q, &m)| ours_d(q) == m), "batch domain lookups disagree");
    let hits = qd.iter().filter(|q| ours_d(q) != 0).count();
    println!("## Domain lookups: {N_DOMAINS} domains, {N_QUERIES} canonical names ({hits} hit), one thread\n");
    let rows = compare(
        runs,
        &mut [
            ("shouwang domain table, one at a time", qd.len(), &mut || qd.iter().map(|q| ours_d(q) as u64).sum()),
            ("shouwang domain table, batches of 1024", qd.len(), &mut || batched(&qd, |k, o| ix.domain_many(k, o))),
            ("std HashMap<String> (SipHash), owned suffixes", qd.len(), &mut || qd.iter().map(|q| naive_lookup(q) as u64).sum()),
            ("shouwang incl. DomainName::parse of the query", qd.len(), &mut || {
                qd.iter().map(|q| ours_d(DomainName::parse(q).unwrap().as_str()) as u64).sum()
            }),
            ("linear scan (first 2,000 queries)", N_LINEAR, &mut || qd[..N_LINEAR].iter().map(|q| linear_d(q) as u64).sum()),
        ],
    );
    table(&rows, "≥ 5 M/s");
}

/// Runs a batch lookup over `keys` in batches of 1024, summing the answers.
fn batched<K: Copy>(keys: &[K], f: impl Fn(&[K], &mut [u32])) -> u64 {
    let mut out = [0u32; 1024];
    let mut sum = 0u64;
    for chunk in keys.chunks(1024) {
        let out = &mut out[..chunk.len()];
        f(chunk, out);
        sum += out.iter().map(|&v| u64::from(v)).sum::<u64>();
    }
    sum
}

fn ipv6(prefixes: &[(u128, u8)], label: &str, runs: usize, rng: &mut ChaCha8Rng) {
    let mut b = IndexBuilder::with_capacity(prefixes.len());
    for (i, &(a, l)) in prefixes.iter().enumerate() {
        b.add(Target::Net(IpNet::parse(&format!("{}/{l}", Ipv6Addr::from(a))).unwrap()), 0, i as u32);
    }
    let ix: Index<u32> = b.build();
    println!("IPv6 trie: {:.1} bytes/prefix.\n", ix.trie_bytes().1 as f64 / prefixes.len() as f64);
    let q6: Vec<u128> = (0..N_QUERIES)
        .map(|_| {
            let (a, l) = prefixes[rng.gen_range(0..prefixes.len())];
            if rng.gen_bool(0.9) {
                a | (rng.r#gen::<u128>() & if l == 128 { 0 } else { u128::MAX >> l })
            } else {
                (0x2001_0db8u128 << 96) | (rng.r#gen::<u128>() >> 32)
            }
        })
        .collect();
    let mut pt6: PrefixMap<(u128, u8), u32> = PrefixMap::new();
    for (i, &(a, l)) in prefixes.iter().enumerate() {
        pt6.insert((a, l), i as u32 + 1);
    }
    let ours6 = |a: u128| ix.lookup_v6(a);
    let crate6 = |a: u128| pt6.get_lpm(&(a, 128)).map_or(0, |(_, v)| *v);
    let linear6 = |a: u128| {
        let mut best: Option<(u8, u32)> = None;
        for (i, &(p, l)) in prefixes.iter().enumerate() {
            let m = if l == 0 { 0 } else { u128::MAX << (128 - l) };
            if a & m == p && best.is_none_or(|(bl, _)| l > bl) {
                best = Some((l, i as u32 + 1));
            }
        }
        best.map_or(0, |b| b.1)
    };
    for &a in &q6 {
        assert_eq!(ours6(a), crate6(a), "IPv6 {} disagrees with prefix-trie", Ipv6Addr::from(a));
    }
    for &a in &q6[..N_LINEAR] {
        assert_eq!(ours6(a), linear6(a));
    }
    let mut many = vec![0; q6.len()];
    ix.lookup_v6_many(&q6, &mut many);
    assert!(q6.iter().zip(&many).all(|(&a, &m)| ours6(a) == m), "batch IPv6 lookups disagree");
    let hits = q6.iter().filter(|&&a| ours6(a) != 0).count();
    println!("## IPv6 lookups, {label}: {} prefixes, {N_QUERIES} queries ({hits} hit), one thread\n", prefixes.len());
    let rows = compare(
        runs,
        &mut [
            ("shouwang poptrie, one at a time", q6.len(), &mut || q6.iter().map(|&a| ours6(a) as u64).sum()),
            ("shouwang poptrie, batches of 1024", q6.len(), &mut || batched(&q6, |k, o| ix.lookup_v6_many(k, o))),
            ("prefix-trie 0.10 get_lpm", q6.len(), &mut || q6.iter().map(|&a| crate6(a) as u64).sum()),
            ("linear scan (first 2,000 queries)", N_LINEAR, &mut || q6[..N_LINEAR].iter().map(|&a| linear6(a) as u64).sum()),
        ],
    );
    table(&rows, "≥ 10 M/s");
}

fn table(rows: &[(String, Stats)], target: &str) {
    // Ratios are to our fastest way of asking, measured in the same rounds.
    let base = rows.iter().filter(|(n, _)| n.starts_with("shouwang")).map(|(_, s)| s.median).fold(0.0, f64::max);
    println!("| subject | lookups/s (median of runs, min, max) | our best ÷ subject |");
    println!("|---|---|---|");
    for (name, s) in rows {
        println!("| {name} | {} | {:.1}× |", mps(s), base / s.median);
    }
    println!("\nTarget: {target}.\n");
}

fn import(runs: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let bundle = shouwang_demo::generate(shouwang_demo::Spec::default());
    let src = tempfile::tempdir().unwrap();
    shouwang_registry::io::write_csv_dir(&bundle, src.path()).unwrap();
    let size: u64 = std::fs::read_dir(src.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    println!("## Import of the demo region from CSV into a fresh SQLite file\n");
    println!(
        "{} units, {} contacts, {} assets; {:.1} MiB of CSV.\n",
        bundle.units.len(),
        bundle.contacts.len(),
        bundle.assets.len(),
        size as f64 / 1048576.0
    );
    let mut parse = Vec::new();
    let mut total = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let b = shouwang_registry::io::read_path(src.path(), Default::default()).unwrap();
        parse.push(t.elapsed().as_secs_f64());
        rt.block_on(async {
            let store = shouwang_store::Store::open_sqlite_dir(dir.path()).await.unwrap();
            let out = store.import(&shouwang_store::Principal::local("bench"), &b, "bench", false).await.unwrap();
            assert!(out.applied, "{:?}", out.errors.first());
            store.close().await;
        });
        total.push(t.elapsed().as_secs_f64());
    }
    let (p, t) = (stats(parse), stats(total));
    println!("- read and parse the CSV files: median {:.2} s (min {:.2}, max {:.2})", p.median, p.min, p.max);
    println!(
        "- end to end (read, validate, plan, write, commit): median {:.2} s (min {:.2}, max {:.2}); target ≤ 5 s\n",
        t.median, t.min, t.max
    );
}

/// Parse rungs for EVE alerts, one core: newline scan (memory), the JSON
/// library's parse-only rung (serde_json validating into `IgnoredAny`), and
/// our parse + normalise into an ECS event.
/// Attribution against the demo region, in a real store.
/// The mixed corpus, each part through its own parser in batches of 1,024,
/// then attribution; returns how many events were attributed.
fn parse_attribute(
    parts: &[(&dyn shouwang_ingest::parse::Parser, &[String])],
    ctx: &shouwang_ingest::parse::Ctx,
    att: &shouwang_store::Attributor,
) -> u64 {
    let mut tagged = 0;
    for (p, lines) in parts {
        for chunk in lines.chunks(1024) {
            let mut events: Vec<_> = chunk.iter().filter_map(|r| p.parse(r.as_bytes(), ctx).ok()).collect();
            att.tag(&mut events);
            tagged += events.iter().filter(|e| !e.shouwang.units.is_empty()).count() as u64;
        }
    }
    tagged
}

fn demo_attributor(dir: &std::path::Path) -> shouwang_store::Attributor {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = shouwang_store::Store::open_sqlite_dir(dir).await.unwrap();
        let region = shouwang_demo::generate(shouwang_demo::Spec::default());
        assert!(store.import(&shouwang_store::Principal::local("bench"), &region, "bench", false).await.unwrap().applied);
        shouwang_store::Attributor::new(store).await.unwrap()
    })
}

/// End to end from a file into durable storage: frame, parse, attribute,
/// store (fsynced batches), checkpoint; a fresh event store each run.
fn e2e(runs: usize) {
    let n = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("eve.json");
    let mut body = String::new();
    for l in shouwang_demo::eve_alerts(SEED, n) {
        body.push_str(&l);
        body.push('\n');
    }
    std::fs::write(&file, &body).unwrap();
    let mb = body.len() as f64 / 1048576.0;
    drop(body);
    // The mixed corpus as a sensor directory: one file per format.
    let mixed_dir = dir.path().join("mixed");
    let mixed = shouwang_demo::mixed(SEED, n);
    std::fs::create_dir(&mixed_dir).unwrap();
    for (name, lines) in [("eve.json", &mixed.eve), ("fw.log", &mixed.syslog), ("ngfw.cef", &mixed.cef)] {
        std::fs::write(mixed_dir.join(name), lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }
    let mixed_n = mixed.len();
    let mixed_mb = mixed.eve.iter().chain(&mixed.syslog).chain(&mixed.cef).map(|l| l.len() + 1).sum::<usize>() as f64 / 1048576.0;
    drop(mixed);
    let att = std::sync::Arc::new(demo_attributor(&dir.path().join("db")));
    // The writer alone: the same events parsed and tagged once, outside the timing.
    let batches: Vec<shouwang_eventstore::Batch> = {
        use shouwang_ingest::parse::{Ctx, Eve, Parser};
        let ctx = Ctx::new("file");
        let text = std::fs::read_to_string(&file).unwrap();
        let mut events: Vec<_> = text.lines().map(|l| Eve.parse(l.as_bytes(), &ctx).unwrap()).collect();
        att.tag(&mut events);
        let mut pos = 0;
        let accepted: Vec<_> = events
            .into_iter()
            .map(|event| {
                pos += 1;
                shouwang_eventstore::Accepted::new(shouwang_eventstore::Origin { stream: 1, pos }, event)
            })
            .collect();
        let mut batches = Vec::new();
        let mut it = accepted.into_iter().peekable();
        while it.peek().is_some() {
            let events: Vec<_> = it.by_ref().take(shouwang_pipeline::BATCH_RECORDS).collect();
            let last = events.last().unwrap().origin.pos;
            batches.push(shouwang_eventstore::Batch { events, dead: Vec::new(), checkpoint: Some((1, last)) });
        }
        batches
    };
    let mut run = 0;
    let mut fresh = |dir: &std::path::Path| {
        run += 1;
        let path = dir.join(format!("events-{run}"));
        (std::sync::Arc::new(shouwang_eventstore::SqliteEvents::open(&path).unwrap()), path)
    };
    let on_disk = std::cell::Cell::new(0u64);
    let rows = {
        let dir = dir.path().to_path_buf();
        let fresh = std::cell::RefCell::new(&mut fresh);
        compare(
            runs,
            &mut [
                ("file → parse → attribute → stored (SQLite, fsync per batch)", n, &mut || {
                    let (store, path) = (fresh.borrow_mut())(&dir);
                    let p = shouwang_pipeline::Pipeline::new(store, att.clone());
                    let opts = shouwang_pipeline::FileOptions::default();
                    let r = p.ingest_file(&file, &opts, &mut |_, _| {}).unwrap();
                    assert_eq!(r.events as usize, n);
                    drop(p);
                    let bytes: u64 = std::fs::read_dir(&path).unwrap().map(|f| f.unwrap().metadata().unwrap().len()).sum();
                    on_disk.set(bytes);
                    std::fs::remove_dir_all(path).unwrap();
                    r.events
                }),
                ("mixed corpus directory (EVE, syslog, CEF files) → stored", mixed_n, &mut || {
                    let (store, path) = (fresh.borrow_mut())(&dir);
                    let p = shouwang_pipeline::Pipeline::new(store, att.clone());
                    let opts = shouwang_pipeline::FileOptions::default();
                    let reports = p.ingest_dir(&mixed_dir, &opts, &mut |_, _, _| {}).unwrap();
                    let events: u64 = reports.into_iter().map(|(_, r)| r.unwrap().events).sum();
                    assert_eq!(events as usize, mixed_n, "every mixed record is stored");
                    drop(p);
                    std::fs::remove_dir_all(path).unwrap();
                    events
                }),
                ("writer alone: parsed, tagged events → stored", n, &mut || {
                    use shouwang_eventstore::EventStore;
                    let (store, path) = (fresh.borrow_mut())(&dir);
                    store.stream("file").unwrap();
                    let written: u64 = batches.iter().map(|b| store.write(b).unwrap().events).sum();
                    assert_eq!(written as usize, n);
                    drop(store);
                    std::fs::remove_dir_all(path).unwrap();
                    written
                }),
            ],
        )
    };
    println!("## Ingest end to end: EVE alerts from a file into durable storage\n");
    println!("{n} alerts, {mb:.1} MiB; a reader thread (frame, parse, attribute) and a writer thread.\n");
    println!("| rung | events/s (median, min, max) | MB/s |");
    println!("|---|---|---|");
    for (name, s) in &rows {
        let mb_per_event = if name.starts_with("mixed") { mixed_mb / mixed_n as f64 } else { mb / n as f64 };
        println!("| {name} | {} | {:.0} |", mps(s), s.median * mb_per_event);
    }
    let bytes = on_disk.get() as f64;
    println!(
        "\nOn disk after the pipeline rung: {:.1} MiB, {:.0} bytes per event ({:.0} bytes of input each).",
        bytes / 1048576.0,
        bytes / n as f64,
        mb * 1048576.0 / n as f64
    );
    println!("\nTarget (issue 3): ≥ 100k events/s on 2 cores.\n");
}

fn ingest(runs: usize) {
    use shouwang_ingest::parse::{Ctx, Eve, Parser};
    let lines = shouwang_demo::eve_alerts(SEED, 200_000);
    let mut buf = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in &lines {
        buf.push_str(l);
        buf.push('\n');
    }
    drop(lines);
    let ctx = Ctx::new("bench");
    let records: Vec<&str> = buf.lines().collect();
    let n = records.len();
    assert!(records.iter().all(|r| Eve.parse(r.as_bytes(), &ctx).is_ok()), "every generated alert parses");
    let dir = tempfile::tempdir().unwrap();
    let att = demo_attributor(dir.path());
    let mut sample: Vec<_> = records[..1000].iter().map(|r| Eve.parse(r.as_bytes(), &ctx).unwrap()).collect();
    att.tag(&mut sample);
    let tagged = sample.iter().filter(|e| !e.shouwang.units.is_empty()).count();
    assert!(tagged > 900, "the generated alerts target the demo region: {tagged}/1000 tagged");
    // Attribution alone, on events parsed outside the timing (tagging is
    // idempotent: it replaces `shouwang.units`).
    let mut parsed: Vec<_> = records.iter().map(|r| Eve.parse(r.as_bytes(), &ctx).unwrap()).collect();
    // The issue's mixed corpus, each part with its own parser, as the
    // pipeline reads one file (one format) at a time.
    let mixed = shouwang_demo::mixed(SEED, n);
    let (syslog, cef) = (shouwang_ingest::parse::Syslog::default(), shouwang_ingest::parse::Cef);
    let parts: [(&dyn Parser, &[String]); 3] = [(&Eve, &mixed.eve), (&syslog, &mixed.syslog), (&cef, &mixed.cef)];
    for (p, lines) in parts {
        assert!(lines.iter().all(|l| p.parse(l.as_bytes(), &ctx).is_ok()), "every generated {} record parses", p.name());
    }
    let mixed_mb = mixed.eve.iter().chain(&mixed.syslog).chain(&mixed.cef).map(|l| l.len() + 1).sum::<usize>() as f64 / 1048576.0;
    let mb = buf.len() as f64 / 1048576.0;
    println!("## Ingest: parse and normalise Suricata EVE alerts, one thread\n");
    println!("{n} alerts, {mb:.1} MiB, {:.0} bytes on average.\n", buf.len() as f64 / n as f64);
    let rows = compare(
        runs,
        &mut [
            ("newline scan", n, &mut || buf.bytes().filter(|&b| b == b'\n').count() as u64),
            ("serde_json parse-only (IgnoredAny)", n, &mut || {
                records.iter().map(|r| serde_json::from_str::<serde::de::IgnoredAny>(r).is_ok() as u64).sum()
            }),
            ("shouwang EVE parse + normalise", n, &mut || records.iter().map(|r| Eve.parse(r.as_bytes(), &ctx).is_ok() as u64).sum()),
            ("shouwang EVE parse + normalise + attribute", n, &mut || {
                let mut tagged = 0;
                for chunk in records.chunks(1024) {
                    let mut events: Vec<_> = chunk.iter().filter_map(|r| Eve.parse(r.as_bytes(), &ctx).ok()).collect();
                    att.tag(&mut events);
                    tagged += events.iter().filter(|e| !e.shouwang.units.is_empty()).count() as u64;
                }
                tagged
            }),
            ("mixed corpus: parse + normalise + attribute", mixed.len(), &mut || parse_attribute(&parts, &ctx, &att)),
            ("attribute alone (parsed events, batches of 1,024)", n, &mut || {
                let mut tagged = 0;
                for chunk in parsed.chunks_mut(1024) {
                    att.tag(chunk.iter_mut());
                    tagged += chunk.iter().filter(|e| !e.shouwang.units.is_empty()).count() as u64;
                }
                tagged
            }),
        ],
    );
    println!("| rung | events/s (median, min, max) | MB/s | ÷ parse-only |");
    println!("|---|---|---|---|");
    let parse_only = rows[1].1.median;
    for (name, s) in &rows {
        let mb_per_event = if name.starts_with("mixed") { mixed_mb / mixed.len() as f64 } else { mb / n as f64 };
        println!("| {name} | {} | {:.0} | {:.2} |", mps(s), s.median * mb_per_event, s.median / parse_only);
    }
    println!(
        "\nMixed corpus: {} EVE records ({} alerts, the rest dns and flow), {} syslog, {} CEF lines; {mixed_mb:.1} MiB.",
        mixed.eve.len(),
        mixed.eve.iter().filter(|l| l.contains(r#""event_type":"alert""#)).count(),
        mixed.syslog.len(),
        mixed.cef.len()
    );
    println!("\nTargets (issue 3): ≥ 300k events/s and ≥ 0.5 of the parse-only rung.\n");
}

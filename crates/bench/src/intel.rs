//! Indicators at feed scale: import and build of N indicators from CSV
//! (time, and resident memory held by the index), then observable lookups
//! on one core.

use std::net::Ipv4Addr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shouwang_intel::import::{Defaults, csv};
use shouwang_intel::{IntelBuilder, Observable};

use crate::{SEED, compare, mps};

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    status("VmRSS:")
}

/// A `/proc/self/status` figure in bytes (`VmRSS:`, `VmHWM:` for the peak).
fn status(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()).unwrap_or(0)
        * 1024
}

fn name(rng: &mut ChaCha8Rng, i: usize) -> String {
    format!("d{i}.z{}.example", rng.gen_range(0..50_000))
}

/// `n` indicators as CSV: 45% IPv4 hosts, 5% networks, 25% domains, 10%
/// host names, 10% URLs, 5% SHA-256, from three feeds.
pub(crate) fn generate(n: usize) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 0x1d1c);
    let mut out = String::with_capacity(n * 60);
    out.push_str("type,value,source,confidence,tlp\n");
    for i in 0..n {
        let feed = ["feed-a", "feed-b", "feed-c"][i % 3];
        let (kind, value) = match rng.gen_range(0..100) {
            0..45 => ("ip", Ipv4Addr::from(0x0b00_0000 | rng.gen_range(0..0x40_0000u32)).to_string()),
            45..50 => {
                let len = rng.gen_range(16..=28);
                let a = u32::from(Ipv4Addr::from(0x0c00_0000 | rng.r#gen::<u32>() & 0x00ff_ffff)) & (u32::MAX << (32 - len));
                ("ip", format!("{}/{len}", Ipv4Addr::from(a)))
            }
            50..75 => ("domain", name(&mut rng, i)),
            75..85 => ("hostname", format!("h.{}", name(&mut rng, i))),
            85..95 => ("url", format!("http://{}/p/{i}", name(&mut rng, i))),
            _ => ("sha256", format!("{:032x}{:032x}", rng.r#gen::<u128>(), i)),
        };
        out.push_str(&format!("{kind},{value},{feed},{},TLP:AMBER\n", rng.gen_range(30..100)));
    }
    out
}

pub fn run(runs: usize, n: usize) {
    println!("## Indicators: {n} from CSV, then lookups on one core\n");
    let text = generate(n);
    println!("{n} indicators, {:.1} MiB of CSV.\n", text.len() as f64 / 1048576.0);
    let now = jiff::Timestamp::from_second(1_780_000_000).unwrap();
    let mut times = Vec::new();
    let mut intel = None;
    let mut held = 0;
    let mut peak = 0;
    for run in 0..runs.max(1) {
        drop(intel.take());
        // Resets the peak (VmHWM) to the current resident size.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = rss();
        let t = std::time::Instant::now();
        let mut b = IntelBuilder::default();
        let report = csv::read(text.as_bytes(), &Defaults::new("bench"), &mut |i| b.add(i)).unwrap();
        assert_eq!(report.loaded as usize, n, "{:?}", report.rejected.first());
        let built = b.build(now);
        times.push(t.elapsed().as_secs_f64());
        // The first run only: later ones reuse pages the allocator kept.
        if run == 0 {
            held = rss().saturating_sub(before);
            peak = status("VmHWM:").saturating_sub(before);
        }
        intel = Some(built);
    }
    let intel = intel.unwrap();
    times.sort_by(f64::total_cmp);
    println!("| step | median of {} | min | max |", times.len());
    println!("|---|---|---|---|");
    println!(
        "| CSV → index (parse, canonicalise, build) | {:.2} s | {:.2} s | {:.2} s |",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    println!(
        "\nResident memory held by the index after the first build: {:.0} MiB ({:.0} bytes per indicator).\n",
        held as f64 / 1048576.0,
        held as f64 / n as f64
    );
    println!("Peak during the first import and build, above the resident memory before it: {:.0} MiB.\n", peak as f64 / 1048576.0);

    // Lookups: addresses (a third planted in the feeds' space), names, URLs, hashes.
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 0x100c);
    let q = 1_000_000;
    let ips: Vec<std::net::IpAddr> = (0..q)
        .map(|_| Ipv4Addr::from(if rng.gen_bool(0.3) { 0x0b00_0000 | rng.gen_range(0..0x40_0000u32) } else { rng.r#gen() }).into())
        .collect();
    let names: Vec<String> = (0..q)
        .map(|i| {
            if i % 2 == 0 {
                format!("x.d{}.z{}.example", rng.gen_range(0..n), rng.gen_range(0..50_000))
            } else {
                format!("www.unrelated{i}.test")
            }
        })
        .collect();
    let hashes: Vec<String> = (0..q).map(|i| format!("{:032x}{:032x}", rng.r#gen::<u128>(), i)).collect();
    let rows = compare(
        runs,
        &mut [
            ("IPv4 address (contains)", q, &mut || ips.iter().filter(|ip| intel.contains(Observable::Ip(**ip))).count() as u64),
            ("IPv4 address (lookup with validity)", q, &mut || {
                ips.iter().map(|ip| intel.lookup(Observable::Ip(*ip), now).count() as u64).sum()
            }),
            ("name (contains; canonicalised, suffix walk)", q, &mut || {
                names.iter().filter(|n| intel.contains(Observable::Name(n))).count() as u64
            }),
            ("SHA-256 (contains; canonicalised)", q, &mut || hashes.iter().filter(|h| intel.contains(Observable::Hash(h))).count() as u64),
        ],
    );
    println!("| observable | lookups/s (median, min, max) |");
    println!("|---|---|");
    for (name, s) in &rows {
        println!("| {name} | {} |", mps(s));
    }
    println!("\nTargets (issue 4): 10M loaded in ≤ 10 s and ≤ 1 GB resident; ≥ 10M observable lookups/s per core.\n");
}

//! Benchmark corpora: prefixes and domains at the scale of the speed
//! targets, shaped like registry data, from the same documentation spaces.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A benchmark corpus: `n` IPv4 prefixes with the registry's length mix
/// (/16–/32, most /24–/30), `n6` IPv6 prefixes (/32–/64 and hosts), and `d`
/// domains (zones and hosts). Returned as targets with entry numbers.
pub struct Corpus {
    pub v4: Vec<(u32, u8)>,
    /// Scattered: lengths /32–/128 at random places in 2001:db8::/32, the
    /// worst case for a trie (no two prefixes share a path below ~/50).
    pub v6: Vec<(u128, u8)>,
    /// Registry-shaped: units hold a /48 and list /56s, /64s and hosts in it.
    pub v6_sites: Vec<(u128, u8)>,
    pub domains: Vec<String>,
}

pub fn corpus(seed: u64, n4: usize, n6: usize, d: usize) -> Corpus {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen4 = std::collections::HashSet::new();
    let mut v4 = Vec::with_capacity(n4);
    // Prefixes cluster in allocation blocks, as registries do: pick a /16
    // from the benchmark spaces, then a length.
    let bases: [(u32, u8); 5] = [(0x0a00_0000, 8), (0xc612_0000, 15), (0xc000_0200, 24), (0xc633_6400, 24), (0xcb00_7100, 24)];
    while v4.len() < n4 {
        let (base, blen) = bases[if rng.gen_bool(0.97) { 0 } else { rng.gen_range(1..5) }];
        let len: u8 = match rng.gen_range(0..100) {
            0..=4 => rng.gen_range(16..=23),
            5..=44 => 24,
            45..=74 => rng.gen_range(25..=29),
            _ => rng.gen_range(30..=32),
        };
        let len = len.max(blen);
        let host_mask = if len == 32 { 0 } else { u32::MAX >> len };
        let net_mask = if blen == 0 { 0 } else { u32::MAX << (32 - blen) };
        let addr = (base & net_mask) | (rng.r#gen::<u32>() & !net_mask & !host_mask);
        if seen4.insert((addr, len)) {
            v4.push((addr, len));
        }
    }
    let mut seen6 = std::collections::HashSet::new();
    let mut v6 = Vec::with_capacity(n6);
    while v6.len() < n6 {
        let len: u8 = [32, 40, 48, 48, 56, 64, 64, 64, 64, 128][rng.gen_range(0..10)];
        let base = 0x2001_0db8_u128 << 96;
        let host_mask = if len == 128 { 0 } else { u128::MAX >> len };
        let addr = base | (rng.r#gen::<u128>() & (u128::MAX >> 32) & !host_mask);
        if seen6.insert((addr, len)) {
            v6.push((addr, len));
        }
    }
    let mut v6_sites = Vec::with_capacity(n6);
    let mut seen = std::collections::HashSet::new();
    while v6_sites.len() < n6 {
        let site = (0x2001_0db8_u128 << 96) | (u128::from(rng.gen_range(0u32..n6 as u32 / 50 + 1)) << 80);
        let (len, bits): (u8, u128) = match rng.gen_range(0..10) {
            0..=1 => (56, u128::from(rng.r#gen::<u8>()) << 72),
            2..=8 => (64, u128::from(rng.r#gen::<u16>()) << 64),
            _ => (128, (u128::from(rng.r#gen::<u16>()) << 64) | u128::from(rng.r#gen::<u16>())),
        };
        if seen.insert((site | bits, len)) {
            v6_sites.push((site | bits, len));
        }
    }
    let mut domains = Vec::with_capacity(d);
    let mut seen = std::collections::HashSet::new();
    let tlds = ["example", "test"];
    while domains.len() < d {
        let zone = format!(
            "u{}.{}.yunling.{}",
            rng.gen_range(0..d / 4 + 1),
            ["gov", "edu", "health", "corp"][rng.gen_range(0..4)],
            tlds[rng.gen_range(0..2)]
        );
        let name = if rng.gen_bool(0.4) {
            format!("*.{zone}")
        } else {
            format!("{}.{zone}", ["www", "mail", "oa", "vpn", "api", "portal", "jw"][rng.gen_range(0..7)])
        };
        if seen.insert(name.clone()) {
            domains.push(name);
        }
    }
    Corpus { v4, v6, v6_sites, domains }
}

/// `n` Suricata EVE alert lines of 0.8–2 KB, shaped like Suricata's output
/// (five-tuple, flow, alert, http, payload), aimed at the demo region.
pub fn eve_alerts(seed: u64, n: usize) -> Vec<String> {
    const SIGS: [(u64, &str, &str); 5] = [
        (2024897, "ET USER_AGENTS Go HTTP Client User-Agent", "Potentially Bad Traffic"),
        (2019401, "ET POLICY Vulnerable Java Version 1.8.x Detected", "Potential Corporate Privacy Violation"),
        (2027865, "ET INFO Observed DNS Query to .cloud TLD", "Potentially Bad Traffic"),
        (2210045, "SURICATA STREAM Packet with invalid ack", "Generic Protocol Command Decode"),
        (2034647, "ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-44228)", "Attempted Administrator Privilege Gain"),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let (sid, sig, cat) = SIGS[rng.gen_range(0..SIGS.len())];
            let src = std::net::Ipv4Addr::from(0xcb00_7100 | rng.gen_range(0..256u32));
            let dst = std::net::Ipv4Addr::from(0x0a00_0000 | rng.gen_range(0..0x8_0000u32));
            let unit = rng.gen_range(1..2000);
            let pad = "A".repeat(rng.gen_range(50..1250));
            format!(
                concat!(
                    r#"{{"timestamp":"2026-11-21T15:{:02}:{:02}.{:06}+0800","flow_id":{},"in_iface":"eth0","event_type":"alert","#,
                    r#""src_ip":"{}","src_port":{},"dest_ip":"{}","dest_port":80,"proto":"TCP","community_id":"1:{:x}=","#,
                    r#""host":"sensor-{:02}","alert":{{"action":"allowed","gid":1,"signature_id":{},"rev":3,"signature":"{}","#,
                    r#""category":"{}","severity":{}}},"http":{{"hostname":"www.u{:05}.yunling.example","url":"/index.php?id={}","#,
                    r#""http_user_agent":"Mozilla/5.0 (compatible; scanner/1.0)","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":{}}},"#,
                    r#""app_proto":"http","flow":{{"pkts_toserver":{},"pkts_toclient":{},"bytes_toserver":{},"bytes_toclient":{},"#,
                    r#""start":"2026-11-21T15:00:00.000000+0800"}},"payload_printable":"GET /index.php?id={} HTTP/1.1\r\nHost: x\r\n{}""#,
                    r#","stream":0,"packet":"RQAAKAAAQABABgAAfwAAAX8AAAE=","packet_info":{{"linktype":1}}}}"#
                ),
                i / 60 % 60,
                i % 60,
                rng.gen_range(0..1_000_000),
                rng.r#gen::<u32>(),
                src,
                rng.gen_range(1024..65535),
                dst,
                rng.r#gen::<u64>(),
                rng.gen_range(1..20),
                sid,
                sig,
                cat,
                rng.gen_range(1..4),
                unit,
                i,
                rng.gen_range(100..10000),
                rng.gen_range(1..50),
                rng.gen_range(1..50),
                rng.gen_range(100..50000),
                rng.gen_range(100..50000),
                i,
                pad
            )
        })
        .collect()
}

/// The ingest issue's mixed corpus, by file: `eve` holds the EVE records
/// (alerts of 0.8–2 KB and dns/flow records, interleaved as one sensor
/// writes them), `syslog` RFC 5424 and 3164 lines, `cef` CEF lines.
pub struct Mixed {
    pub eve: Vec<String>,
    pub syslog: Vec<String>,
    pub cef: Vec<String>,
}

impl Mixed {
    pub fn len(&self) -> usize {
        self.eve.len() + self.syslog.len() + self.cef.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `n` records: 60% EVE alerts, 25% EVE dns and flow, 10% syslog, 5% CEF,
/// aimed at the demo region (addresses in 10.0.0.0/13, its unit domains).
pub fn mixed(seed: u64, n: usize) -> Mixed {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x006d_6978_6564);
    let (alerts, other, syslog) = (n * 60 / 100, n * 25 / 100, n * 10 / 100);
    let cef = n - alerts - other - syslog;
    let ts =
        |i: usize, rng: &mut ChaCha8Rng| format!("2026-11-21T15:{:02}:{:02}.{:06}+0800", i / 60 % 60, i % 60, rng.gen_range(0..1_000_000));
    let inside = |rng: &mut ChaCha8Rng| std::net::Ipv4Addr::from(0x0a00_0000 | rng.gen_range(0..0x8_0000u32));
    let outside = |rng: &mut ChaCha8Rng| std::net::Ipv4Addr::from(0xcb00_7100 | rng.gen_range(0..256u32));
    let mut eve = eve_alerts(seed, alerts);
    for i in 0..other {
        let line = if rng.gen_bool(0.5) {
            format!(
                concat!(
                    r#"{{"timestamp":"{}","flow_id":{},"in_iface":"eth0","event_type":"dns","src_ip":"{}","src_port":{},"#,
                    r#""dest_ip":"198.51.100.53","dest_port":53,"proto":"UDP","host":"sensor-{:02}","dns":{{"version":3,"type":"request","#,
                    r#""id":{},"queries":[{{"rrname":"{}.u{:05}.yunling.example","rrtype":"A"}}]}}}}"#
                ),
                ts(i, &mut rng),
                rng.r#gen::<u32>(),
                inside(&mut rng),
                rng.gen_range(1024..65535),
                rng.gen_range(1..20),
                rng.gen_range(0..65535),
                ["www", "mail", "oa", "vpn"][rng.gen_range(0..4)],
                rng.gen_range(1..2000),
            )
        } else {
            let (pkts, bytes) = (rng.gen_range(2..400u32), rng.gen_range(100..500_000u32));
            format!(
                concat!(
                    r#"{{"timestamp":"{}","flow_id":{},"in_iface":"eth0","event_type":"flow","src_ip":"{}","src_port":{},"#,
                    r#""dest_ip":"{}","dest_port":443,"proto":"TCP","app_proto":"tls","host":"sensor-{:02}","flow":{{"pkts_toserver":{},"#,
                    r#""pkts_toclient":{},"bytes_toserver":{},"bytes_toclient":{},"start":"2026-11-21T15:00:00.000000+0800","#,
                    r#""end":"2026-11-21T15:00:09.000000+0800","age":9,"state":"closed","reason":"timeout","alerted":false}},"#,
                    r#""tcp":{{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b","syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}}}"#
                ),
                ts(i, &mut rng),
                rng.r#gen::<u32>(),
                outside(&mut rng),
                rng.gen_range(1024..65535),
                inside(&mut rng),
                rng.gen_range(1..20),
                pkts / 2 + 1,
                pkts / 2,
                bytes / 3,
                bytes,
            )
        };
        eve.push(line);
    }
    // Interleaved, as a sensor writes flows and DNS between its alerts.
    rand::seq::SliceRandom::shuffle(eve.as_mut_slice(), &mut rng);
    let syslog = (0..syslog)
        .map(|i| {
            let host = format!("host-u{:05}", rng.gen_range(1..2000));
            let (peer, port, pid) = (outside(&mut rng), rng.gen_range(1024..65535), rng.gen_range(100..60000));
            if rng.gen_bool(0.5) {
                format!(
                    "<38>1 2026-11-21T07:{:02}:{:02}.{:03}Z {host} sshd {pid} - - Failed password for root from {peer} port {port} ssh2",
                    i / 60 % 60,
                    i % 60,
                    rng.gen_range(0..1000)
                )
            } else {
                format!(
                    "<86>Nov 21 15:{:02}:{:02} {host} sshd[{pid}]: Accepted publickey for ops from {peer} port {port} ssh2",
                    i / 60 % 60,
                    i % 60
                )
            }
        })
        .collect();
    let cef = (0..cef)
        .map(|i| {
            format!(
                "CEF:0|Qianxin|NGFW|6.0|{}|{}|{}|src={} dst={} spt={} dpt={} proto=TCP act=deny rt={}",
                [100, 200, 300][i % 3],
                ["Port scan", "Brute force", "Web attack"][i % 3],
                rng.gen_range(3..9),
                outside(&mut rng),
                inside(&mut rng),
                rng.gen_range(1024..65535),
                [22, 445, 3389, 80][rng.gen_range(0..4)],
                1_763_700_000_000u64 + i as u64 * 1000,
            )
        })
        .collect();
    Mixed { eve, syslog, cef }
}

/// The shared reference directory (`../shared` from the project root: the
/// SigmaHQ corpus, which is read in place and never copied in, and the
/// domain brief's tables, which tests compare the product's copies with):
/// `$SHOUWANG_SHARED`, else `shared/` beside the project or any directory
/// above it.
pub fn shared_dir() -> Result<std::path::PathBuf, String> {
    if let Some(p) = std::env::var_os("SHOUWANG_SHARED") {
        return Ok(p.into());
    }
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared"))
        .find(|p| p.join("README.md").is_file() && p.join("sigmahq").is_dir())
        .ok_or_else(|| format!("the shared directory is not beside {}: set SHOUWANG_SHARED to it", here.display()))
}

/// The SigmaHQ rules and regression samples: `$SHOUWANG_SIGMAHQ`, else
/// `sigmahq` in [`shared_dir`].
pub fn sigmahq_dir() -> Result<std::path::PathBuf, String> {
    if let Some(p) = std::env::var_os("SHOUWANG_SIGMAHQ") {
        return Ok(p.into());
    }
    Ok(shared_dir()?.join("sigmahq"))
}

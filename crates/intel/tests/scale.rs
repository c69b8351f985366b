//! Ten million lines of a CSV feed, streamed from a generator (never held
//! whole), with bad lines planted among them: each is reported by line and
//! reason, every good line loads, nothing panics, and the index built from
//! what loaded finds what was planted, in whatever form it was written.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};

use shouwang_intel::import::{Defaults, MAX_DETAILED, csv};
use shouwang_intel::{IntelBuilder, Kind, Observable};

const LINES: u64 = 10_000_000;

/// What line `n` (the header is line 1) holds, and how it must come out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Planted {
    Good,
    /// Loads; written in a form the index must canonicalise.
    Odd,
    BadAddress,
    NotUtf8,
    ShortHash,
    UnknownType,
    /// A 100 kB value.
    Huge,
}

fn planted(n: u64) -> Planted {
    match n % 1000 {
        0 => Planted::BadAddress,
        1 => Planted::NotUtf8,
        2 => Planted::ShortHash,
        3..=5 => Planted::Odd,
        6 if n % 100_000 == 6 => Planted::Huge,
        7 => Planted::UnknownType,
        _ => Planted::Good,
    }
}

fn host(n: u64) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 + n as u32)
}

fn write_line(n: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    let w = match planted(n) {
        Planted::Good => match n % 3 {
            0 => writeln!(out, "ip,{},feed,70,green,", host(n)),
            1 => writeln!(out, "domain,d{n}.example,feed,70,green,"),
            _ => writeln!(out, "sha256,{n:064x},feed,70,green,"),
        },
        Planted::Odd => match n % 1000 {
            3 => writeln!(out, "url,\"HTTP://Evil{n}.Example:80/%7e%41?q=%zz#frag\",feed,70,green,"),
            4 => writeln!(out, "ipv6,::ffff:{},feed,70,green,", host(n)),
            _ => writeln!(out, "domain,Bücher{n}.Example.,feed,70,green,"),
        },
        Planted::BadAddress => writeln!(out, "ip,999.{n}.1.1,feed,70,green,"),
        Planted::NotUtf8 => {
            let _ = write!(out, "ip,{},feed,70,green,", host(n));
            out.extend_from_slice(b"\xc4\xe3\xba\xc3\n"); // GBK
            Ok(())
        }
        Planted::ShortHash => writeln!(out, "sha256,{n:x},feed,70,green,"),
        Planted::UnknownType => writeln!(out, "registry-key,HKLM\\Run\\{n},feed,70,green,"),
        Planted::Huge => writeln!(out, "domain,{},feed,70,green,", "a".repeat(100_000)),
    };
    w.expect("writing to a Vec");
}

/// The feed, generated as it is read.
struct Feed {
    next: u64,
    buf: Vec<u8>,
    at: usize,
}

impl Read for Feed {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
            while self.buf.len() < 1 << 16 && self.next <= LINES + 1 {
                write_line(self.next, &mut self.buf);
                self.next += 1;
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn ten_million_lines_with_bad_ones_planted() {
    let mut feed = Feed { next: 2, buf: b"type,value,source,confidence,tlp,tags\n".to_vec(), at: 0 };
    let mut b = IntelBuilder::default();
    let report = csv::read(&mut feed, &Defaults::new("scale"), &mut |i| b.add(i)).unwrap();

    let mut want = std::collections::BTreeMap::new();
    for n in 2..=LINES + 1 {
        *want.entry(planted(n)).or_insert(0u64) += 1;
    }
    let loads = want[&Planted::Good] + want[&Planted::Odd];
    assert_eq!((report.read, report.loaded, report.rejected_total()), (LINES, loads, LINES - loads));
    let by_reason: Vec<(&str, u64)> = report.rejected_by_reason.iter().map(|(r, n)| (r.as_str(), *n)).collect();
    assert_eq!(
        by_reason,
        [
            ("`…` is not a valid domain name: longer than 253 characters", want[&Planted::Huge]),
            ("`…` is not an IPv4 or IPv6 address", want[&Planted::BadAddress]),
            ("not 64 hexadecimal digits", want[&Planted::ShortHash]),
            ("not UTF-8 (convert GBK files to UTF-8)", want[&Planted::NotUtf8]),
            ("unknown type `…`", want[&Planted::UnknownType]),
        ],
    );
    // The first rejections in full, each at its own line; the value of the
    // huge one is cut to 200 characters.
    assert_eq!(report.rejected.len(), MAX_DETAILED);
    let lines: Vec<u64> = (2..).filter(|&n| !matches!(planted(n), Planted::Good | Planted::Odd)).take(MAX_DETAILED).collect();
    for (r, n) in report.rejected.iter().zip(&lines) {
        assert_eq!(r.at, format!("line {n}"), "{r:?}");
        assert!(r.value.chars().count() <= 200, "{}", r.value.len());
    }
    let huge = report.rejected.iter().find(|r| r.reason.contains("253")).expect("a huge value among the first");
    assert_eq!((huge.at.as_str(), huge.value.len()), ("line 6", 200));
    assert_eq!(huge.reason, format!("`{}…` is not a valid domain name: longer than 253 characters", "a".repeat(100)));

    let at = jiff::Timestamp::from_second(1_780_000_000).unwrap();
    let intel = b.build(at);
    assert_eq!(intel.len() as u64, loads);
    let found = |o: Observable<'_>| intel.lookup(o, at).map(|i| (i.kind, i.value.to_string())).collect::<Vec<_>>();
    let n = 9_999_009; // Good, n % 3 == 0: an address.
    assert_eq!(found(Observable::Ip(IpAddr::V4(host(n)))), [(Kind::Ip, format!("{}/32", host(n)))]);
    assert_eq!(found(Observable::Ip(IpAddr::V4(host(9_999_001)))), [], "a valid address on a line that is not UTF-8");
    assert_eq!(found(Observable::Ip(IpAddr::V6(host(5_000_004).to_ipv6_mapped()))), [(Kind::Ip, format!("{}/32", host(5_000_004)))]);
    assert_eq!(found(Observable::Name("www.bücher7005.example")), [(Kind::Domain, "xn--bcher7005-q9a.example".to_string())]);
    assert_eq!(
        found(Observable::Url("http://EVIL3003.example:80/%7e%41?q=%zz")),
        [(Kind::Url, "http://evil3003.example/%7e%41?q=%zz".to_string())]
    );
    assert_eq!(found(Observable::Hash(&format!("{:064X}", 9_999_011u64))).len(), 1);
    assert_eq!(found(Observable::Name("x.d9999010.example")), [(Kind::Domain, "d9999010.example".to_string())]);
    assert_eq!(found(Observable::Name("d9999009.example")), [], "line 9,999,009 is an address, not a name");
}

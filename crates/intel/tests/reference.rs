//! The index against a brute-force reference on generated data with planted
//! hits: for every query, the indicators a linear scan says match (the most
//! specific network; an exact host name, else the nearest domain above; the
//! exact URL, hash or address), valid at the query's time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shouwang_intel::{Indicator, IntelBuilder, Kind, Observable, Tlp, canonical};

fn indicator(kind: Kind, raw: &str, source: &str, until: Option<i64>) -> Indicator {
    Indicator {
        kind,
        value: canonical(kind, raw).unwrap(),
        source: source.into(),
        confidence: 80,
        tlp: Tlp::Green,
        valid_from: Some(jiff::Timestamp::from_second(1_700_000_000).unwrap()),
        valid_until: until.map(|s| jiff::Timestamp::from_second(s).unwrap()),
        tags: Vec::new(),
    }
}

fn v4(rng: &mut ChaCha8Rng) -> Ipv4Addr {
    // A small space, so networks nest and queries hit them.
    Ipv4Addr::from(0xc633_0000 | rng.gen_range(0..0x4000u32))
}

fn name(rng: &mut ChaCha8Rng) -> String {
    let zone = format!("z{}.example", rng.gen_range(0..300));
    match rng.gen_range(0..3) {
        0 => zone,
        1 => format!("h{}.{zone}", rng.gen_range(0..20)),
        _ => format!("a{}.h{}.{zone}", rng.gen_range(0..5), rng.gen_range(0..20)),
    }
}

/// `nets[n]` is `all[n]` parsed, for IP indicators.
fn reference<'a>(
    all: &'a [Indicator],
    nets: &[Option<shouwang_attribution::IpNet>],
    o: &Observable<'_>,
    at: jiff::Timestamp,
) -> Vec<&'a Indicator> {
    let valid = |i: &&Indicator| i.valid_at(at);
    match o {
        Observable::Ip(ip) => {
            let nets: Vec<(u8, &Indicator)> =
                all.iter().zip(nets).filter_map(|(i, n)| n.filter(|n| n.contains(*ip)).map(|n| (n.prefix_len(), i))).collect();
            let Some(best) = nets.iter().map(|(l, _)| *l).max() else { return Vec::new() };
            nets.into_iter().filter(|(l, _)| *l == best).map(|(_, i)| i).filter(valid).collect()
        }
        Observable::Name(n) => {
            let exact: Vec<&Indicator> = all.iter().filter(|i| i.kind == Kind::Hostname && i.value == *n).collect();
            if !exact.is_empty() {
                return exact.into_iter().filter(valid).collect();
            }
            let best = all
                .iter()
                .filter(|i| i.kind == Kind::Domain && (*n == i.value || n.ends_with(&format!(".{}", i.value))))
                .map(|i| i.value.len())
                .max();
            all.iter().filter(|i| i.kind == Kind::Domain && Some(i.value.len()) == best && n.ends_with(&i.value)).filter(valid).collect()
        }
        Observable::Url(u) => {
            let u = canonical(Kind::Url, u).ok();
            all.iter().filter(|i| i.kind == Kind::Url && Some(&i.value) == u.as_ref()).filter(valid).collect()
        }
        Observable::Hash(h) => {
            let h = h.to_lowercase();
            all.iter().filter(|i| matches!(i.kind, Kind::Md5 | Kind::Sha256) && i.value == h).filter(valid).collect()
        }
        Observable::Email(e) => {
            let e = canonical(Kind::Email, e).ok();
            all.iter().filter(|i| i.kind == Kind::Email && Some(&i.value) == e.as_ref()).filter(valid).collect()
        }
    }
}

#[test]
fn the_index_agrees_with_a_linear_scan() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut all = Vec::new();
    let expiry = |rng: &mut ChaCha8Rng| if rng.gen_bool(0.2) { Some(1_800_000_000) } else { None };
    for n in 0..4000 {
        let src = ["feed-a", "feed-b"][n % 2];
        let until = expiry(&mut rng);
        all.push(match rng.gen_range(0..8) {
            0 => indicator(Kind::Ip, &v4(&mut rng).to_string(), src, until),
            1 => {
                let len = rng.gen_range(18..=30);
                let a = u32::from(v4(&mut rng)) & (u32::MAX << (32 - len));
                indicator(Kind::Ip, &format!("{}/{len}", Ipv4Addr::from(a)), src, until)
            }
            2 => indicator(Kind::Ip, &Ipv6Addr::from(0x2001_0db8u128 << 96 | rng.gen_range(0..5000u128)).to_string(), src, until),
            3 => indicator(Kind::Domain, &name(&mut rng), src, until),
            4 => indicator(Kind::Hostname, &name(&mut rng), src, until),
            5 => indicator(Kind::Url, &format!("http://{}/p{}", name(&mut rng), rng.gen_range(0..50)), src, until),
            6 => indicator(Kind::Sha256, &format!("{:064x}", rng.gen_range(0..3000u64)), src, until),
            _ => indicator(Kind::Email, &format!("u{}@{}", rng.gen_range(0..30), name(&mut rng)), src, until),
        });
    }
    // Some values twice, from the other feed: both must come back.
    let dupes: Vec<Indicator> = all.iter().step_by(7).map(|i| Indicator { source: "feed-c".into(), ..i.clone() }).collect();
    all.extend(dupes);
    let mut b = IntelBuilder::default();
    for i in &all {
        b.add(i.clone());
    }
    let now = jiff::Timestamp::from_second(1_750_000_000).unwrap();
    let intel = b.build(now);
    assert_eq!(intel.len(), all.len(), "nothing has expired yet");

    let nets: Vec<_> = all.iter().map(|i| (i.kind == Kind::Ip).then(|| shouwang_attribution::IpNet::parse(&i.value).unwrap())).collect();
    let (mut queries, mut hits) = (0, 0);
    for q in 0..20_000 {
        let at = jiff::Timestamp::from_second(if q % 5 == 0 { 1_850_000_000 } else { 1_750_000_000 }).unwrap();
        let text: String;
        let o = match rng.gen_range(0..7) {
            0 => Observable::Ip(IpAddr::V4(v4(&mut rng))),
            1 => Observable::Ip(IpAddr::V6(Ipv6Addr::from(0x2001_0db8u128 << 96 | rng.gen_range(0..6000u128)))),
            2 => {
                text = name(&mut rng).to_uppercase();
                Observable::Name(&text)
            }
            3 => {
                text = format!("HTTP://{}:80/p{}#x", name(&mut rng), rng.gen_range(0..50));
                Observable::Url(&text)
            }
            4 => {
                text = format!("{:064X}", rng.gen_range(0..4000u64));
                Observable::Hash(&text)
            }
            5 => {
                text = format!("U{}@{}", rng.gen_range(0..30), name(&mut rng));
                Observable::Email(&text)
            }
            _ => Observable::Ip(IpAddr::V6(Ipv4Addr::from(0xc633_0000 | rng.gen_range(0..0x4000u32)).to_ipv6_mapped())),
        };
        // The reference takes canonical names; the index must canonicalise itself.
        let canon_name;
        let reference_o = match o {
            Observable::Name(n) => {
                canon_name = canonical(Kind::Hostname, n).unwrap();
                Observable::Name(&canon_name)
            }
            Observable::Ip(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => Observable::Ip(IpAddr::V4(v6.to_ipv4_mapped().unwrap())),
            other => other,
        };
        let mut want: Vec<&Indicator> = reference(&all, &nets, &reference_o, at);
        let mut got: Vec<Indicator> = intel.lookup(o, at).map(|i| i.to_indicator()).collect();
        let mut want: Vec<Indicator> = want.drain(..).cloned().collect();
        let key = |i: &Indicator| (i.kind, i.value.clone(), i.source.clone(), i.valid_until);
        want.sort_by_key(key);
        got.sort_by_key(key);
        assert_eq!(intel.contains(o), intel.lookup(o, jiff::Timestamp::from_second(1_750_000_000).unwrap()).next().is_some(), "{o:?}");
        assert_eq!(got, want, "query {q}: {o:?} at {at}");
        queries += 1;
        hits += usize::from(!got.is_empty());
    }
    assert!(hits > queries / 5, "the queries must hit often enough to mean something: {hits}/{queries}");
    // Expired indicators are left out of a build made after they expire.
    let mut b = IntelBuilder::default();
    all.iter().cloned().for_each(|i| b.add(i));
    let later = b.build(jiff::Timestamp::from_second(1_850_000_000).unwrap());
    assert_eq!(later.len(), all.iter().filter(|i| i.valid_until.is_none()).count());
}

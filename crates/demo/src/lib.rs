//! A seeded generator for a fictional province, 云岭省 (Yunling): regions,
//! authorities on both supervision lines, member units with Chinese names,
//! contacts and assets. Addresses come only from documentation and
//! benchmark space (RFC 5737, RFC 2544, RFC 3849, 10/8) and names only from
//! `.example` / `.test`, so nothing generated can point at a real network.
//!
//! The same seed always yields the same region (ChaCha8 is specified to be
//! stable across platforms and versions), which makes it usable as test
//! data with known answers and as a benchmark corpus.

use std::net::{Ipv4Addr, Ipv6Addr};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shouwang_registry::*;

mod corpus;
pub use corpus::{Corpus, Mixed, corpus, eve_alerts, mixed, shared_dir, sigmahq_dir};

/// Size of the generated region.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub seed: u64,
    pub units: usize,
    pub assets: usize,
}

impl Default for Spec {
    fn default() -> Self {
        Spec { seed: 2026, units: 2000, assets: 50_000 }
    }
}

const CITIES: [(&str, &str); 8] = [
    ("青川", "Qingchuan"),
    ("临江", "Linjiang"),
    ("云泽", "Yunze"),
    ("石门", "Shimen"),
    ("白鹭", "Bailu"),
    ("金沙", "Jinsha"),
    ("松岭", "Songling"),
    ("海阳", "Haiyang"),
];
const DISTRICT_STEMS: [(&str, &str); 16] = [
    ("东城", "Dongcheng"),
    ("西湖", "Xihu"),
    ("南山", "Nanshan"),
    ("北塘", "Beitang"),
    ("河口", "Hekou"),
    ("高新", "Gaoxin"),
    ("新城", "Xincheng"),
    ("龙泉", "Longquan"),
    ("桃源", "Taoyuan"),
    ("清溪", "Qingxi"),
    ("凤鸣", "Fengming"),
    ("长安", "Chang'an"),
    ("永宁", "Yongning"),
    ("安平", "Anping"),
    ("石桥", "Shiqiao"),
    ("柳湾", "Liuwan"),
];
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤";
const GIVEN: &str = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉文斌波辉鹏宇浩晨欣怡子轩梓涵一诺";

/// Sector bureaus every city has, and the unit kinds they supervise.
const BUREAUS: [(&str, &str, &str); 6] = [
    ("教育局", "Education Bureau", "education"),
    ("卫生健康委员会", "Health Commission", "health"),
    ("交通运输局", "Transport Bureau", "transport"),
    ("水务局", "Water Authority", "water"),
    ("发展和改革委员会", "Development and Reform Commission", "energy"),
    ("政务服务数据管理局", "Government Services and Data Bureau", "government"),
];

struct Gen {
    rng: ChaCha8Rng,
    b: Bundle,
    next_v4_block: u32,
    next_v6_block: u32,
}

fn origin() -> Origin {
    Origin { file: "demo".into(), loc: Loc::Line(0) }
}

fn code<T>(p: fn(&str) -> Result<T, String>, s: &str) -> T {
    p(s).unwrap_or_else(|e| panic!("generator produced invalid code {s}: {e}"))
}

/// Generates the demo region.
pub fn generate(spec: Spec) -> Bundle {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(spec.seed),
        b: Bundle { has_contacts: true, has_assets: true, ..Default::default() },
        next_v4_block: 0,
        next_v6_block: 0,
    };
    g.regions();
    let units = g.units(spec.units);
    let per_unit = spec.assets as f64 / units.len().max(1) as f64;
    let mut remaining = spec.assets;
    for (i, u) in units.iter().enumerate() {
        g.contacts(u);
        let left_units = units.len() - i;
        let n = if left_units == 1 { remaining } else { ((per_unit * g.rng.gen_range(0.5..1.5)) as usize).min(remaining) };
        g.assets(u, n, i);
        remaining -= n.min(remaining);
    }
    g.shared_overlaps(&units);
    g.b
}

impl Gen {
    fn regions(&mut self) {
        let push = |b: &mut Bundle, c: &str, zh: String, en: String, level, parent: Option<&str>| {
            b.regions.push((
                origin(),
                Region {
                    code: code(RegionCode::parse, c),
                    name_zh: zh,
                    name_en: en,
                    level,
                    parent: parent.map(|p| code(RegionCode::parse, p)),
                },
            ))
        };
        push(&mut self.b, "990000", "云岭省".into(), "Yunling Province".into(), RegionLevel::Province, None);
        for (ci, (zh, en)) in CITIES.iter().enumerate() {
            let city = format!("99{:02}00", ci + 1);
            push(&mut self.b, &city, format!("{zh}市"), format!("{en} City"), RegionLevel::City, Some("990000"));
            // 60 districts over 8 cities: 7 or 8 each.
            let n = if ci < 4 { 8 } else { 7 };
            for di in 0..n {
                let (dzh, den) = DISTRICT_STEMS[(ci * 3 + di) % DISTRICT_STEMS.len()];
                let district = format!("99{:02}{:02}", ci + 1, di + 1);
                let suffix = if di % 3 == 2 { ("县", "County") } else { ("区", "District") };
                push(
                    &mut self.b,
                    &district,
                    format!("{dzh}{}", suffix.0),
                    format!("{den} {}", suffix.1),
                    RegionLevel::District,
                    Some(&city),
                );
                for si in 0..2 {
                    let street = format!("{district}{:03}", si + 1);
                    let (szh, sen) =
                        if si == 0 { ("城关街道", "Chengguan Subdistrict") } else { ("新华街道", "Xinhua Subdistrict") };
                    push(&mut self.b, &street, szh.into(), sen.into(), RegionLevel::Street, Some(&district));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // one generator call site per unit kind reads best flat
    fn unit(
        &mut self,
        c: String,
        zh: String,
        en: String,
        kind: UnitKind,
        region: &str,
        sup: Option<&str>,
        jur: Option<&str>,
        sector: &str,
    ) -> UnitCode {
        let uscc = self.rng.gen_bool(0.8).then(|| {
            let head = match kind {
                UnitKind::PartyGovernment => "11",
                UnitKind::PublicInstitution | UnitKind::School | UnitKind::Hospital => "12",
                UnitKind::SocialOrganization => "51",
                _ => "91",
            };
            let chars = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
            let body: String = (0..9).map(|_| chars[self.rng.gen_range(0..31)] as char).collect();
            let first17 = format!("{head}{}{body}", &region[..6]);
            let check = Uscc::check_char(&first17).expect("valid charset") as char;
            code(Uscc::parse, &format!("{first17}{check}"))
        });
        let unit = Unit {
            code: code(UnitCode::parse, &c),
            name_zh: zh,
            name_en: en,
            kind,
            region: code(RegionCode::parse, region),
            supervisor: sup.map(|s| code(UnitCode::parse, s)),
            jurisdiction: jur.map(|j| code(RegionCode::parse, j)),
            sector: sector.into(),
            uscc,
            status: if self.rng.gen_bool(0.01) { UnitStatus::Suspended } else { UnitStatus::Active },
        };
        let code = unit.code.clone();
        self.b.units.push((origin(), unit));
        code
    }

    /// Authorities first (so supervisors exist), then members up to `total`.
    fn units(&mut self, total: usize) -> Vec<UnitCode> {
        let mut out = Vec::new();
        out.push(self.unit(
            "YL-CAC".into(),
            "云岭省委网信办".into(),
            "Yunling Cyberspace Affairs Office".into(),
            UnitKind::PartyGovernment,
            "990000",
            None,
            Some("990000"),
            "government",
        ));
        for (bi, (zh, en, sector)) in BUREAUS.iter().enumerate() {
            let prov_zh = zh.replace("局", "厅");
            out.push(self.unit(
                format!("YL-B{bi}"),
                format!("云岭省{prov_zh}"),
                format!("Yunling Provincial {en}"),
                UnitKind::PartyGovernment,
                "990000",
                None,
                None,
                sector,
            ));
        }
        out.push(self.unit(
            "YL-BDC".into(),
            "云岭省大数据中心".into(),
            "Yunling Big Data Centre".into(),
            UnitKind::PublicInstitution,
            "990000",
            Some("YL-B5"),
            None,
            "government",
        ));
        let districts: Vec<(String, String, String)> = self
            .b
            .regions
            .iter()
            .filter(|(_, r)| r.level == RegionLevel::District)
            .map(|(_, r)| (r.code.to_string(), r.name_zh.clone(), r.name_en.clone()))
            .collect();
        for (ci, (czh, cen)) in CITIES.iter().enumerate() {
            let city = format!("99{:02}00", ci + 1);
            out.push(self.unit(
                format!("C{:02}-CAC", ci + 1),
                format!("{czh}市委网信办"),
                format!("{cen} Cyberspace Affairs Office"),
                UnitKind::PartyGovernment,
                &city,
                Some("YL-CAC"),
                Some(&city),
                "government",
            ));
            for (bi, (zh, en, sector)) in BUREAUS.iter().enumerate() {
                out.push(self.unit(
                    format!("C{:02}-B{bi}", ci + 1),
                    format!("{czh}市{zh}"),
                    format!("{cen} {en}"),
                    UnitKind::PartyGovernment,
                    &city,
                    Some(&format!("YL-B{bi}")),
                    None,
                    sector,
                ));
            }
        }
        let mut n = 0usize;
        while out.len() < total {
            n += 1;
            let (dcode, dzh, den) = districts[self.rng.gen_range(0..districts.len())].clone();
            let ci: usize = dcode[2..4].parse().expect("district code");
            let (czh, cen) = CITIES[ci - 1];
            let street = format!("{dcode}00{}", self.rng.gen_range(1..=2));
            let region = if self.rng.gen_bool(0.3) { street } else { dcode.clone() };
            let sup = |b: usize| format!("C{ci:02}-B{b}");
            let pick = self.rng.gen_range(0..100);
            let c = format!("U{n:05}");
            let unit = match pick {
                0..=29 => {
                    let (lvl, lvl_en) =
                        [("小学", "Primary School"), ("中学", "Middle School"), ("职业技术学校", "Vocational School")][n % 3];
                    self.unit(
                        c,
                        format!("{czh}市{dzh}第{}{lvl}", n % 40 + 1),
                        format!("{den} No.{} {lvl_en}", n % 40 + 1),
                        UnitKind::School,
                        &region,
                        Some(&sup(0)),
                        None,
                        "education",
                    )
                }
                30..=44 => {
                    let (h, h_en) = [
                        ("人民医院", "People's Hospital"),
                        ("中医院", "TCM Hospital"),
                        ("妇幼保健院", "Maternal and Child Hospital"),
                        ("社区卫生服务中心", "Community Health Centre"),
                    ][n % 4];
                    self.unit(
                        c,
                        format!("{czh}市{dzh}{h}（{n}）"),
                        format!("{den} {h_en} ({n})"),
                        UnitKind::Hospital,
                        &region,
                        Some(&sup(1)),
                        None,
                        "health",
                    )
                }
                45..=69 => {
                    let (o, o_en) = [
                        ("人民政府办公室", "Government Office"),
                        ("市场监督管理局", "Market Regulation Bureau"),
                        ("人力资源和社会保障局", "Human Resources Bureau"),
                        ("公安分局", "Public Security Sub-bureau"),
                        ("财政局", "Finance Bureau"),
                    ][n % 5];
                    self.unit(
                        c,
                        format!("{czh}市{dzh}{o}（{n}）"),
                        format!("{den} {o_en} ({n})"),
                        UnitKind::PartyGovernment,
                        &region,
                        Some(&sup(5)),
                        None,
                        "government",
                    )
                }
                70..=79 => {
                    let (o, o_en) = [
                        ("档案馆", "Archives"),
                        ("图书馆", "Library"),
                        ("疾病预防控制中心", "CDC"),
                        ("住房公积金中心", "Housing Fund Centre"),
                    ][n % 4];
                    self.unit(
                        c,
                        format!("{czh}市{dzh}{o}（{n}）"),
                        format!("{den} {o_en} ({n})"),
                        UnitKind::PublicInstitution,
                        &region,
                        Some(&sup(5)),
                        None,
                        "government",
                    )
                }
                80..=89 => {
                    let (o, o_en, b, s) = [
                        ("供水有限公司", "Water Supply Co.", 3, "water"),
                        ("燃气有限公司", "Gas Co.", 4, "energy"),
                        ("公共交通集团", "Public Transport Group", 2, "transport"),
                        ("热力有限公司", "Heating Co.", 4, "energy"),
                    ][n % 4];
                    self.unit(
                        c,
                        format!("{czh}市{dzh}{o}（{n}）"),
                        format!("{cen} {den} {o_en} ({n})"),
                        UnitKind::StateEnterprise,
                        &region,
                        Some(&sup(b)),
                        None,
                        s,
                    )
                }
                _ => {
                    let (o, o_en) = [
                        ("科技有限公司", "Technology Co., Ltd."),
                        ("网络信息有限公司", "Network Information Co., Ltd."),
                        ("数据服务有限公司", "Data Services Co., Ltd."),
                    ][n % 3];
                    self.unit(
                        c,
                        format!("{czh}{dzh}{o}（{n}）"),
                        format!("{den} {o_en} ({n})"),
                        UnitKind::Enterprise,
                        &region,
                        None,
                        None,
                        "enterprise",
                    )
                }
            };
            out.push(unit);
        }
        out.truncate(total);
        self.b.units.truncate(total);
        out
    }

    fn person(&mut self) -> String {
        let s: Vec<char> = SURNAMES.chars().collect();
        let g: Vec<char> = GIVEN.chars().collect();
        let mut name = s[self.rng.gen_range(0..s.len())].to_string();
        for _ in 0..self.rng.gen_range(1..=2) {
            name.push(g[self.rng.gen_range(0..g.len())]);
        }
        name
    }

    fn contacts(&mut self, unit: &UnitCode) {
        let domain = zone(unit);
        // About 3% of units have only a contact with no phone or email:
        // the registry must flag them as unreachable.
        let unreachable = self.rng.gen_bool(0.03);
        for (i, role) in [ContactRole::FirstResponsible, ContactRole::Security, ContactRole::Technical].into_iter().enumerate() {
            if i > 0 && self.rng.gen_bool(0.3) {
                continue;
            }
            let name = self.person();
            let (phone, email) = if unreachable {
                (None, None)
            } else {
                (
                    Some(format!("+86 990 {:04} {:04}", self.rng.gen_range(0..10000), self.rng.gen_range(0..10000))),
                    Some(format!("{}@{domain}", ["head", "soc", "it"][i])),
                )
            };
            self.b.contacts.push((origin(), Contact { unit: unit.clone(), role, name, phone, email, pgp_key: None }));
        }
    }

    fn push_asset(&mut self, unit: &UnitCode, kind: AssetKind, value: &str, system: Option<&str>, criticality: Criticality) {
        let value = AssetValue::parse(kind, value).unwrap_or_else(|e| panic!("generator produced invalid {kind} {value}: {e}"));
        self.b.assets.push((
            origin(),
            Asset {
                unit: unit.clone(),
                value,
                system: system.map(str::to_string),
                precedence: 0,
                criticality,
                note: String::new(),
                valid_from: None,
            },
        ));
    }

    /// `n` assets for one unit: a system or two, its zone and hosts, then
    /// IPv4 and IPv6 prefixes carved from the unit's own blocks.
    fn assets(&mut self, unit: &UnitCode, n: usize, index: usize) {
        if n == 0 {
            return;
        }
        let u = self.b.units.iter().find(|(_, u)| &u.code == unit).map(|(_, u)| u.clone()).expect("unit exists");
        let domain = zone(unit);
        let system = format!("{}门户及业务系统", u.name_zh);
        let level = [1u8, 2, 2, 3, 3, 3, 4][index % 7];
        let mut crit = Criticality { mlps_level: Some(level), ..Default::default() };
        if level >= 2 {
            crit.mlps_filing = Some(format!("{}-{:05}-{:05}", &u.region.as_str()[..6], index, level as usize * 1000 + index % 1000));
        }
        match u.kind {
            UnitKind::PartyGovernment => {
                crit.portal_tier = Some(if u.region.as_str().ends_with("0000") {
                    PortalTier::Provincial
                } else if u.region.as_str().ends_with("00") {
                    PortalTier::Municipal
                } else {
                    PortalTier::County
                });
            }
            UnitKind::Hospital => {
                crit.pi_records = Some(self.rng.gen_range(10_000..2_000_000));
                crit.service_type = Some(ServiceType::Medical);
                crit.data_class = Some(DataClass::Important);
            }
            UnitKind::StateEnterprise => {
                crit.population_served = Some(self.rng.gen_range(50_000..3_000_000));
                let (service, department) = if u.name_zh.contains("供水") {
                    (ServiceType::Water, "云岭省水利厅")
                } else if u.name_zh.contains("燃气") {
                    (ServiceType::Gas, "云岭省住房和城乡建设厅")
                } else if u.name_zh.contains("热力") {
                    (ServiceType::Heating, "云岭省住房和城乡建设厅")
                } else {
                    (ServiceType::Transport, "云岭省交通运输厅")
                };
                crit.service_type = Some(service);
                if self.rng.gen_bool(0.3) {
                    crit.cii = true;
                    crit.cii_department = Some(department.into());
                }
            }
            _ => {}
        }
        self.push_asset(unit, AssetKind::System, &system, None, crit);
        // (kind, value, belongs to the system), deduplicated, up to n - 1.
        let mut items: Vec<(AssetKind, String, bool)> =
            vec![(AssetKind::Domain, format!("*.{domain}"), true), (AssetKind::Url, format!("https://www.{domain}/"), true)];
        for host in ["www", "mail", "oa", "vpn"] {
            items.push((AssetKind::Domain, format!("{host}.{domain}"), true));
        }
        items.truncate(n - 1);
        // Each unit owns a /20 of 10/8 and a /48 of 2001:db8::/32.
        let block = 0x0a00_0000 | (self.next_v4_block << 12);
        self.next_v4_block += 1;
        let v6 = (0x2001_0db8_u128 << 96) | (u128::from(self.next_v6_block) << 80);
        self.next_v6_block += 1;
        let mut sub = 0u32;
        let mut seen: std::collections::HashSet<String> = items.iter().map(|i| i.1.clone()).collect();
        while items.len() < n - 1 {
            let roll = self.rng.gen_range(0..100);
            let item = if roll < 12 {
                let site = u128::from(self.rng.gen_range(0u32..0x10000)) << 64;
                (AssetKind::Cidr, format!("{}/64", Ipv6Addr::from(v6 | site)), false)
            } else if roll < 20 && sub < 14 {
                sub += 1;
                (AssetKind::Cidr, format!("{}/24", Ipv4Addr::from(block | ((sub - 1) << 8))), true)
            } else if roll < 25 && sub < 14 {
                let lo = block | (sub << 8) | 10;
                sub += 1;
                let hi = lo + self.rng.gen_range(5..200);
                (AssetKind::Range, format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi)), false)
            } else {
                // Hosts and small subnets in the top two /24s of the block.
                let len = [26u32, 27, 28, 29, 30, 32, 32, 32][self.rng.gen_range(0..8)];
                let off = self.rng.gen_range(0..512u32) & !((1 << (32 - len)) - 1);
                (AssetKind::Cidr, format!("{}/{len}", Ipv4Addr::from(block | (14 << 8) | off)), false)
            };
            if seen.insert(item.1.clone()) {
                items.push(item);
            }
        }
        for (kind, value, sys) in items {
            self.push_asset(unit, kind, &value, sys.then_some(system.as_str()), Criticality::default());
        }
    }

    /// A government cloud and its tenants: the big-data centre claims
    /// 198.18.0.0/15, units hosted there claim their /28s inside it (most
    /// specific wins), and a shared egress address is claimed twice, with
    /// the admin's precedence deciding.
    fn shared_overlaps(&mut self, units: &[UnitCode]) {
        let bdc = code(UnitCode::parse, "YL-BDC");
        if !units.contains(&bdc) {
            return;
        }
        self.push_asset(
            &bdc,
            AssetKind::Cidr,
            "198.18.0.0/15",
            None,
            Criticality { mlps_level: Some(3), mlps_filing: Some("990000-00000-03000".into()), ..Default::default() },
        );
        self.push_asset(&bdc, AssetKind::Cidr, "203.0.113.0/24", None, Criticality::default());
        let mut tenants: Vec<&UnitCode> = units.iter().filter(|u| u.as_str().starts_with('U')).collect();
        tenants.shuffle(&mut self.rng);
        for (i, t) in tenants.iter().take(200).enumerate() {
            let addr = Ipv4Addr::from(0xc612_0000u32 | ((i as u32) << 4));
            self.push_asset(t, AssetKind::Cidr, &format!("{addr}/28"), None, Criticality::default());
        }
        if let Some(t) = tenants.first() {
            let mut a = Asset {
                unit: (*t).clone(),
                value: AssetValue::parse(AssetKind::Cidr, "203.0.113.7").expect("valid"),
                system: None,
                precedence: 10,
                criticality: Criticality::default(),
                note: "政务云共享出口，由租户负责".into(),
                valid_from: None,
            };
            self.b.assets.push((origin(), a.clone()));
            a.unit = bdc.clone();
            a.precedence = 0;
            a.note = "政务云共享出口".into();
            self.b.assets.push((origin(), a));
        }
    }
}

/// A unit's DNS zone under `.example`.
pub fn zone(unit: &UnitCode) -> String {
    format!("{}.yunling.example", unit.as_str().to_ascii_lowercase().replace(['.', '_'], "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_region_is_valid_and_sized() {
        let b = generate(Spec::default());
        assert_eq!(b.units.len(), 2000);
        assert!((49_000..=51_000).contains(&b.assets.len()), "{}", b.assets.len());
        assert_eq!(b.regions.iter().filter(|(_, r)| r.level == RegionLevel::City).count(), 8);
        assert_eq!(b.regions.iter().filter(|(_, r)| r.level == RegionLevel::District).count(), 60);
        let errs = validate(&b, &Known::default());
        assert!(errs.is_empty(), "{:?}", &errs[..errs.len().min(5)]);
    }

    #[test]
    fn same_seed_same_region() {
        let small = Spec { seed: 7, units: 100, assets: 1000 };
        let a = generate(small);
        let b = generate(small);
        assert_eq!(a.assets.iter().map(|x| &x.1).collect::<Vec<_>>(), b.assets.iter().map(|x| &x.1).collect::<Vec<_>>());
        let c = generate(Spec { seed: 8, ..small });
        assert_ne!(a.assets.iter().map(|x| &x.1).collect::<Vec<_>>(), c.assets.iter().map(|x| &x.1).collect::<Vec<_>>());
    }
}

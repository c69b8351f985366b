//! The registry's vocabulary. Every type here is built by `parse` from the
//! text a user or file gave; nothing downstream sees a raw string.

use std::fmt;

use serde::{Deserialize, Serialize};
use shouwang_attribution::{Asn, DomainPattern, IpNet, IpRange, Target, TargetError, UrlPrefix};

/// A field value that failed validation; the caller adds file, line, field.
pub type FieldError = String;

macro_rules! code_newtype {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                let s = s.trim();
                if s.is_empty() || s.len() > 64 {
                    return Err(format!("{} must be 1 to 64 characters", $what));
                }
                if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
                    return Err(format!("{} `{s}` may hold only ASCII letters, digits, '-', '_' and '.'", $what));
                }
                Ok($name(s.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(c: $name) -> String {
                c.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code_newtype!(
    /// A unit's stable external key (e.g. `U-3701-0042`): what files,
    /// notices and other systems use to name the unit.
    UnitCode,
    "unit code"
);
code_newtype!(
    /// A region's key, typically its administrative division code.
    RegionCode,
    "region code"
);

macro_rules! label_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal / $zh:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Accepts the English key or the Chinese label.
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                let s = s.trim();
                $(if s == $text || s == $zh { return Ok($name::$variant); })+
                Err(format!("`{s}` is not one of: {}", [$($text),+].join(", ")))
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

label_enum!(
    /// Territorial level (属地): province → city → district → street.
    RegionLevel {
        Province = "province" / "省",
        City = "city" / "市",
        District = "district" / "区县",
        Street = "street" / "街道乡镇",
    }
);

impl RegionLevel {
    /// The level a child region must have.
    pub fn child(self) -> Option<RegionLevel> {
        match self {
            RegionLevel::Province => Some(RegionLevel::City),
            RegionLevel::City => Some(RegionLevel::District),
            RegionLevel::District => Some(RegionLevel::Street),
            RegionLevel::Street => None,
        }
    }
}

label_enum!(
    /// What kind of organisation a member unit is.
    UnitKind {
        PartyGovernment = "party_government" / "党政机关",
        PublicInstitution = "public_institution" / "事业单位",
        StateEnterprise = "state_enterprise" / "国有企业",
        Enterprise = "enterprise" / "企业",
        School = "school" / "学校",
        Hospital = "hospital" / "医院",
        SocialOrganization = "social_organization" / "社会组织",
        Other = "other" / "其他",
    }
);

label_enum!(
    UnitStatus {
        Active = "active" / "正常",
        Suspended = "suspended" / "暂停",
        Dissolved = "dissolved" / "撤销",
    }
);

label_enum!(
    /// A contact's responsibility at the unit.
    ContactRole {
        FirstResponsible = "first_responsible" / "第一责任人",
        Security = "security" / "安全联系人",
        Technical = "technical" / "技术联系人",
    }
);

label_enum!(
    /// Party/government portal tier (党政机关门户网站).
    PortalTier {
        Provincial = "provincial" / "省级",
        Municipal = "municipal" / "地市级",
        County = "county" / "县级",
    }
);

label_enum!(
    ServiceType {
        Water = "water" / "供水",
        Power = "power" / "供电",
        Gas = "gas" / "供气",
        Heating = "heating" / "供热",
        Transport = "transport" / "交通",
        Medical = "medical" / "医疗",
        Shopping = "shopping" / "购物",
        Other = "other" / "其他",
    }
);

label_enum!(
    /// Data classification (数据分类分级).
    DataClass {
        Core = "core" / "核心数据",
        Important = "important" / "重要数据",
        General = "general" / "一般数据",
    }
);

/// 统一社会信用代码 (GB 32100-2015): 18 characters with a mod-31 check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

impl Uscc {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_ascii_uppercase();
        if s.len() != 18 {
            return Err(format!("unified social credit code must be 18 characters, got {}", s.chars().count()));
        }
        let mut values = [0u32; 18];
        for (i, b) in s.bytes().enumerate() {
            values[i] = USCC_CHARS
                .iter()
                .position(|&c| c == b)
                .ok_or_else(|| format!("unified social credit code holds `{}`, not allowed by GB 32100", b as char))?
                as u32;
        }
        let expected = Self::check_char(&s[..17]).expect("chars validated above");
        if s.as_bytes()[17] != expected {
            return Err(format!("unified social credit code check digit is `{}`, expected `{}`", &s[17..], expected as char));
        }
        Ok(Uscc(s))
    }

    /// The check character for the first 17 characters.
    pub fn check_char(first17: &str) -> Option<u8> {
        let mut sum = 0;
        for (b, w) in first17.bytes().zip(USCC_WEIGHTS) {
            sum += USCC_CHARS.iter().position(|&c| c == b)? as u32 * w;
        }
        Some(USCC_CHARS[((31 - sum % 31) % 31) as usize])
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Uscc {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}

impl From<Uscc> for String {
    fn from(c: Uscc) -> String {
        c.0
    }
}

/// A display name (Chinese or English): trimmed, non-empty, no control characters.
pub fn parse_name(s: &str, required: bool) -> Result<String, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return if required { Err("must not be empty".into()) } else { Ok(String::new()) };
    }
    if t.chars().count() > 200 {
        return Err("longer than 200 characters".into());
    }
    if t.chars().any(char::is_control) {
        return Err("holds control characters".into());
    }
    Ok(t.to_string())
}

/// An email address, checked for shape (one `@`, a valid domain), not deliverability.
pub fn parse_email(s: &str) -> Result<String, FieldError> {
    let t = s.trim();
    let (local, domain) = t.rsplit_once('@').ok_or("email address has no `@`")?;
    if local.is_empty() || local.len() > 64 || local.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{t}` has an invalid local part"));
    }
    let d = shouwang_attribution::DomainName::parse(domain).map_err(|e| e.to_string())?;
    Ok(format!("{local}@{d}"))
}

/// A phone number: digits with optional leading `+` and `-`/space separators.
pub fn parse_phone(s: &str) -> Result<String, FieldError> {
    let t = s.trim();
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let ok_chars = t.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || c == '-' || c == ' ' || (c == '+' && i == 0));
    if !ok_chars || !(5..=20).contains(&digits) {
        return Err(format!("`{t}` is not a phone number (5 to 20 digits, optional leading +)"));
    }
    Ok(t.to_string())
}

/// How much an asset matters, for grading and routing. Every field is
/// optional: unknown is not the same as "not critical".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criticality {
    /// 等级保护 level 1–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlps_level: Option<u8>,
    /// 等保备案编号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlps_filing: Option<String>,
    /// 关键信息基础设施.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cii: bool,
    /// The CII protection department (保护工作部门).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cii_department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_tier: Option<PortalTier>,
    /// 重点新闻网站.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_news_site: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population_served: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    /// Personal-information records held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pi_records: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_class: Option<DataClass>,
}

impl Criticality {
    /// Cross-field rules: a CII without a department, a level out of range.
    pub fn check(&self) -> Result<(), (&'static str, FieldError)> {
        if let Some(l) = self.mlps_level
            && !(1..=5).contains(&l)
        {
            return Err(("mlps_level", format!("等保 level must be 1 to 5, got {l}")));
        }
        if self.mlps_level.is_some_and(|l| l >= 2) && self.mlps_filing.is_none() {
            return Err(("mlps_filing", "等保 level 2 and above is filed with the police: give the filing number".into()));
        }
        if self.cii && self.cii_department.is_none() {
            return Err(("cii_department", "a CII asset needs its protection department (保护工作部门)".into()));
        }
        Ok(())
    }

    /// Fields set here override those of `base` (an asset over its system).
    pub fn over(&self, base: &Criticality) -> Criticality {
        Criticality {
            mlps_level: self.mlps_level.or(base.mlps_level),
            mlps_filing: self.mlps_filing.clone().or_else(|| base.mlps_filing.clone()),
            cii: self.cii || base.cii,
            cii_department: self.cii_department.clone().or_else(|| base.cii_department.clone()),
            portal_tier: self.portal_tier.or(base.portal_tier),
            key_news_site: self.key_news_site || base.key_news_site,
            population_served: self.population_served.or(base.population_served),
            service_type: self.service_type.or(base.service_type),
            pi_records: self.pi_records.or(base.pi_records),
            data_class: self.data_class.or(base.data_class),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Criticality::default()
    }
}

/// What an asset is. Network kinds are attributable; a `system` is a named
/// information system that network assets can point at for criticality.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssetValue {
    Target(Target),
    System(String),
}

label_enum!(
    AssetKind {
        Cidr = "cidr" / "网段",
        Range = "range" / "地址范围",
        Asn = "asn" / "自治系统",
        Domain = "domain" / "域名",
        Url = "url" / "网址",
        System = "system" / "信息系统",
    }
);

impl AssetValue {
    pub fn parse(kind: AssetKind, value: &str) -> Result<Self, FieldError> {
        let err = |e: TargetError| e.to_string();
        Ok(match kind {
            AssetKind::Cidr => AssetValue::Target(Target::Net(IpNet::parse(value).map_err(err)?)),
            AssetKind::Range => AssetValue::Target(Target::Range(IpRange::parse(value).map_err(err)?)),
            AssetKind::Asn => AssetValue::Target(Target::Asn(Asn::parse(value).map_err(err)?)),
            AssetKind::Domain => AssetValue::Target(Target::Domain(DomainPattern::parse(value).map_err(err)?)),
            AssetKind::Url => AssetValue::Target(Target::Url(UrlPrefix::parse(value).map_err(err)?)),
            AssetKind::System => AssetValue::System(parse_name(value, true)?),
        })
    }

    pub fn kind(&self) -> AssetKind {
        match self {
            AssetValue::Target(Target::Net(_)) => AssetKind::Cidr,
            AssetValue::Target(Target::Range(_)) => AssetKind::Range,
            AssetValue::Target(Target::Asn(_)) => AssetKind::Asn,
            AssetValue::Target(Target::Domain(_)) => AssetKind::Domain,
            AssetValue::Target(Target::Url(_)) => AssetKind::Url,
            AssetValue::System(_) => AssetKind::System,
        }
    }

    /// The canonical text, as stored and exported.
    pub fn value(&self) -> String {
        match self {
            AssetValue::Target(t) => t.to_string(),
            AssetValue::System(s) => s.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_check_digit() {
        // A published example code with a valid check digit.
        assert!(Uscc::parse("91350100M000100Y43").is_ok());
        let e = Uscc::parse("91350100M000100Y44").unwrap_err();
        assert!(e.contains("expected `3`"), "{e}");
        assert!(Uscc::parse("91350100M000100Y4").is_err());
        assert!(Uscc::parse("91350100M000100I43").is_err());
    }

    #[test]
    fn labels_accept_chinese() {
        assert_eq!(UnitKind::parse("医院").unwrap(), UnitKind::Hospital);
        assert_eq!(ContactRole::parse("第一责任人").unwrap(), ContactRole::FirstResponsible);
        assert!(UnitKind::parse("spaceship").unwrap_err().contains("school"));
    }

    #[test]
    fn criticality_rules() {
        let c = Criticality { mlps_level: Some(3), ..Default::default() };
        assert_eq!(c.check().unwrap_err().0, "mlps_filing");
        let c = Criticality { cii: true, ..Default::default() };
        assert_eq!(c.check().unwrap_err().0, "cii_department");
        let c = Criticality { mlps_level: Some(6), ..Default::default() };
        assert_eq!(c.check().unwrap_err().0, "mlps_level");
    }

    #[test]
    fn contact_fields() {
        assert_eq!(parse_email("SOC@Example.TEST").unwrap(), "SOC@example.test");
        assert!(parse_email("no-at-sign").is_err());
        assert!(parse_phone("+86 531-8888 0000").is_ok());
        assert!(parse_phone("call me").is_err());
    }
}

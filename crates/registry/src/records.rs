//! The four record types of a registry file, their column schemas, and the
//! conversion between a flat row (a CSV line or a JSON object) and a typed
//! record. CSV and JSON share this code, so they accept exactly the same
//! values and report errors the same way.

use std::borrow::Cow;
use std::sync::Arc;

use crate::model::*;

/// Where a record came from, for error messages: `file:line` for CSV,
/// `file:#index` for a JSON array element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Line(u64),
    Record(usize),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.loc {
            Loc::Line(l) => write!(f, "{}:{}", self.file, l),
            Loc::Record(i) => write!(f, "{}:#{}", self.file, i),
        }
    }
}

/// One column of a record type: the name in CSV headers and JSON keys.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub required: bool,
    pub ty: ColumnType,
    pub doc: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Int,
    Bool,
}

const fn col(name: &'static str, required: bool, ty: ColumnType, doc: &'static str) -> Column {
    Column { name, required, ty, doc }
}
use ColumnType::*;

pub const REGION_COLUMNS: &[Column] = &[
    col("code", true, Text, "region key, e.g. the administrative division code"),
    col("name_zh", true, Text, "Chinese name"),
    col("name_en", false, Text, "English name"),
    col("level", true, Text, "province | city | district | street (or 省/市/区县/街道乡镇)"),
    col("parent", false, Text, "parent region code; empty for the top"),
];

pub const UNIT_COLUMNS: &[Column] = &[
    col("code", true, Text, "unit key, stable across imports"),
    col("name_zh", true, Text, "Chinese name"),
    col("name_en", false, Text, "English name"),
    col(
        "kind",
        true,
        Text,
        "party_government | public_institution | state_enterprise | enterprise | school | hospital | social_organization | other",
    ),
    col("region", true, Text, "territorial parent region code (属地)"),
    col("supervisor", false, Text, "code of the supervising authority unit (主管单位)"),
    col("jurisdiction", false, Text, "for authorities: the region they oversee"),
    col("sector", false, Text, "sector, e.g. education, health, energy"),
    col("uscc", false, Text, "unified social credit code (统一社会信用代码), checked"),
    col("status", false, Text, "active (default) | suspended | dissolved"),
];

pub const CONTACT_COLUMNS: &[Column] = &[
    col("unit", true, Text, "unit code"),
    col("role", true, Text, "first_responsible | security | technical (or 第一责任人/安全联系人/技术联系人)"),
    col("name", true, Text, "person's name"),
    col("phone", false, Text, "phone number"),
    col("email", false, Text, "email address"),
    col("pgp_key", false, Text, "ASCII-armoured PGP public key or fingerprint"),
];

pub const ASSET_COLUMNS: &[Column] = &[
    col("unit", true, Text, "owning unit code"),
    col("kind", true, Text, "cidr | range | asn | domain | url | system"),
    col(
        "value",
        true,
        Text,
        "192.0.2.0/24, 192.0.2.5-192.0.2.9, AS64500, www.example.test or *.example.test, https://example.test/app, or a system name",
    ),
    col("system", false, Text, "name of this unit's system asset this belongs to (criticality is inherited)"),
    col("precedence", false, Int, "tie-break between equally specific claims by different units: higher wins (default 0)"),
    col("mlps_level", false, Int, "等保 level 1-5"),
    col("mlps_filing", false, Text, "等保 filing number, required from level 2"),
    col("cii", false, Bool, "critical information infrastructure (关键信息基础设施)"),
    col("cii_department", false, Text, "CII protection department, required when cii"),
    col("portal_tier", false, Text, "provincial | municipal | county (党政机关门户网站)"),
    col("key_news_site", false, Bool, "key news site (重点新闻网站)"),
    col("population_served", false, Int, "people served"),
    col("service_type", false, Text, "water | power | gas | heating | transport | medical | shopping | other"),
    col("pi_records", false, Int, "personal-information records held"),
    col("data_class", false, Text, "core | important | general (核心/重要/一般数据)"),
    col("note", false, Text, "free text"),
    col("valid_from", false, Text, "RFC 3339 time the claim starts; default: the import time"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub code: RegionCode,
    pub name_zh: String,
    pub name_en: String,
    pub level: RegionLevel,
    pub parent: Option<RegionCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub code: UnitCode,
    pub name_zh: String,
    pub name_en: String,
    pub kind: UnitKind,
    pub region: RegionCode,
    pub supervisor: Option<UnitCode>,
    pub jurisdiction: Option<RegionCode>,
    pub sector: String,
    pub uscc: Option<Uscc>,
    pub status: UnitStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub unit: UnitCode,
    pub role: ContactRole,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub pgp_key: Option<String>,
}

impl Contact {
    /// Reachable means there is a way to get a notice to this person.
    pub fn reachable(&self) -> bool {
        self.phone.is_some() || self.email.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub unit: UnitCode,
    pub value: AssetValue,
    pub system: Option<String>,
    pub precedence: i64,
    pub criticality: Criticality,
    pub note: String,
    /// When the claim starts; `None` means "at import time".
    pub valid_from: Option<jiff::Timestamp>,
}

/// A row's fields by name, from CSV or JSON. `Ok(None)` is absent or empty.
pub trait Row {
    fn get(&self, field: &'static str) -> Result<Option<Cow<'_, str>>, FieldError>;
}

/// A field-level problem while converting a row.
pub type RowError = (&'static str, FieldError);

fn req<'r, R: Row + ?Sized>(r: &'r R, f: &'static str) -> Result<Cow<'r, str>, RowError> {
    opt(r, f)?.ok_or((f, "is required".into()))
}

fn opt<'r, R: Row + ?Sized>(r: &'r R, f: &'static str) -> Result<Option<Cow<'r, str>>, RowError> {
    r.get(f).map_err(|e| (f, e)).map(|v| v.filter(|s| !s.trim().is_empty()))
}

fn parse_with<T, R: Row + ?Sized>(r: &R, f: &'static str, p: impl FnOnce(&str) -> Result<T, FieldError>) -> Result<Option<T>, RowError> {
    opt(r, f)?.map(|v| p(&v).map_err(|e| (f, e))).transpose()
}

fn name<R: Row + ?Sized>(r: &R, f: &'static str, required: bool) -> Result<String, RowError> {
    let v = opt(r, f)?.unwrap_or_default();
    parse_name(&v, required).map_err(|e| (f, e))
}

fn bool_field<R: Row + ?Sized>(r: &R, f: &'static str) -> Result<bool, RowError> {
    Ok(parse_with(r, f, |s| match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "是" => Ok(true),
        "false" | "no" | "0" | "否" => Ok(false),
        other => Err(format!("`{other}` is not true or false")),
    })?
    .unwrap_or(false))
}

fn int_field<T: std::str::FromStr, R: Row + ?Sized>(r: &R, f: &'static str) -> Result<Option<T>, RowError> {
    parse_with(r, f, |s| s.trim().parse::<T>().map_err(|_| format!("`{s}` is not a whole number in range")))
}

impl Region {
    pub fn from_row<R: Row + ?Sized>(r: &R) -> Result<Self, RowError> {
        Ok(Region {
            code: RegionCode::parse(&req(r, "code")?).map_err(|e| ("code", e))?,
            name_zh: name(r, "name_zh", true)?,
            name_en: name(r, "name_en", false)?,
            level: RegionLevel::parse(&req(r, "level")?).map_err(|e| ("level", e))?,
            parent: parse_with(r, "parent", RegionCode::parse)?,
        })
    }

    pub fn to_row(&self) -> Vec<Cell> {
        vec![
            Cell::text(self.code.as_str()),
            Cell::text(&self.name_zh),
            Cell::text(&self.name_en),
            Cell::text(self.level.as_str()),
            Cell::opt(self.parent.as_ref().map(|p| p.as_str())),
        ]
    }
}

impl Unit {
    pub fn from_row<R: Row + ?Sized>(r: &R) -> Result<Self, RowError> {
        Ok(Unit {
            code: UnitCode::parse(&req(r, "code")?).map_err(|e| ("code", e))?,
            name_zh: name(r, "name_zh", true)?,
            name_en: name(r, "name_en", false)?,
            kind: UnitKind::parse(&req(r, "kind")?).map_err(|e| ("kind", e))?,
            region: RegionCode::parse(&req(r, "region")?).map_err(|e| ("region", e))?,
            supervisor: parse_with(r, "supervisor", UnitCode::parse)?,
            jurisdiction: parse_with(r, "jurisdiction", RegionCode::parse)?,
            sector: name(r, "sector", false)?,
            uscc: parse_with(r, "uscc", Uscc::parse)?,
            status: parse_with(r, "status", UnitStatus::parse)?.unwrap_or(UnitStatus::Active),
        })
    }

    pub fn to_row(&self) -> Vec<Cell> {
        vec![
            Cell::text(self.code.as_str()),
            Cell::text(&self.name_zh),
            Cell::text(&self.name_en),
            Cell::text(self.kind.as_str()),
            Cell::text(self.region.as_str()),
            Cell::opt(self.supervisor.as_ref().map(|s| s.as_str())),
            Cell::opt(self.jurisdiction.as_ref().map(|s| s.as_str())),
            Cell::text(&self.sector),
            Cell::opt(self.uscc.as_ref().map(|s| s.as_str())),
            Cell::text(self.status.as_str()),
        ]
    }
}

impl Contact {
    pub fn from_row<R: Row + ?Sized>(r: &R) -> Result<Self, RowError> {
        let c = Contact {
            unit: UnitCode::parse(&req(r, "unit")?).map_err(|e| ("unit", e))?,
            role: ContactRole::parse(&req(r, "role")?).map_err(|e| ("role", e))?,
            name: name(r, "name", true)?,
            phone: parse_with(r, "phone", parse_phone)?,
            email: parse_with(r, "email", parse_email)?,
            pgp_key: parse_with(r, "pgp_key", |s| {
                if s.len() > 64 * 1024 { Err("PGP key longer than 64 KiB".into()) } else { Ok(s.trim().to_string()) }
            })?,
        };
        Ok(c)
    }

    pub fn to_row(&self) -> Vec<Cell> {
        vec![
            Cell::text(self.unit.as_str()),
            Cell::text(self.role.as_str()),
            Cell::text(&self.name),
            Cell::opt(self.phone.as_deref()),
            Cell::opt(self.email.as_deref()),
            Cell::opt(self.pgp_key.as_deref()),
        ]
    }
}

impl Asset {
    pub fn from_row<R: Row + ?Sized>(r: &R) -> Result<Self, RowError> {
        let kind = AssetKind::parse(&req(r, "kind")?).map_err(|e| ("kind", e))?;
        let criticality = Criticality {
            mlps_level: int_field(r, "mlps_level")?,
            mlps_filing: parse_with(r, "mlps_filing", |s| parse_name(s, true))?,
            cii: bool_field(r, "cii")?,
            cii_department: parse_with(r, "cii_department", |s| parse_name(s, true))?,
            portal_tier: parse_with(r, "portal_tier", PortalTier::parse)?,
            key_news_site: bool_field(r, "key_news_site")?,
            population_served: int_field(r, "population_served")?,
            service_type: parse_with(r, "service_type", ServiceType::parse)?,
            pi_records: int_field(r, "pi_records")?,
            data_class: parse_with(r, "data_class", DataClass::parse)?,
        };
        criticality.check()?;
        Ok(Asset {
            unit: UnitCode::parse(&req(r, "unit")?).map_err(|e| ("unit", e))?,
            value: AssetValue::parse(kind, &req(r, "value")?).map_err(|e| ("value", e))?,
            system: parse_with(r, "system", |s| parse_name(s, true))?,
            precedence: int_field(r, "precedence")?.unwrap_or(0),
            criticality,
            note: name(r, "note", false)?,
            valid_from: parse_with(r, "valid_from", |s| {
                s.trim().parse::<jiff::Timestamp>().map_err(|e| format!("`{s}` is not an RFC 3339 time: {e}"))
            })?,
        })
    }

    pub fn to_row(&self) -> Vec<Cell> {
        let c = &self.criticality;
        vec![
            Cell::text(self.unit.as_str()),
            Cell::text(self.value.kind().as_str()),
            Cell::Text(self.value.value()),
            Cell::opt(self.system.as_deref()),
            Cell::Int(self.precedence),
            c.mlps_level.map_or(Cell::Empty, |l| Cell::Int(l.into())),
            Cell::opt(c.mlps_filing.as_deref()),
            Cell::Bool(c.cii),
            Cell::opt(c.cii_department.as_deref()),
            Cell::opt(c.portal_tier.map(|t| t.as_str())),
            Cell::Bool(c.key_news_site),
            c.population_served.map_or(Cell::Empty, |n| Cell::Int(n as i64)),
            Cell::opt(c.service_type.map(|t| t.as_str())),
            c.pi_records.map_or(Cell::Empty, |n| Cell::Int(n as i64)),
            Cell::opt(c.data_class.map(|t| t.as_str())),
            Cell::text(&self.note),
            Cell::opt(self.valid_from.map(|t| t.to_string()).as_deref()),
        ]
    }
}

/// One exported value, typed for JSON and printed for CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Bool(bool),
}

impl Cell {
    fn text(s: &str) -> Cell {
        if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) }
    }

    fn opt(s: Option<&str>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }

    /// Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`,
    /// tab, CR) is written behind a `'`, which Excel and WPS hide; so is text
    /// that already starts with `'`. Reading strips one leading `'`
    /// ([`csv_unquote`]), so export → import stays exact.
    pub fn to_csv(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => "".into(),
            Cell::Text(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) => format!("'{s}").into(),
            Cell::Text(s) => s.as_str().into(),
            Cell::Int(n) => n.to_string().into(),
            Cell::Bool(b) => if *b { "true" } else { "false" }.into(),
        }
    }

    pub fn to_json(&self) -> Option<serde_json::Value> {
        match self {
            Cell::Empty => None,
            Cell::Text(s) => Some(s.clone().into()),
            Cell::Int(n) => Some((*n).into()),
            // false is the default: leave it out to keep exports small.
            Cell::Bool(false) => None,
            Cell::Bool(true) => Some(true.into()),
        }
    }
}

/// Undoes the formula guard of [`Cell::to_csv`] on a CSV field.
pub fn csv_unquote(s: &str) -> &str {
    s.strip_prefix('\'').unwrap_or(s)
}

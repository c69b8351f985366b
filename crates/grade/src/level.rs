//! Levels I–IV from a versioned rule table (`data/grading.toml`): the
//! asset's importance (from its criticality) × the loss (measured, or
//! presumed from the detection's severity) gives a level by the GB/T 20986
//! matrix, and measured impact past a CAC-2025 threshold raises it. The
//! same web-shell alert is level II on a CII system and IV on a school's
//! test server, and the reasons say so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shouwang_registry::{Criticality, DataClass, PortalTier};

use crate::GradeError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// 特别重大 (red).
    I,
    /// 重大 (orange).
    II,
    /// 较大 (yellow).
    III,
    /// 一般 (blue).
    IV,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Level {
    /// Most severe first.
    pub const ALL: [Level; 4] = [Level::I, Level::II, Level::III, Level::IV];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::I => "I",
            Level::II => "II",
            Level::III => "III",
            Level::IV => "IV",
        }
    }

    /// `I`…`IV` (Roman numerals, as written on notices).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s.trim())
    }

    /// 0 for I … 3 for IV.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn zh(self) -> &'static str {
        match self {
            Level::I => "特别重大",
            Level::II => "重大",
            Level::III => "较大",
            Level::IV => "一般",
        }
    }

    /// The warning colour of 国家网络安全事件应急预案.
    pub fn colour(self) -> &'static str {
        match self {
            Level::I => "red",
            Level::II => "orange",
            Level::III => "yellow",
            Level::IV => "blue",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Importance {
    ParticularlyImportant,
    Important,
    General,
}

impl Importance {
    pub fn zh(self) -> &'static str {
        match self {
            Importance::ParticularlyImportant => "特别重要",
            Importance::Important => "重要",
            Importance::General => "一般",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    ParticularlySerious,
    Serious,
    RelativelyLarge,
    Minor,
}

impl Loss {
    pub fn zh(self) -> &'static str {
        match self {
            Loss::ParticularlySerious => "特别严重",
            Loss::Serious => "严重",
            Loss::RelativelyLarge => "较大",
            Loss::Minor => "较小",
        }
    }
}

/// Measured impact, when known (incidents rather than detections).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// The system (or portal) unreachable as a whole, hours.
    pub outage_hours: Option<f64>,
    /// The main function unavailable, hours.
    pub main_function_outage_hours: Option<f64>,
    pub pi_records_leaked: Option<f64>,
    pub direct_loss_yuan: Option<f64>,
    /// An analyst's assessment of the loss, overriding the presumed one.
    pub loss: Option<Loss>,
}

#[derive(Debug, Clone, Deserialize)]
struct Trigger {
    level: Level,
    metric: Metric,
    gte: f64,
    #[serde(default)]
    applies_to: Vec<Condition>,
}

/// A measured-impact quantity a trigger compares.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
enum Metric {
    OutageHours,
    MainFunctionOutageHours,
    PiRecordsLeaked,
    DirectLossYuan,
}

impl TryFrom<String> for Metric {
    type Error = String;
    fn try_from(s: String) -> Result<Metric, String> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("trigger metric `{s}` is not one of {}", Metric::ALL.map(Metric::name).join(", ")))
    }
}

impl Metric {
    const ALL: [Metric; 4] = [Metric::OutageHours, Metric::MainFunctionOutageHours, Metric::PiRecordsLeaked, Metric::DirectLossYuan];

    fn name(self) -> &'static str {
        match self {
            Metric::OutageHours => "outage_hours",
            Metric::MainFunctionOutageHours => "main_function_outage_hours",
            Metric::PiRecordsLeaked => "pi_records_leaked",
            Metric::DirectLossYuan => "direct_loss_yuan",
        }
    }

    fn of(self, i: &Impact) -> Option<f64> {
        match self {
            Metric::OutageHours => i.outage_hours,
            Metric::MainFunctionOutageHours => i.main_function_outage_hours,
            Metric::PiRecordsLeaked => i.pi_records_leaked,
            Metric::DirectLossYuan => i.direct_loss_yuan,
        }
    }
}

/// A condition on an asset's criticality (see grading.toml), parsed when
/// the table loads; `text` is how the table wrote it, for reasons.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct Condition {
    text: String,
    test: Test,
}

#[derive(Debug, Clone, Copy)]
enum Test {
    Cii,
    KeyNewsSite,
    Portal(PortalTier),
    Data(DataClass),
    MlpsAtLeast(u64),
    PopulationAtLeast(u64),
    PiRecordsAtLeast(u64),
}

impl TryFrom<String> for Condition {
    type Error = String;
    fn try_from(text: String) -> Result<Condition, String> {
        let number = |n: &str| n.trim().parse::<u64>().map_err(|_| format!("`{text}`: `{n}` is not a number"));
        let t = text.trim();
        let test = match t {
            "cii" => Test::Cii,
            "key_news_site" => Test::KeyNewsSite,
            "portal:provincial" => Test::Portal(PortalTier::Provincial),
            "portal:municipal" => Test::Portal(PortalTier::Municipal),
            "portal:county" => Test::Portal(PortalTier::County),
            "data:core" => Test::Data(DataClass::Core),
            "data:important" => Test::Data(DataClass::Important),
            "data:general" => Test::Data(DataClass::General),
            _ => {
                if let Some(n) = t.strip_prefix("mlps>=") {
                    Test::MlpsAtLeast(number(n)?)
                } else if let Some(n) = t.strip_prefix("population>=") {
                    Test::PopulationAtLeast(number(n)?)
                } else if let Some(n) = t.strip_prefix("pi_records>=") {
                    Test::PiRecordsAtLeast(number(n)?)
                } else {
                    return Err(format!("unknown condition `{t}`"));
                }
            }
        };
        Ok(Condition { text, test })
    }
}

impl Condition {
    fn holds(&self, c: &Criticality) -> bool {
        match self.test {
            Test::Cii => c.cii,
            Test::KeyNewsSite => c.key_news_site,
            Test::Portal(p) => c.portal_tier == Some(p),
            Test::Data(d) => c.data_class == Some(d),
            Test::MlpsAtLeast(n) => c.mlps_level.is_some_and(|l| u64::from(l) >= n),
            Test::PopulationAtLeast(n) => c.population_served.is_some_and(|p| p >= n),
            Test::PiRecordsAtLeast(n) => c.pi_records.is_some_and(|p| p >= n),
        }
    }
}

#[derive(Debug, Deserialize)]
struct File {
    version: String,
    importance: BTreeMap<Importance, Vec<Condition>>,
    presumed_loss: BTreeMap<String, Loss>,
    matrix: BTreeMap<Importance, BTreeMap<Loss, Level>>,
    #[serde(default)]
    trigger: Vec<Trigger>,
}

pub struct GradingTable {
    pub version: String,
    file: File,
}

/// A proposed level and everything that produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graded {
    pub level: Level,
    pub importance: Importance,
    pub loss: Loss,
    pub reasons: Vec<String>,
    /// The rule table's version, so a later reader knows which rules applied.
    pub table: String,
}

impl GradingTable {
    pub fn builtin() -> GradingTable {
        GradingTable::from_toml(include_str!("../data/grading.toml")).expect("the built-in grading table parses (tested)")
    }

    pub fn from_toml(text: &str) -> Result<GradingTable, GradeError> {
        let err = |why: String| GradeError::Data { what: "grading table".into(), why };
        let file: File = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for imp in [Importance::ParticularlyImportant, Importance::Important, Importance::General] {
            for loss in [Loss::ParticularlySerious, Loss::Serious, Loss::RelativelyLarge, Loss::Minor] {
                if file.matrix.get(&imp).and_then(|row| row.get(&loss)).is_none() {
                    return Err(err(format!("the matrix has no level for {imp:?} × {loss:?}")));
                }
            }
        }
        Ok(GradingTable { version: file.version.clone(), file })
    }

    /// The asset's importance and the condition that decided it.
    pub fn importance(&self, c: Option<&Criticality>) -> (Importance, String) {
        let Some(c) = c else { return (Importance::General, "no attributed asset: importance 一般".into()) };
        for imp in [Importance::ParticularlyImportant, Importance::Important] {
            if let Some(cond) = self.file.importance.get(&imp).into_iter().flatten().find(|cond| cond.holds(c)) {
                return (imp, format!("asset {} → importance {}", cond.text, imp.zh()));
            }
        }
        (Importance::General, "asset meets no importance condition → 一般".into())
    }

    /// The proposed level for a detection of `severity` (a Sigma level) on
    /// an asset of criticality `c`, with `impact` where it is known.
    pub fn grade(&self, c: Option<&Criticality>, severity: &str, impact: &Impact) -> Graded {
        let mut reasons = Vec::new();
        let (importance, why) = self.importance(c);
        reasons.push(why);
        let loss = match impact.loss {
            Some(l) => {
                reasons.push(format!("loss assessed as {}", l.zh()));
                l
            }
            None => {
                let l = self.file.presumed_loss.get(&severity.to_ascii_lowercase()).copied().unwrap_or(Loss::Minor);
                reasons.push(format!("severity `{severity}` → presumed loss {}", l.zh()));
                l
            }
        };
        let mut level = self.file.matrix[&importance][&loss];
        reasons.push(format!("{} × {} → level {:?} {}", importance.zh(), loss.zh(), level, level.zh()));
        let empty = Criticality::default();
        let crit = c.unwrap_or(&empty);
        for t in &self.file.trigger {
            let applies = t.applies_to.is_empty() || t.applies_to.iter().any(|a| a.holds(crit));
            if let Some(v) = t.metric.of(impact)
                && v >= t.gte
                && applies
                && t.level < level
            {
                level = t.level;
                let scope = if t.applies_to.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", t.applies_to.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" or "))
                };
                reasons.push(format!(
                    "{} {v} ≥ {}{scope} → at least level {:?} {} ({})",
                    t.metric.name(),
                    t.gte,
                    t.level,
                    t.level.zh(),
                    self.version
                ));
            }
        }
        Graded { level, importance, loss, reasons, table: self.version.clone() }
    }
}

//! Loading the detection content, with a report of everything left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use shouwang_detect::{CorrelationConfig, LoadReport, Rules, TimestampFallback};
use shouwang_intel::import::{Defaults, Rejected, read_path};
use shouwang_intel::{Intel, IntelBuilder};

use crate::{AlertsError, DetectionConfig};

/// Rejections listed one by one per file in a summary; the rest are counted.
const LISTED: usize = 100;

/// One indicator or allow-list file as loaded.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub path: PathBuf,
    pub read: u64,
    pub loaded: u64,
    pub skipped: u64,
    pub rejected_total: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// The first rejections, each with where and why.
    pub rejected: Vec<Rejected>,
}

/// What a load kept and what it left out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    pub loaded_at: jiff::Timestamp,
    pub rules: LoadReport,
    pub indicators: Vec<FeedReport>,
    /// Indicators in use (expired ones are left out when loading).
    pub indicators_in_use: usize,
    pub allow: Vec<FeedReport>,
    pub allow_entries: usize,
}

/// Rules, indicators and allow-lists, loaded together and replaced together.
pub struct Content {
    /// Correlations keep state between events, so evaluation needs `&mut`;
    /// the consumer thread takes the lock once per batch, uncontended.
    pub(crate) rules: Mutex<Rules>,
    pub(crate) intel: Intel,
    pub(crate) allow: Intel,
    pub summary: LoadSummary,
}

impl Content {
    /// Loads everything `config` names. Bad rules and bad indicator
    /// records are reported and left out; a path that cannot be read at
    /// all, or a broken pipeline, fails the load.
    pub fn load(config: &DetectionConfig) -> Result<Content, AlertsError> {
        let mut pipelines = vec![shouwang_detect::pipeline_from_yaml("shouwang_ecs", include_str!("../data/ecs.yml"))?];
        for p in &config.pipelines {
            pipelines.push(shouwang_detect::pipeline(p)?);
        }
        // Live events carry their own times; correlations run on them, and
        // an event without a usable time updates none.
        let correlation = CorrelationConfig { timestamp_fallback: TimestampFallback::Skip, ..Default::default() };
        let (rules, report) = Rules::load(&config.rules, pipelines, correlation)?;
        let (intel, indicators) = feeds(&config.indicators)?;
        let (allow, allow_reports) = feeds(&config.allow)?;
        Ok(Content {
            rules: Mutex::new(rules),
            summary: LoadSummary {
                loaded_at: jiff::Timestamp::now(),
                rules: report,
                indicators,
                indicators_in_use: intel.len(),
                allow: allow_reports,
                allow_entries: allow.len(),
            },
            intel,
            allow,
        })
    }

    /// Nothing to detect with: sensor alerts and reports still become alerts.
    pub fn empty() -> Content {
        Content::load(&DetectionConfig::default()).expect("the built-in pipeline parses (tested)")
    }
}

fn feeds(paths: &[PathBuf]) -> Result<(Intel, Vec<FeedReport>), AlertsError> {
    let mut b = IntelBuilder::default();
    let mut reports = Vec::new();
    for path in paths {
        reports.push(feed(path, &mut b)?);
    }
    Ok((b.build(jiff::Timestamp::now()), reports))
}

fn feed(path: &Path, b: &mut IntelBuilder) -> Result<FeedReport, AlertsError> {
    let defaults = Defaults::new(&path.display().to_string());
    let r = read_path(path, &defaults, &mut |i| b.add(i)).map_err(|why| AlertsError::Feed { path: path.display().to_string(), why })?;
    Ok(FeedReport {
        path: path.to_path_buf(),
        read: r.read,
        loaded: r.loaded,
        skipped: r.skipped,
        rejected_total: r.rejected_total(),
        rejected_by_reason: r.rejected_by_reason,
        rejected: r.rejected.into_iter().take(LISTED).collect(),
    })
}

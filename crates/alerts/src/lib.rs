//! Live detection: every ingested event meets the Sigma rules, the threat
//! indicators and its own sensor's verdict; each hit is classified into a
//! GB/T 20986-2023 subcategory, graded for every asset it touches, and
//! aggregated into alerts (one per rule, unit, asset and window).
//!
//! The detection content (rules, indicators, allow-lists) is loaded whole
//! into a [`Content`] and swapped atomically on reload: the pipeline never
//! waits for a reload, and a reload that fails keeps the content in use.

mod content;
mod findings;
mod live;
mod logsource;

use std::path::PathBuf;

pub use content::{Content, FeedReport, LoadSummary};
pub use findings::{Finding, confidence_level, severity_name};
pub use live::{Affected, AlertSink, LiveDetection, MAX_PENDING, Pending, RECORD_EVERY};
pub use logsource::LogSources;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error(transparent)]
    Rules(#[from] shouwang_detect::DetectError),
    /// An indicator or allow-list file that cannot be used at all.
    #[error("{path}: {why}")]
    Feed { path: String, why: String },
    #[error(transparent)]
    Store(#[from] shouwang_store::StoreError),
}

/// What to detect with (`[detection]` in the configuration).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionConfig {
    /// Sigma rule files or directories.
    pub rules: Vec<PathBuf>,
    /// More field-mapping pipelines (built-in names or YAML files), applied
    /// after the built-in Sigma-taxonomy-to-ECS one.
    pub pipelines: Vec<String>,
    /// Indicator files and feeds: CSV, STIX 2.1 bundles, MISP events or feeds.
    pub indicators: Vec<PathBuf>,
    /// Known-benign infrastructure, in the same formats: an indicator match
    /// on a value listed here is dropped.
    pub allow: Vec<PathBuf>,
    /// Hits of one rule on one asset within this many seconds (aligned to
    /// the epoch) make one alert.
    pub window_secs: u64,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig { rules: Vec::new(), pipelines: Vec::new(), indicators: Vec::new(), allow: Vec::new(), window_secs: 3600 }
    }
}

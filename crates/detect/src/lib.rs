//! Detection: Sigma rules and correlations (specification v2.1) over events.
//!
//! Rules are evaluated by `rsigma-eval`, a compile-then-evaluate Sigma
//! engine; this crate owns what the platform needs around it: loading rule
//! directories with a precise report of every rule that cannot be used,
//! field-name pipelines (data, not code) from the Sigma taxonomy to the
//! events' fields, and the shapes events arrive in (the Windows event
//! export, [`windows`]).

mod cost;
pub mod hunt;
mod rules;
pub mod windows;

use std::path::PathBuf;

pub use cost::{CostReport, RuleCost, SAMPLE_EVERY, SLOW_MICROS};
pub use rsigma_eval::{CorrelationConfig, Event as SigmaEvent, JsonEvent, Pipeline, PlainEvent, TimestampFallback};
pub use rules::{LoadReport, MAX_RULE_FILE, Problem, Rules};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("pipeline {name}: {why}")]
    Pipeline { name: String, why: String },
    #[error("the rule engine refused the rule set: {0}")]
    Engine(String),
}

/// A rule that fired on an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The rule's id (its title when it has none).
    pub rule_id: String,
    pub title: String,
    /// Sigma level: informational, low, medium, high, critical.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub tags: Vec<String>,
    /// `detection`, or the correlation type (`event_count`, `temporal`, …).
    pub kind: String,
}

impl Hit {
    fn from_result(r: &rsigma_eval::EvaluationResult) -> Hit {
        let h = &r.header;
        let kind = match &r.body {
            rsigma_eval::ResultBody::Detection(_) => "detection".to_string(),
            rsigma_eval::ResultBody::Correlation(c) => c.correlation_type.as_str().to_string(),
        };
        Hit {
            rule_id: h.rule_id.clone().unwrap_or_else(|| h.rule_title.clone()),
            title: h.rule_title.clone(),
            level: h.level.map(|l| l.as_str().to_string()),
            tags: h.tags.clone(),
            kind,
        }
    }
}

impl Rules {
    /// The detection rules that match `event` (no correlation state).
    pub fn detect(&self, event: &impl rsigma_eval::Event) -> Vec<Hit> {
        self.engine.evaluate(event).iter().map(Hit::from_result).collect()
    }

    fn hits(&self, results: Vec<rsigma_eval::EvaluationResult>) -> Vec<Hit> {
        results.iter().filter(|r| self.keeps(r)).map(Hit::from_result).collect()
    }

    /// Applies a `value_percentile` correlation's predicates to the value
    /// it reports (see `percentile_checks`).
    fn keeps(&self, r: &rsigma_eval::EvaluationResult) -> bool {
        let rsigma_eval::ResultBody::Correlation(c) = &r.body else { return true };
        let id = r.header.rule_id.as_deref().unwrap_or(&r.header.rule_title);
        let Some(predicates) = self.percentile_checks.get(id) else { return true };
        let v = c.aggregated_value;
        predicates.iter().all(|&(op, n)| {
            let n = n as f64;
            match op {
                rsigma_parser::ConditionOperator::Lt => v < n,
                rsigma_parser::ConditionOperator::Lte => v <= n,
                rsigma_parser::ConditionOperator::Gt => v > n,
                rsigma_parser::ConditionOperator::Gte => v >= n,
                rsigma_parser::ConditionOperator::Eq => v == n,
                rsigma_parser::ConditionOperator::Neq => v != n,
            }
        })
    }

    /// Detections, then the correlations they complete, on the clock of the
    /// event's own time (the configured timestamp fields); an event without
    /// one updates no correlation unless the configuration falls back to
    /// the wall clock.
    pub fn process_event(&mut self, event: &impl rsigma_eval::Event) -> Vec<Hit> {
        self.costs.observe(self.engine.engine().rules(), &self.logsources, event);
        let results = self.engine.process_event(event);
        self.hits(results)
    }

    /// Detections, then the correlations they complete, with `at` (Unix
    /// seconds, the event's time) as the correlation clock.
    pub fn process(&mut self, event: &impl rsigma_eval::Event, at: i64) -> Vec<Hit> {
        self.costs.observe(self.engine.engine().rules(), &self.logsources, event);
        let results = self.engine.process_event_at(event, at);
        self.hits(results)
    }

    /// Times every rule that fits `event`, whatever the sampling says
    /// (the sampled events do this; see [`CostReport`]).
    pub fn time_rules(&mut self, event: &impl rsigma_eval::Event) {
        self.costs.sample(self.engine.engine().rules(), &self.logsources, event);
    }

    /// The `n` rules that have cost most on the sampled events.
    pub fn costs(&self, n: usize) -> CostReport {
        self.costs.report(self.engine.engine().rules(), n)
    }
}

/// Every file below `dir` (hidden entries skipped), in name order so runs
/// repeat.
pub fn files_below(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_below(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// A field-mapping pipeline by built-in name (`sysmon`, `ecs_windows`,
/// `fibratus_windows`) or from a YAML file (pySigma's processing-pipeline
/// format).
pub fn pipeline(name_or_path: &str) -> Result<Pipeline, DetectError> {
    let err = |why: String| DetectError::Pipeline { name: name_or_path.to_string(), why };
    if let Some(p) = rsigma_eval::resolve_builtin_pipeline(name_or_path) {
        return p.map_err(|e| err(e.to_string()));
    }
    let path = std::path::Path::new(name_or_path);
    if !path.exists() {
        return Err(err(format!("neither a built-in pipeline ({}) nor a file", rsigma_eval::builtin_pipeline_names().join(", "))));
    }
    rsigma_eval::parse_pipeline_file(path).map_err(|e| err(e.to_string()))
}

/// A field-mapping pipeline from YAML text (pySigma's processing-pipeline
/// format), e.g. one built into the binary.
pub fn pipeline_from_yaml(name: &str, yaml: &str) -> Result<Pipeline, DetectError> {
    rsigma_eval::parse_pipeline(yaml).map_err(|e| DetectError::Pipeline { name: name.to_string(), why: e.to_string() })
}

//! Loading Sigma rules from files and directories. A rule set is only as
//! useful as the operator's trust in it, so loading never fails as a whole
//! for one bad rule: every file, document, rule, correlation and filter that
//! cannot be used is reported with its file and the reason, and the rest load.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rsigma_eval::{CorrelationConfig, CorrelationEngine, Pipeline};
use rsigma_parser::{ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, SigmaCollection};
use serde::Serialize;

use crate::DetectError;

/// Largest rule file read. SigmaHQ's largest rule is about 40 KB; a file
/// far past this is not a rule file.
pub const MAX_RULE_FILE: u64 = 1024 * 1024;

/// Something that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    /// The rule's id or title, when the problem is one rule's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub reason: String,
}

/// What a load read and kept.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub files: usize,
    pub rules: usize,
    pub correlations: usize,
    pub filters: usize,
    pub problems: Vec<Problem>,
}

/// A compiled rule set: detection rules, correlations and filters.
pub struct Rules {
    pub(crate) engine: CorrelationEngine,
    /// `value_percentile` correlations by id (or title), with their
    /// predicates: rsigma-eval 0.23 reports such a correlation whenever its
    /// window holds a value, without applying the predicates (fixed in 0.26,
    /// which needs Rust 1.96), so they are applied to its results here.
    pub(crate) percentile_checks: std::collections::HashMap<String, Vec<(ConditionOperator, u64)>>,
    /// The engine's log source extractor, for the cost samples.
    pub(crate) logsources: rsigma_eval::LogSourceExtractor,
    pub(crate) costs: crate::cost::Costs,
}

/// Rule files under `path`: the file itself, or every `.yml`/`.yaml` below
/// a directory.
fn rule_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), DetectError> {
    let io = |source| DetectError::Io { path: path.to_path_buf(), source };
    if !path.is_dir() {
        std::fs::metadata(path).map_err(io)?;
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut all = Vec::new();
    crate::files_below(path, &mut all).map_err(io)?;
    out.extend(all.into_iter().filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml")));
    Ok(())
}

fn label(id: &Option<String>, title: &str) -> String {
    id.clone().unwrap_or_else(|| title.to_string())
}

impl Rules {
    /// Loads every rule under `paths` (files or directories), with
    /// `pipelines` mapping the rules' field names onto the events'.
    /// A path that does not exist is an error; anything inside that cannot
    /// be used is a [`Problem`] in the report.
    pub fn load(paths: &[PathBuf], pipelines: Vec<Pipeline>, config: CorrelationConfig) -> Result<(Rules, LoadReport), DetectError> {
        let mut files = Vec::new();
        for p in paths {
            rule_files(p, &mut files)?;
        }
        let mut report = LoadReport { files: files.len(), ..Default::default() };
        let mut keep = SigmaCollection::new();
        // Which file each kept document came from, for later problems.
        let mut corr_files = Vec::new();
        let mut filter_files = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        for file in &files {
            let problem = |rule: Option<String>, reason: String| Problem { file: file.clone(), rule, reason };
            let text = match read_rule_file(file) {
                Ok(t) => t,
                Err(why) => {
                    report.problems.push(problem(None, why));
                    continue;
                }
            };
            let collection = match rsigma_parser::parse_sigma_yaml(&text) {
                Ok(c) => c,
                Err(e) => {
                    report.problems.push(problem(None, e.to_string()));
                    continue;
                }
            };
            report.problems.extend(collection.errors.iter().map(|e| problem(None, e.clone())));
            for rule in collection.rules {
                let name = label(&rule.id, &rule.title);
                if let Some(id) = &rule.id
                    && ids.contains(id)
                {
                    report.problems.push(problem(Some(name), format!("duplicate rule id {id}: the first one loaded is kept")));
                    continue;
                }
                // Compile it alone first, so a bad rule is reported by name
                // instead of failing the whole set. Only a rule that loads
                // claims its id.
                let mut transformed = rule.clone();
                let compiled =
                    rsigma_eval::apply_pipelines(&pipelines, &mut transformed).and_then(|()| rsigma_eval::compile_rule(&transformed));
                match compiled {
                    Ok(_) => {
                        ids.extend(rule.id.clone());
                        keep.rules.push(rule);
                    }
                    Err(e) => report.problems.push(problem(Some(name), e.to_string())),
                }
            }
            for corr in collection.correlations {
                if let Some(id) = &corr.id
                    && !ids.insert(id.clone())
                {
                    let name = label(&corr.id, &corr.title);
                    report.problems.push(problem(Some(name), format!("duplicate rule id {id}: the first one loaded is kept")));
                    continue;
                }
                corr_files.push(file.clone());
                keep.correlations.push(with_spec_defaults(corr));
            }
            for filter in collection.filters {
                filter_files.push(file.clone());
                keep.filters.push(filter);
            }
        }
        drop_unresolved_correlations(&mut keep, &mut corr_files, &mut report);
        let mut engine = new_engine(&pipelines, config.clone());
        if let Err(e) = engine.add_collection(&keep) {
            // Per-rule checks passed, so this is a filter or a correlation
            // the engine refuses as a set (a cycle): report them and keep
            // the detection rules, which compiled one by one above.
            let why = format!("not loaded: the rule set with the correlations and filters was refused: {e}");
            for (f, c) in corr_files.iter().zip(&keep.correlations) {
                report.problems.push(Problem { file: f.clone(), rule: Some(label(&c.id, &c.title)), reason: why.clone() });
            }
            for (f, x) in filter_files.iter().zip(&keep.filters) {
                report.problems.push(Problem { file: f.clone(), rule: Some(label(&x.id, &x.title)), reason: why.clone() });
            }
            keep.correlations.clear();
            keep.filters.clear();
            engine = new_engine(&pipelines, config);
            engine.add_collection(&keep).map_err(|e| DetectError::Engine(e.to_string()))?;
        }
        report.rules = keep.rules.len();
        report.correlations = keep.correlations.len();
        report.filters = keep.filters.len();
        let percentile_checks = keep
            .correlations
            .iter()
            .filter(|c| c.correlation_type == CorrelationType::ValuePercentile)
            .filter_map(|c| match &c.condition {
                CorrelationCondition::Threshold { predicates, .. } => Some((label(&c.id, &c.title), predicates.clone())),
                CorrelationCondition::Extended(_) => None,
            })
            .collect();
        Ok((Rules { engine, percentile_checks, logsources: logsources(), costs: Default::default() }, report))
    }

    pub fn rule_count(&self) -> usize {
        self.engine.detection_rule_count()
    }

    pub fn correlation_count(&self) -> usize {
        self.engine.correlation_rule_count()
    }
}

/// A temporal correlation without a condition means every referenced rule
/// within the timespan (Sigma correlation specification); rsigma-parser 0.23
/// defaults it to `gte: 1`, which any single rule satisfies.
fn with_spec_defaults(mut c: CorrelationRule) -> CorrelationRule {
    let temporal = matches!(c.correlation_type, CorrelationType::Temporal | CorrelationType::TemporalOrdered);
    if let CorrelationCondition::Threshold { predicates, field: None, .. } = &mut c.condition
        && temporal
        && predicates.as_slice() == [(ConditionOperator::Gte, 1)]
    {
        *predicates = vec![(ConditionOperator::Gte, c.rules.len() as u64)];
    }
    c
}

fn new_engine(pipelines: &[Pipeline], config: CorrelationConfig) -> CorrelationEngine {
    let mut engine = CorrelationEngine::new(config);
    // Events that say which log source they come from (flattened Windows
    // events do) skip rules written for another; events that do not say
    // are matched against every rule.
    engine.set_logsource_extractor(Some(logsources()));
    for p in pipelines {
        engine.add_pipeline(p.clone());
    }
    engine
}

fn logsources() -> rsigma_eval::LogSourceExtractor {
    let [product, service, category] = crate::windows::LOGSOURCE_FIELDS;
    rsigma_eval::LogSourceExtractor::new().with_field_names(product, service, category)
}

fn read_rule_file(file: &Path) -> Result<String, String> {
    let len = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    if len > MAX_RULE_FILE {
        return Err(format!("{len} bytes, over the {MAX_RULE_FILE}-byte limit for a rule file"));
    }
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

/// A correlation whose rules are not loaded (missing, or dropped above)
/// cannot fire: report it by name rather than fail the set. Repeats until
/// no more drop, since correlations may reference correlations.
fn drop_unresolved_correlations(keep: &mut SigmaCollection, files: &mut Vec<PathBuf>, report: &mut LoadReport) {
    loop {
        let known: HashSet<&str> = keep
            .rules
            .iter()
            .flat_map(|r| [r.id.as_deref(), r.name.as_deref()])
            .chain(keep.correlations.iter().flat_map(|c| [c.id.as_deref(), c.name.as_deref()]))
            .flatten()
            .collect();
        let bad: Vec<(usize, String)> = keep
            .correlations
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match rsigma_eval::correlation::compile_correlation(c) {
                Err(e) => Some((i, e.to_string())),
                Ok(_) => {
                    let missing: Vec<&str> = c.rules.iter().map(String::as_str).filter(|r| !known.contains(r)).collect();
                    (!missing.is_empty()).then(|| (i, format!("refers to rules that are not loaded: {}", missing.join(", "))))
                }
            })
            .collect();
        if bad.is_empty() {
            return;
        }
        for (i, why) in bad.into_iter().rev() {
            let c = keep.correlations.remove(i);
            report.problems.push(Problem { file: files.remove(i), rule: Some(label(&c.id, &c.title)), reason: why });
        }
    }
}

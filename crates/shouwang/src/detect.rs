//! `shouwang detect`: offline hunting over files, glue around
//! `shouwang_detect::hunt`.

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use shouwang_alerts::confidence_level;
use shouwang_detect::hunt::{HuntReport, hunt};
use shouwang_detect::{CorrelationConfig, Rules, TimestampFallback};
use shouwang_grade::{Categories, CategoryMap, GradingTable, Impact, Label, LabelSource};
use shouwang_store::{Affected, Attributor};

use crate::print_json_line;

/// A registry read from files into a scratch store, for attributing hits
/// offline. The directory lives as long as the returned guard.
pub async fn registry(path: &std::path::Path) -> anyhow::Result<(tempfile::TempDir, Attributor)> {
    let bundle = shouwang_registry::io::read_path(path, Default::default()).map_err(|errs| {
        for e in &errs {
            eprintln!("registry: {e}");
        }
        anyhow::anyhow!("{}: {} registry record(s) rejected", path.display(), errs.len())
    })?;
    let dir = tempfile::tempdir()?;
    let store = shouwang_store::Store::open_sqlite_dir(dir.path()).await?;
    let out = store.import(&shouwang_store::Principal::local("detect"), &bundle, "shouwang detect --registry", false).await?;
    if let Some(e) = out.errors.first() {
        anyhow::bail!("{}: {} registry record(s) rejected, the first: {e}", path.display(), out.errors.len());
    }
    let attributor = Attributor::new(store).await?;
    eprintln!("registry {}: {} units, {} index entries", path.display(), bundle.units.len(), attributor.stats().1);
    Ok((dir, attributor))
}

/// With a registry: the units and assets a record touches, each with the
/// level a hit of `severity` proposes for it.
struct Grader<'a> {
    attributor: &'a Attributor,
    table: GradingTable,
}

impl Grader<'_> {
    fn affected(&self, event: &serde_json::Value) -> Vec<Affected> {
        let (mut ips, mut names) = (Vec::new(), Vec::new());
        shouwang_intel::observables(event, |_, o, _| match o {
            shouwang_intel::Observable::Ip(ip) => ips.push(ip),
            shouwang_intel::Observable::Name(n) => names.push(n),
            _ => {}
        });
        self.attributor.affected_by(&ips, &names)
    }

    /// Adds `affected` (each with its level and reasons) and the most
    /// severe `proposed_level` to an output line.
    fn annotate(&self, line: &mut serde_json::Value, affected: &[Affected], severity: &str) {
        let none = Impact::default();
        let mut levels = Vec::new();
        let list: Vec<serde_json::Value> = affected
            .iter()
            .map(|a| {
                let g = self.table.grade(Some(&a.criticality), severity, &none);
                levels.push(g.level);
                serde_json::json!({ "unit": a.unit, "asset": a.asset, "proposed_level": g.level, "grading": g })
            })
            .collect();
        if affected.is_empty() {
            levels.push(self.table.grade(None, severity, &none).level);
        }
        line["affected"] = list.into();
        line["proposed_level"] = serde_json::to_value(levels.iter().min()).expect("levels serialise");
    }
}

/// Runs the rules (and indicators) over every input; `false` if an input
/// could not be read at all.
pub fn run(
    rule_paths: &[PathBuf],
    pipelines: &[String],
    indicator_paths: &[PathBuf],
    attributor: Option<&Attributor>,
    inputs: &[PathBuf],
) -> anyhow::Result<bool> {
    let pipelines = pipelines.iter().map(|p| shouwang_detect::pipeline(p)).collect::<Result<Vec<_>, _>>()?;
    // Files are history: correlations run on the events' own times, and an
    // event without one updates none (the wall clock would be meaningless).
    let config = CorrelationConfig { timestamp_fallback: TimestampFallback::Skip, ..Default::default() };
    // Indicator validity is judged on the same event time correlations use.
    let time_fields = config.timestamp_fields.clone();
    let (mut rules, report) = Rules::load(rule_paths, pipelines, config)?;
    for p in &report.problems {
        eprintln!(
            "rule not loaded: {}{}: {}",
            p.file.display(),
            p.rule.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
            p.reason
        );
    }
    eprintln!(
        "{} rules, {} correlations, {} filters from {} files; {} not loaded",
        report.rules,
        report.correlations,
        report.filters,
        report.files,
        report.problems.len()
    );
    let intel = load_indicators(indicator_paths)?;
    let categories = Categories::builtin();
    let map = CategoryMap::builtin(&categories);
    // The GB/T 20986 category labels map to, with why.
    let category = |labels: &[Label]| -> Option<serde_json::Value> {
        let c = map.classify(labels)?;
        let cat = categories.get(&c.code)?;
        Some(serde_json::json!({"code": c.code, "name_zh": cat.name_zh, "name_en": cat.name_en, "reason": c.reason}))
    };
    let grader = attributor.map(|attributor| Grader { attributor, table: GradingTable::builtin() });
    // The record just read and what it touches: a hit on it is reported after it.
    let touched: RefCell<(u64, Vec<Affected>)> = RefCell::new((0, Vec::new()));
    let out = RefCell::new(std::io::BufWriter::new(std::io::stdout().lock()));
    let write_err = RefCell::new(None);
    let emit = |line: &serde_json::Value| {
        if write_err.borrow().is_none()
            && let Err(e) = print_json_line(&mut *out.borrow_mut(), line)
        {
            *write_err.borrow_mut() = Some(e);
        }
    };
    let mut total = HuntReport::default();
    let mut ok = true;
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            shouwang_detect::files_below(input, &mut files).with_context(|| format!("cannot walk {}", input.display()))?;
        } else {
            files.push(input.clone());
        }
    }
    for input in &files {
        let name = input.display().to_string();
        let reader: Box<dyn std::io::Read> = if name == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            match std::fs::File::open(input) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    eprintln!("error: {name}: {e}");
                    ok = false;
                    continue;
                }
            }
        };
        let r = hunt(
            &mut rules,
            &name,
            std::io::BufReader::with_capacity(256 * 1024, reader),
            &mut |f| {
                let labels: Vec<Label> = f.hit.tags.iter().map(|t| Label { source: LabelSource::Tag, value: t }).collect();
                let mut line = serde_json::to_value(&f).expect("findings serialise");
                if let Some(c) = category(&labels) {
                    line["category"] = c;
                }
                if let Some(g) = &grader {
                    let t = touched.borrow();
                    let affected = if t.0 == f.line { &t.1[..] } else { &[] };
                    g.annotate(&mut line, affected, f.hit.level.as_deref().unwrap_or("medium"));
                }
                emit(&line);
            },
            &mut |event, line| {
                let affected = grader.as_ref().map(|g| g.affected(event)).unwrap_or_default();
                for s in intel.sightings(event, event_time(event, &time_fields)) {
                    let i = s.indicator;
                    let labels: Vec<Label> = i.tags.iter().map(|t| Label { source: LabelSource::IndicatorTag, value: t }).collect();
                    let mut out = serde_json::json!({
                        "rule_id": format!("indicator:{}:{}", i.kind, i.value),
                        "title": format!("Threat indicator {} {} ({})", i.kind, i.value, i.source),
                        "level": confidence_level(i.confidence),
                        "tags": i.tags,
                        "kind": "indicator",
                        "input": name,
                        "line": line,
                        "field": s.field,
                        "observed": s.observed,
                        "indicator": i,
                    });
                    if let Some(c) = category(&labels) {
                        out["category"] = c;
                    }
                    if let Some(g) = &grader {
                        g.annotate(&mut out, &affected, confidence_level(i.confidence));
                    }
                    emit(&out);
                }
                *touched.borrow_mut() = (line, affected);
            },
            &mut |u| eprintln!("unreadable: {}:{}: {}", u.input, u.line, u.reason),
        );
        if let Some(e) = write_err.borrow_mut().take() {
            return Err(e).context("cannot write the findings");
        }
        match r {
            Ok(r) => {
                total.records += r.records;
                total.findings += r.findings;
                total.unreadable += r.unreadable;
            }
            Err(e) => {
                eprintln!("error: {name}: {e}");
                ok = false;
            }
        }
    }
    out.borrow_mut().flush()?;
    eprintln!("{} records, {} rule findings, {} unreadable", total.records, total.findings, total.unreadable);
    let costs = rules.costs(usize::MAX);
    for c in costs.costliest.iter().filter(|c| c.slow) {
        eprintln!("slow rule: {} ({}): {:.0} µs per event on average, {:.0} µs at most", c.title, c.rule, c.mean_us, c.max_us);
    }
    Ok(ok)
}

/// Indicator files and feeds, each reported on stderr like rules are.
fn load_indicators(paths: &[PathBuf]) -> anyhow::Result<shouwang_intel::Intel> {
    let mut b = shouwang_intel::IntelBuilder::default();
    if paths.is_empty() {
        return Ok(b.build(jiff::Timestamp::now()));
    }
    for p in paths {
        let defaults = shouwang_intel::import::Defaults::new(&p.display().to_string());
        let r = shouwang_intel::import::read_path(p, &defaults, &mut |i| b.add(i)).map_err(anyhow::Error::msg)?;
        for x in &r.rejected {
            eprintln!("indicator not loaded: {} {}: {} ({})", p.display(), x.at, x.reason, x.value);
        }
        let more = r.rejected_total().saturating_sub(r.rejected.len() as u64);
        if more > 0 {
            eprintln!("indicator not loaded: {} and {more} more", p.display());
        }
        eprintln!("{}: {} indicators, {} skipped, {} not loaded", p.display(), r.loaded, r.skipped, r.rejected_total());
    }
    let read = b.len();
    let intel = b.build(jiff::Timestamp::now());
    eprintln!("{} indicators in use; {} already expired, left out", intel.len(), read - intel.len());
    Ok(intel)
}

/// The event's own time, for indicator validity; now when it has none.
fn event_time(event: &serde_json::Value, fields: &[String]) -> jiff::Timestamp {
    fields
        .iter()
        .filter_map(|f| event.get(f).and_then(|v| v.as_str()))
        .find_map(|t| t.parse::<jiff::Timestamp>().ok())
        .unwrap_or_else(jiff::Timestamp::now)
}

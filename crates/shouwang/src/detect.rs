//! `shouwang detect`: offline hunting over files, glue around
//! `shouwang_detect::hunt`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use shouwang_detect::hunt::{HuntReport, hunt};
use shouwang_detect::{CorrelationConfig, Rules, TimestampFallback};
use shouwang_grade::{Categories, CategoryMap, Label, LabelSource};

use crate::print_json_line;

/// Runs the rules over every input; `false` if an input could not be read at all.
pub fn run(rule_paths: &[PathBuf], pipelines: &[String], inputs: &[PathBuf]) -> anyhow::Result<bool> {
    let pipelines = pipelines.iter().map(|p| shouwang_detect::pipeline(p)).collect::<Result<Vec<_>, _>>()?;
    // Files are history: correlations run on the events' own times, and an
    // event without one updates none (the wall clock would be meaningless).
    let config = CorrelationConfig { timestamp_fallback: TimestampFallback::Skip, ..Default::default() };
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
    let categories = Categories::builtin();
    let map = CategoryMap::builtin(&categories);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
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
        let mut write_err = None;
        let r = hunt(
            &mut rules,
            &name,
            std::io::BufReader::with_capacity(256 * 1024, reader),
            &mut |f| {
                // The GB/T 20986 category the rule's tags map to, with why.
                let labels: Vec<Label> = f.hit.tags.iter().map(|t| Label { source: LabelSource::Tag, value: t }).collect();
                let category = map.classify(&labels).and_then(|c| {
                    let cat = categories.get(&c.code)?;
                    Some(serde_json::json!({"code": c.code, "name_zh": cat.name_zh, "name_en": cat.name_en, "reason": c.reason}))
                });
                let mut line = serde_json::to_value(&f).expect("findings serialise");
                if let Some(c) = category {
                    line["category"] = c;
                }
                if write_err.is_none()
                    && let Err(e) = print_json_line(&mut out, &line)
                {
                    write_err = Some(e);
                }
            },
            &mut |u| eprintln!("unreadable: {}:{}: {}", u.input, u.line, u.reason),
        );
        if let Some(e) = write_err {
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
    out.flush()?;
    eprintln!("{} records, {} findings, {} unreadable", total.records, total.findings, total.unreadable);
    Ok(ok)
}

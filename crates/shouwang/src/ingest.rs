//! `shouwang ingest`, `events`, `dead-letters` and `status`: thin glue over
//! the pipeline and the event store.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use shouwang_eventstore::{DeadQuery, EventStore, IpRange, Scope, Search, SqliteEvents};
use shouwang_pipeline::{FileOptions, Pipeline, Report, Source};
use shouwang_store::Attributor;

use crate::cli::{DeadLettersCmd, EventFilter, EventsCmd};
use crate::config::Config;
use crate::print_json_line;

pub fn open_events(cfg: &Config) -> anyhow::Result<Arc<SqliteEvents>> {
    let dir = cfg.events_dir();
    Ok(Arc::new(SqliteEvents::open(&dir).with_context(|| format!("cannot open the event store in {}", dir.display()))?))
}

pub async fn pipeline(cfg: &Config) -> anyhow::Result<Pipeline> {
    let store = crate::open_store(cfg).await?;
    let attributor = Arc::new(Attributor::new(store.clone()).await?);
    pipeline_with(cfg, store, attributor)
}

/// The pipeline as configured (record limit, field maps, detection), on
/// `attributor`, with alerts going to `store`. Call inside the runtime.
pub fn pipeline_with(cfg: &Config, store: shouwang_store::Store, attributor: Arc<Attributor>) -> anyhow::Result<Pipeline> {
    let mut p = Pipeline::new(open_events(cfg)?, attributor.clone());
    p.max_record = cfg.ingest.max_record_bytes;
    p.field_maps = Arc::new(cfg.field_maps()?);
    let detection =
        shouwang_alerts::LiveDetection::new(cfg.detection.clone(), store, attributor).context("cannot load the detection content")?;
    log_content(&detection.summary());
    p.detection = Some(Arc::new(detection));
    Ok(p)
}

/// What the detection content holds and what it left out, in the log.
fn log_content(s: &shouwang_alerts::LoadSummary) {
    for p in &s.rules.problems {
        tracing::warn!(file = %p.file.display(), rule = p.rule.as_deref().unwrap_or(""), reason = %p.reason, "rule not loaded");
    }
    for f in s.indicators.iter().chain(&s.allow) {
        if f.rejected_total > 0 {
            tracing::warn!(file = %f.path.display(), rejected = f.rejected_total, by_reason = ?f.rejected_by_reason, "indicator records not loaded");
        }
    }
    tracing::info!(
        rules = s.rules.rules,
        correlations = s.rules.correlations,
        rule_problems = s.rules.problems.len(),
        indicators = s.indicators_in_use,
        allow_entries = s.allow_entries,
        "detection content loaded"
    );
}

fn progress_bar(show: bool) -> Option<indicatif::ProgressBar> {
    show.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:30!} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    })
}

fn summary(r: &Report) -> String {
    let rejected: Vec<String> = r.rejected.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let rejected = if rejected.is_empty() { String::new() } else { format!(" ({})", rejected.join(", ")) };
    let rate = if r.seconds > 0.0 { r.records as f64 / r.seconds } else { 0.0 };
    format!(
        "{}: {} {} records, {} events stored, {} already stored, {} dead letters{rejected}; {:.1}s, {:.0} records/s",
        r.input, r.format, r.records, r.events, r.duplicates, r.dead_letters, r.seconds, rate
    )
}

/// Returns false if any input failed as a whole.
pub async fn ingest(cfg: &Config, inputs: &[std::path::PathBuf], source: Source, from_start: bool, json: bool) -> anyhow::Result<bool> {
    let p = pipeline(cfg).await?;
    let opts = FileOptions { source, from_start };
    let inputs = inputs.to_vec();
    // The pipeline is synchronous (a reader and a writer thread); keep it off the async workers.
    tokio::task::spawn_blocking(move || {
        let mut ok = true;
        let stdout = std::io::stdout();
        let bar = progress_bar(std::io::stderr().is_terminal() && !json);
        let mut out = |input: &Path, r: anyhow::Result<Report>| -> anyhow::Result<()> {
            // Lines on stderr go through the bar, which hides itself while they print.
            let say = |line: String| match &bar {
                Some(b) => b.suspend(|| eprintln!("{line}")),
                None => eprintln!("{line}"),
            };
            match r {
                Ok(r) if json => print_json_line(&mut stdout.lock(), &r)?,
                Ok(r) => say(summary(&r)),
                Err(e) => {
                    ok = false;
                    say(format!("error: {}: {e:#}", input.display()));
                }
            }
            Ok(())
        };
        for input in &inputs {
            if input.as_os_str() == "-" {
                let r = p.ingest_stdin(std::io::stdin().lock(), &opts.source);
                out(input, r.map_err(Into::into))?;
            } else if input.is_dir() {
                let mut tick = |path: &Path, pos: u64, len: u64| {
                    if let Some(b) = &bar {
                        b.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
                        b.set_length(len);
                        b.set_position(pos);
                    }
                };
                let results = p.ingest_dir(input, &opts, &mut tick).with_context(|| format!("cannot walk {}", input.display()))?;
                for (path, r) in results {
                    out(&path, r.map_err(Into::into))?;
                }
            } else {
                let mut tick = |pos: u64, len: u64| {
                    if let Some(b) = &bar {
                        b.set_message(input.display().to_string());
                        b.set_length(len);
                        b.set_position(pos);
                    }
                };
                let r = p.ingest_file(input, &opts, &mut tick);
                out(input, r.map_err(Into::into))?;
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok(ok)
    })
    .await?
}

pub fn search_of(f: &EventFilter) -> anyhow::Result<Search> {
    Ok(Search {
        from: f.from,
        to: f.to,
        unit: f.unit.clone(),
        ip: f.ip.as_deref().map(IpRange::parse).transpose()?,
        domain: f.domain.clone(),
        rule: f.rule.clone(),
        text: f.text.clone(),
        dataset: f.dataset.clone(),
        limit: f.limit,
    })
}

pub fn events(cfg: &Config, cmd: EventsCmd) -> anyhow::Result<()> {
    let store = open_events(cfg)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match cmd {
        // The local operator is the centre: every unit's events.
        EventsCmd::Search { filter } => {
            for hit in store.search(&search_of(&filter)?, &Scope::All)? {
                out.write_all(hit.doc.as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
        EventsCmd::Retain => {
            let keep_from = retention_start(cfg);
            let dropped = store.retain(keep_from)?;
            eprintln!("kept events from {keep_from}; dropped {} partition(s): {}", dropped.len(), dropped.join(", "));
        }
    }
    out.flush()?;
    Ok(())
}

/// The first UTC day kept under the configured retention.
pub fn retention_start(cfg: &Config) -> jiff::civil::Date {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    today.checked_sub(jiff::Span::new().days(i64::from(cfg.ingest.retention_days) - 1)).unwrap_or(today)
}

pub async fn dead_letters(cfg: &Config, cmd: DeadLettersCmd) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match cmd {
        DeadLettersCmd::List { source, reason, all, limit } => {
            let store = open_events(cfg)?;
            for d in store.dead_letters(&DeadQuery { source, reason, all, after_id: None, limit })? {
                print_json_line(&mut out, &shouwang_server::dead_letter_json(&d))?;
            }
        }
        DeadLettersCmd::Counts => {
            for c in open_events(cfg)?.dead_letter_counts()? {
                print_json_line(&mut out, &c)?;
            }
        }
        DeadLettersCmd::Replay { source, reason } => {
            let p = pipeline(cfg).await?;
            let q = DeadQuery { source, reason, ..Default::default() };
            let r = tokio::task::spawn_blocking(move || p.replay(&q)).await??;
            print_json_line(&mut out, &r)?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn status(cfg: &Config) -> anyhow::Result<serde_json::Value> {
    let mut status = shouwang_server::stored_status(open_events(cfg)?.as_ref())?;
    status["events_dir"] = serde_json::json!(cfg.events_dir());
    status["retention_days"] = cfg.ingest.retention_days.into();
    Ok(status)
}

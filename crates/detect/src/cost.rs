//! Per-rule time accounting. The engine evaluates the rule set as a whole
//! (a candidate index, shared prefilters), so one rule that is expensive on
//! real traffic, a regex or a `contains` over long fields, hides in the
//! total. Every [`SAMPLE_EVERY`]th event, each rule whose log source fits
//! the event is evaluated alone and timed; the running totals name the
//! rules that cost most, and a rule over [`SLOW_MICROS`] on average is
//! marked slow. The regexes are the regex crate's (linear time, no
//! backtracking), so no rule's cost can grow past its patterns times the
//! event's size: a bad rule shows itself here rather than stalling the
//! pipeline.

use std::time::Instant;

use rsigma_eval::{CompiledRule, Event, LogSourceExtractor, evaluate_rule};
use rsigma_parser::LogSource;
use serde::Serialize;

/// One event in this many is timed rule by rule. At a few hundred rules
/// fitting an event, about a microsecond each, that is well under 1% of
/// detection.
pub const SAMPLE_EVERY: u64 = 4096;

/// Mean cost per evaluated event above which a rule is reported as slow.
pub const SLOW_MICROS: f64 = 100.0;

/// Running totals, one per compiled rule, in the engine's rule order.
#[derive(Debug, Default)]
pub(crate) struct Costs {
    events: u64,
    sampled: u64,
    per_rule: Vec<Cost>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    nanos: u64,
    evaluations: u64,
    max_nanos: u64,
}

/// What one rule has cost on the sampled events.
#[derive(Debug, Clone, Serialize)]
pub struct RuleCost {
    /// The rule's id, or its title if it has none.
    pub rule: String,
    pub title: String,
    /// Sampled events the rule was evaluated on.
    pub evaluations: u64,
    pub mean_us: f64,
    pub max_us: f64,
    /// Mean over [`SLOW_MICROS`].
    pub slow: bool,
}

/// The rules that cost most, and how much was sampled.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub events_seen: u64,
    pub events_sampled: u64,
    pub sample_every: u64,
    /// Costliest first, by total time on the sampled events.
    pub costliest: Vec<RuleCost>,
}

impl Costs {
    /// Counts `event`, and if it is due for a sample times every rule
    /// that fits its log source.
    pub(crate) fn observe(&mut self, rules: &[CompiledRule], logsources: &LogSourceExtractor, event: &impl Event) {
        let n = self.events;
        self.events += 1;
        if !n.is_multiple_of(SAMPLE_EVERY) {
            return;
        }
        self.sample(rules, logsources, event);
    }

    pub(crate) fn sample(&mut self, rules: &[CompiledRule], logsources: &LogSourceExtractor, event: &impl Event) {
        self.sampled += 1;
        self.per_rule.resize(rules.len(), Cost::default());
        let ls = logsources.extract(event);
        for (rule, cost) in rules.iter().zip(&mut self.per_rule) {
            if !fits(&rule.logsource, &ls) {
                continue;
            }
            let start = Instant::now();
            std::hint::black_box(evaluate_rule(rule, event));
            let nanos = start.elapsed().as_nanos() as u64;
            cost.nanos += nanos;
            cost.evaluations += 1;
            cost.max_nanos = cost.max_nanos.max(nanos);
        }
    }

    /// The `n` rules with the most time on the sampled events.
    pub(crate) fn report(&self, rules: &[CompiledRule], n: usize) -> CostReport {
        let mut order: Vec<usize> = (0..self.per_rule.len()).filter(|&i| self.per_rule[i].evaluations > 0).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.per_rule[i].nanos));
        let costliest = order
            .into_iter()
            .take(n)
            .map(|i| {
                let (c, r) = (self.per_rule[i], &rules[i]);
                let mean_us = c.nanos as f64 / c.evaluations as f64 / 1000.0;
                RuleCost {
                    rule: r.id.clone().unwrap_or_else(|| r.title.clone()),
                    title: r.title.clone(),
                    evaluations: c.evaluations,
                    mean_us,
                    max_us: c.max_nanos as f64 / 1000.0,
                    slow: mean_us > SLOW_MICROS,
                }
            })
            .collect();
        CostReport { events_seen: self.events, events_sampled: self.sampled, sample_every: SAMPLE_EVERY, costliest }
    }
}

/// Whether the engine evaluates a rule written for `rule` on an event from
/// `event`: unless a part (product, service, category) named by both
/// differs, as rsigma-eval's pruning decides (which is not public).
fn fits(rule: &LogSource, event: &LogSource) -> bool {
    let differs = |r: &Option<String>, e: &Option<String>| matches!((r, e), (Some(r), Some(e)) if !r.eq_ignore_ascii_case(e));
    !(differs(&rule.product, &event.product) || differs(&rule.service, &event.service) || differs(&rule.category, &event.category))
}

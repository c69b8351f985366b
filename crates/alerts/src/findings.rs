//! What fired on one event: Sigma rules and correlations, threat
//! indicators, the sensor's own alert, a third-party report.

use serde::Serialize;
use serde_json::Value;
use shouwang_detect::{JsonEvent, Rules};
use shouwang_grade::LabelSource;
use shouwang_ingest::Event;

use crate::{Content, LogSources};

/// One hit, before it is attributed and graded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule's id; `suricata:SID`, `shadowserver:REPORT` or
    /// `indicator:KIND:VALUE` for the other sources.
    pub rule_id: String,
    pub title: String,
    /// `sigma`, `correlation`, `indicator`, `sensor` or `report`.
    pub source: &'static str,
    /// Sigma level names: informational, low, medium, high, critical.
    pub severity: String,
    /// What the category map reads: rule tags, the Suricata category, the
    /// report type, indicator tags.
    #[serde(skip)]
    pub labels: Vec<(LabelSource, String)>,
    /// For an indicator: the field, the value seen, and the indicator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

/// A 0–10 severity (higher is worse, as events carry it) as a Sigma level.
pub fn severity_name(s: Option<u8>) -> &'static str {
    match s {
        Some(9..) => "critical",
        Some(7..=8) => "high",
        Some(4..=6) => "medium",
        Some(1..=3) => "low",
        Some(0) => "informational",
        None => "medium",
    }
}

/// An indicator match's level, from the feed's confidence.
pub fn confidence_level(confidence: u8) -> &'static str {
    match confidence {
        80.. => "high",
        50..=79 => "medium",
        _ => "low",
    }
}

impl Content {
    /// The event as the rules see it (ECS, plus its Sigma log source), and
    /// everything that fired on it.
    /// `rules` is this content's rule set, locked once per batch by the caller.
    pub fn findings(&self, rules: &mut Rules, event: &Event, logsources: &LogSources) -> (Value, Vec<Finding>) {
        let mut out = Vec::new();
        sensor(event, &mut out);
        let mut doc = serde_json::to_value(event).expect("events serialise");
        if let Value::Object(m) = &mut doc {
            m.insert("logsource".into(), logsources.of(event));
        }
        let hits = rules.process(&JsonEvent::borrow(&doc), event.timestamp.as_second());
        for h in hits {
            out.push(Finding {
                source: if h.kind == "detection" { "sigma" } else { "correlation" },
                severity: h.level.clone().unwrap_or_else(|| "medium".into()),
                labels: h.tags.iter().map(|t| (LabelSource::Tag, t.clone())).collect(),
                rule_id: h.rule_id,
                title: h.title,
                detail: None,
            });
        }
        for s in self.intel.sightings(&doc, event.timestamp) {
            let i = s.indicator;
            // An allow-list covers the value as it was looked up.
            if self.allow.contains(s.observable) {
                continue;
            }
            out.push(Finding {
                rule_id: format!("indicator:{}:{}", i.kind, i.value),
                title: format!("Threat indicator {} {} ({})", i.kind, i.value, i.source),
                source: "indicator",
                severity: confidence_level(i.confidence).into(),
                labels: i.tags.iter().map(|t| (LabelSource::IndicatorTag, t.to_string())).collect(),
                detail: Some(serde_json::json!({ "field": s.field, "observed": s.observed, "indicator": i })),
            });
        }
        (doc, out)
    }
}

/// A sensor's own alert (Suricata, a CEF device) or a third-party report
/// row (Shadowserver) is a finding as it stands.
fn sensor(event: &Event, out: &mut Vec<Finding>) {
    let dataset = event.event.dataset.as_str();
    let module = dataset.split('.').next().unwrap_or(dataset);
    if let Some(report) = dataset.strip_prefix("shadowserver.") {
        out.push(Finding {
            rule_id: format!("shadowserver:{report}"),
            title: format!("Shadowserver report {report}"),
            source: "report",
            severity: severity_name(event.event.severity).into(),
            labels: vec![(LabelSource::Shadowserver, report.to_string())],
            detail: None,
        });
        return;
    }
    let Some(rule) = event.rule.as_ref().filter(|_| event.event.kind == "alert") else { return };
    let Some(id) = rule.id.as_deref().or(rule.name.as_deref()) else { return };
    let mut labels = Vec::new();
    if let Some(c) = &rule.category
        && module == "suricata"
    {
        labels.push((LabelSource::Suricata, c.clone()));
    }
    out.push(Finding {
        rule_id: format!("{module}:{id}"),
        title: rule.name.clone().unwrap_or_else(|| id.to_string()),
        source: "sensor",
        severity: severity_name(event.event.severity).into(),
        labels,
        detail: None,
    });
}

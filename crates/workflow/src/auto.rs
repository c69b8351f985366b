//! Auto-issue: classes of alerts that become issued notices without a
//! human, e.g. a Shadowserver vulnerable-system report for a unit becomes a
//! level IV rectification notice. Held as data, edited by the admin; empty
//! (nothing automatic) until the centre chooses.

use serde::{Deserialize, Serialize};

use crate::{Kind, Level, WorkflowError};

/// The auto-issue rules, first match wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoIssue {
    pub rules: Vec<AutoRule>,
}

/// One class of alerts and the notice it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRule {
    pub name: String,
    /// Alerts whose rule id starts with this: `shadowserver:` for every
    /// Shadowserver report, `shadowserver:scan_rdp` for one, `sigma:` …
    pub rule_prefix: String,
    /// Only alerts at these levels; empty for any.
    #[serde(default)]
    pub levels: Vec<Level>,
    pub kind: Kind,
    /// The notice's level; the alert's when not given. A level I or II
    /// notice is not issued but submitted for a leader's approval.
    #[serde(default)]
    pub level: Option<Level>,
    /// TLP 2.0 label; TLP:AMBER when not given.
    #[serde(default)]
    pub tlp: Option<String>,
}

impl AutoIssue {
    /// Checks an edited policy: named rules with a prefix, at most 100.
    pub fn check(&self) -> Result<(), WorkflowError> {
        let bad = |m: String| Err(WorkflowError::Invalid(format!("auto-issue policy: {m}")));
        if self.rules.len() > 100 {
            return bad("at most 100 rules".into());
        }
        for (i, r) in self.rules.iter().enumerate() {
            let n = i + 1;
            if r.name.trim().is_empty() || r.name.chars().count() > 100 || r.name.chars().any(char::is_control) {
                return bad(format!("rule {n} needs a one-line name of at most 100 characters"));
            }
            // An empty prefix would issue a notice for every alert.
            if r.rule_prefix.trim().len() < 3 || r.rule_prefix.len() > 200 || r.rule_prefix.chars().any(char::is_whitespace) {
                return bad(format!(
                    "rule {n} ({}): rule_prefix must be 3 to 200 characters without spaces, such as `shadowserver:`",
                    r.name
                ));
            }
        }
        Ok(())
    }

    /// The first rule an alert of `rule_id` at `level` falls under.
    pub fn rule_for(&self, rule_id: &str, level: Level) -> Option<&AutoRule> {
        self.rules.iter().find(|r| rule_id.starts_with(&r.rule_prefix) && (r.levels.is_empty() || r.levels.contains(&level)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str, levels: Vec<Level>) -> AutoRule {
        AutoRule { name: prefix.into(), rule_prefix: prefix.into(), levels, kind: Kind::Rectification, level: None, tlp: None }
    }

    #[test]
    fn first_matching_rule_wins_and_levels_narrow() {
        let p = AutoIssue { rules: vec![rule("shadowserver:scan_", vec![Level::IV]), rule("shadowserver:", vec![])] };
        p.check().unwrap();
        assert_eq!(p.rule_for("shadowserver:scan_rdp", Level::IV).unwrap().rule_prefix, "shadowserver:scan_");
        assert_eq!(p.rule_for("shadowserver:scan_rdp", Level::III).unwrap().rule_prefix, "shadowserver:");
        assert!(p.rule_for("sigma:abc", Level::IV).is_none());
        assert!(AutoIssue::default().rule_for("shadowserver:x", Level::IV).is_none());
    }

    #[test]
    fn check_refuses_catch_alls_and_bad_names() {
        assert!(AutoIssue { rules: vec![rule("", vec![])] }.check().is_err());
        assert!(AutoIssue { rules: vec![rule("a b", vec![])] }.check().is_err());
        let mut r = rule("shadowserver:", vec![]);
        r.name = " ".into();
        assert!(AutoIssue { rules: vec![r] }.check().is_err());
        let e = serde_json::from_str::<AutoIssue>(r#"{"rules":[{"name":"x","rule_prefix":"sigma:","kind":"memo"}]}"#).unwrap_err();
        assert!(e.to_string().contains("unknown variant"), "{e}");
    }
}

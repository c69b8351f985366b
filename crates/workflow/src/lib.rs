//! Notices (通报) as a domain, free of storage and transport: their kinds,
//! the lifecycle table and who may move it, the per-level deadline policy,
//! and the business calendar (Chinese public holidays and 调休) the
//! deadlines count on. The store persists what this decides.

/// A closed set of names: the enum, its `ALL`, `as_str`, `parse` (naming
/// the accepted values when it refuses), `Display` and snake_case serde.
macro_rules! names {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        $vis enum $name { $($(#[$vm])* $variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(s: &str) -> Result<$name, $crate::WorkflowError> {
                let s = s.trim();
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let all: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::WorkflowError::Invalid(format!("unknown {} `{s}` (one of: {})", stringify!($name).to_lowercase(), all.join(", ")))
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod auto;
pub mod calendar;
pub mod deadline;
pub mod ladder;
pub mod messages;
pub mod report;
pub mod state;

pub use auto::{AutoIssue, AutoRule};
pub use calendar::{Calendar, CalendarDay, DayKind};
pub use deadline::{Breach, Clocks, Policy, Spans, Within};
pub use ladder::{Ladder, Rung};
pub use messages::{Event, Lang, Messages, Rendered, Template, TemplateName, Via};
pub use report::{OperatorClass, ReportItems, ReportKind};
pub use shouwang_grade::Level;
pub use state::{Action, Kind, Outcome, Side, State, needs_approval};

/// What can be wrong with a notice operation or with workflow data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    /// Bad data: a calendar line, a policy span, an unknown name.
    #[error("{0}")]
    Invalid(String),
    /// The action is not allowed from the notice's state.
    #[error("cannot {action} a level {level} notice that is {from}; allowed: {}", list(allowed))]
    Illegal { from: State, action: Action, level: Level, allowed: Vec<Action> },
}

/// Free text up to `max` characters, with no control characters but line
/// breaks and tabs (and none at all when `one_line`); `what` names it in the
/// error.
pub fn check_text(what: &str, s: &str, max: usize, one_line: bool) -> Result<(), WorkflowError> {
    if s.chars().count() > max {
        return Err(WorkflowError::Invalid(format!("{what} is over {max} characters")));
    }
    if let Some(c) = s.chars().find(|&c| c.is_control() && (one_line || !matches!(c, '\n' | '\r' | '\t'))) {
        return Err(WorkflowError::Invalid(format!("{what} contains the control character U+{:04X}", c as u32)));
    }
    Ok(())
}

fn list(actions: &[Action]) -> String {
    if actions.is_empty() { "nothing".into() } else { actions.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ") }
}

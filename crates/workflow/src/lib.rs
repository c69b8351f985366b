//! Notices (通报) as a domain, free of storage and transport: their kinds,
//! the lifecycle table and who may move it, the per-level deadline policy,
//! and the business calendar (Chinese public holidays and 调休) the
//! deadlines count on. The store persists what this decides.

pub mod calendar;
pub mod deadline;
pub mod state;

pub use calendar::{Calendar, CalendarDay, DayKind};
pub use deadline::{Breach, Clocks, Policy, Spans, Within};
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

fn list(actions: &[Action]) -> String {
    if actions.is_empty() { "nothing".into() } else { actions.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ") }
}

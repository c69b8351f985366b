//! A notice's lifecycle as a table: which action moves which state where,
//! and who may take it.
//!
//! ```text
//! draft ─submit→ awaiting_approval ─approve→ issued ─acknowledge→ acknowledged ─start→ in_progress
//!   │  ←reject──┘                              ↑                      │ answer                │ answer
//!   └─issue (III, IV)──────────────────────────┤                      ↓                       ↓
//!                                   reopen ────┤   returned ←return── answered ─close→ closed
//! any open state ─cancel→ cancelled            └───────────────────────────────────────────┘
//! ```

use serde::Serialize;
use shouwang_grade::Level;

use crate::WorkflowError;

names! {
    /// What a notice asks of the unit.
    pub enum Kind {
        /// 事件通报: an incident on the unit's assets.
        Incident = "incident",
        /// 整改通知: a vulnerability or exposure to fix.
        Rectification = "rectification",
        /// 核查: check something and report back.
        Verification = "verification",
    }
}

names! {
    /// Where a notice stands.
    pub enum State {
        /// 草稿: the centre is writing it; the unit cannot see it.
        Draft = "draft",
        /// 待审批: a level I or II notice waits for a leader.
        AwaitingApproval = "awaiting_approval",
        /// 已下发: sent; the unit must acknowledge.
        Issued = "issued",
        /// 已签收.
        Acknowledged = "acknowledged",
        /// 处置中.
        InProgress = "in_progress",
        /// 已反馈: the unit has answered; the centre verifies.
        Answered = "answered",
        /// 已退回: the centre did not accept the answer.
        Returned = "returned",
        /// 已办结.
        Closed = "closed",
        /// 已撤销: withdrawn by the centre.
        Cancelled = "cancelled",
    }
}

names! {
    /// What someone does to a notice.
    pub enum Action {
        Submit = "submit",
        Approve = "approve",
        Reject = "reject",
        Issue = "issue",
        Acknowledge = "acknowledge",
        Start = "start",
        Answer = "answer",
        Return = "return",
        Close = "close",
        Reopen = "reopen",
        Cancel = "cancel",
    }
}

names! {
    /// The unit's coded outcome in an answer.
    pub enum Outcome {
        Fixed = "fixed",
        FalsePositive = "false_positive",
        /// The asset is not the unit's: attribution was wrong.
        NotOurs = "not_ours",
        /// The unit asks to accept the risk until a date.
        RiskAccepted = "risk_accepted",
        NeedHelp = "need_help",
    }
}

/// Who may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The centre's analysts and duty officers.
    Centre,
    /// The centre's leaders, who approve levels I and II.
    Leader,
    /// The responsible unit.
    Unit,
}

impl Action {
    pub fn side(self) -> Side {
        match self {
            Action::Approve | Action::Reject => Side::Leader,
            Action::Acknowledge | Action::Start | Action::Answer => Side::Unit,
            Action::Submit | Action::Issue | Action::Return | Action::Close | Action::Reopen | Action::Cancel => Side::Centre,
        }
    }

    /// Whether the action must say why.
    pub fn needs_reason(self) -> bool {
        matches!(self, Action::Reject | Action::Return | Action::Cancel | Action::Reopen)
    }
}

/// Levels I and II go to a leader before they are issued.
pub fn needs_approval(level: Level) -> bool {
    matches!(level, Level::I | Level::II)
}

impl State {
    /// Where `action` leads from here, for a notice of `level`; `None` when
    /// it is not allowed.
    pub fn after(self, action: Action, level: Level) -> Option<State> {
        use Action as A;
        use State as S;
        Some(match (self, action) {
            (S::Draft, A::Submit) => S::AwaitingApproval,
            (S::Draft, A::Issue) if !needs_approval(level) => S::Issued,
            (S::AwaitingApproval, A::Approve) => S::Issued,
            (S::AwaitingApproval, A::Reject) => S::Draft,
            (S::Issued, A::Acknowledge) => S::Acknowledged,
            (S::Acknowledged | S::Returned, A::Start) => S::InProgress,
            (S::Acknowledged | S::InProgress | S::Returned, A::Answer) => S::Answered,
            (S::Answered, A::Return) => S::Returned,
            (S::Answered, A::Close) => S::Closed,
            (S::Closed, A::Reopen) => S::Issued,
            (s, A::Cancel) if s.is_open() => S::Cancelled,
            _ => return None,
        })
    }

    /// The actions allowed from here, in table order.
    pub fn allowed(self, level: Level) -> Vec<Action> {
        Action::ALL.iter().copied().filter(|&a| self.after(a, level).is_some()).collect()
    }

    /// `after`, or an error naming what is allowed instead.
    pub fn apply(self, action: Action, level: Level) -> Result<State, WorkflowError> {
        self.after(action, level).ok_or_else(|| WorkflowError::Illegal { from: self, action, level, allowed: self.allowed(level) })
    }

    /// Not closed or cancelled.
    pub fn is_open(self) -> bool {
        !matches!(self, State::Closed | State::Cancelled)
    }

    /// Whether the unit holds the ball, so its clocks run. They pause while
    /// the centre verifies an answer.
    pub fn unit_holds(self) -> bool {
        matches!(self, State::Issued | State::Acknowledged | State::InProgress | State::Returned)
    }

    /// Whether the responsible unit can see the notice at all.
    pub fn visible_to_unit(self, ever_issued: bool) -> bool {
        ever_issued && !matches!(self, State::Draft | State::AwaitingApproval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_goes_round_the_loop() {
        let mut s = State::Draft;
        for a in [Action::Issue, Action::Acknowledge, Action::Start, Action::Answer, Action::Return, Action::Answer, Action::Close] {
            s = s.apply(a, Level::IV).unwrap();
        }
        assert_eq!(s, State::Closed);
        assert_eq!(s.apply(Action::Reopen, Level::IV).unwrap(), State::Issued);
    }

    #[test]
    fn levels_i_and_ii_need_a_leader() {
        let e = State::Draft.apply(Action::Issue, Level::II).unwrap_err();
        assert_eq!(e.to_string(), "cannot issue a level II notice that is draft; allowed: submit, cancel");
        let s = State::Draft.apply(Action::Submit, Level::I).unwrap();
        assert_eq!(s.apply(Action::Approve, Level::I).unwrap(), State::Issued);
        assert_eq!(s.apply(Action::Reject, Level::I).unwrap(), State::Draft);
        assert_eq!(State::Draft.allowed(Level::III), vec![Action::Submit, Action::Issue, Action::Cancel]);
    }

    #[test]
    fn illegal_transitions_list_the_allowed_ones() {
        let e = State::Issued.apply(Action::Close, Level::IV).unwrap_err();
        assert_eq!(e.to_string(), "cannot close a level IV notice that is issued; allowed: acknowledge, cancel");
        assert!(State::Cancelled.allowed(Level::IV).is_empty());
        let e = State::Cancelled.apply(Action::Reopen, Level::IV).unwrap_err();
        assert!(e.to_string().ends_with("allowed: nothing"), "{e}");
    }

    #[test]
    fn every_action_has_a_side_and_names_round_trip() {
        for &a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()).unwrap(), a);
            let _ = a.side();
        }
        for &s in State::ALL {
            assert_eq!(State::parse(s.as_str()).unwrap(), s);
        }
        assert!(Action::parse("delete").unwrap_err().to_string().contains("one of: submit"));
    }
}

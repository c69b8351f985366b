//! Reminders before a deadline and the escalation ladder after it (督办).
//!
//! Each rung fires at a share of the deadline's own span, counted on the
//! span's clock: `-25` is "a quarter of the span before the deadline",
//! `50` "half the span after it". Shares keep one ladder right for every
//! level: a level I notice (answer in 4 h) is reminded an hour before and
//! goes to the supervisor two hours late; a level IV one (answer in 5
//! working days) is reminded 1¼ working days before and supervised 2½ late.

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::messages::Event;
use crate::{Within, WorkflowError};

names! {
    /// A rung of the ladder, and who it goes to.
    pub enum Rung {
        /// Before the deadline: the unit.
        Reminder = "reminder",
        /// At or after it: the unit's contacts.
        Overdue = "overdue",
        /// The supervising authority, with a 督办 notice.
        Supervise = "supervise",
        /// The centre's leaders.
        Escalated = "escalated",
    }
}

impl Rung {
    pub fn event(self) -> Event {
        match self {
            Rung::Reminder => Event::Reminder,
            Rung::Overdue => Event::Overdue,
            Rung::Supervise => Event::Supervise,
            Rung::Escalated => Event::Escalated,
        }
    }
}

/// One rung and when it fires, in percent of the span from the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub rung: Rung,
    pub at_percent: i32,
}

/// The ladder: its steps in firing order. An absent rung is not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    pub steps: Vec<Step>,
}

impl Default for Ladder {
    fn default() -> Ladder {
        let step = |rung, at_percent| Step { rung, at_percent };
        Ladder { steps: vec![step(Rung::Reminder, -25), step(Rung::Overdue, 0), step(Rung::Supervise, 50), step(Rung::Escalated, 100)] }
    }
}

impl Ladder {
    /// Checks an edited ladder: each rung at most once, the reminder before
    /// the deadline and the others at or after it, in the rungs' order, and
    /// no further than ten spans out.
    pub fn check(&self) -> Result<(), WorkflowError> {
        let bad = |m: String| Err(WorkflowError::Invalid(format!("escalation ladder: {m}")));
        let mut last: Option<(usize, i32)> = None;
        for s in &self.steps {
            let pos = Rung::ALL.iter().position(|r| *r == s.rung).expect("ALL lists every rung");
            match s.rung {
                Rung::Reminder if !(-99..=-1).contains(&s.at_percent) => {
                    return bad(format!("the reminder is before the deadline: -99 to -1 percent, not {}", s.at_percent));
                }
                Rung::Overdue | Rung::Supervise | Rung::Escalated if !(0..=1_000).contains(&s.at_percent) => {
                    return bad(format!("{} is at or after the deadline: 0 to 1000 percent, not {}", s.rung, s.at_percent));
                }
                _ => {}
            }
            if let Some((p, at)) = last {
                if pos <= p {
                    return bad(format!("{} is listed twice or out of order (reminder, overdue, supervise, escalated)", s.rung));
                }
                if s.at_percent < at {
                    return bad(format!("{} fires before the step above it", s.rung));
                }
            }
            last = Some((pos, s.at_percent));
        }
        Ok(())
    }

    /// The rungs due at `now` for a deadline `due` of span `within`: the
    /// reminder only while the deadline is still ahead, the others once
    /// their time has come (all of them, if the sweep has been away).
    pub fn due_at(&self, within: Within, due: i64, now: i64, cal: &Calendar) -> Vec<Rung> {
        let clock = within.clock(cal);
        let span = within.secs() as i128;
        let share = |pct: i32| (span * pct.unsigned_abs() as i128 / 100) as i64;
        self.steps
            .iter()
            .filter(|s| {
                if s.at_percent < 0 {
                    now <= due && clock.between(now, due) <= share(s.at_percent)
                } else {
                    now > due && clock.between(due, now) >= share(s.at_percent)
                }
            })
            .map(|s| s.rung)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ladder_fires_by_share_of_the_span() {
        let cal = Calendar::china();
        let l = Ladder::default();
        l.check().unwrap();
        let four_hours = Within::parse("4h").unwrap();
        let due = 1_000_000;
        assert!(l.due_at(four_hours, due, due - 3 * 3600, &cal).is_empty(), "three hours left: quiet");
        assert_eq!(l.due_at(four_hours, due, due - 3600, &cal), [Rung::Reminder], "one hour left");
        assert_eq!(l.due_at(four_hours, due, due, &cal), [Rung::Reminder], "at the deadline it is not yet passed");
        assert_eq!(l.due_at(four_hours, due, due + 1, &cal), [Rung::Overdue]);
        assert_eq!(l.due_at(four_hours, due, due + 2 * 3600, &cal), [Rung::Overdue, Rung::Supervise]);
        assert_eq!(l.due_at(four_hours, due, due + 5 * 3600, &cal), [Rung::Overdue, Rung::Supervise, Rung::Escalated]);
    }

    #[test]
    fn working_spans_count_working_time() {
        // 2026-10-01..07 is the National Day holiday; 8 October is a working
        // Thursday and Saturday 10 October a make-up working day (调休).
        let cal = Calendar::china();
        let l = Ladder::default();
        let five_wd = Within::parse("5wd").unwrap();
        let at = |m, d, h| jiff::civil::date(2026, m, d).at(h, 0, 0, 0).to_zoned(crate::calendar::cst()).unwrap().timestamp().as_second();
        // Eight wall days ahead, but only one working day: remind.
        assert_eq!(l.due_at(five_wd, at(10, 8, 12), at(9, 30, 12), &cal), [Rung::Reminder]);
        // Due Friday 9 October at noon. Sunday noon is two wall days late but
        // 1.5 working days (Friday afternoon, the make-up Saturday): overdue only.
        assert_eq!(l.due_at(five_wd, at(10, 9, 12), at(10, 11, 12), &cal), [Rung::Overdue]);
        // Tuesday noon: three working days late, past the supervisor's 2.5.
        assert_eq!(l.due_at(five_wd, at(10, 9, 12), at(10, 13, 12), &cal), [Rung::Overdue, Rung::Supervise]);
    }

    #[test]
    fn check_refuses_bad_ladders() {
        let l = |steps: &[(Rung, i32)]| Ladder { steps: steps.iter().map(|&(rung, at_percent)| Step { rung, at_percent }).collect() };
        assert!(l(&[]).check().is_ok(), "no ladder at all is a choice");
        assert!(l(&[(Rung::Overdue, 0), (Rung::Escalated, 10)]).check().is_ok());
        assert!(l(&[(Rung::Reminder, 10)]).check().is_err());
        assert!(l(&[(Rung::Overdue, -5)]).check().is_err());
        assert!(l(&[(Rung::Supervise, 50), (Rung::Overdue, 60)]).check().is_err(), "out of order");
        assert!(l(&[(Rung::Overdue, 50), (Rung::Supervise, 10)]).check().is_err(), "fires before the one above");
        assert!(l(&[(Rung::Overdue, 0), (Rung::Overdue, 10)]).check().is_err(), "twice");
        assert!(l(&[(Rung::Escalated, 5000)]).check().is_err());
        let e = serde_json::from_str::<Ladder>(r#"{"steps":[{"rung":"nag","at_percent":1}]}"#).unwrap_err().to_string();
        assert!(e.contains("unknown variant"), "{e}");
    }
}

//! How long a unit has to acknowledge and to answer a notice, per level.
//!
//! The policy is data (`data/deadlines.csv`, or the admin's own): urgent
//! levels count wall-clock time (`30m`, `4h`), routine ones count working
//! days on the [`Calendar`] (`1wd`, `5wd`). A notice keeps the spans it was
//! issued with, so editing the policy never moves a running clock.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::{Level, State, WorkflowError};

/// The shipped per-level policy.
pub const DEFAULT_POLICY: &str = include_str!("../data/deadlines.csv");

/// Longest span a policy may set: a year, so a typo cannot make a deadline
/// that never comes (or a calendar walk that never ends).
const MAX_SECS: i64 = 366 * 86_400;

/// A span of time a clock runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Within {
    /// Wall-clock seconds: nights and holidays count.
    Wall(i64),
    /// Working seconds on the calendar (a working day is 86,400 of them).
    Working(i64),
}

impl Within {
    /// Parses `30m`, `4h`, `2d` (wall clock) or `5wd` (working days).
    pub fn parse(s: &str) -> Result<Within, WorkflowError> {
        let s = s.trim();
        let bad = || WorkflowError::Invalid(format!("`{s}` is not a span: write a whole number then m, h, d or wd (30m, 4h, 5wd)"));
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = s[..digits].parse().map_err(|_| bad())?;
        let within = match &s[digits..] {
            "m" => Within::Wall(n.saturating_mul(60)),
            "h" => Within::Wall(n.saturating_mul(3_600)),
            "d" => Within::Wall(n.saturating_mul(86_400)),
            "wd" => Within::Working(n.saturating_mul(86_400)),
            _ => return Err(bad()),
        };
        if within.secs() <= 0 || within.secs() > MAX_SECS {
            return Err(WorkflowError::Invalid(format!("`{s}` is outside 1 minute to 366 days")));
        }
        Ok(within)
    }

    pub fn secs(self) -> i64 {
        match self {
            Within::Wall(s) | Within::Working(s) => s,
        }
    }

    /// The instant this span after `from` ends, on `cal`.
    pub fn after(self, cal: &Calendar, from: i64) -> i64 {
        self.clock(cal).add(from, self.secs())
    }

    /// Which clock this span runs on.
    pub fn clock(self, cal: &Calendar) -> Clock<'_> {
        match self {
            Within::Wall(_) => Clock::Wall,
            Within::Working(_) => Clock::Working(cal),
        }
    }
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Within::Wall(s) if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            Within::Wall(s) if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            // Parsing makes whole minutes and whole working days; a span
            // built otherwise in code prints rounded up, never shorter.
            Within::Wall(s) => write!(f, "{}m", (s + 59) / 60),
            Within::Working(s) => write!(f, "{}wd", (s + 86_399) / 86_400),
        }
    }
}

impl Serialize for Within {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Within {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Within::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A clock: wall time, or working time on a calendar.
#[derive(Debug, Clone, Copy)]
pub enum Clock<'c> {
    Wall,
    Working(&'c Calendar),
}

impl Clock<'_> {
    pub fn add(self, from: i64, secs: i64) -> i64 {
        match self {
            Clock::Wall => from + secs,
            Clock::Working(c) => c.add_working(from, secs),
        }
    }

    /// Clock seconds in `[from, to)`, zero when `to` is not after `from`.
    pub fn between(self, from: i64, to: i64) -> i64 {
        match self {
            Clock::Wall => (to - from).max(0),
            Clock::Working(c) => c.working_between(from, to),
        }
    }
}

/// Acknowledge and answer spans for one level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spans {
    pub acknowledge: Within,
    pub answer: Within,
}

/// Spans for every level, I to IV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    levels: [Spans; 4],
}

impl Policy {
    /// The shipped policy.
    pub fn default_policy() -> Policy {
        Policy::parse(DEFAULT_POLICY).expect("the shipped deadline policy is valid")
    }

    /// Reads `level,acknowledge,answer` lines after a header, every level once.
    pub fn parse(text: &str) -> Result<Policy, WorkflowError> {
        let mut levels: [Option<Spans>; 4] = [None; 4];
        for (i, line) in text.lines().enumerate().skip(1) {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: String| WorkflowError::Invalid(format!("deadline policy line {}: {why}", i + 1));
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let [level, ack, answer] = f[..] else {
                return Err(bad(format!("expected level,acknowledge,answer, got {} field(s)", f.len())));
            };
            let level = Level::parse(level).ok_or_else(|| bad(format!("`{level}` is not a level (I, II, III, IV)")))?;
            let spans = Spans {
                acknowledge: Within::parse(ack).map_err(|e| bad(e.to_string()))?,
                answer: Within::parse(answer).map_err(|e| bad(e.to_string()))?,
            };
            let slot = &mut levels[level.index()];
            if slot.is_some() {
                return Err(bad(format!("level {level} is listed twice")));
            }
            *slot = Some(spans);
        }
        let mut out = [Spans { acknowledge: Within::Wall(60), answer: Within::Wall(60) }; 4];
        for (i, s) in levels.into_iter().enumerate() {
            out[i] = s.ok_or_else(|| WorkflowError::Invalid(format!("deadline policy: level {} is missing", Level::ALL[i])))?;
        }
        Ok(Policy { levels: out })
    }

    pub fn spans(&self, level: Level) -> Spans {
        self.levels[level.index()]
    }
}

/// A notice's clocks, in Unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clocks {
    /// When the unit must have acknowledged.
    pub acknowledge_due: Option<i64>,
    /// When the unit must have answered; while the centre holds the ball
    /// (an answer under verification) this is where it stood when paused.
    pub answer_due: Option<i64>,
    /// Clock seconds the unit had left when its answer clock paused.
    pub answer_left: Option<i64>,
}

impl Clocks {
    /// The clocks after a move from `from` to `to` at `at`, for a notice
    /// issued with `spans`. Issuing (or reopening) starts both clocks; an
    /// answer pauses the answer clock; a return resumes it with the time
    /// that was left, so the centre's verification time is not the unit's.
    pub fn moved(self, from: State, to: State, at: i64, spans: Spans, cal: &Calendar) -> Clocks {
        match to {
            State::Issued => Clocks {
                acknowledge_due: Some(spans.acknowledge.after(cal, at)),
                answer_due: Some(spans.answer.after(cal, at)),
                answer_left: None,
            },
            State::Answered if from.unit_holds() => {
                let left = self.answer_due.map(|due| spans.answer.clock(cal).between(at, due));
                Clocks { answer_left: left, ..self }
            }
            State::Returned => match self.answer_left {
                Some(left) => Clocks { answer_due: Some(spans.answer.clock(cal).add(at, left)), answer_left: None, ..self },
                None => self,
            },
            _ => self,
        }
    }

    /// Which deadline, if any, `state` has passed at `now`.
    pub fn breached(self, state: State, now: i64) -> Option<Breach> {
        match (state, self.acknowledge_due, self.answer_due) {
            (State::Issued, Some(due), _) if now > due => Some(Breach::Acknowledge),
            (s, _, Some(due)) if s.unit_holds() && now > due => Some(Breach::Answer),
            _ => None,
        }
    }
}

/// A deadline a unit has missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Breach {
    Acknowledge,
    Answer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_print_back() {
        for s in ["30m", "4h", "2d", "1wd", "5wd"] {
            assert_eq!(Within::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Within::parse("90m").unwrap(), Within::Wall(5_400));
        for bad in ["", "5", "wd", "-1h", "1.5h", "0m", "367d", "99999999999999999999wd", "4 h"] {
            assert!(Within::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn the_shipped_policy_covers_every_level() {
        let p = Policy::default_policy();
        assert_eq!(p.spans(Level::I).acknowledge, Within::Wall(1_800));
        assert_eq!(p.spans(Level::IV).answer, Within::Working(5 * 86_400));
    }

    #[test]
    fn bad_policies_are_named() {
        let e = Policy::parse("level,acknowledge,answer\nI,30m,4h\n").unwrap_err();
        assert!(e.to_string().contains("level II is missing"), "{e}");
        let e = Policy::parse("level,acknowledge,answer\nI,30m,4h\nI,1h,5h\n").unwrap_err();
        assert!(e.to_string().contains("line 3") && e.to_string().contains("twice"), "{e}");
        let e = Policy::parse("level,acknowledge,answer\nV,30m,4h\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    fn at(s: &str) -> i64 {
        format!("{s}+08:00").parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn the_answer_clock_pauses_while_the_centre_verifies() {
        let cal = Calendar::china();
        let spans = Spans { acknowledge: Within::parse("1wd").unwrap(), answer: Within::parse("5wd").unwrap() };
        // Issued Monday 16 November 2026, 10:00: answer due Monday 23rd, 10:00.
        let c = Clocks::default().moved(State::Draft, State::Issued, at("2026-11-16T10:00"), spans, &cal);
        assert_eq!(c.acknowledge_due, Some(at("2026-11-17T10:00")));
        assert_eq!(c.answer_due, Some(at("2026-11-23T10:00")));
        assert_eq!(c.breached(State::Issued, at("2026-11-17T10:01")), Some(Breach::Acknowledge));
        assert_eq!(c.breached(State::Acknowledged, at("2026-11-17T10:01")), None);
        // Answered Thursday 19th 10:00 with two working days left (Thu, Fri).
        let c = c.moved(State::InProgress, State::Answered, at("2026-11-19T10:00"), spans, &cal);
        assert_eq!(c.answer_left, Some(2 * 86_400));
        assert_eq!(c.breached(State::Answered, at("2026-12-30T00:00")), None, "paused");
        // Returned the next Wednesday 25th, 15:00: due Friday 27th, 15:00.
        let c = c.moved(State::Answered, State::Returned, at("2026-11-25T15:00"), spans, &cal);
        assert_eq!(c.answer_due, Some(at("2026-11-27T15:00")));
        assert_eq!(c.answer_left, None);
        assert_eq!(c.breached(State::Returned, at("2026-11-27T15:01")), Some(Breach::Answer));
        // An answer already late has nothing left: returned, it is overdue at once.
        let c = c.moved(State::Returned, State::Answered, at("2026-11-30T09:00"), spans, &cal);
        assert_eq!(c.answer_left, Some(0));
        let c = c.moved(State::Answered, State::Returned, at("2026-12-01T09:00"), spans, &cal);
        assert_eq!(c.breached(State::Returned, at("2026-12-01T09:00:01")), Some(Breach::Answer));
    }
}

//! The business calendar deadlines count on: Monday to Friday, except the
//! public holidays the State Council announces each year, plus the weekend
//! days it turns into working days (调休).
//!
//! Days are civil days in China Standard Time (UTC+8, no daylight saving),
//! so the arithmetic is on whole seconds and epoch days, with no time-zone
//! database. Years the data does not cover count weekends only; the admin
//! adds each year's days when they are announced.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::WorkflowError;

/// China Standard Time, in seconds east of UTC.
pub const CST_OFFSET: i64 = 8 * 3600;
const DAY: i64 = 86_400;

/// The State Council's holiday arrangements the product ships with.
pub const DEFAULT_DAYS: &str = include_str!("../data/calendar-cn.csv");

names! {
    /// What a listed day is, overriding its weekday.
    pub enum DayKind {
        /// A public holiday (or a day of its bridging leave): no work.
        Holiday = "holiday",
        /// A weekend day worked in exchange (调休上班).
        Workday = "workday",
    }
}

/// One listed day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDay {
    pub date: Date,
    pub kind: DayKind,
    /// The holiday's name (春节) or why the day is worked (春节调休上班).
    pub name: String,
}

/// Listed days by epoch day (days since 1970-01-01 in CST).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    days: BTreeMap<i64, DayKind>,
}

/// Days since 1970-01-01 of a civil date.
pub fn epoch_day(d: Date) -> i64 {
    // 1970-01-01 is day 0; `since` in days is exact for civil dates.
    i64::from(d.since(Date::constant(1970, 1, 1)).map(|s| s.get_days()).unwrap_or(0))
}

/// China Standard Time as a time zone, for civil dates and years (the
/// centre's number series runs per year in it).
pub fn cst() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant((CST_OFFSET / 3600) as i8))
}

/// The CST civil day a Unix time falls on.
pub fn day_of(unix_secs: i64) -> i64 {
    (unix_secs + CST_OFFSET).div_euclid(DAY)
}

fn day_start(day: i64) -> i64 {
    day * DAY - CST_OFFSET
}

impl Calendar {
    pub fn new(days: impl IntoIterator<Item = (Date, DayKind)>) -> Calendar {
        Calendar { days: days.into_iter().map(|(d, k)| (epoch_day(d), k)).collect() }
    }

    /// The shipped calendar.
    pub fn china() -> Calendar {
        let days = parse_days(DEFAULT_DAYS).expect("the shipped calendar is valid");
        Calendar::new(days.into_iter().map(|d| (d.date, d.kind)))
    }

    /// Whether the epoch day is worked.
    pub fn is_working_day(&self, day: i64) -> bool {
        match self.days.get(&day) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            // 1970-01-01 was a Thursday: day % 7 is 0 on Thursdays, so 2 and 3 are Saturday and Sunday.
            None => !matches!(day.rem_euclid(7), 2 | 3),
        }
    }

    /// The instant `secs` of working time after `from`. Working time is every
    /// second of a working day; a start on a day off counts from the next
    /// working day's midnight.
    pub fn add_working(&self, from: i64, mut secs: i64) -> i64 {
        let mut t = from;
        let mut day = day_of(t);
        loop {
            if self.is_working_day(day) {
                let end = day_start(day + 1);
                if t + secs <= end {
                    return t + secs;
                }
                secs -= end - t;
            }
            day += 1;
            t = day_start(day);
        }
    }

    /// Working seconds in `[from, to)`; zero when `to` is not after `from`.
    pub fn working_between(&self, from: i64, to: i64) -> i64 {
        let mut total = 0;
        let mut t = from;
        while t < to {
            let day = day_of(t);
            let end = day_start(day + 1).min(to);
            if self.is_working_day(day) {
                total += end - t;
            }
            t = end;
        }
        total
    }
}

/// Reads `date,kind,name` lines (a header line first), reporting the line of
/// the first bad one; a date listed twice is refused.
pub fn parse_days(text: &str) -> Result<Vec<CalendarDay>, WorkflowError> {
    let mut out: Vec<CalendarDay> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: String| WorkflowError::Invalid(format!("calendar line {}: {why}", i + 1));
        let mut parts = line.splitn(3, ',');
        let (date, kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let date: Date = date.trim().parse().map_err(|e| bad(format!("`{date}` is not a date (YYYY-MM-DD): {e}")))?;
        let kind = DayKind::parse(kind).map_err(|e| bad(e.to_string()))?;
        if !seen.insert(date) {
            return Err(bad(format!("{date} is listed twice")));
        }
        out.push(CalendarDay { date, kind, name: name.trim().to_string() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        format!("{s}+08:00").parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn weekends_holidays_and_make_up_days() {
        let c = Calendar::china();
        let day = |s: &str| epoch_day(s.parse().unwrap());
        assert!(c.is_working_day(day("2026-11-20")), "a Friday");
        assert!(!c.is_working_day(day("2026-11-21")), "a Saturday");
        assert!(!c.is_working_day(day("2026-11-22")), "a Sunday");
        assert!(!c.is_working_day(day("2026-10-05")), "国庆节 on a Monday");
        assert!(c.is_working_day(day("2026-10-10")), "the Saturday worked after 国庆节");
        assert!(c.is_working_day(day("2026-02-14")), "the Saturday worked before 春节");
        assert!(!c.is_working_day(day("2026-02-23")), "the last day of 春节, a Monday");
    }

    #[test]
    fn adding_working_days_skips_what_is_not_worked() {
        let c = Calendar::china();
        let wd = 86_400;
        // Tuesday 15:00 + 1 working day = Wednesday 15:00.
        assert_eq!(c.add_working(at("2026-11-17T15:00"), wd), at("2026-11-18T15:00"));
        // Friday 15:00 + 1 working day = Monday 15:00.
        assert_eq!(c.add_working(at("2026-11-20T15:00"), wd), at("2026-11-23T15:00"));
        // Saturday counts from Monday's midnight: the end of Monday.
        assert_eq!(c.add_working(at("2026-11-21T10:00"), wd), at("2026-11-24T00:00"));
        // Issued on the eve of 国庆节 (Wednesday 30 September, 16:00): the
        // holiday runs to Wednesday 7 October, then Thursday, Friday and the
        // make-up Saturday 10 October are worked.
        assert_eq!(c.add_working(at("2026-09-30T16:00"), wd), at("2026-10-08T16:00"));
        assert_eq!(c.add_working(at("2026-09-30T16:00"), 3 * wd), at("2026-10-10T16:00"));
        assert_eq!(c.add_working(at("2026-09-30T16:00"), 5 * wd), at("2026-10-13T16:00"));
        // Before 春节 2026: Friday 13 February + 1 = the make-up Saturday 14th;
        // + 2 = Tuesday the 24th, after nine days off.
        assert_eq!(c.add_working(at("2026-02-13T09:30"), wd), at("2026-02-14T09:30"));
        assert_eq!(c.add_working(at("2026-02-13T09:30"), 2 * wd), at("2026-02-24T09:30"));
    }

    #[test]
    fn working_time_between_is_the_inverse_of_adding_it() {
        let c = Calendar::china();
        let from = at("2026-09-29T11:11");
        for secs in [0, 1, 3_600, 86_399, 86_400, 5 * 86_400 + 17, 40 * 86_400] {
            let to = c.add_working(from, secs);
            assert_eq!(c.working_between(from, to), secs, "{secs} s from {from}");
        }
        assert_eq!(c.working_between(at("2026-10-02T00:00"), at("2026-10-01T00:00")), 0);
    }

    #[test]
    fn bad_calendar_lines_are_named() {
        let e = parse_days("date,kind,name\n2026-01-01,holiday,元旦\n2026-13-01,holiday,x\n").unwrap_err();
        assert!(e.to_string().contains("line 3") && e.to_string().contains("2026-13-01"), "{e}");
        let e = parse_days("date,kind,name\n2026-01-01,holiday,元旦\n2026-01-01,workday,x\n").unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
        let e = parse_days("date,kind,name\n2026-01-01,vacation,x\n").unwrap_err();
        assert!(e.to_string().contains("vacation"), "{e}");
    }
}

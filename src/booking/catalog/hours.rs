//! Times of day in the catalog: ranges of local wall-clock time, the weekly hours made of them, and
//! reading them from `"HH:MM-HH:MM"`.

use std::fmt;

use chrono::{Datelike, NaiveDateTime, Timelike, Weekday};

use super::error::Problem;

/// Minutes in a day: a [`TimeRange`] may end at `24:00`, which is this.
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// Ranges of local wall-clock time per weekday, sorted and not overlapping. A missing day is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours {
    pub(super) days: [Vec<TimeRange>; 7],
}

impl WeeklyHours {
    /// The ranges of a weekday, sorted by start.
    pub fn on(&self, weekday: Weekday) -> &[TimeRange] {
        let index = weekday.num_days_from_monday() as usize;
        self.days.get(index).map(Vec::as_slice).unwrap_or_default()
    }

    /// Whether a local wall-clock moment falls inside one of its day's ranges.
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        let minute = u16::try_from(local.hour() * 60 + local.minute()).unwrap_or(u16::MAX);
        self.on(local.weekday())
            .iter()
            .any(|range| range.start <= minute && minute < range.end)
    }
}

/// A range of local wall-clock time within one day, `[start, end)` in minutes from midnight; the end
/// may be `24:00`. Written `"09:00-14:00"` in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

impl TimeRange {
    /// A range from `start` to `end` minutes after midnight, if `start < end <= 24:00`.
    pub fn new(start: u16, end: u16) -> Option<Self> {
        (start < end && end <= MINUTES_PER_DAY).then_some(Self { start, end })
    }

    /// Minutes from midnight to the start.
    pub fn start_minute(self) -> u16 {
        self.start
    }

    /// Minutes from midnight to the end (exclusive; up to 1440).
    pub fn end_minute(self) -> u16 {
        self.end
    }

    /// Whether the two ranges share any minute (touching ends do not).
    pub fn overlaps(self, other: TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The minutes both ranges cover, if any.
    pub fn intersection(self, other: TimeRange) -> Option<TimeRange> {
        TimeRange::new(self.start.max(other.start), self.end.min(other.end))
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = (self.start, self.end);
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            start / 60,
            start % 60,
            end / 60,
            end % 60
        )
    }
}

pub(super) fn parse_range(text: &str) -> Result<TimeRange, Problem> {
    let bad = || Problem::BadRange(text.to_owned());
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let (start, end) = (
        parse_clock(start.trim()).ok_or_else(bad)?,
        parse_clock(end.trim()).ok_or_else(bad)?,
    );
    TimeRange::new(start, end).ok_or_else(|| Problem::EndNotAfterStart(text.to_owned()))
}

/// `HH:MM` (or `H:MM`) as minutes from midnight; `24:00` is the end of the day.
fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let digits = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    let (hours, minutes) = (
        digits(hours, 2)?,
        digits(minutes, 2).filter(|_| minutes.len() == 2)?,
    );
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= MINUTES_PER_DAY).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::catalog::test_support::{invalid, range, with};

    #[test]
    fn a_moment_is_inside_its_days_ranges_and_not_at_their_ends() {
        let mut hours = WeeklyHours::default();
        hours.days[0] = vec![TimeRange {
            start: 9 * 60,
            end: 14 * 60,
        }];
        let monday = |h, m| {
            chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
                .and_then(|d| d.and_hms_opt(h, m, 0))
                .unwrap_or_default()
        };
        assert!(hours.contains(monday(9, 0)));
        assert!(hours.contains(monday(13, 59)));
        assert!(!hours.contains(monday(14, 0)));
        assert!(!hours.contains(monday(8, 59)));
        let tuesday = monday(10, 0) + chrono::Duration::days(1);
        assert!(!hours.contains(tuesday), "a day without ranges is closed");
    }

    #[test]
    fn time_ranges_must_be_well_formed() {
        for bad in [
            "9-14",
            "09:00",
            "09:60-10:00",
            "24:30-25:00",
            "0900-1400",
            "09:00-14:0",
            "a:00-14:00",
        ] {
            let (field, _, problem) = invalid(&with("[\"09:00-20:00\"]", &format!("[{bad:?}]")));
            assert_eq!(
                (field.as_str(), problem),
                ("salon.hours.mon[0]", Problem::BadRange(bad.into()))
            );
        }
        assert_eq!(range("9:00 - 24:00"), TimeRange::new(540, 1440).unwrap());
        assert_eq!(range("00:00-24:00").to_string(), "00:00-24:00");
    }

    #[test]
    fn time_ranges_must_end_after_they_start() {
        for bad in ["14:00-09:00", "10:00-10:00", "24:00-24:00"] {
            let (field, _, problem) = invalid(&with("[\"09:00-14:00\"]", &format!("[{bad:?}]")));
            assert_eq!(
                (field.as_str(), problem),
                (
                    "staff[ana].hours.mon[0]",
                    Problem::EndNotAfterStart(bad.into())
                )
            );
        }
    }
}

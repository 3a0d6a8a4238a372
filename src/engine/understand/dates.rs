//! The day a message asks for, relative to the salon's today: "hoy", "mañana", "pasado mañana",
//! "tomorrow", "amanhã"; weekday names ("el jueves", "next friday", "sexta que vem"); "this weekend";
//! a day and month ("el 3 de mayo", "3 de maio", "May 3rd"); numbers only ("3/5": day first in
//! Spanish and Portuguese, in English as the salon's `date_order` says); a day of this month or the
//! next ("dia 12", "the 12th"); and "in two weeks", "dentro de 3 días", "daqui a 15 dias".
//!
//! When a message names several days ("no el martes, mejor el jueves"), the last one wins: customers
//! correct themselves forwards.

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::calendar::{month, weekday};
use super::words::{number, ordinal};

/// Whether numbers-only dates put the day or the month first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    DayFirst,
    MonthFirst,
}

/// Words before "mañana" that make it "the morning" rather than "tomorrow".
const MORNING_BEFORE: &[&str] = &["la", "de", "por", "en", "esta", "manana"];

/// Words saying "the next one" before a weekday ("next friday", "el próximo viernes").
const NEXT_BEFORE: &[&str] = &["next", "proximo", "proxima", "prox"];

/// The day the words name, if any, marking the words it used in `used`.
pub(super) fn date(
    words: &[String],
    used: &mut [bool],
    today: NaiveDate,
    order: Order,
) -> Option<NaiveDate> {
    let mut found = None;
    let mut i = 0;
    while i < words.len() {
        match at(words, i, today, order) {
            Some((day, len)) => {
                for flag in used.iter_mut().skip(i).take(len) {
                    *flag = true;
                }
                found = Some(day);
                i += len.max(1);
            }
            None => i += 1,
        }
    }
    found
}

/// A date expression starting at word `i`: the day and how many words it spans.
fn at(words: &[String], i: usize, today: NaiveDate, order: Order) -> Option<(NaiveDate, usize)> {
    let word = |k: usize| words.get(i + k).map(String::as_str).unwrap_or("");
    let before = if i > 0 { words[i - 1].as_str() } else { "" };
    let plus = |days: u64| today.checked_add_days(Days::new(days));
    let phrase = |p: &[&str]| p.iter().enumerate().all(|(k, w)| word(k) == *w);

    if phrase(&["pasado", "manana"]) {
        return Some((plus(2)?, 2));
    }
    if phrase(&["depois", "de", "amanha"]) {
        return Some((plus(2)?, 3));
    }
    if phrase(&["day", "after", "tomorrow"]) {
        return Some((plus(2)?, 3));
    }
    // "esta tarde", "this afternoon", "tonight": today, leaving the part of the day to the times.
    let later_today = matches!(
        (word(0), word(1)),
        ("esta", "tarde" | "noche" | "manana") | ("this", "morning" | "afternoon" | "evening")
    );
    if later_today {
        return Some((today, 1));
    }
    if word(0) == "tonight" {
        return Some((today, 0));
    }
    match word(0) {
        "hoy" | "today" | "hoje" | "2day" => return Some((today, 1)),
        "tomorrow" | "tmrw" | "tmr" | "tmrrw" | "tomorow" | "tommorow" | "tommorrow"
        | "tomorro" | "2moro" | "2morrow" | "amanha" | "amanh" | "amnha" | "amanah" => {
            return Some((plus(1)?, 1));
        }
        "manana" | "mana" | "manan" | "mnn" if !MORNING_BEFORE.contains(&before) => {
            return Some((plus(1)?, 1));
        }
        _ => {}
    }
    if let Some(found) = weekend(words, i, today) {
        return Some(found);
    }
    if let Some(day) = weekday(word(0)) {
        let next = NEXT_BEFORE.contains(&before)
            || phrase(&[word(0), "que", "viene"])
            || phrase(&[word(0), "que", "vem"])
            || matches!(word(1), "proximo" | "proxima");
        let feira = usize::from(matches!(word(1), "feira" | "f"));
        let after = if next && word(1) == "que" { 2 } else { 0 };
        return Some((next_weekday(today, day, next)?, 1 + feira + after));
    }
    if let Some(found) = day_and_month(words, i, today) {
        return Some(found);
    }
    if word(0) == "the"
        && let Some((day, len)) = day_and_month(words, i + 1, today)
    {
        return Some((day, len + 1));
    }
    if let Some(day) = numeric(word(0), today, order) {
        return Some((day, 1));
    }
    if let Some(found) = day_of_month(words, i, today) {
        return Some(found);
    }
    in_some_days(words, i, today)
}

/// "this weekend", "el finde", "este fin de semana", "fim de semana": the coming Saturday (today on
/// a Saturday or Sunday).
fn weekend(words: &[String], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let word = |k: usize| words.get(i + k).map(String::as_str).unwrap_or("");
    let len = match (word(0), word(1), word(2)) {
        ("fin" | "fim", "de", "semana") => 3,
        ("finde" | "weekend", _, _) => 1,
        ("week", "end", _) => 2,
        _ => return None,
    };
    let day = match today.weekday() {
        Weekday::Sat | Weekday::Sun => today,
        other => {
            let ahead = 5 - other.num_days_from_monday();
            today.checked_add_days(Days::new(u64::from(ahead)))?
        }
    };
    Some((day, len))
}

/// The next `day` from today: today itself counts unless `strictly_after` ("next friday").
fn next_weekday(today: NaiveDate, day: Weekday, strictly_after: bool) -> Option<NaiveDate> {
    let mut ahead = (7 + day.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
    if ahead == 0 && strictly_after {
        ahead = 7;
    }
    today.checked_add_days(Days::new(u64::from(ahead)))
}

/// "3 de mayo", "3 mayo", "3rd of May", "May 3rd", "May 3", "3 de maio de 2027".
fn day_and_month(words: &[String], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let word = |k: usize| words.get(i + k).map(String::as_str).unwrap_or("");
    let (day, month_number, mut len) = if let Some(day) = ordinal(word(0)) {
        let skip = usize::from(matches!(word(1), "de" | "of" | "del"));
        (day, month(word(1 + skip), true)?, 2 + skip)
    } else {
        let month_number = month(word(0), true)?;
        let skip = usize::from(word(1) == "the");
        (ordinal(word(1 + skip))?, month_number, 2 + skip)
    };
    let explicit_year = match (word(len), word(len + 1)) {
        ("de" | "del", year) => year_of(year).map(|y| (y, 2)),
        (year, _) => year_of(year).map(|y| (y, 1)),
    };
    let date = match explicit_year {
        Some((year, extra)) => {
            len += extra;
            NaiveDate::from_ymd_opt(year, month_number, day)?
        }
        None => upcoming(today, month_number, day)?,
    };
    Some((date, len))
}

/// A four-digit year, or two digits meaning this century.
fn year_of(word: &str) -> Option<i32> {
    if !(word.len() == 4 || word.len() == 2) || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = word.parse().ok()?;
    Some(if year < 100 { 2000 + year } else { year })
}

/// This year's `month`/`day`, or next year's once it has passed.
fn upcoming(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this = NaiveDate::from_ymd_opt(today.year(), month, day)?;
    if this >= today {
        Some(this)
    } else {
        NaiveDate::from_ymd_opt(today.year() + 1, month, day)
    }
}

/// "3/5", "03/05", "3-5", "3/5/2027", "3/5/27": day first unless `order` says month first.
fn numeric(word: &str, today: NaiveDate, order: Order) -> Option<NaiveDate> {
    let parts: Vec<&str> = word.split(['/', '-']).collect();
    if !(2..=3).contains(&parts.len())
        || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let first: u32 = parts[0].parse().ok()?;
    let second: u32 = parts[1].parse().ok()?;
    let (day, month) = match order {
        Order::DayFirst => (first, second),
        Order::MonthFirst => (second, first),
    };
    match parts.get(2) {
        Some(year) => NaiveDate::from_ymd_opt(year_of(year)?, month, day),
        None => upcoming(today, month, day),
    }
}

/// "dia 12", "el día 12", "no dia 12", "the 12th", "on the 12th", "12th": that day of this month, or
/// of the next once it has passed.
fn day_of_month(words: &[String], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let word = |k: usize| words.get(i + k).map(String::as_str).unwrap_or("");
    let (day, len) = match word(0) {
        "dia" => (ordinal(word(1))?, 2),
        "the" => (ordinal(word(1)).filter(|_| has_suffix(word(1)))?, 2),
        w if has_suffix(w) && w.chars().any(|c| c.is_ascii_alphabetic()) => (ordinal(w)?, 1),
        _ => return None,
    };
    if !(1..=31).contains(&day) {
        return None;
    }
    let mut month = today.with_day(1)?;
    for _ in 0..3 {
        if let Some(date) = month.with_day(day)
            && date >= today
        {
            return Some((date, len));
        }
        month = month.checked_add_months(chrono::Months::new(1))?;
    }
    None
}

/// Whether an ordinal is written with its suffix ("12th", "3rd"), not a bare number.
fn has_suffix(word: &str) -> bool {
    ["st", "nd", "rd", "th"].iter().any(|s| word.ends_with(s))
        && word.starts_with(|c: char| c.is_ascii_digit())
}

/// "in two weeks", "in 3 days", "en dos semanas", "dentro de 3 días", "daqui a 15 dias", "em duas
/// semanas", "in a week".
fn in_some_days(words: &[String], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let word = |k: usize| words.get(i + k).map(String::as_str).unwrap_or("");
    let lead = match (word(0), word(1)) {
        ("dentro", "de") | ("daqui", "a") => 2,
        ("in" | "en" | "em" | "within", _) => 1,
        ("daqui", _) => 1,
        _ => return None,
    };
    let count = match word(lead) {
        "a" | "an" | "one" => Some(1),
        "un" | "una" | "uma" | "um" => Some(1),
        w => number(w),
    }?;
    let days = match word(lead + 1) {
        "dia" | "dias" | "day" | "days" => count,
        "semana" | "semanas" | "week" | "weeks" => count * 7,
        _ => return None,
    };
    if days > 366 {
        return None;
    }
    Some((
        today.checked_add_days(Days::new(u64::from(days)))?,
        lead + 2,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::understand::words::words;

    /// Monday 23 November 2026.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn read(text: &str, order: Order) -> Option<String> {
        let w = words(text);
        let mut used = vec![false; w.len()];
        date(&w, &mut used, today(), order).map(|d| d.to_string())
    }

    #[test]
    fn dates_in_every_language() {
        let cases = [
            ("hoy", "2026-11-23"),
            ("mañana", "2026-11-24"),
            ("manana x la tarde", "2026-11-24"),
            ("pasado mañana", "2026-11-25"),
            ("el jueves", "2026-11-26"),
            ("el lunes", "2026-11-23"),
            ("el lunes que viene", "2026-11-30"),
            ("next monday", "2026-11-30"),
            ("sexta que vem", "2026-11-27"),
            ("sexta-feira", "2026-11-27"),
            ("este finde", "2026-11-28"),
            ("this weekend", "2026-11-28"),
            ("el 3 de mayo", "2027-05-03"),
            ("3 de maio", "2027-05-03"),
            ("May 3rd", "2027-05-03"),
            ("the 3rd of December", "2026-12-03"),
            ("3/12", "2026-12-03"),
            ("dia 12", "2026-12-12"),
            ("the 30th", "2026-11-30"),
            ("in two weeks", "2026-12-07"),
            ("dentro de 3 días", "2026-11-26"),
            ("daqui a duas semanas", "2026-12-07"),
            ("tomorow", "2026-11-24"),
            ("amanha", "2026-11-24"),
            ("miercoles", "2026-11-25"),
            ("wednsday", "2026-11-25"),
            ("no el martes, mejor el jueves", "2026-11-26"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                read(text, Order::DayFirst).as_deref(),
                Some(expected),
                "{text:?}"
            );
        }
        assert_eq!(
            read("3/12", Order::MonthFirst).as_deref(),
            Some("2027-03-12")
        );
        for text in [
            "por la mañana",
            "buenos días",
            "a las 5",
            "el 2",
            "muchas gracias",
        ] {
            assert_eq!(read(text, Order::DayFirst), None, "{text:?}");
        }
    }
}

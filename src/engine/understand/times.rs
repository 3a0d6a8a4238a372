//! The time a message asks for, as the salon's wall clock shows it: a time ("5pm", "17h", "17:30",
//! "a las 5 y media", "às 5 e meia", "half past five", "noon"), a range ("entre las 4 y las 6",
//! "after 6", "antes das 12") or a part of the day ("de tarde", "por la mañana", "à noite",
//! "morning", "after work").
//!
//! An hour of the twelve-hour clock said without "pm", "de la tarde" or the like is read against the
//! salon's opening hours: "a las 5" in a salon open 9:30–20:30 is 17:00, since 5:00 is closed. When
//! both readings fall within opening hours the answer is [`TimeWish::Either`], and the bot asks
//! ("5 in the morning or the afternoon?") rather than guess.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use super::words::number;

/// The time a customer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimeWish {
    /// This time.
    At { time: NaiveTime },
    /// Any time from `from` until before `to`.
    Between { from: NaiveTime, to: NaiveTime },
    /// One of two times twelve hours apart, both within opening hours: to be asked about.
    Either {
        morning: NaiveTime,
        afternoon: NaiveTime,
    },
}

impl TimeWish {
    /// The first and (for a range) last time, as `time_from`/`time_to` report them; none for a
    /// time still to be asked about.
    pub fn bounds(&self) -> (Option<NaiveTime>, Option<NaiveTime>) {
        match *self {
            TimeWish::At { time } => (Some(time), None),
            TimeWish::Between { from, to } => (Some(from), Some(to)),
            TimeWish::Either { .. } => (None, None),
        }
    }

    /// Whether `time` is what the customer asked for (exactly, or within the range).
    pub fn admits(&self, time: NaiveTime) -> bool {
        match *self {
            TimeWish::At { time: at } => at == time,
            TimeWish::Between { from, to } => from <= time && time < to,
            TimeWish::Either { morning, afternoon } => time == morning || time == afternoon,
        }
    }
}

/// An hour said without saying which half of the day, or said with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    Unsaid,
    Morning,
    Afternoon,
    /// Written on the 24-hour clock ("17:30", "09:00"): as it is.
    AsWritten,
}

/// A time of the clock as written: hour, minute and what was said about the half of the day.
#[derive(Debug, Clone, Copy)]
struct Clock {
    hour: u32,
    minute: u32,
    half: Half,
}

/// Parts of the day: the words, how many, and their range of hours.
const PARTS: &[(&[&str], (u32, u32))] = &[
    (&["after", "work"], (17, 24)),
    (&["despues", "del", "trabajo"], (17, 24)),
    (&["despues", "de", "trabajar"], (17, 24)),
    (&["al", "salir", "del", "trabajo"], (17, 24)),
    (&["saliendo", "del", "trabajo"], (17, 24)),
    (&["despues", "del", "curro"], (17, 24)),
    (&["depois", "do", "trabalho"], (17, 24)),
    (&["depois", "do", "servico"], (17, 24)),
    (&["depois", "do", "expediente"], (17, 24)),
    (&["saindo", "do", "trabalho"], (17, 24)),
    (&["hora", "de", "comer"], (13, 16)),
    (&["hora", "do", "almoco"], (12, 14)),
    (&["lunchtime"], (12, 14)),
    (&["lunch", "time"], (12, 14)),
    (&["at", "lunch"], (12, 14)),
    (&["primera", "hora"], (6, 11)),
    (&["first", "thing"], (6, 11)),
    (&["temprano"], (6, 11)),
    (&["cedo"], (6, 11)),
    (&["early"], (6, 11)),
    (&["manana"], (6, 13)),
    (&["manha"], (6, 13)),
    (&["morning"], (6, 12)),
    (&["mornin"], (6, 12)),
    (&["tarde"], (12, 20)),
    (&["tardinha"], (15, 20)),
    (&["afternoon"], (12, 18)),
    (&["arvo"], (12, 18)),
    (&["noche"], (18, 24)),
    (&["noite"], (18, 24)),
    (&["evening"], (18, 24)),
    (&["tonight"], (18, 24)),
    (&["night"], (18, 24)),
];

/// Words before a part of the day that make it a greeting or something else ("buenas tardes",
/// "más tarde", "good morning").
const NOT_A_PART_AFTER: &[&str] = &[
    "buenas", "buenos", "buena", "boa", "bom", "good", "mas", "muy", "too", "so", "ta", "esta",
];

/// Words that introduce an hour ("a las 5", "at 5", "às 5", "pelas 5", "sobre las 5").
const CLOCK_CUES: &[&str] = &[
    "las", "la", "at", "as", "pelas", "pras", "sobre", "hacia", "around", "arround", "tipo",
    "aprox", "approx", "abt", "by",
];

/// The words not used by a date, by position; a used or missing word reads as "".
struct Free<'a> {
    words: &'a [String],
    used: &'a [bool],
}

impl<'a> Free<'a> {
    fn at(&self, k: usize) -> &'a str {
        match (self.words.get(k), self.used.get(k)) {
            (Some(word), Some(false)) => word.as_str(),
            _ => "",
        }
    }
}

/// Opening hours as the time reading needs them: whether the salon is open at a time of day.
pub(super) type OpenAt<'a> = &'a dyn Fn(NaiveTime) -> bool;

/// The time the words ask for, if any, reading only words not `used` by a date. `open_at` tells
/// whether the salon is open at a time of day (on the day asked for, or on any day).
pub(super) fn time(words: &[String], used: &[bool], open_at: OpenAt<'_>) -> Option<TimeWish> {
    let free = Free { words, used };
    let mut clock: Option<Clock> = None;
    let mut range: Option<TimeWish> = None;
    let mut part: Option<(u32, u32)> = None;
    let mut i = 0;
    while i < words.len() {
        if let Some((wish, len)) = range_at(&free, i, open_at) {
            range = Some(wish);
            i += len;
            continue;
        }
        if let Some((found, len)) = clock_at(&free, i, true) {
            clock = Some(found);
            i += len;
            continue;
        }
        if let Some((hours, len)) = part_at(&free, i) {
            part = Some(hours);
            i += len;
            continue;
        }
        i += 1;
    }
    if let Some(clock) = clock {
        return Some(resolve(clock, part, open_at));
    }
    if range.is_some() {
        return range;
    }
    part.map(|(from, to)| TimeWish::Between {
        from: hm(from, 0),
        to: end_of(to),
    })
}

/// `h:m` (valid by construction: callers pass hours below 24 and minutes below 60).
fn hm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour % 24, minute % 60, 0).unwrap_or(NaiveTime::MIN)
}

/// The end of a range of hours: 24 is the last minute of the day.
fn end_of(hour: u32) -> NaiveTime {
    if hour >= 24 { hm(23, 59) } else { hm(hour, 0) }
}

/// A part of the day starting at word `i`: its hours and how many words it spans.
fn part_at(free: &Free<'_>, i: usize) -> Option<((u32, u32), usize)> {
    let before = if i > 0 { free.at(i - 1) } else { "" };
    for (phrase, hours) in PARTS {
        if phrase.iter().enumerate().all(|(k, w)| free.at(i + k) == *w) {
            if phrase.len() == 1 && NOT_A_PART_AFTER.contains(&before) && phrase[0] != "tonight" {
                // "esta tarde" is this afternoon, but "buenas tardes" greets and "más tarde" is later.
                if before == "esta" {
                    return Some((*hours, 1));
                }
                return None;
            }
            return Some((*hours, phrase.len()));
        }
    }
    None
}

/// A time of the clock starting at word `i`, with how many words it spans. With `need_cue`, a bare
/// number counts only after a cue ("a las", "at", "às") or before a marker ("pm", "h", "de la
/// tarde"), so that "el 2" or "2 personas" are not times.
fn clock_at(free: &Free<'_>, i: usize, need_cue: bool) -> Option<(Clock, usize)> {
    let word = free.at(i);
    if word.is_empty() {
        return None;
    }
    match word {
        "noon" | "midday" | "mediodia" => {
            return Some((
                Clock {
                    hour: 12,
                    minute: 0,
                    half: Half::AsWritten,
                },
                1,
            ));
        }
        "meio" | "medio" if free.at(i + 1) == "dia" => {
            return Some((
                Clock {
                    hour: 12,
                    minute: 0,
                    half: Half::AsWritten,
                },
                2,
            ));
        }
        "half" | "quarter" => return english_fraction(free, i),
        _ => {}
    }
    if let Some(clock) = written_clock(word) {
        let (clock, extra) = with_half(clock, free, i + 1);
        return Some((clock, 1 + extra));
    }
    let hour = number(word)?;
    if hour > 24 {
        return None;
    }
    let before = if i > 0 { free.at(i - 1) } else { "" };
    let cued = CLOCK_CUES.contains(&before) || (before == "a" && hour == 1);
    let (minute, minute_len) = minutes_after(free, i + 1, hour);
    let hour = if minute_len > 0 && minute >= 45 && is_to(free, i + 1) {
        hour.checked_sub(1)?
    } else {
        hour
    };
    let after = i + 1 + minute_len;
    let unit = usize::from(matches!(
        free.at(after),
        "h" | "hs" | "hrs" | "horas" | "hora" | "oclock" | "hr"
    ));
    let unit = unit + usize::from(free.at(after) == "o" && free.at(after + 1) == "clock") * 2;
    let clock = Clock {
        hour,
        minute,
        half: if hour > 12 || hour == 0 {
            Half::AsWritten
        } else {
            Half::Unsaid
        },
    };
    let (clock, half_len) = with_half(clock, free, after + unit);
    let marked = unit > 0 || half_len > 0 || minute_len > 0;
    if need_cue && !cued && !marked {
        return None;
    }
    Some((clock, 1 + minute_len + unit + half_len))
}

/// Whether the minutes after an hour were said as "menos cuarto"/"menos um quarto" (to the hour).
fn is_to(free: &Free<'_>, i: usize) -> bool {
    free.at(i) == "menos"
}

/// Minutes said after an hour: "y media", "e meia", "y cuarto", "e um quarto", "menos cuarto",
/// "y veinte", "e trinta", "30". Returns the minute and the words used.
fn minutes_after(free: &Free<'_>, i: usize, hour: u32) -> (u32, usize) {
    let (joiner, next) = (free.at(i), free.at(i + 1));
    let fraction = |w: &str| match w {
        "media" | "meia" => Some(30),
        "cuarto" | "quarto" => Some(15),
        _ => None,
    };
    match joiner {
        "y" | "e" => {
            if let Some(m) = fraction(next) {
                return (m, 2);
            }
            if next == "um" && fraction(free.at(i + 2)) == Some(15) {
                return (15, 3);
            }
            match next {
                "veinte" | "vinte" => return (20, 2),
                "diez" | "dez" => return (10, 2),
                "quince" | "quinze" => return (15, 2),
                "treinta" | "trinta" => return (30, 2),
                "cuarenta" | "quarenta" => return (40, 2),
                _ => {}
            }
            (0, 0)
        }
        "menos" => match (next, free.at(i + 2)) {
            ("cuarto" | "quarto", _) if hour > 0 => (45, 2),
            ("um", "quarto") if hour > 0 => (45, 3),
            _ => (0, 0),
        },
        "thirty" => (30, 1),
        "fifteen" => (15, 1),
        "forty" if free.at(i + 1) == "five" => (45, 2),
        w if w.len() == 2 && w.bytes().all(|b| b.is_ascii_digit()) => match w.parse::<u32>() {
            Ok(m) if m < 60 => (m, 1),
            _ => (0, 0),
        },
        _ => (0, 0),
    }
}

/// "half past five", "half five", "quarter past 5", "quarter to 6".
fn english_fraction(free: &Free<'_>, i: usize) -> Option<(Clock, usize)> {
    let minute = if free.at(i) == "half" { 30 } else { 15 };
    let (to, skip) = match free.at(i + 1) {
        "past" | "after" => (false, 1),
        "to" | "til" | "till" if minute == 15 => (true, 1),
        _ if minute == 30 => (false, 0),
        _ => return None,
    };
    let hour = number(free.at(i + 1 + skip))?;
    if !(1..=12).contains(&hour) {
        return None;
    }
    let (hour, minute) = if to { (hour - 1, 45) } else { (hour, minute) };
    let clock = Clock {
        hour,
        minute,
        half: Half::Unsaid,
    };
    let (clock, extra) = with_half(clock, free, i + 2 + skip);
    Some((clock, 2 + skip + extra))
}

/// A time written in one chunk: "17:30", "17h", "17h30", "5pm", "5:30pm", "9.30", "10am", "17hs".
fn written_clock(word: &str) -> Option<Clock> {
    let digits_end = word.find(|c: char| !c.is_ascii_digit())?;
    if digits_end == 0 || digits_end > 2 {
        return None;
    }
    let hour: u32 = word[..digits_end].parse().ok()?;
    let rest = &word[digits_end..];
    let (minute, suffix) = match rest.chars().next()? {
        ':' | '.' | 'h' => {
            let after = &rest[1..];
            let m_end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            if m_end == 0 {
                if rest.starts_with('h') {
                    (0, after)
                } else {
                    return None;
                }
            } else if m_end == 2 {
                (after[..2].parse().ok()?, &after[2..])
            } else {
                return None;
            }
        }
        _ => (0, rest),
    };
    let half = match suffix {
        "pm" | "p" | "p.m" | "p.m." => Half::Afternoon,
        "am" | "a" | "a.m" | "a.m." => Half::Morning,
        "" | "h" | "hs" | "hrs" | "hr" => {
            if hour > 12 || hour == 0 || word.starts_with('0') || rest.starts_with('h') {
                Half::AsWritten
            } else {
                Half::Unsaid
            }
        }
        _ => return None,
    };
    if hour > 24 || minute > 59 {
        return None;
    }
    Some(Clock { hour, minute, half })
}

/// "pm", "p m", "de la tarde", "da manhã", "in the morning", "de la noche" after an hour.
fn with_half(mut clock: Clock, free: &Free<'_>, i: usize) -> (Clock, usize) {
    let said = |p: &[&str]| p.iter().enumerate().all(|(k, w)| free.at(i + k) == *w);
    let afternoon_words = ["tarde", "noche", "noite", "afternoon", "evening", "night"];
    let (half, len) = if said(&["pm"]) {
        (Half::Afternoon, 1)
    } else if said(&["p", "m"]) {
        (Half::Afternoon, 2)
    } else if said(&["am"]) {
        (Half::Morning, 1)
    } else if said(&["a", "m"]) {
        (Half::Morning, 2)
    } else if ["de", "da", "por"].contains(&free.at(i))
        && ["la", "a"].contains(&free.at(i + 1))
        && afternoon_words.contains(&free.at(i + 2))
    {
        (Half::Afternoon, 3)
    } else if ["da", "de"].contains(&free.at(i)) && afternoon_words.contains(&free.at(i + 1)) {
        (Half::Afternoon, 2)
    } else if said(&["in", "the"]) && afternoon_words.contains(&free.at(i + 2)) {
        (Half::Afternoon, 3)
    } else if said(&["at", "night"]) {
        (Half::Afternoon, 2)
    } else if ["de", "da", "por"].contains(&free.at(i))
        && free.at(i + 1) == "la"
        && ["manana", "madrugada"].contains(&free.at(i + 2))
    {
        (Half::Morning, 3)
    } else if said(&["da", "manha"]) || said(&["de", "manha"]) || said(&["de", "manana"]) {
        (Half::Morning, 2)
    } else if said(&["in", "the", "morning"]) {
        (Half::Morning, 3)
    } else {
        return (clock, 0);
    };
    if clock.half != Half::AsWritten || clock.hour == 12 {
        clock.half = half;
    }
    (clock, len)
}

/// A range starting at word `i`: "entre las 4 y las 6", "between 4 and 6", "de 4 a 6", "from 4 to
/// 6", "das 4 às 6", "4-6pm", "a partir de las 5", "después de las 5", "after 5", "depois das 5",
/// "antes de las 12", "before 12", "antes das 12".
fn range_at(free: &Free<'_>, i: usize, open_at: OpenAt<'_>) -> Option<(TimeWish, usize)> {
    let said = |k: usize, p: &[&str]| p.iter().enumerate().all(|(j, w)| free.at(i + k + j) == *w);
    let skip_article =
        |k: usize| usize::from(matches!(free.at(i + k), "las" | "la" | "as" | "the"));
    // A chunk such as "4-6pm" or "16-18h".
    if let Some((from, to)) = free.at(i).split_once('-')
        && !from.is_empty()
        && let (Some(a), Some(b)) = (
            number(from),
            written_clock(to).or_else(|| {
                number(to).map(|hour| Clock {
                    hour,
                    minute: 0,
                    half: Half::Unsaid,
                })
            }),
        )
        && a <= 24
    {
        let start = Clock {
            hour: a,
            minute: 0,
            half: if b.half == Half::Afternoon && a < 12 {
                Half::Afternoon
            } else if a > 12 {
                Half::AsWritten
            } else {
                b.half
            },
        };
        return Some((between(start, b, open_at), 1));
    }
    let (lead, joiners): (usize, &[&str]) = if said(0, &["entre"]) || said(0, &["between"]) {
        (1, &["y", "and", "e", "a"])
    } else if said(0, &["de"]) || said(0, &["from"]) || said(0, &["das"]) || said(0, &["desde"]) {
        (
            1,
            &["a", "to", "till", "until", "til", "hasta", "as", "ate"],
        )
    } else {
        (0, &[])
    };
    if lead > 0 {
        let k = lead + skip_article(lead);
        if let Some((start, len)) = clock_at(free, i + k, false) {
            let joint = i + k + len;
            if joiners.contains(&free.at(joint)) {
                let k2 = joint + 1 + usize::from(matches!(free.at(joint + 1), "las" | "la" | "as"));
                if let Some((end, len2)) = clock_at(free, k2, false) {
                    return Some((between(start, end, open_at), k2 + len2 - i));
                }
            }
            // "from 5" alone: from then on.
            if said(0, &["from"]) || said(0, &["desde"]) {
                let start = pick(start, None, open_at);
                return Some((after(start), joint - i));
            }
        }
    }
    let after_lead = if said(0, &["a", "partir", "de"]) || said(0, &["a", "partir", "das"]) {
        3
    } else if said(0, &["despues", "de"])
        || said(0, &["depois", "das"])
        || said(0, &["depois", "de"])
        || said(0, &["later", "than"])
        || said(0, &["mas", "tarde", "de"])
    {
        2 + usize::from(said(0, &["mas", "tarde", "de"]))
    } else if said(0, &["after"]) || said(0, &["pasadas"]) {
        1
    } else {
        0
    };
    if after_lead > 0 {
        let k = after_lead + skip_article(after_lead);
        if let Some((start, len)) = clock_at(free, i + k, false) {
            return Some((after(pick(start, None, open_at)), k + len));
        }
    }
    let before_lead = if said(0, &["antes", "de"]) || said(0, &["antes", "das"]) {
        2
    } else if said(0, &["before"]) || said(0, &["antes"]) {
        1
    } else {
        0
    };
    if before_lead > 0 {
        let k = before_lead + skip_article(before_lead);
        if let Some((end, len)) = clock_at(free, i + k, false) {
            let end = pick(end, None, open_at);
            return Some((
                TimeWish::Between {
                    from: NaiveTime::MIN,
                    to: end,
                },
                k + len,
            ));
        }
    }
    None
}

fn after(start: NaiveTime) -> TimeWish {
    TimeWish::Between {
        from: start,
        to: hm(23, 59),
    }
}

/// "4 to 6": both ends read alike (if the end is said "pm", so is the start), the end after the start.
fn between(start: Clock, end: Clock, open_at: OpenAt<'_>) -> TimeWish {
    let start_time = pick(start, None, open_at);
    let end_time = if end.half == Half::Unsaid {
        let plain = hm(end.hour, end.minute);
        let later = hm(end.hour + 12, end.minute);
        if plain > start_time || end.hour == 12 {
            plain
        } else {
            later
        }
    } else {
        pick(end, None, open_at)
    };
    TimeWish::Between {
        from: start_time,
        to: end_time,
    }
}

/// The one reading of a clock time within a range or after a cue, without asking: the half said,
/// else the half the part of day says, else the half in which the salon is open, else the afternoon
/// for 1 to 7 and the morning for 8 to 11.
fn pick(clock: Clock, part: Option<(u32, u32)>, open_at: OpenAt<'_>) -> NaiveTime {
    match resolve(clock, part, open_at) {
        TimeWish::At { time } => time,
        TimeWish::Either { morning, afternoon } => {
            if clock.hour <= 7 {
                afternoon
            } else {
                morning
            }
        }
        TimeWish::Between { from, .. } => from,
    }
}

/// A clock time as a wish: exact when the half was said (or follows from the part of the day or
/// from opening hours), else the two readings to ask about.
fn resolve(clock: Clock, part: Option<(u32, u32)>, open_at: OpenAt<'_>) -> TimeWish {
    let Clock { hour, minute, half } = clock;
    let morning = hm(hour % 12, minute);
    let afternoon = hm(hour % 12 + 12, minute);
    let at = |time| TimeWish::At { time };
    match half {
        Half::AsWritten => at(hm(hour, minute)),
        Half::Morning => at(morning),
        Half::Afternoon => at(afternoon),
        Half::Unsaid if hour == 12 => at(hm(12, minute)),
        Half::Unsaid => {
            if let Some((from, to)) = part {
                let within = |t: NaiveTime| hm(from, 0) <= t && t < end_of(to);
                match (within(morning), within(afternoon)) {
                    (true, false) => return at(morning),
                    (false, true) => return at(afternoon),
                    _ => {}
                }
            }
            match (open_at(morning), open_at(afternoon)) {
                (true, false) => at(morning),
                (false, true) => at(afternoon),
                (true, true) => TimeWish::Either { morning, afternoon },
                (false, false) if hour <= 7 => at(afternoon),
                (false, false) => at(morning),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::understand::words::words;

    /// Open 9:30 to 20:30.
    fn open(t: NaiveTime) -> bool {
        hm(9, 30) <= t && t < hm(20, 30)
    }

    /// Open 8:00 to 21:00: 8 and 20 are both open.
    fn open_early(t: NaiveTime) -> bool {
        hm(8, 0) <= t && t < hm(21, 0)
    }

    fn read(text: &str, open_at: OpenAt<'_>) -> Option<String> {
        let w = words(text);
        let used = vec![false; w.len()];
        time(&w, &used, open_at).map(|wish| match wish {
            TimeWish::At { time } => time.format("%H:%M").to_string(),
            TimeWish::Between { from, to } => {
                format!("{}-{}", from.format("%H:%M"), to.format("%H:%M"))
            }
            TimeWish::Either { morning, afternoon } => {
                format!("{}|{}", morning.format("%H:%M"), afternoon.format("%H:%M"))
            }
        })
    }

    #[test]
    fn times_in_every_language() {
        let cases = [
            ("a las 5", "17:00"),
            ("a las 10", "10:00"),
            ("5pm", "17:00"),
            ("5 pm", "17:00"),
            ("17h", "17:00"),
            ("17h30", "17:30"),
            ("17:30", "17:30"),
            ("09:30", "09:30"),
            ("a las 5 y media", "17:30"),
            ("às 5 e meia", "17:30"),
            ("as 5 e meia", "17:30"),
            ("a las 6 menos cuarto", "17:45"),
            ("half past five", "17:30"),
            ("quarter to six", "17:45"),
            ("at noon", "12:00"),
            ("al mediodía", "12:00"),
            ("ao meio dia", "12:00"),
            ("a las 5 de la tarde", "17:00"),
            ("10 da manhã", "10:00"),
            ("a las cinco", "17:00"),
            ("at five", "17:00"),
            ("de tarde", "12:00-20:00"),
            ("por la mañana", "06:00-13:00"),
            ("à noite", "18:00-23:59"),
            ("in the morning", "06:00-12:00"),
            ("after work", "17:00-23:59"),
            ("entre las 4 y las 6", "16:00-18:00"),
            ("between 4 and 6pm", "16:00-18:00"),
            ("4-6pm", "16:00-18:00"),
            ("after 6", "18:00-23:59"),
            ("depois das 6", "18:00-23:59"),
            ("antes de las 12", "00:00-12:00"),
            ("mañana por la tarde a las 5", "17:00"),
        ];
        for (text, expected) in cases {
            assert_eq!(read(text, &open).as_deref(), Some(expected), "{text:?}");
        }
        for text in [
            "buenas tardes",
            "el 2",
            "2 personas",
            "más tarde",
            "good morning",
            "boa tarde",
        ] {
            assert_eq!(read(text, &open), None, "{text:?}");
        }
    }

    #[test]
    fn an_hour_open_in_both_halves_is_asked_about() {
        assert_eq!(read("a las 8", &open_early).as_deref(), Some("08:00|20:00"));
        assert_eq!(
            read("a las 8 de la tarde", &open_early).as_deref(),
            Some("20:00")
        );
        assert_eq!(read("8am", &open_early).as_deref(), Some("08:00"));
        assert_eq!(read("a las 8", &open).as_deref(), Some("20:00"));
    }
}

//! The calendar words of the three languages: weekdays, months, the relative days ("mañana",
//! "tomorrow", "amanhã") and the parts of the day. Shared by [`super::dates`] and [`super::times`],
//! and known to the typo rule so that none of them is read as a typo of a service or a name.

use chrono::Weekday;

/// Weekday names and common short forms, normalised. "sun" is left out: it is a word too.
pub(super) const WEEKDAYS: &[(&str, Weekday)] = &[
    ("lunes", Weekday::Mon),
    ("martes", Weekday::Tue),
    ("miercoles", Weekday::Wed),
    ("jueves", Weekday::Thu),
    ("viernes", Weekday::Fri),
    ("sabado", Weekday::Sat),
    ("domingo", Weekday::Sun),
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("tues", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("thur", Weekday::Thu),
    ("thurs", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("segunda", Weekday::Mon),
    ("terca", Weekday::Tue),
    ("quarta", Weekday::Wed),
    ("quinta", Weekday::Thu),
    ("sexta", Weekday::Fri),
    ("seg", Weekday::Mon),
    ("qua", Weekday::Wed),
    ("qui", Weekday::Thu),
    ("sex", Weekday::Fri),
    ("sab", Weekday::Sat),
];

/// Month names and short forms, normalised, with their number. Short forms that are words too
/// ("mar", "may") are only read next to a day number.
pub(super) const MONTHS: &[(&str, u32)] = &[
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("janeiro", 1),
    ("fevereiro", 2),
    ("marco", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
    ("jan", 1),
    ("ene", 1),
    ("feb", 2),
    ("fev", 2),
    ("mar", 3),
    ("apr", 4),
    ("abr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("ago", 8),
    ("sep", 9),
    ("sept", 9),
    ("set", 9),
    ("oct", 10),
    ("out", 10),
    ("nov", 11),
    ("dec", 12),
    ("dic", 12),
    ("dez", 12),
];

/// Words of relative days and parts of the day.
const OTHER: &[&str] = &[
    "hoy",
    "today",
    "hoje",
    "manana",
    "tomorrow",
    "amanha",
    "pasado",
    "tarde",
    "noche",
    "noite",
    "manha",
    "morning",
    "afternoon",
    "evening",
    "tonight",
    "night",
    "semana",
    "weekend",
    "finde",
    "mediodia",
    "noon",
    "midday",
    "media",
    "meia",
    "cuarto",
    "quarto",
    "quarter",
    "half",
    "feira",
];

/// Whether `word` is a calendar word (never read as a typo of something else).
pub(super) fn is_calendar_word(word: &str) -> bool {
    WEEKDAYS.iter().any(|(w, _)| *w == word)
        || MONTHS.iter().any(|(w, _)| *w == word)
        || OTHER.contains(&word)
}

/// The weekday a word names, allowing one typo in long names ("miercoles", "wendesday" ...).
pub(super) fn weekday(word: &str) -> Option<Weekday> {
    let exact = WEEKDAYS.iter().find(|(w, _)| *w == word);
    exact
        .or_else(|| {
            (word.len() >= 5)
                .then(|| {
                    WEEKDAYS
                        .iter()
                        .find(|(w, _)| w.len() >= 5 && super::fuzzy::same(word, w))
                })
                .flatten()
        })
        .map(|(_, day)| *day)
}

/// The month a word names: a full name (one typo allowed in long ones) or, when `short_ok`, a
/// short form.
pub(super) fn month(word: &str, short_ok: bool) -> Option<u32> {
    MONTHS
        .iter()
        .find(|(w, _)| *w == word && (short_ok || w.len() > 3 || *w == "may"))
        .or_else(|| {
            (word.len() >= 5)
                .then(|| {
                    MONTHS
                        .iter()
                        .find(|(w, _)| w.len() >= 5 && super::fuzzy::same(word, w))
                })
                .flatten()
        })
        .map(|(_, month)| *month)
}

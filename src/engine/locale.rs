//! How dates, times, amounts of money and durations are written to customers in each language.
//!
//! Amounts drop their decimals when they are whole ("25 €", "€25"), and always group thousands
//! ("1.250 €", "€1,250"). Plain spaces are used throughout (no non-breaking ones).

use chrono::{Datelike, NaiveDate, NaiveTime};

use crate::booking::catalog::Language;

/// Weekday names from Monday, in full.
const WEEKDAYS: [[&str; 7]; 3] = [
    [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ],
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    [
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
        "domingo",
    ],
];

/// Weekday names from Monday, abbreviated.
const WEEKDAYS_SHORT: [[&str; 7]; 3] = [
    ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"],
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    ["seg", "ter", "qua", "qui", "sex", "sáb", "dom"],
];

/// Month names from January, in full.
const MONTHS: [[&str; 12]; 3] = [
    [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
];

/// Month names from January, abbreviated.
const MONTHS_SHORT: [[&str; 12]; 3] = [
    [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
    ],
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
    [
        "jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez",
    ],
];

/// The row of the name tables for `language`.
fn row(language: Language) -> usize {
    match language {
        Language::Es => 0,
        Language::En => 1,
        Language::Pt => 2,
    }
}

/// The weekday's and month's names of `date` from the given tables.
fn names<'a>(
    weekdays: &'a [[&'a str; 7]; 3],
    months: &'a [[&'a str; 12]; 3],
    language: Language,
    date: NaiveDate,
) -> (&'a str, &'a str) {
    let weekday = date.weekday().num_days_from_monday() as usize;
    let month = date.month0() as usize;
    (
        weekdays[row(language)][weekday],
        months[row(language)][month],
    )
}

/// A weekday's name in full: es "lunes", en "Monday", pt "segunda-feira".
pub fn weekday(language: Language, weekday: chrono::Weekday) -> &'static str {
    WEEKDAYS[row(language)][weekday.num_days_from_monday() as usize]
}

/// A day in full: es "lunes 24 de noviembre", en "Monday 24 November", pt "segunda-feira, 24 de
/// novembro".
pub fn day(language: Language, date: NaiveDate) -> String {
    let (weekday, month) = names(&WEEKDAYS, &MONTHS, language, date);
    let number = date.day();
    match language {
        Language::Es => format!("{weekday} {number} de {month}"),
        Language::En => format!("{weekday} {number} {month}"),
        Language::Pt => format!("{weekday}, {number} de {month}"),
    }
}

/// A day for a list row title (at most 24 characters): "Hoy"/"Today"/"Hoje" and
/// "Mañana"/"Tomorrow"/"Amanhã" relative to `today`, else es "lun 24 nov", en "Mon 24 Nov", pt
/// "seg 24 nov".
pub fn day_short(language: Language, date: NaiveDate, today: NaiveDate) -> String {
    if date == today {
        return match language {
            Language::Es => "Hoy",
            Language::En => "Today",
            Language::Pt => "Hoje",
        }
        .to_owned();
    }
    if today.succ_opt() == Some(date) {
        return match language {
            Language::Es => "Mañana",
            Language::En => "Tomorrow",
            Language::Pt => "Amanhã",
        }
        .to_owned();
    }
    let (weekday, month) = names(&WEEKDAYS_SHORT, &MONTHS_SHORT, language, date);
    format!("{weekday} {} {month}", date.day())
}

/// A time of day, 24-hour "09:30" in every language.
pub fn time(_language: Language, time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

/// An amount in minor units of an ISO 4217 currency: es/pt "25,50 €" ("25 €" when whole), en
/// "€25.50" ("€25" when whole); symbols for EUR €, USD $ (en "$25", es/pt "25 US$"), GBP £, BRL R$
/// (pt "R$ 25,50"); other codes written as "25,50 CHF" / "CHF 25.50". Thousands separators: es/pt
/// ".", en ",". Two decimal places except JPY/KRW/CLP (zero).
///
/// Every currency drops its decimals when the amount is whole. The code is read case-insensitively;
/// BRL is "R$25.50" in English and "25,50 R$" in Spanish.
pub fn money(language: Language, currency: &str, minor: u64) -> String {
    let code = currency.trim().to_ascii_uppercase();
    let decimals: u32 = match code.as_str() {
        "JPY" | "KRW" | "CLP" => 0,
        _ => 2,
    };
    let scale = 10u64.pow(decimals);
    let (units, fraction) = (minor / scale, minor % scale);
    let (thousands, point) = match language {
        Language::En => (',', '.'),
        Language::Es | Language::Pt => ('.', ','),
    };
    let mut number = grouped(units, thousands);
    if fraction != 0 {
        number.push(point);
        number.push_str(&format!("{fraction:0width$}", width = decimals as usize));
    }
    match (code.as_str(), language) {
        ("", _) => number,
        ("EUR", Language::En) => format!("€{number}"),
        ("EUR", _) => format!("{number} €"),
        ("USD", Language::En) => format!("${number}"),
        ("USD", _) => format!("{number} US$"),
        ("GBP", Language::En) => format!("£{number}"),
        ("GBP", _) => format!("{number} £"),
        ("BRL", Language::Pt) => format!("R$ {number}"),
        ("BRL", Language::En) => format!("R${number}"),
        ("BRL", Language::Es) => format!("{number} R$"),
        (_, Language::En) => format!("{code} {number}"),
        (_, _) => format!("{number} {code}"),
    }
}

/// `value` with `separator` between groups of three digits.
fn grouped(value: u64, separator: char) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

/// A duration: "45 min", "1 h", "1 h 30 min" (same in all three languages).
pub fn duration(_language: Language, minutes: u32) -> String {
    let (hours, minutes) = (minutes / 60, minutes % 60);
    match (hours, minutes) {
        (0, minutes) => format!("{minutes} min"),
        (hours, 0) => format!("{hours} h"),
        (hours, minutes) => format!("{hours} h {minutes} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Language::{En, Es, Pt};

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
    }

    #[test]
    fn days_in_full() {
        let cases = [
            (Es, date(2025, 11, 24), "lunes 24 de noviembre"),
            (En, date(2025, 11, 24), "Monday 24 November"),
            (Pt, date(2025, 11, 24), "segunda-feira, 24 de novembro"),
            (Es, date(2025, 3, 5), "miércoles 5 de marzo"),
            (En, date(2025, 3, 5), "Wednesday 5 March"),
            (Pt, date(2025, 3, 5), "quarta-feira, 5 de março"),
            (Es, date(2025, 11, 29), "sábado 29 de noviembre"),
            (En, date(2025, 11, 30), "Sunday 30 November"),
            (Pt, date(2025, 11, 29), "sábado, 29 de novembro"),
            (Pt, date(2025, 11, 25), "terça-feira, 25 de novembro"),
            (Es, date(2026, 1, 1), "jueves 1 de enero"),
            (En, date(2026, 1, 2), "Friday 2 January"),
            (Pt, date(2026, 1, 2), "sexta-feira, 2 de janeiro"),
        ];
        for (language, date, expected) in cases {
            assert_eq!(day(language, date), expected, "{language} {date}");
        }
    }

    #[test]
    fn short_days_say_today_and_tomorrow() {
        let today = date(2025, 11, 24);
        let tomorrow = date(2025, 11, 25);
        let cases = [
            (Es, today, "Hoy"),
            (En, today, "Today"),
            (Pt, today, "Hoje"),
            (Es, tomorrow, "Mañana"),
            (En, tomorrow, "Tomorrow"),
            (Pt, tomorrow, "Amanhã"),
            (Es, date(2025, 11, 26), "mié 26 nov"),
            (En, date(2025, 11, 26), "Wed 26 Nov"),
            (Pt, date(2025, 11, 26), "qua 26 nov"),
            (Es, date(2025, 12, 1), "lun 1 dic"),
            (En, date(2025, 12, 1), "Mon 1 Dec"),
            (Pt, date(2025, 12, 1), "seg 1 dez"),
            (Es, date(2025, 11, 23), "dom 23 nov"),
            (Pt, date(2026, 2, 7), "sáb 7 fev"),
        ];
        for (language, day, expected) in cases {
            assert_eq!(
                day_short(language, day, today),
                expected,
                "{language} {day}"
            );
        }
        let new_year = date(2025, 12, 31);
        assert_eq!(day_short(Es, date(2026, 1, 1), new_year), "Mañana");
    }

    #[test]
    fn short_days_fit_a_row_title() {
        let today = date(2025, 1, 1);
        for language in Language::ALL {
            let mut day = date(2025, 1, 1);
            while day.year() == 2025 {
                let text = day_short(language, day, today);
                assert!(text.chars().count() <= 24, "{text:?}");
                assert!(!text.is_empty());
                let Some(next) = day.succ_opt() else { break };
                day = next;
            }
        }
    }

    #[test]
    fn times_are_24_hour() {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("a valid time");
        for language in Language::ALL {
            assert_eq!(time(language, at(9, 30)), "09:30");
            assert_eq!(time(language, at(0, 0)), "00:00");
            assert_eq!(time(language, at(18, 5)), "18:05");
            assert_eq!(time(language, at(23, 59)), "23:59");
        }
    }

    #[test]
    fn money_in_every_language() {
        let cases = [
            (Es, "EUR", 2500, "25 €"),
            (Pt, "EUR", 2500, "25 €"),
            (En, "EUR", 2500, "€25"),
            (Es, "EUR", 2550, "25,50 €"),
            (Pt, "EUR", 2505, "25,05 €"),
            (En, "EUR", 2550, "€25.50"),
            (Es, "EUR", 0, "0 €"),
            (En, "EUR", 5, "€0.05"),
            (Es, "EUR", 125_000, "1.250 €"),
            (En, "EUR", 125_050, "€1,250.50"),
            (Pt, "EUR", 123_456_789, "1.234.567,89 €"),
            (En, "EUR", 100_000_000, "€1,000,000"),
            (En, "USD", 2500, "$25"),
            (En, "USD", 2599, "$25.99"),
            (Es, "USD", 2500, "25 US$"),
            (Pt, "USD", 2599, "25,99 US$"),
            (En, "GBP", 2500, "£25"),
            (Es, "GBP", 2510, "25,10 £"),
            (Pt, "BRL", 2500, "R$ 25"),
            (Pt, "BRL", 2550, "R$ 25,50"),
            (Pt, "BRL", 150_000, "R$ 1.500"),
            (En, "BRL", 2550, "R$25.50"),
            (Es, "BRL", 2550, "25,50 R$"),
            (Es, "CHF", 2550, "25,50 CHF"),
            (Pt, "CHF", 2500, "25 CHF"),
            (En, "CHF", 2550, "CHF 25.50"),
            (En, "MXN", 150_000, "MXN 1,500"),
            (Es, "MXN", 150_025, "1.500,25 MXN"),
            (Es, "JPY", 2500, "2.500 JPY"),
            (En, "JPY", 2500, "JPY 2,500"),
            (En, "KRW", 15_000, "KRW 15,000"),
            (Es, "CLP", 15_990, "15.990 CLP"),
            (Pt, "CLP", 999, "999 CLP"),
            (Es, "eur", 2500, "25 €"),
        ];
        for (language, currency, minor, expected) in cases {
            assert_eq!(
                money(language, currency, minor),
                expected,
                "{language} {currency} {minor}"
            );
        }
    }

    #[test]
    fn durations() {
        for language in Language::ALL {
            assert_eq!(duration(language, 0), "0 min");
            assert_eq!(duration(language, 45), "45 min");
            assert_eq!(duration(language, 60), "1 h");
            assert_eq!(duration(language, 90), "1 h 30 min");
            assert_eq!(duration(language, 125), "2 h 5 min");
            assert_eq!(duration(language, 180), "3 h");
        }
    }
}

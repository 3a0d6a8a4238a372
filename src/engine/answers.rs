//! Answers to questions about the salon, written from the catalog in the customer's language: the
//! price list (with durations), the opening hours, the services that ask for a deposit. The flow
//! says them through templates (`{{ price_list }}`, `{{ opening_hours }}`, `{{ deposit_list }}`,
//! `{{ address }}`, `{{ free_until_hours }}`), so nothing a customer reads about prices or policies
//! is invented: it is the catalog, as `salon.toml` says it.

use chrono::Weekday;

use super::locale;
use crate::booking::catalog::{Catalog, Language, ServiceId, TimeRange};

/// One line per service, "Corte hombre: 18 € · 30 min"; only the services in `only` when it is not
/// empty (the customer asked about those).
pub fn price_list(catalog: &Catalog, language: Language, only: &[ServiceId]) -> String {
    let currency = &catalog.salon().currency;
    catalog
        .services()
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.id))
        .map(|s| {
            format!(
                "• {}: {} · {}",
                s.name.get(language),
                locale::money(language, currency, s.price),
                locale::duration(language, s.duration_minutes)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line per run of weekdays with the same hours: "lunes–viernes: 09:30–20:30", "domingo:
/// cerrado".
pub fn opening_hours(catalog: &Catalog, language: Language) -> String {
    let hours = &catalog.salon().hours;
    let days = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let closed = match language {
        Language::Es => "cerrado",
        Language::En => "closed",
        Language::Pt => "fechado",
    };
    let mut lines = Vec::new();
    let mut run_start = 0;
    for index in 0..days.len() {
        let same_next = days
            .get(index + 1)
            .is_some_and(|next| hours.on(*next) == hours.on(days[index]));
        if same_next {
            continue;
        }
        let first = locale::weekday(language, days[run_start]);
        let last = locale::weekday(language, days[index]);
        let name = if run_start == index {
            first.to_owned()
        } else {
            format!("{first}–{last}")
        };
        let ranges = hours.on(days[index]);
        let text = if ranges.is_empty() {
            closed.to_owned()
        } else {
            ranges
                .iter()
                .map(|r| range(*r))
                .collect::<Vec<_>>()
                .join(", ")
        };
        lines.push(format!("• {name}: {text}"));
        run_start = index + 1;
    }
    lines.join("\n")
}

/// "09:30–20:30".
fn range(range: TimeRange) -> String {
    let clock = |minute: u16| format!("{:02}:{:02}", minute / 60, minute % 60);
    format!(
        "{}–{}",
        clock(range.start_minute()),
        clock(range.end_minute())
    )
}

/// One line per service that asks for a deposit, "Mechas: 20 €"; a word for none.
pub fn deposit_list(catalog: &Catalog, language: Language) -> String {
    let currency = &catalog.salon().currency;
    let lines: Vec<String> = catalog
        .services()
        .iter()
        .filter(|s| s.has_deposit())
        .map(|s| {
            format!(
                "• {}: {}",
                s.name.get(language),
                locale::money(language, currency, s.deposit)
            )
        })
        .collect();
    if lines.is_empty() {
        match language {
            Language::Es => "• ninguno".to_owned(),
            Language::En => "• none".to_owned(),
            Language::Pt => "• nenhum".to_owned(),
        }
    } else {
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        crate::booking::catalog::parse(include_str!("../../salon.toml")).unwrap()
    }

    #[test]
    fn answers_come_from_the_catalog_in_each_language() {
        let catalog = catalog();
        assert_eq!(
            opening_hours(&catalog, Language::Es),
            "• lunes–viernes: 09:30–20:30\n• sábado: 09:00–15:00\n• domingo: cerrado"
        );
        assert!(opening_hours(&catalog, Language::En).contains("• Sunday: closed"));
        let only = [ServiceId::new("cut-men")];
        assert_eq!(
            price_list(&catalog, Language::Es, &only),
            "• Corte hombre: 18 € · 30 min"
        );
        assert_eq!(price_list(&catalog, Language::En, &[]).lines().count(), 6);
        assert!(deposit_list(&catalog, Language::Pt).contains("• Madeixas: 20 €"));
    }
}

//! The utterance table (`utterances.txt`): messages written as customers write them, in Spanish,
//! English and Portuguese, with typos, missing accents, texting abbreviations and mixed languages,
//! each with the intent and slots it should give. Run as a test that prints the accuracy (run with
//! `--nocapture` to see it) and every miss, and fails below 95 % of intents or 90 % of messages whose
//! slots (service, staff, date, time) all come out right.
//!
//! Rows read `lang | text | intent | service | staff | date | time`, `-` for none; a service of
//! `a/b` means "ambiguous between a and b"; a time is `17:00`, a range `12:00-20:00`, or two
//! readings to ask about `08:00|20:00`. The clock is Monday 23 November 2026, 10:00 in Madrid, and
//! the salon is the shipped `salon.toml`.

use chrono::{TimeZone, Utc};

use super::{Context, TimeWish, Understanding, understand};
use crate::booking::catalog::{self, Language};

const TABLE: &str = include_str!("utterances.txt");

/// Least share of rows whose intent must be right.
const INTENT_ACCURACY: f64 = 0.95;
/// Least share of rows whose slots must all be right.
const SLOT_ACCURACY: f64 = 0.90;
/// Least rows per language.
const ROWS_PER_LANGUAGE: usize = 100;

struct Row<'a> {
    line: usize,
    language: Language,
    text: &'a str,
    intent: &'a str,
    service: &'a str,
    staff: &'a str,
    date: &'a str,
    time: &'a str,
}

fn rows() -> Vec<Row<'static>> {
    TABLE
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(index, line)| {
            let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 7, "line {}: {line:?}", index + 1);
            let language = match cells[0] {
                "es" => Language::Es,
                "en" => Language::En,
                "pt" => Language::Pt,
                other => panic!("line {}: unknown language {other:?}", index + 1),
            };
            Row {
                line: index + 1,
                language,
                text: cells[1],
                intent: cells[2],
                service: cells[3],
                staff: cells[4],
                date: cells[5],
                time: cells[6],
            }
        })
        .collect()
}

fn time_cell(time: Option<TimeWish>) -> String {
    let hhmm = |t: chrono::NaiveTime| t.format("%H:%M").to_string();
    match time {
        None => "-".into(),
        Some(TimeWish::At { time }) => hhmm(time),
        Some(TimeWish::Between { from, to }) => format!("{}-{}", hhmm(from), hhmm(to)),
        Some(TimeWish::Either { morning, afternoon }) => {
            format!("{}|{}", hhmm(morning), hhmm(afternoon))
        }
    }
}

/// The row's cells as this reading gives them.
fn cells(read: &Understanding) -> [String; 5] {
    let dash = |s: Option<String>| s.unwrap_or_else(|| "-".into());
    let services: Vec<String> = read.services.iter().map(ToString::to_string).collect();
    [
        dash(read.intent.map(|i| i.as_str().to_owned())),
        if services.is_empty() {
            "-".into()
        } else {
            services.join("/")
        },
        dash(read.staff.as_ref().map(ToString::to_string)),
        dash(read.date.map(|d| d.to_string())),
        time_cell(read.time),
    ]
}

#[test]
fn the_utterance_table_is_understood() {
    let catalog = catalog::parse(include_str!("../../../salon.toml")).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let rows = rows();
    let mut per_language = std::collections::BTreeMap::new();
    let (mut intents_right, mut slots_right) = (0usize, 0usize);
    let mut misses = Vec::new();
    for row in &rows {
        let context = Context {
            catalog: &catalog,
            now,
            language: None,
        };
        let read = understand(row.text, &context);
        let [intent, service, staff, date, time] = cells(&read);
        let intent_ok = intent == row.intent;
        let slots_ok =
            service == row.service && staff == row.staff && date == row.date && time == row.time;
        let entry = per_language
            .entry(row.language)
            .or_insert((0usize, 0usize, 0usize));
        entry.0 += 1;
        entry.1 += usize::from(intent_ok);
        entry.2 += usize::from(slots_ok);
        intents_right += usize::from(intent_ok);
        slots_right += usize::from(slots_ok);
        if !intent_ok || !slots_ok {
            misses.push(format!(
                "line {}: {:?}\n   expected {} | {} | {} | {} | {}\n   got      {intent} | {service} | {staff} | {date} | {time}",
                row.line, row.text, row.intent, row.service, row.staff, row.date, row.time
            ));
        }
    }
    let share = |right: usize, of: usize| right as f64 / of.max(1) as f64;
    for miss in &misses {
        println!("{miss}");
    }
    for (language, (count, intents, slots)) in &per_language {
        println!(
            "{language}: {count} utterances, intents {:.1} %, complete slots {:.1} %",
            100.0 * share(*intents, *count),
            100.0 * share(*slots, *count)
        );
        assert!(
            *count >= ROWS_PER_LANGUAGE,
            "{language}: only {count} utterances"
        );
    }
    let (intents, slots) = (
        share(intents_right, rows.len()),
        share(slots_right, rows.len()),
    );
    println!(
        "all: {} utterances, intents {:.1} %, complete slots {:.1} %",
        rows.len(),
        100.0 * intents,
        100.0 * slots
    );
    assert!(rows.len() >= 3 * ROWS_PER_LANGUAGE);
    assert!(
        intents >= INTENT_ACCURACY,
        "intent accuracy {:.1} % is below {} %",
        100.0 * intents,
        100.0 * INTENT_ACCURACY
    );
    assert!(
        slots >= SLOT_ACCURACY,
        "slot accuracy {:.1} % is below {} %",
        100.0 * slots,
        100.0 * SLOT_ACCURACY
    );
}

//! Which of the offered rows or buttons a typed answer picks: by its number ("2", "opción 2") or
//! by the words of its title ("el corte, por favor").

use super::MAX_WORDS;
use super::cues::FILLERS;
use super::normalise::normalise;

/// Words a typed choice may carry besides [`FILLERS`] ("opción 2", "quiero el corte").
const CHOICE_FILLERS: &[&str] = &[
    "opcion", "option", "opcao", "numero", "number", "num", "nº", "n", "quiero", "quero", "i",
    "want", "like", "me", "gustaria", "elijo", "escolho", "prefiero", "prefiro", "los", "las",
    "os", "as", "con", "com", "with",
];

/// Which of `titles` (the rows or buttons as shown to the customer, in order) the text picks: its
/// number ("2", "2.", "opción 2", "option 2", "opção 2", "#2", "el 2") 1-based, or a title:
/// normalised equality, or the text's words all found in exactly one title, or a title's words all
/// found in the text for exactly one title. None when nothing or more than one matches.
///
/// A text that is a number always means a position: one out of range gives `None` rather than a
/// title containing that number. Numbers inside words compare by value, so "9:30" finds "09:30";
/// greetings, courtesies and articles around the choice are ignored ("el corte, por favor").
/// Titles without letters or digits (emoji only) are never picked, and a text of more than 12 words
/// only picks a title it equals or whose words hold all of the text's.
pub fn pick(text: &str, titles: &[&str]) -> Option<usize> {
    let normalised = normalise(text);
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    let content: Vec<&str> = words
        .iter()
        .copied()
        .filter(|word| !FILLERS.contains(word) && !CHOICE_FILLERS.contains(word))
        .collect();

    if let [only] = content.as_slice()
        && is_number(only)
    {
        let position: usize = only.parse().ok()?;
        return (1..=titles.len()).contains(&position).then(|| position - 1);
    }
    if words.is_empty() {
        return None;
    }

    let titles: Vec<String> = titles.iter().map(|title| normalise(title)).collect();
    let title_words: Vec<Vec<&str>> = titles
        .iter()
        .map(|title| title.split(' ').filter(|w| !w.is_empty()).collect())
        .collect();
    let offered = || {
        title_words
            .iter()
            .enumerate()
            .filter(|(_, title)| !title.is_empty())
    };

    let equal: Vec<usize> = offered()
        .filter(|(_, title)| {
            title.len() == words.len() && title.iter().zip(&words).all(|(a, b)| same_word(a, b))
        })
        .map(|(index, _)| index)
        .collect();
    match equal.as_slice() {
        [index] => return Some(*index),
        [] => {}
        _ => return None,
    }

    if !content.is_empty() {
        let containing: Vec<usize> = offered()
            .filter(|(_, title)| all_found(&content, title))
            .map(|(index, _)| index)
            .collect();
        if let [index] = containing.as_slice() {
            return Some(*index);
        }
    }

    if words.len() > MAX_WORDS {
        return None;
    }
    let contained: Vec<usize> = offered()
        .filter(|(_, title)| all_found(title, &words))
        .map(|(index, _)| index)
        .collect();
    match contained.as_slice() {
        [index] => Some(*index),
        _ => None,
    }
}

/// Whether every word of `needles` is among `haystack`.
fn all_found(needles: &[&str], haystack: &[&str]) -> bool {
    needles
        .iter()
        .all(|needle| haystack.iter().any(|word| same_word(needle, word)))
}

/// Whether two normalised words are the same, numbers by value ("09" is "9").
fn same_word(a: &str, b: &str) -> bool {
    a == b
        || (is_number(a) && is_number(b) && a.trim_start_matches('0') == b.trim_start_matches('0'))
}

/// Whether a word is written in ASCII digits only.
fn is_number(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_by_number() {
        let titles = ["Corte", "Tinte", "Peinado"];
        let cases = [
            ("1", Some(0)),
            ("2", Some(1)),
            ("2.", Some(1)),
            (" 3 ", Some(2)),
            ("opción 2", Some(1)),
            ("Option 2", Some(1)),
            ("opção 2", Some(1)),
            ("#2", Some(1)),
            ("el 2", Some(1)),
            ("la 3 por favor", Some(2)),
            ("nº 2", Some(1)),
            ("02", Some(1)),
            ("2️⃣", Some(1)),
            ("0", None),
            ("4", None),
            ("99999999999999999999999", None),
            ("2 3", None),
        ];
        for (text, expected) in cases {
            assert_eq!(pick(text, &titles), expected, "{text:?}");
        }
        assert_eq!(pick("1", &[]), None);
    }

    #[test]
    fn a_number_out_of_range_is_not_read_as_a_title() {
        assert_eq!(pick("11", &["10:00", "11:00"]), None);
        assert_eq!(pick("2", &["10:00", "11:00"]), Some(1));
    }

    #[test]
    fn pick_by_title() {
        let services = [
            "Corte",
            "Corte y barba",
            "Tinte raíz",
            "Manicura semipermanente",
            "Manicura",
        ];
        let cases = [
            ("corte", Some(0)),
            ("CORTE", Some(0)),
            ("el corte, por favor", Some(0)),
            ("Corte y barba", Some(1)),
            ("barba", Some(1)),
            ("quiero corte y barba", Some(1)),
            ("tinte", Some(2)),
            ("tinte raiz", Some(2)),
            ("semipermanente", Some(3)),
            ("manicura", Some(4)),
            ("una manicura semipermanente", Some(3)),
            ("corte largo", Some(0)),
            ("pedicura", None),
            ("", None),
            ("por favor", None),
            ("👍", None),
        ];
        for (text, expected) in cases {
            assert_eq!(pick(text, &services), expected, "{text:?}");
        }
    }

    #[test]
    fn pick_partial_matches_must_be_unique() {
        let titles = ["Horas anteriores", "Horas posteriores", "Otro día"];
        assert_eq!(pick("horas", &titles), None);
        assert_eq!(pick("posteriores", &titles), Some(1));
        assert_eq!(pick("anteriores", &titles), Some(0));
        assert_eq!(pick("otro dia", &titles), Some(2));
        assert_eq!(pick("mañana", &titles), None);

        let staff = ["Ana", "Ana María", "Luis"];
        assert_eq!(pick("ana", &staff), Some(0));
        assert_eq!(pick("maria", &staff), Some(1));
        assert_eq!(pick("con Ana María", &staff), Some(1));
        assert_eq!(pick("ana o luis", &staff), None);

        let long = "hola buenas quería saber si el corte incluye lavado y secado o se paga aparte";
        assert_eq!(pick(long, &staff), None);
        assert_eq!(pick(long, &["Corte", "Tinte"]), None);
        assert_eq!(
            pick("¿el corte incluye lavado?", &["Corte", "Tinte"]),
            Some(0)
        );

        let duplicated = ["Corte", "corte"];
        assert_eq!(pick("corte", &duplicated), None);
        assert_eq!(pick("2", &duplicated), Some(1));
    }

    #[test]
    fn pick_ignores_accents_and_emoji_in_titles() {
        let titles = ["⬆️ Horas anteriores", "⬇️ Horas posteriores", "📅 Otro día"];
        assert_eq!(pick("Horas posteriores", &titles), Some(1));
        assert_eq!(pick("⬇️ Horas posteriores", &titles), Some(1));
        assert_eq!(pick("otro dia", &titles), Some(2));
        assert_eq!(pick("OTRO DÍA", &titles), Some(2));
        assert_eq!(pick("posteriores", &titles), Some(1));

        let with_emoji_only = ["✂️", "Corte"];
        assert_eq!(pick("corte", &with_emoji_only), Some(1));
        assert_eq!(pick("hola", &with_emoji_only), None);
    }

    #[test]
    fn pick_times_by_value() {
        let times = ["09:00", "09:30", "10:00", "⬇️ Horas posteriores"];
        assert_eq!(pick("9:30", &times), Some(1));
        assert_eq!(pick("09:30", &times), Some(1));
        assert_eq!(pick("a las 10:00", &times), Some(2));
        assert_eq!(pick("9", &times), None);
        assert_eq!(pick("11:00", &times), None);
    }
}

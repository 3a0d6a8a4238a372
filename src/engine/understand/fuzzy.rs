//! Typo tolerance: a word of five letters or more may be one edit away (a letter missing, added,
//! changed, or two swapped) from the word it stands for, unless it is itself a word that means
//! something else ("muchas" is not "mechas", "fecha" is not "mecha", "calor" is not "color").

use std::collections::HashSet;
use std::sync::LazyLock;

use super::cues::{CUES, FILLERS, NEUTRAL};

/// Shortest word (in letters) that may carry a typo.
const FUZZY_FROM: usize = 5;

/// Common words within one edit of a service, staff or calendar word that must be read as
/// themselves. Every cue, filler and calendar word counts too (see [`is_known`]).
const KNOWN: &[&str] = &[
    "muchas", "mucha", "mucho", "muchos", "fecha", "fechas", "calor", "coste", "costo", "norte",
    "forte", "corto", "corta", "sacado", "pecado", "vienes", "viene", "tienes", "tiene", "venir",
    "vamos", "marco", "marca", "marcas", "boots", "rooms", "roof", "unas", "unos", "lucas",
    "cores", "carta", "parte", "porte", "cortar", "cortes", "tanto", "tinto", "pinta", "pinto",
    "ponte", "monte", "noche", "coche", "manha", "manhas", "meses", "mesas", "horas", "hours",
    "which", "where", "there", "their", "these", "those", "today", "month", "months", "week",
    "weeks", "after", "later", "early", "dias", "semana", "semanas", "puedo", "puede", "quiero",
    "quero", "queria", "quisiera", "gostaria", "tenho", "tengo", "vengo", "venha", "venga",
    "sabes", "saber", "cabe", "caber", "colar", "color", "valor", "lunes", "junio", "julio",
    "junho", "julho", "abril", "agosto", "otro", "outro", "otra", "outra", "antes", "depois",
    "despues", "desde", "hasta", "entre", "sobre", "about", "again", "other", "great", "thanks",
    "segundo", "quinto", "cerca", "cerco", "nueves", "sexto",
];

/// Whether a customer's word `said` stands for the catalog or calendar word `meant`: the same, or
/// (both long enough, and `said` not a word of its own) one edit away.
pub(super) fn same(said: &str, meant: &str) -> bool {
    if said == meant {
        return true;
    }
    let (said_len, meant_len) = (said.chars().count(), meant.chars().count());
    meant_len >= FUZZY_FROM
        && said_len + 1 >= FUZZY_FROM
        && said_len.abs_diff(meant_len) <= 1
        && one_edit(said, meant)
        && !is_known(said)
}

/// Whether `word` is a word of the rule tables or of [`KNOWN`]: never read as a typo of another.
pub(super) fn is_known(word: &str) -> bool {
    KNOWN_WORDS.contains(word) || super::calendar::is_calendar_word(word)
}

/// [`KNOWN`], the fillers and every word of every cue and neutral phrase, gathered once.
static KNOWN_WORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    let cue_words = CUES.iter().flat_map(|cues| {
        [cues.strong, cues.words, cues.answers, cues.alone]
            .into_iter()
            .flatten()
            .flat_map(|phrase| phrase.split(' '))
    });
    let neutral_words = NEUTRAL.iter().flat_map(|phrase| phrase.split(' '));
    KNOWN
        .iter()
        .chain(FILLERS)
        .copied()
        .chain(cue_words)
        .chain(neutral_words)
        .collect()
});

/// Whether `a` and `b` differ by exactly one insertion, deletion, substitution or swap of two
/// neighbouring letters (optimal string alignment distance 1).
fn one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match (ra.len(), rb.len()) {
        (0, 0) => false,
        (x, y) if x == y => {
            ra[1..] == rb[1..] || (x >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        (x, y) if x == y + 1 => ra[1..] == *rb,
        (x, y) if y == x + 1 => *ra == rb[1..],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_away() {
        assert!(one_edit("tinte", "tinet"));
        assert!(one_edit("tnte", "tinte"));
        assert!(one_edit("tintte", "tinte"));
        assert!(one_edit("tinta", "tinte"));
        assert!(!one_edit("tinte", "tinte"));
        assert!(!one_edit("tient", "tinte"));
        assert!(!one_edit("corte", "cortar"));
    }

    #[test]
    fn typos_count_only_in_long_words_that_are_not_words_themselves() {
        assert!(same("mechs", "mechas"));
        assert!(same("manicura", "manicura"));
        assert!(same("manicrua", "manicura"));
        assert!(same("haircur", "haircut"));
        assert!(!same("muchas", "mechas"), "a word of its own");
        assert!(!same("fecha", "mecha"));
        assert!(!same("calor", "color"));
        assert!(!same("pel", "pelo"), "short words must be exact");
        assert!(!same("gle", "gel"));
    }
}

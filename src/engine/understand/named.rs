//! Which of the catalog's services and staff a message names: by their names in any language, by
//! the synonyms the salon lists in `salon.toml`, accent-blind and with one typo allowed in words of
//! five letters or more (see [`super::fuzzy`]). Phrases are matched longest first, so "pintarme el
//! pelo" is the colour, not the haircut that "pelo" alone might be.
//!
//! A phrase the salon lists under several services ("corte", "haircut") names all of them: the
//! message is then ambiguous, and the bot asks which one rather than guess.

use std::sync::LazyLock;

use super::fuzzy;
use crate::booking::catalog::{Catalog, Named as NamedBy, ServiceId, StaffId};
use crate::engine::state::ANYONE;

/// Phrases meaning "any staff member will do".
const ANYONE_PHRASES: &[&str] = &[
    "cualquiera",
    "me da igual",
    "quien sea",
    "el que sea",
    "la que sea",
    "el que este libre",
    "la que este libre",
    "anyone",
    "anybody",
    "whoever",
    "no preference",
    "doesn t matter",
    "don t mind",
    "qualquer um",
    "qualquer uma",
    "qualquer pessoa",
    "tanto faz",
    "quem estiver livre",
];

/// The services and staff a message names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Named {
    /// Every service the message may mean, in catalog order: one when it is clear.
    pub(super) services: Vec<ServiceId>,
    /// The staff member named, or [`ANYONE`].
    pub(super) staff: Option<StaffId>,
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Service(usize),
    Staff(usize),
    Anyone,
}

/// The phrases of "anyone", folded once.
static ANYONE_WORDS: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    ANYONE_PHRASES
        .iter()
        .map(|phrase| phrase.split(' ').map(str::to_owned).collect())
        .collect()
});

/// Reads the services and staff in `words` (already normalised), marking the words used.
pub(super) fn named(catalog: &Catalog, words: &[String], used: &mut [bool]) -> Named {
    let phrases = catalog
        .phrases()
        .iter()
        .map(|phrase| {
            let target = match phrase.names {
                NamedBy::Service(index) => Target::Service(index),
                NamedBy::Staff(index) => Target::Staff(index),
            };
            (phrase.words.as_slice(), target)
        })
        .chain(
            ANYONE_WORDS
                .iter()
                .map(|words| (words.as_slice(), Target::Anyone)),
        );
    // Per match: the set of targets of the longest phrase(s) found there.
    let mut found: Vec<Vec<Target>> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut best_len = 0;
        let mut targets: Vec<Target> = Vec::new();
        for (phrase, target) in phrases.clone() {
            let len = phrase.len();
            if len < best_len || i + len > words.len() {
                continue;
            }
            let fits = phrase
                .iter()
                .zip(&words[i..i + len])
                .zip(&used[i..i + len])
                .all(|((meant, said), used)| !used && fuzzy::same(said, meant));
            if !fits {
                continue;
            }
            if len > best_len {
                best_len = len;
                targets.clear();
            }
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        if best_len > 0 {
            for flag in used.iter_mut().skip(i).take(best_len) {
                *flag = true;
            }
            found.push(targets);
            i += best_len;
        } else {
            i += 1;
        }
    }
    resolve(catalog, &found)
}

/// The services meant (one clear mention beats mentions shared by several services) and the staff
/// member (the last named wins).
fn resolve(catalog: &Catalog, found: &[Vec<Target>]) -> Named {
    let services_of = |targets: &Vec<Target>| -> Vec<usize> {
        targets
            .iter()
            .filter_map(|t| match t {
                Target::Service(index) => Some(*index),
                _ => None,
            })
            .collect()
    };
    let mentions: Vec<Vec<usize>> = found
        .iter()
        .map(services_of)
        .filter(|s| !s.is_empty())
        .collect();
    let clear: Vec<usize> = mentions
        .iter()
        .filter(|s| s.len() == 1)
        .map(|s| s[0])
        .collect();
    let mut chosen: Vec<usize> = if clear.is_empty() {
        // Only shared phrases: the services every one of them names.
        let mut all = mentions.first().cloned().unwrap_or_default();
        for other in mentions.iter().skip(1) {
            all.retain(|s| other.contains(s));
        }
        if all.is_empty() {
            mentions.concat()
        } else {
            all
        }
    } else {
        clear
    };
    chosen.sort_unstable();
    chosen.dedup();
    let services = chosen
        .into_iter()
        .filter_map(|index| catalog.services().get(index).map(|s| s.id.clone()))
        .collect();
    let staff = found.iter().rev().find_map(|targets| {
        let staff: Vec<&Target> = targets
            .iter()
            .filter(|t| !matches!(t, Target::Service(_)))
            .collect();
        match staff.as_slice() {
            [Target::Staff(index)] => catalog.staff().get(*index).map(|s| s.id.clone()),
            [Target::Anyone] => Some(StaffId::new(ANYONE)),
            _ => None,
        }
    });
    Named { services, staff }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::understand::words::words;

    fn catalog() -> Catalog {
        crate::booking::catalog::parse(include_str!("../../../salon.toml")).unwrap()
    }

    fn read(text: &str) -> (Vec<String>, Option<String>) {
        let w = words(text);
        let mut used = vec![false; w.len()];
        let named = named(&catalog(), &w, &mut used);
        (
            named.services.iter().map(|s| s.to_string()).collect(),
            named.staff.map(|s| s.to_string()),
        )
    }

    #[test]
    fn the_anyone_phrases_are_written_folded() {
        for phrase in ANYONE_PHRASES {
            assert_eq!(super::super::normalise::normalise(phrase), *phrase);
        }
    }

    #[test]
    fn services_by_name_synonym_and_typo() {
        let one = |id: &str| (vec![id.to_owned()], None::<String>);
        assert_eq!(read("quiero mechas"), one("highlights"));
        assert_eq!(read("unas mechs"), one("highlights"));
        assert_eq!(read("cuánto cuesta el tinte?"), one("colour-roots"));
        assert_eq!(read("quiero pintarme el pelo"), one("colour-roots"));
        assert_eq!(read("root colour please"), one("colour-roots"));
        assert_eq!(read("Corte hombre"), one("cut-men"));
        assert_eq!(read("manicrua"), one("manicure"));
        assert_eq!(read("uñas de gel"), one("gel-polish"));
        assert_eq!(
            read("quiero cortarme el pelo"),
            (vec!["cut-women".into(), "cut-men".into()], None)
        );
        assert_eq!(read("muchas gracias"), (vec![], None));
        assert_eq!(read("hace calor"), (vec![], None));
    }

    #[test]
    fn staff_by_name_and_anyone() {
        assert_eq!(read("con Lucía").1.as_deref(), Some("lucia"));
        assert_eq!(read("com a lucia").1.as_deref(), Some("lucia"));
        assert_eq!(read("with marcos").1.as_deref(), Some("marcos"));
        assert_eq!(read("con ines").1.as_deref(), Some("ines"));
        assert_eq!(read("me da igual").1.as_deref(), Some(ANYONE));
        assert_eq!(read("marco um horario").1, None);
    }
}

//! The [`Intent`] a short free text expresses, read with the cue tables of [`super::cues`].
//!
//! How [`intent`] decides:
//! - a cue counts according to its reach: strong phrases ("talk to a person", "mis citas") count in
//!   a message of any length; ordinary cues only in messages of at most 12 words; yes/no answers
//!   ("sí", "ok", "no") only when they open the message or it has at most 6 words; a few words too
//!   common to mean anything on their own ("para", "persona", "start") only when the rest of the
//!   message is greetings and courtesies;
//! - a cue negated by a nearby "no"/"not"/"não" in the same clause is dropped together with the
//!   negation: "no quiero cancelar" and "I don't want to book" give `None`, while "no, cancelar"
//!   (two clauses) gives `Cancel`;
//! - among what is left the most specific wins: human, menu, cancel, confirm (yes), my appointments,
//!   book, help, then yes/no. "Cancel my appointment" is `Cancel`, "confirmo mi cita" is `Yes`,
//!   "sí, quiero una cita" is `Book`; yes together with no is `None`. Changing or rescheduling an
//!   appointment ("cambiar la cita", "reschedule") is `MyAppointments`;
//! - a cancel cue together with an appointment ("quiero cancelar la cita") is `CancelAppointment`;
//! - a message of symbols only: "?" is `Help`, 👍 ✅ 👌 are `Yes`, 👎 ❌ are `No`.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::MAX_WORDS;
use super::cues::{CUES, FILLERS, GREETINGS, NEGATORS, NEUTRAL, Reach, THANKS};
use super::normalise::{normalise, spelled_out};
use crate::engine::flow::Intent;

/// Yes/no answers count anywhere in a message of at most this many words (else only as its first
/// word).
pub(super) const SHORT_ANSWER: usize = 6;

/// How many words before a cue a negation may stand and still negate it.
const NEGATION_REACH: usize = 3;

/// Where one clause of a message ends and the next begins.
const CLAUSE_ENDS: [char; 9] = [',', ';', '.', '!', '?', '¡', '¿', '\n', '\r'];

/// One word of the message and the clause it belongs to (clauses are split at , ; . ! ? and line
/// breaks, so that a negation does not reach across them).
struct Token {
    word: String,
    clause: usize,
}

/// A cue found in the message: `len` words from `start`.
struct Hit {
    intent: Option<Intent>,
    rank: u8,
    reach: Reach,
    start: usize,
    len: usize,
}

impl Hit {
    /// Whether word `index` is part of this hit.
    fn covers(&self, index: usize) -> bool {
        (self.start..self.start + self.len).contains(&index)
    }
}

/// The intent a short free text expresses, in any of the three languages, if any.
pub fn intent(text: &str) -> Option<Intent> {
    let tokens = tokenise(text);
    if tokens.is_empty() {
        return symbol_intent(text);
    }
    let hits = find_hits(&tokens);
    let mut live: Vec<bool> = hits
        .iter()
        .map(|hit| hit.intent.is_some() && counts(hit, &hits, &tokens))
        .collect();

    for (index, hit) in hits.iter().enumerate() {
        if !live[index] || hit.intent == Some(Intent::No) {
            continue;
        }
        if let Some(negator) = negation_before(hit, &hits, &tokens) {
            live[index] = false;
            for (other, candidate) in hits.iter().enumerate() {
                if candidate.covers(negator) {
                    live[other] = false;
                }
            }
        }
    }

    let Some(best) = hits
        .iter()
        .zip(&live)
        .filter(|(_, live)| **live)
        .map(|(hit, _)| hit.rank)
        .max()
    else {
        return courtesy(&tokens, &hits);
    };
    let mut winner = None;
    for (hit, _) in hits.iter().zip(&live).filter(|(_, live)| **live) {
        if hit.rank != best {
            continue;
        }
        match winner {
            None => winner = hit.intent,
            Some(found) if Some(found) != hit.intent => return None,
            Some(_) => {}
        }
    }
    // "quiero cancelar la cita", "I need to cancel my appointment": cancelling an appointment, not
    // what is under way.
    let names_appointment = hits.iter().zip(&live).any(|(hit, live)| {
        *live && matches!(hit.intent, Some(Intent::MyAppointments | Intent::Book))
    });
    if winner == Some(Intent::Cancel) && names_appointment {
        return Some(Intent::CancelAppointment);
    }
    winner
}

/// A message of greetings and courtesies only: thanks ("gracias", "thank you") or hello ("hola",
/// "bom dia"); a phrase that means nothing here ("no sé") leaves it at nothing.
fn courtesy(tokens: &[Token], hits: &[Hit]) -> Option<Intent> {
    if !hits.is_empty() || !tokens.iter().all(|t| FILLERS.contains(&t.word.as_str())) {
        return None;
    }
    let has = |words: &[&str]| tokens.iter().any(|t| words.contains(&t.word.as_str()));
    if has(THANKS) {
        Some(Intent::Thanks)
    } else if has(GREETINGS) {
        Some(Intent::Greeting)
    } else {
        None
    }
}

/// The message's words, clause by clause.
fn tokenise(text: &str) -> Vec<Token> {
    text.split(CLAUSE_ENDS)
        .enumerate()
        .flat_map(|(clause, part)| {
            normalise(part)
                .split(' ')
                .filter(|word| !word.is_empty())
                .map(|word| Token {
                    word: spelled_out(word).to_owned(),
                    clause,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An answer given with symbols only: "?" asks for help, a thumbs up says yes, a cross says no.
fn symbol_intent(text: &str) -> Option<Intent> {
    let mut found = None;
    for c in text.chars() {
        let this = match c {
            c if c.is_whitespace() => continue,
            '\u{FE0E}' | '\u{FE0F}' | '\u{200D}' | '\u{1F3FB}'..='\u{1F3FF}' => continue,
            '?' | '¿' => Intent::Help,
            '👍' | '👌' | '✅' | '✔' => Intent::Yes,
            '👎' | '❌' | '✖' => Intent::No,
            _ => return None,
        };
        if found.is_some_and(|seen| seen != this) {
            return None;
        }
        found = Some(this);
    }
    found
}

/// Every cue and neutral phrase in the message, longest first, without overlaps.
fn find_hits(tokens: &[Token]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        match longest_at(tokens, index) {
            Some(hit) => {
                index += hit.len;
                hits.push(hit);
            }
            None => index += 1,
        }
    }
    hits
}

/// A cue or neutral phrase as words, with what it says.
struct Phrase {
    words: Vec<&'static str>,
    intent: Option<Intent>,
    rank: u8,
    reach: Reach,
}

/// Every cue (in table order) and then every neutral phrase, by their first word: a message's word
/// is looked up instead of compared with every phrase.
static BY_FIRST_WORD: LazyLock<HashMap<&'static str, Vec<Phrase>>> = LazyLock::new(|| {
    let mut index: HashMap<&'static str, Vec<Phrase>> = HashMap::new();
    let mut add = |phrase: &'static str, intent: Option<Intent>, rank: u8, reach: Reach| {
        let words: Vec<&'static str> = phrase.split(' ').collect();
        index.entry(words[0]).or_default().push(Phrase {
            words,
            intent,
            rank,
            reach,
        });
    };
    for cues in CUES {
        let lists = [
            (cues.strong, Reach::Strong),
            (cues.words, Reach::Word),
            (cues.answers, Reach::Answer),
            (cues.alone, Reach::Alone),
        ];
        for (phrases, reach) in lists {
            for phrase in phrases {
                add(phrase, Some(cues.intent), cues.rank, reach);
            }
        }
    }
    for phrase in NEUTRAL {
        add(phrase, None, 0, Reach::Nothing);
    }
    index
});

/// The longest cue or neutral phrase starting at word `start` (the first of the longest, in table
/// order).
fn longest_at(tokens: &[Token], start: usize) -> Option<Hit> {
    let first = tokens.get(start)?;
    let mut best: Option<Hit> = None;
    for phrase in BY_FIRST_WORD.get(first.word.as_str())? {
        let len = phrase_len_at(tokens, start, &phrase.words);
        if len > 0 && best.as_ref().is_none_or(|hit| len > hit.len) {
            best = Some(Hit {
                intent: phrase.intent,
                rank: phrase.rank,
                reach: phrase.reach,
                start,
                len,
            });
        }
    }
    best
}

/// How many words `phrase` spans when it is found at word `start` within one clause (0 if not).
fn phrase_len_at(tokens: &[Token], start: usize, phrase: &[&str]) -> usize {
    let Some(first) = tokens.get(start) else {
        return 0;
    };
    let mut len = 0;
    for word in phrase {
        match tokens.get(start + len) {
            Some(token) if token.clause == first.clause && token.word == *word => len += 1,
            _ => return 0,
        }
    }
    len
}

/// Whether a hit counts in this message, by its reach.
fn counts(hit: &Hit, hits: &[Hit], tokens: &[Token]) -> bool {
    let total = tokens.len();
    match hit.reach {
        Reach::Strong => true,
        Reach::Word => total <= MAX_WORDS,
        Reach::Answer => total <= MAX_WORDS && (total <= SHORT_ANSWER || hit.start == 0),
        Reach::Alone => tokens.iter().enumerate().all(|(index, token)| {
            hit.covers(index)
                || FILLERS.contains(&token.word.as_str())
                || hits
                    .iter()
                    .any(|other| other.intent == hit.intent && other.covers(index))
        }),
        Reach::Nothing => false,
    }
}

/// The word that negates `hit`, if one stands shortly before it in the same clause and is not part
/// of another cue (a "no" read as an answer still negates).
fn negation_before(hit: &Hit, hits: &[Hit], tokens: &[Token]) -> Option<usize> {
    let clause = tokens.get(hit.start)?.clause;
    (hit.start.saturating_sub(NEGATION_REACH)..hit.start)
        .rev()
        .find(|&index| {
            tokens.get(index).is_some_and(|token| {
                token.clause == clause
                    && NEGATORS.contains(&token.word.as_str())
                    && hits
                        .iter()
                        .filter(|other| other.covers(index))
                        .all(|other| other.intent == Some(Intent::No))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cases: &[(&str, Option<Intent>)]) {
        let failures: Vec<String> = cases
            .iter()
            .filter(|(text, expected)| intent(text) != *expected)
            .map(|(text, expected)| {
                format!("{text:?}: expected {expected:?}, got {:?}", intent(text))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn menu_in_every_language() {
        let menu = Some(Intent::Menu);
        check(&[
            ("menú", menu),
            ("Menu", menu),
            ("inicio", menu),
            ("empezar de nuevo", menu),
            ("volver al principio", menu),
            ("quiero volver al menú principal", menu),
            ("start", menu),
            ("start over", menu),
            ("main menu please", menu),
            ("back to the start", menu),
            ("início", menu),
            ("voltar ao início", menu),
            ("recomeçar", menu),
            ("começar de novo", menu),
        ]);
    }

    #[test]
    fn cancel_in_every_language() {
        let cancel = Some(Intent::Cancel);
        check(&[
            ("cancelar", cancel),
            ("Cancela", cancel),
            ("para", cancel),
            ("para ya!", cancel),
            ("parar", cancel),
            ("déjalo", cancel),
            ("olvídalo", cancel),
            ("ya no hace falta", cancel),
            ("cancel", cancel),
            ("stop", cancel),
            ("forget it", cancel),
            ("never mind", cancel),
            ("quit", cancel),
            ("sair", cancel),
            ("desistir", cancel),
            ("esquece", cancel),
            ("quero cancelar", cancel),
            ("desmarcar", cancel),
        ]);
    }

    #[test]
    fn help_in_every_language() {
        let help = Some(Intent::Help);
        check(&[
            ("ayuda", help),
            ("¿qué puedes hacer?", help),
            ("no entiendo", help),
            ("?", help),
            (" ¿? ", help),
            ("??", help),
            ("help", help),
            ("help me", help),
            ("what can you do?", help),
            ("I don't understand", help),
            ("ajuda", help),
            ("o que você faz?", help),
            ("não entendi", help),
        ]);
    }

    #[test]
    fn human_in_every_language() {
        let human = Some(Intent::Human);
        check(&[
            ("persona", human),
            ("una persona por favor", human),
            ("humano", human),
            ("agente", human),
            ("hablar con alguien", human),
            ("quiero hablar con una persona", human),
            ("recepción", human),
            ("human", human),
            ("agent", human),
            ("person", human),
            ("someone", human),
            ("a person please", human),
            ("can I talk to someone?", human),
            ("talk to a human", human),
            ("I want a real person", human),
            ("atendente", human),
            ("pessoa", human),
            ("falar com alguém", human),
            ("quero falar com uma pessoa", human),
        ]);
    }

    #[test]
    fn book_in_every_language() {
        let book = Some(Intent::Book);
        check(&[
            ("reservar", book),
            ("reserva", book),
            ("cita", book),
            ("pedir cita", book),
            ("quiero una cita", book),
            ("coger cita para el martes", book),
            ("sacar turno", book),
            ("book", book),
            ("booking", book),
            ("appointment", book),
            ("I'd like to make an appointment", book),
            ("book a haircut", book),
            ("agendar", book),
            ("marcar", book),
            ("marcação", book),
            ("agendamento", book),
            ("quero marcar um corte", book),
        ]);
    }

    #[test]
    fn my_appointments_in_every_language() {
        let mine = Some(Intent::MyAppointments);
        check(&[
            ("mis citas", mine),
            ("mi cita", mine),
            ("ver mis citas", mine),
            ("¿a qué hora es mi cita?", mine),
            ("my appointments", mine),
            ("my booking", mine),
            ("my bookings", mine),
            ("when is my appointment", mine),
            ("minhas marcações", mine),
            ("meus agendamentos", mine),
            ("minha marcação", mine),
        ]);
        let reschedule = Some(Intent::Reschedule);
        check(&[
            ("cambiar la cita", reschedule),
            ("quiero cambiar mi cita", reschedule),
            ("reschedule", reschedule),
            ("can I move my appointment?", reschedule),
            ("reagendar", reschedule),
            ("quero mudar o horário", reschedule),
        ]);
    }

    #[test]
    fn yes_in_every_language() {
        let yes = Some(Intent::Yes);
        check(&[
            ("sí", yes),
            ("si", yes),
            ("Sí, por favor", yes),
            ("vale", yes),
            ("ok", yes),
            ("OK!", yes),
            ("okay", yes),
            ("claro", yes),
            ("perfecto, gracias", yes),
            ("de acuerdo", yes),
            ("confirmo", yes),
            ("confirmar", yes),
            ("no hay problema", yes),
            ("yes", yes),
            ("yeah", yes),
            ("yep", yes),
            ("sure", yes),
            ("confirm", yes),
            ("sounds good", yes),
            ("sim", yes),
            ("pode ser", yes),
            ("claro", yes),
            ("certo", yes),
            ("tá bom", yes),
            ("👍", yes),
            ("👍🏽", yes),
            ("✅", yes),
        ]);
    }

    #[test]
    fn no_in_every_language() {
        let no = Some(Intent::No);
        check(&[
            ("no", no),
            ("No, gracias", no),
            ("nop", no),
            ("otra hora", no),
            ("mejor otro día", no),
            ("mañana no puedo", no),
            ("nope", no),
            ("no thanks", no),
            ("another time", no),
            ("não", no),
            ("nao", no),
            ("não, obrigado", no),
            ("outro horário", no),
            ("👎", no),
            ("no, el lunes no me va bien, mejor otra hora", no),
        ]);
    }

    #[test]
    fn the_more_specific_intent_wins() {
        check(&[
            ("mis citas", Some(Intent::MyAppointments)),
            ("quiero ver mis citas", Some(Intent::MyAppointments)),
            ("my appointments", Some(Intent::MyAppointments)),
            ("minhas marcações", Some(Intent::MyAppointments)),
            ("cancelar mi cita", Some(Intent::CancelAppointment)),
            ("cancel my appointment", Some(Intent::CancelAppointment)),
            (
                "quero cancelar minha marcação",
                Some(Intent::CancelAppointment),
            ),
            ("confirmo mi cita", Some(Intent::Yes)),
            ("sí, confirmo la cita", Some(Intent::Yes)),
            ("confirm my appointment", Some(Intent::Yes)),
            ("sí, quiero una cita", Some(Intent::Book)),
            ("ok, book it", Some(Intent::Book)),
            ("no, cancelar", Some(Intent::Cancel)),
            ("ok, cancela", Some(Intent::Cancel)),
            ("cancelar y volver al menú", Some(Intent::Menu)),
            ("ayuda, quiero hablar con una persona", Some(Intent::Human)),
            ("can you help me book", Some(Intent::Book)),
            ("reserva para una persona", Some(Intent::Book)),
            ("quiero una cita para mañana", Some(Intent::Book)),
            ("no entiendo", Some(Intent::Help)),
        ]);
    }

    #[test]
    fn negated_cues_say_nothing() {
        check(&[
            ("no quiero cancelar", None),
            ("I don't want to cancel", None),
            ("do not cancel", None),
            ("não quero cancelar", None),
            ("no quiero una cita", None),
            ("no puedo reservar", None),
            ("no necesito ayuda", None),
            ("not sure", None),
            ("no está bien", None),
        ]);
    }

    #[test]
    fn nothing_to_understand() {
        check(&[
            ("", None),
            ("   ", None),
            ("hola", Some(Intent::Greeting)),
            ("Hola!", Some(Intent::Greeting)),
            ("hi", Some(Intent::Greeting)),
            ("hello", Some(Intent::Greeting)),
            ("olá", Some(Intent::Greeting)),
            ("oi", Some(Intent::Greeting)),
            ("buenos días", Some(Intent::Greeting)),
            ("gracias", Some(Intent::Thanks)),
            ("thank you!", Some(Intent::Thanks)),
            ("muito obrigada", Some(Intent::Thanks)),
            ("por favor", None),
            ("1", None),
            ("María", None),
            ("🙂", None),
            ("👍👎", None),
            ("sí y no", None),
            ("ok no", None),
            ("no sé", None),
            ("¿cuánto vale el corte?", Some(Intent::Prices)),
            ("para mañana", None),
            ("una cita para dos personas", Some(Intent::Book)),
            ("quiero un corte para el martes", None),
            ("what time does it start", None),
            ("vou sair do trabalho às seis", None),
        ]);
    }

    #[test]
    fn long_messages_need_a_strong_phrase() {
        check(&[
            (
                "hola buenas tardes quería saber si tenéis hueco el martes por la tarde para un corte",
                None,
            ),
            (
                "hola buenas tardes quería saber si puedo cancelar o cambiar lo del martes por la tarde",
                None,
            ),
            (
                "sí claro el martes por la tarde me iría bien pero solo después de las seis",
                None,
            ),
            (
                "hello there I have been trying for a while and I would really like to talk to a person",
                Some(Intent::Human),
            ),
            (
                "hi, something came up at work this week so I need to cancel my appointment on friday",
                Some(Intent::CancelAppointment),
            ),
            (
                "olá bom dia gostaria de saber se posso ver as minhas marcações para a próxima semana",
                Some(Intent::MyAppointments),
            ),
            (
                "buenas tardes, quería pedir cita para la semana que viene si es posible por la mañana",
                Some(Intent::Book),
            ),
        ]);
    }
}

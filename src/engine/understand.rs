//! Rule-based understanding of short customer messages in Spanish, English and Portuguese: the
//! [`Intent`] a free text expresses, the language it is written in, the language a phone number
//! suggests, and which of the offered rows or buttons a typed answer picks.
//!
//! Everything works on [`normalise`]d text: lower-case words without accents or punctuation. Cues are
//! matched as whole words or phrases, longest first, so "no hay problema" is one cue (yes) rather
//! than "no" followed by something else.
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
//! - a message of symbols only: "?" is `Help`, 👍 ✅ 👌 are `Yes`, 👎 ❌ are `No`.

use super::flow::Intent;
use crate::booking::catalog::Language;

/// Messages with more words than this only match strong phrases.
const MAX_WORDS: usize = 12;

/// Yes/no answers count anywhere in a message of at most this many words (else only as its first
/// word).
const SHORT_ANSWER: usize = 6;

/// How many words before a cue a negation may stand and still negate it.
const NEGATION_REACH: usize = 3;

/// Lower-case, accents folded (á→a, é→e, ñ→n, ç→c, ã→a, õ→o, ü→u ...), every char that is not a
/// letter or digit becomes a space, whitespace collapsed and trimmed; emoji dropped.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        for lower in c.to_lowercase() {
            push_folded(&mut out, lower);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Appends `c` (already lower-case) to `out` without its accent, or a space if it is not a letter
/// or digit.
fn push_folded(out: &mut String, c: char) {
    if is_combining_mark(c) {
        return;
    }
    if let Some(folded) = fold(c) {
        out.push_str(folded);
    } else if c.is_alphanumeric() {
        out.push(c);
    } else {
        out.push(' ');
    }
}

/// Combining marks (a decomposed accent, a keycap): dropped so that "e" + "´" reads as "e".
fn is_combining_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// The unaccented spelling of a lower-case Latin letter with a diacritic.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ĺ' | 'ļ' => "l",
        'ñ' | 'ń' | 'ň' | 'ņ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'ŕ' | 'ř' | 'ŗ' => "r",
        'ś' | 'š' | 'ş' | 'ŝ' => "s",
        'ť' | 'ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        _ => return None,
    })
}

/// Where a cue counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// In a message of any length.
    Strong,
    /// In a message of at most [`MAX_WORDS`] words.
    Word,
    /// As a yes/no answer: first word, or anywhere in a message of at most [`SHORT_ANSWER`] words.
    Answer,
    /// Only when everything else in the message is [`FILLERS`].
    Alone,
    /// Never: a phrase that only keeps its words from being read as cues ("cuánto vale", "no sé").
    Nothing,
}

/// The cues of one intent at one precedence (higher `rank` wins).
struct Cues {
    intent: Intent,
    rank: u8,
    strong: &'static [&'static str],
    words: &'static [&'static str],
    answers: &'static [&'static str],
    alone: &'static [&'static str],
}

/// Every cue, normalised (see the test that checks it).
const CUES: &[Cues] = &[
    Cues {
        intent: Intent::Human,
        rank: 90,
        strong: &[
            "hablar con alguien",
            "hablar con una persona",
            "hablar con un humano",
            "hablar con un agente",
            "hablar con recepcion",
            "hablar con la recepcion",
            "hablar con el salon",
            "hablar con la peluqueria",
            "persona real",
            "atencion al cliente",
            "talk to someone",
            "talk to somebody",
            "talk to a person",
            "talk to a human",
            "talk to an agent",
            "talk with someone",
            "speak to someone",
            "speak to a person",
            "speak to a human",
            "speak with someone",
            "speak with a person",
            "real person",
            "human being",
            "customer service",
            "falar com alguem",
            "falar com uma pessoa",
            "falar com um atendente",
            "falar com atendente",
            "falar com um humano",
            "pessoa real",
            "atendimento humano",
        ],
        words: &[
            "humano",
            "human",
            "agente",
            "agent",
            "recepcion",
            "reception",
            "receptionist",
            "recepcionista",
            "atendente",
            "operador",
            "operadora",
            "operator",
        ],
        answers: &[],
        alone: &[
            "persona", "person", "pessoa", "someone", "somebody", "alguien", "alguem",
        ],
    },
    Cues {
        intent: Intent::Menu,
        rank: 80,
        strong: &[
            "empezar de nuevo",
            "comenzar de nuevo",
            "volver a empezar",
            "volver al principio",
            "volver al inicio",
            "volver al menu",
            "menu principal",
            "start over",
            "start again",
            "main menu",
            "back to start",
            "back to the start",
            "back to menu",
            "back to the menu",
            "voltar ao inicio",
            "voltar ao menu",
            "comecar de novo",
            "menu inicial",
        ],
        words: &[
            "menu",
            "inicio",
            "restart",
            "reiniciar",
            "recomecar",
            "recomenzar",
        ],
        answers: &[],
        alone: &[
            "start",
            "home",
            "empezar",
            "comenzar",
            "principio",
            "comecar",
        ],
    },
    Cues {
        intent: Intent::Cancel,
        rank: 70,
        strong: &[
            "cancel my appointment",
            "cancel my booking",
            "cancel the appointment",
            "cancel the booking",
            "want to cancel",
            "need to cancel",
            "forget it",
            "never mind",
            "cancelar mi cita",
            "cancelar la cita",
            "cancelar mi reserva",
            "cancelar la reserva",
            "anular mi cita",
            "anular la cita",
            "quiero cancelar",
            "necesito cancelar",
            "quero cancelar",
            "preciso cancelar",
            "cancelar minha marcacao",
            "cancelar a marcacao",
            "cancelar o agendamento",
            "cancelar meu agendamento",
        ],
        words: &[
            "cancelar",
            "cancela",
            "cancele",
            "cancelo",
            "cancel",
            "anular",
            "anula",
            "stop",
            "parar",
            "quit",
            "exit",
            "nevermind",
            "dejalo",
            "olvidalo",
            "desistir",
            "desisto",
            "esquece",
            "esqueca",
            "desmarcar",
            "desmarca",
            "desmarque",
            "ya no",
        ],
        answers: &[],
        alone: &["para", "pare", "salir", "sair", "basta", "chega"],
    },
    Cues {
        intent: Intent::Yes,
        rank: 65,
        strong: &[
            "confirm my appointment",
            "confirm the appointment",
            "confirmo mi cita",
            "confirmo la cita",
            "confirmar mi cita",
            "confirmar la cita",
            "confirmo a marcacao",
            "confirmo minha marcacao",
            "confirmar a marcacao",
        ],
        words: &[
            "confirmo",
            "confirmar",
            "confirma",
            "confirme",
            "confirmamos",
            "confirm",
            "confirmed",
            "confirmado",
            "confirmada",
        ],
        answers: &[],
        alone: &[],
    },
    Cues {
        intent: Intent::MyAppointments,
        rank: 60,
        strong: &[
            "mis citas",
            "mi cita",
            "ver mis citas",
            "ver citas",
            "mis reservas",
            "mi reserva",
            "mis turnos",
            "mi turno",
            "proxima cita",
            "my appointments",
            "my appointment",
            "my booking",
            "my bookings",
            "my reservation",
            "my reservations",
            "upcoming appointments",
            "minhas marcacoes",
            "minha marcacao",
            "meus agendamentos",
            "meu agendamento",
            "minhas reservas",
            "minha reserva",
            "cambiar cita",
            "cambiar la cita",
            "change the appointment",
            "alterar a marcacao",
            "mudar a marcacao",
        ],
        words: &["reschedule", "reprogramar", "reagendar", "remarcar"],
        answers: &[],
        alone: &[],
    },
    Cues {
        intent: Intent::Book,
        rank: 50,
        strong: &[
            "pedir cita",
            "pedir una cita",
            "quiero cita",
            "quiero una cita",
            "quisiera cita",
            "quisiera una cita",
            "necesito cita",
            "necesito una cita",
            "coger cita",
            "coger una cita",
            "sacar cita",
            "sacar una cita",
            "sacar turno",
            "pedir turno",
            "pedir hora",
            "reservar hora",
            "nueva cita",
            "otra cita",
            "make an appointment",
            "book an appointment",
            "new appointment",
            "want an appointment",
            "need an appointment",
            "get an appointment",
            "schedule an appointment",
            "fazer uma marcacao",
            "fazer marcacao",
            "nova marcacao",
            "quero marcar",
            "marcar horario",
            "agendar horario",
            "quero agendar",
            "novo agendamento",
            "fazer um agendamento",
        ],
        words: &[
            "reservar",
            "reserva",
            "reservo",
            "cita",
            "turno",
            "book",
            "booking",
            "appointment",
            "agendar",
            "agendamento",
            "marcar",
            "marcacao",
        ],
        answers: &[],
        alone: &[],
    },
    Cues {
        intent: Intent::Help,
        rank: 40,
        strong: &[
            "que puedes hacer",
            "que puedo hacer",
            "que haces",
            "como funciona",
            "no entiendo",
            "no te entiendo",
            "what can you do",
            "what can i do",
            "how does this work",
            "how does it work",
            "i don t understand",
            "o que voce faz",
            "o que voce pode fazer",
            "o que posso fazer",
            "nao entendi",
            "nao entendo",
            "nao percebi",
        ],
        words: &["ayuda", "ayudame", "help", "ajuda", "socorro"],
        answers: &[],
        alone: &[],
    },
    Cues {
        intent: Intent::Yes,
        rank: 20,
        strong: &[],
        words: &[],
        answers: &[
            "si",
            "sim",
            "vale",
            "ok",
            "okay",
            "okey",
            "oki",
            "claro",
            "claro que si",
            "claro que sim",
            "perfecto",
            "perfeito",
            "perfect",
            "de acuerdo",
            "de acordo",
            "yes",
            "yeah",
            "yea",
            "yep",
            "yup",
            "sure",
            "certo",
            "pode ser",
            "isso",
            "genial",
            "great",
            "fine",
            "alright",
            "all right",
            "correcto",
            "correct",
            "exacto",
            "exactamente",
            "exato",
            "dale",
            "venga",
            "listo",
            "por supuesto",
            "of course",
            "com certeza",
            "beleza",
            "ta bom",
            "esta bem",
            "esta bien",
            "muy bien",
            "tudo bem",
            "sounds good",
            "no problem",
            "sin problema",
            "no hay problema",
            "sem problema",
            "go ahead",
            "adelante",
            "combinado",
            "fechado",
        ],
        alone: &[],
    },
    Cues {
        intent: Intent::No,
        rank: 20,
        strong: &[],
        words: &[
            "otra hora",
            "otro horario",
            "otro dia",
            "otra fecha",
            "another time",
            "another day",
            "different time",
            "other time",
            "outra hora",
            "outro horario",
            "outro dia",
            "outra data",
            "no puedo ir",
            "no me viene bien",
            "no me va bien",
            "can t make it",
            "cannot make it",
            "nao posso ir",
            "nao da",
        ],
        answers: &[
            "no",
            "nop",
            "nope",
            "nah",
            "nao",
            "negativo",
            "para nada",
            "de ninguna manera",
            "no gracias",
            "no thanks",
            "no thank you",
            "nao obrigado",
            "nao obrigada",
            "claro que no",
            "claro que nao",
            "of course not",
            "mejor no",
            "melhor nao",
            "better not",
            "not really",
            "no puedo",
            "nao posso",
        ],
        alone: &[],
    },
];

/// Phrases that mean nothing here but whose words would otherwise be read as cues.
const NEUTRAL: &[&str] = &[
    "cuanto vale",
    "cuanto valen",
    "que vale",
    "no se",
    "no lo se",
    "ni idea",
    "nao sei",
    "i don t know",
    "don t know",
    "no idea",
];

/// Words that negate a cue following them closely ("t" is what is left of "don't", "can't").
const NEGATORS: &[&str] = &[
    "no", "nao", "not", "dont", "t", "never", "nunca", "jamas", "nem", "ni",
];

/// Greetings, courtesies and articles: what may surround a cue that only counts alone, and what a
/// typed choice may carry besides the choice.
const FILLERS: &[&str] = &[
    "por",
    "favor",
    "porfa",
    "porfavor",
    "please",
    "pls",
    "plz",
    "gracias",
    "thanks",
    "thank",
    "you",
    "thx",
    "obrigado",
    "obrigada",
    "ya",
    "now",
    "ahora",
    "agora",
    "hola",
    "hi",
    "hello",
    "hey",
    "ola",
    "oi",
    "buenas",
    "buenos",
    "buen",
    "dia",
    "dias",
    "tardes",
    "noches",
    "good",
    "morning",
    "afternoon",
    "evening",
    "bom",
    "boa",
    "tarde",
    "noite",
    "un",
    "una",
    "a",
    "an",
    "the",
    "el",
    "la",
    "o",
    "um",
    "uma",
];

/// Words a typed choice may carry besides [`FILLERS`] ("opción 2", "quiero el corte").
const CHOICE_FILLERS: &[&str] = &[
    "opcion", "option", "opcao", "numero", "number", "num", "nº", "n", "quiero", "quero", "i",
    "want", "like", "me", "gustaria", "elijo", "escolho", "prefiero", "prefiro", "los", "las",
    "os", "as", "con", "com", "with",
];

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

    let best = hits
        .iter()
        .zip(&live)
        .filter(|(_, live)| **live)
        .map(|(hit, _)| hit.rank)
        .max()?;
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
    winner
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
                    word: word.to_owned(),
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

/// The longest cue or neutral phrase starting at word `start`.
fn longest_at(tokens: &[Token], start: usize) -> Option<Hit> {
    let mut best: Option<Hit> = None;
    let mut consider = |phrase: &str, intent: Option<Intent>, rank: u8, reach: Reach| {
        let len = phrase_len_at(tokens, start, phrase);
        if len > 0 && best.as_ref().is_none_or(|hit| len > hit.len) {
            best = Some(Hit {
                intent,
                rank,
                reach,
                start,
                len,
            });
        }
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
                consider(phrase, Some(cues.intent), cues.rank, reach);
            }
        }
    }
    for phrase in NEUTRAL {
        consider(phrase, None, 0, Reach::Nothing);
    }
    best
}

/// How many words `phrase` spans when it is found at word `start` within one clause (0 if not).
fn phrase_len_at(tokens: &[Token], start: usize, phrase: &str) -> usize {
    let Some(first) = tokens.get(start) else {
        return 0;
    };
    let mut len = 0;
    for word in phrase.split(' ') {
        match tokens.get(start + len) {
            Some(token) if token.clause == first.clause && token.word == word => len += 1,
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

/// Words typical of Spanish, with their weight.
const SPANISH: &[(&str, u8)] = &[
    ("hola", 2),
    ("buenas", 2),
    ("buenos", 2),
    ("gracias", 2),
    ("quiero", 1),
    ("quisiera", 1),
    ("cita", 1),
    ("citas", 1),
    ("necesito", 1),
    ("puedo", 1),
    ("puedes", 1),
    ("tengo", 1),
    ("tienes", 1),
    ("tiene", 1),
    ("hay", 1),
    ("manana", 1),
    ("hoy", 1),
    ("ahora", 1),
    ("usted", 1),
    ("mi", 1),
    ("mis", 1),
    ("el", 1),
    ("los", 1),
    ("las", 1),
    ("la", 1),
    ("del", 1),
    ("una", 1),
    ("un", 1),
    ("y", 1),
    ("pero", 1),
    ("con", 1),
    ("muy", 1),
    ("bien", 1),
    ("hablar", 1),
    ("ayuda", 1),
    ("adios", 1),
    ("hasta", 1),
    ("vale", 1),
    ("si", 1),
    ("perfecto", 1),
    ("nombre", 1),
    ("tardes", 1),
    ("noches", 1),
    ("yo", 1),
    ("es", 1),
    ("estoy", 1),
    ("soy", 1),
    ("lo", 1),
    ("le", 1),
    ("cuando", 1),
    ("donde", 1),
    ("cuanto", 1),
    ("cuesta", 1),
    ("peluqueria", 1),
    ("lunes", 1),
    ("martes", 1),
    ("miercoles", 1),
    ("jueves", 1),
    ("viernes", 1),
    ("tambien", 1),
    ("porfa", 1),
];

/// Words typical of English, with their weight.
const ENGLISH: &[(&str, u8)] = &[
    ("hi", 2),
    ("hello", 2),
    ("hey", 2),
    ("thanks", 2),
    ("thank", 2),
    ("please", 1),
    ("want", 1),
    ("appointment", 1),
    ("appointments", 1),
    ("book", 1),
    ("booking", 1),
    ("the", 1),
    ("and", 1),
    ("my", 1),
    ("i", 1),
    ("is", 1),
    ("can", 1),
    ("could", 1),
    ("would", 1),
    ("like", 1),
    ("to", 1),
    ("for", 1),
    ("with", 1),
    ("tomorrow", 1),
    ("today", 1),
    ("morning", 1),
    ("afternoon", 1),
    ("evening", 1),
    ("good", 1),
    ("yes", 1),
    ("yeah", 1),
    ("cancel", 1),
    ("help", 1),
    ("time", 1),
    ("what", 1),
    ("when", 1),
    ("how", 1),
    ("it", 1),
    ("you", 1),
    ("this", 1),
    ("that", 1),
    ("need", 1),
    ("have", 1),
    ("haircut", 1),
    ("sorry", 1),
    ("sure", 1),
];

/// Words typical of Portuguese, with their weight.
const PORTUGUESE: &[(&str, u8)] = &[
    ("ola", 2),
    ("oi", 2),
    ("obrigado", 2),
    ("obrigada", 2),
    ("bom", 2),
    ("boa", 2),
    ("quero", 1),
    ("marcar", 1),
    ("marcacao", 1),
    ("voce", 1),
    ("voces", 1),
    ("vc", 1),
    ("nao", 1),
    ("sim", 1),
    ("tudo", 1),
    ("bem", 1),
    ("amanha", 1),
    ("hoje", 1),
    ("agora", 1),
    ("com", 1),
    ("uma", 1),
    ("um", 1),
    ("eu", 1),
    ("meu", 1),
    ("minha", 1),
    ("agendar", 1),
    ("agendamento", 1),
    ("ajuda", 1),
    ("falar", 1),
    ("tchau", 1),
    ("ate", 1),
    ("muito", 1),
    ("perfeito", 1),
    ("certo", 1),
    ("cabelo", 1),
    ("segunda", 1),
    ("terca", 1),
    ("quarta", 1),
    ("quinta", 1),
    ("sexta", 1),
    ("feira", 1),
    ("pode", 1),
    ("posso", 1),
    ("gostaria", 1),
    ("preciso", 1),
    ("tem", 1),
    ("tenho", 1),
    ("e", 1),
    ("pra", 1),
    ("mais", 1),
    ("obg", 1),
];

/// Words Spanish and Portuguese share: they count for both (so they tell them from English only).
const IBERIAN: &[&str] = &[
    "para", "cancelar", "reservar", "reserva", "por", "favor", "de", "que", "hora", "horario",
    "dia", "dias", "semana", "corte", "tarde", "claro", "esta", "nada", "como", "queria", "te",
    "aqui", "sabado", "domingo",
];

/// The language a text is written in when it says enough to tell (greetings, common words); None
/// for "ok", "1", emoji, names, or a tie.
///
/// Words Spanish and Portuguese share ("cancelar", "para", "por favor") cannot tell those two
/// apart, and "no" counts for Spanish and English alike.
pub fn language_of(text: &str) -> Option<Language> {
    let mut scores = [(Language::Es, 0u32), (Language::En, 0), (Language::Pt, 0)];
    let normalised = normalise(text);
    for word in normalised.split(' ') {
        for (language, table) in [
            (Language::Es, SPANISH),
            (Language::En, ENGLISH),
            (Language::Pt, PORTUGUESE),
        ] {
            if let Some((_, weight)) = table.iter().find(|(known, _)| *known == word) {
                add(&mut scores, language, u32::from(*weight));
            }
        }
        if IBERIAN.contains(&word) {
            add(&mut scores, Language::Es, 1);
            add(&mut scores, Language::Pt, 1);
        }
        if word == "no" {
            add(&mut scores, Language::Es, 1);
            add(&mut scores, Language::En, 1);
        }
    }
    scores.sort_by_key(|(_, score)| std::cmp::Reverse(*score));
    match scores {
        [(winner, top), (_, second), _] if top > 0 && top > second => Some(winner),
        _ => None,
    }
}

/// Adds `points` to `language`'s score.
fn add(scores: &mut [(Language, u32)], language: Language, points: u32) {
    for (candidate, score) in scores.iter_mut() {
        if *candidate == language {
            *score += points;
        }
    }
}

/// Country calling codes (and North American area codes) with the language their people write in.
const CALLING_CODES: &[(&str, Language)] = &[
    ("34", Language::Es),
    ("52", Language::Es),
    ("54", Language::Es),
    ("56", Language::Es),
    ("57", Language::Es),
    ("58", Language::Es),
    ("51", Language::Es),
    ("53", Language::Es),
    ("591", Language::Es),
    ("593", Language::Es),
    ("595", Language::Es),
    ("598", Language::Es),
    ("502", Language::Es),
    ("503", Language::Es),
    ("504", Language::Es),
    ("505", Language::Es),
    ("506", Language::Es),
    ("507", Language::Es),
    ("1809", Language::Es),
    ("1829", Language::Es),
    ("1849", Language::Es),
    ("1787", Language::Es),
    ("1939", Language::Es),
    ("55", Language::Pt),
    ("351", Language::Pt),
    ("244", Language::Pt),
    ("258", Language::Pt),
    ("238", Language::Pt),
    ("245", Language::Pt),
    ("239", Language::Pt),
    ("670", Language::Pt),
    ("1", Language::En),
    ("44", Language::En),
    ("353", Language::En),
    ("61", Language::En),
    ("64", Language::En),
    ("27", Language::En),
    ("234", Language::En),
    ("254", Language::En),
    ("91", Language::En),
    ("65", Language::En),
    ("63", Language::En),
];

/// Fewest and most digits an E.164 number has after the `+`.
const E164_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// The language suggested by an E.164 phone number's country calling code ("+34600000000" → Es),
/// None when unknown or not E.164 (a `+` then 7 to 15 digits, nothing else).
pub fn language_for_phone(e164: &str) -> Option<Language> {
    let digits = e164.strip_prefix('+')?;
    if !E164_DIGITS.contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    CALLING_CODES
        .iter()
        .filter(|(code, _)| digits.starts_with(code))
        .max_by_key(|(code, _)| code.len())
        .map(|(_, language)| *language)
}

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
    fn normalise_folds_case_accents_punctuation_and_emoji() {
        let cases = [
            ("Hola", "hola"),
            ("  ¿Qué   tal?  ", "que tal"),
            ("Menú", "menu"),
            ("Mañana", "manana"),
            ("Não, obrigado!", "nao obrigado"),
            ("Marcação", "marcacao"),
            ("Opções", "opcoes"),
            ("Pingüino", "pinguino"),
            ("Ação à vista, é você?", "acao a vista e voce"),
            ("CAFÉ\u{0301}", "cafe"),
            ("cafe\u{0301}", "cafe"),
            ("⬇️ Horas posteriores", "horas posteriores"),
            ("👍", ""),
            ("1️⃣", "1"),
            ("don't", "don t"),
            ("10:30", "10 30"),
            ("#2", "2"),
            ("Straße", "strasse"),
            ("", ""),
            ("\n\t", ""),
        ];
        for (text, expected) in cases {
            assert_eq!(normalise(text), expected, "{text:?}");
        }
    }

    #[test]
    fn every_cue_is_normalised_and_listed_once() {
        let mut seen = std::collections::HashSet::new();
        let all = CUES
            .iter()
            .flat_map(|cues| {
                cues.strong
                    .iter()
                    .chain(cues.words)
                    .chain(cues.answers)
                    .chain(cues.alone)
            })
            .chain(NEUTRAL);
        for phrase in all {
            assert_eq!(normalise(phrase), *phrase, "not normalised: {phrase:?}");
            assert!(seen.insert(*phrase), "listed twice: {phrase:?}");
            assert!(
                !FILLERS.contains(phrase),
                "a filler cannot be a cue: {phrase:?}"
            );
        }
        for cues in CUES {
            for phrase in cues.strong {
                assert!(phrase.contains(' '), "strong cues are phrases: {phrase:?}");
            }
        }
    }

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
            ("cambiar la cita", mine),
            ("reschedule", mine),
            ("reagendar", mine),
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
            ("cancelar mi cita", Some(Intent::Cancel)),
            ("cancel my appointment", Some(Intent::Cancel)),
            ("quero cancelar minha marcação", Some(Intent::Cancel)),
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
            ("hola", None),
            ("Hola!", None),
            ("hi", None),
            ("hello", None),
            ("olá", None),
            ("oi", None),
            ("buenos días", None),
            ("1", None),
            ("María", None),
            ("🙂", None),
            ("👍👎", None),
            ("sí y no", None),
            ("ok no", None),
            ("no sé", None),
            ("¿cuánto vale el corte?", None),
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
                Some(Intent::Cancel),
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

    #[test]
    fn language_is_told_by_typical_words() {
        let cases = [
            ("hola", Some(Language::Es)),
            ("Buenos días, quiero una cita", Some(Language::Es)),
            ("gracias", Some(Language::Es)),
            ("sí", Some(Language::Es)),
            ("por favor, mañana", Some(Language::Es)),
            ("hi", Some(Language::En)),
            ("Hello, I want to book", Some(Language::En)),
            ("thanks!", Some(Language::En)),
            ("can I have an appointment tomorrow?", Some(Language::En)),
            ("olá", Some(Language::Pt)),
            ("oi", Some(Language::Pt)),
            ("Bom dia, quero marcar", Some(Language::Pt)),
            ("obrigada", Some(Language::Pt)),
            ("você pode amanhã?", Some(Language::Pt)),
            ("sim", Some(Language::Pt)),
            ("não", Some(Language::Pt)),
            ("ok", None),
            ("OK 👍", None),
            ("1", None),
            ("🙂", None),
            ("", None),
            ("María", None),
            ("John Smith", None),
            ("cancelar", None),
            ("para", None),
            ("por favor", None),
            ("no", None),
            ("hola hi", None),
            ("hola olá", None),
        ];
        for (text, expected) in cases {
            assert_eq!(language_of(text), expected, "{text:?}");
        }
    }

    #[test]
    fn phone_prefixes_suggest_a_language() {
        let cases = [
            ("+34600000000", Some(Language::Es)),
            ("+5215512345678", Some(Language::Es)),
            ("+541112345678", Some(Language::Es)),
            ("+56912345678", Some(Language::Es)),
            ("+573001234567", Some(Language::Es)),
            ("+584121234567", Some(Language::Es)),
            ("+51912345678", Some(Language::Es)),
            ("+5351234567", Some(Language::Es)),
            ("+59171234567", Some(Language::Es)),
            ("+593991234567", Some(Language::Es)),
            ("+595981234567", Some(Language::Es)),
            ("+59891234567", Some(Language::Es)),
            ("+50212345678", Some(Language::Es)),
            ("+50312345678", Some(Language::Es)),
            ("+50412345678", Some(Language::Es)),
            ("+50512345678", Some(Language::Es)),
            ("+50612345678", Some(Language::Es)),
            ("+50761234567", Some(Language::Es)),
            ("+18095551234", Some(Language::Es)),
            ("+18295551234", Some(Language::Es)),
            ("+18495551234", Some(Language::Es)),
            ("+17875551234", Some(Language::Es)),
            ("+19395551234", Some(Language::Es)),
            ("+5511912345678", Some(Language::Pt)),
            ("+351912345678", Some(Language::Pt)),
            ("+244923456789", Some(Language::Pt)),
            ("+258821234567", Some(Language::Pt)),
            ("+2389912345", Some(Language::Pt)),
            ("+245955123456", Some(Language::Pt)),
            ("+2399812345", Some(Language::Pt)),
            ("+67077212345", Some(Language::Pt)),
            ("+12125551234", Some(Language::En)),
            ("+14165551234", Some(Language::En)),
            ("+18005551234", Some(Language::En)),
            ("+447700900123", Some(Language::En)),
            ("+353851234567", Some(Language::En)),
            ("+61412345678", Some(Language::En)),
            ("+64211234567", Some(Language::En)),
            ("+27821234567", Some(Language::En)),
            ("+2348031234567", Some(Language::En)),
            ("+254712345678", Some(Language::En)),
            ("+919812345678", Some(Language::En)),
            ("+6581234567", Some(Language::En)),
            ("+639171234567", Some(Language::En)),
            ("+33612345678", None),
            ("+4915112345678", None),
            ("+8613812345678", None),
            ("34600000000", None),
            ("+34 600 000 000", None),
            ("+34", None),
            ("+", None),
            ("", None),
            ("+3460000000000000", None),
            ("abc", None),
        ];
        for (phone, expected) in cases {
            assert_eq!(language_for_phone(phone), expected, "{phone:?}");
        }
    }

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

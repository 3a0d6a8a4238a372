//! Which language a customer writes in: told from typical words of a message ([`language_of`]),
//! or suggested by the country calling code of their phone ([`language_for_phone`]).

use super::normalise::normalise;
use crate::booking::catalog::Language;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

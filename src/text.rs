//! Text as the bot reads what people write: lower-case words without accents, punctuation or emoji,
//! so that "¡Menú!", "menu" and "MENÚ" are one word, and a decomposed accent reads like a composed
//! one. The catalog folds its names and synonyms this way once, when it is read; the understanding
//! of messages folds each message the same way.

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
}

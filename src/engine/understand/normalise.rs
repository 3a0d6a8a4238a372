//! Text as every rule here reads it: lower-case words without accents, punctuation or emoji, so
//! that "¡Menú!", "menu" and "MENÚ" are one word, and a decomposed accent reads like a composed one.

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

/// The word a texting abbreviation stands for ("q" → "que", "pq" → "porque", "tmb" → "tambien",
/// "vc" → "voce", "x" → "por", "hj" → "hoje"), or the word itself. Rules read words through this,
/// so that "a q hora abren" finds the cue "a que hora abren".
pub fn spelled_out(word: &str) -> &str {
    match word {
        "q" | "k" | "ke" | "qe" => "que",
        "pq" | "xq" | "porq" | "pk" => "porque",
        "tmb" | "tb" | "tbm" | "tmbn" => "tambien",
        "vc" | "voc" => "voce",
        "vcs" => "voces",
        "x" => "por",
        "d" => "de",
        "dnd" => "donde",
        "cdo" | "qdo" | "qnd" | "qndo" => "cuando",
        "hj" => "hoje",
        "amnh" => "amanha",
        "mñn" | "mnn" | "mna" => "manana",
        "pfv" | "pfvr" | "pf" => "porfavor",
        "msm" => "mesmo",
        "qto" | "qnto" | "qt" => "quanto",
        "td" => "tudo",
        "blz" => "beleza",
        "u" => "you",
        "ur" => "your",
        "r" => "are",
        "pls" | "plz" | "plse" => "please",
        "tks" | "thnx" | "thanx" => "thanks",
        "hr" => "hora",
        "hrs" => "horas",
        other => other,
    }
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

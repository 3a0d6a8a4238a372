//! The words slot reading works on: [`normalise`]d words, except that a chunk made of digits and
//! the separators of times and dates ("17:30", "3/5", "17h30", "5pm", "12th") is kept whole, since
//! normalising would split "17:30" into two numbers and lose which was which.
//!
//! Also the numbers customers write as words ("cinco", "five", "duas"), up to twelve: enough for an
//! hour of the clock and for "in two weeks".

use super::normalise::{normalise, spelled_out};

/// The message as words: lower-case, without accents and punctuation, times and dates kept whole.
pub(super) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        let trimmed = chunk.trim_matches(|c: char| !c.is_alphanumeric());
        let lower = trimmed.to_lowercase();
        if is_numeric_chunk(&lower) {
            out.push(lower);
        } else {
            out.extend(
                normalise(chunk)
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(|w| spelled_out(w).to_owned()),
            );
        }
    }
    out
}

/// "17:30", "3/5/2027", "17h30", "5pm", "9.30", "12th": starts with a digit, holds a separator or a
/// letter suffix, and nothing but ASCII letters, digits and `: / . -`.
fn is_numeric_chunk(chunk: &str) -> bool {
    chunk.starts_with(|c: char| c.is_ascii_digit())
        && chunk
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-'))
        && !chunk.chars().all(|c| c.is_ascii_digit())
}

/// The value of a number written in digits (at most four) or as a word from one to twelve, in any
/// of the three languages ("una", "one", "uma"; "dos", "two", "dois"/"duas").
pub(super) fn number(word: &str) -> Option<u32> {
    if !word.is_empty() && word.len() <= 4 && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok();
    }
    let value = match word {
        "una" | "uno" | "one" | "um" | "uma" => 1,
        "dos" | "two" | "dois" | "duas" => 2,
        "tres" | "three" => 3,
        "cuatro" | "four" | "quatro" => 4,
        "cinco" | "five" => 5,
        "seis" | "six" => 6,
        "siete" | "seven" | "sete" => 7,
        "ocho" | "eight" | "oito" => 8,
        "nueve" | "nine" | "nove" => 9,
        "diez" | "ten" | "dez" => 10,
        "once" | "eleven" | "onze" => 11,
        "doce" | "twelve" | "doze" => 12,
        "quince" | "fifteen" | "quinze" => 15,
        _ => return None,
    };
    Some(value)
}

/// A day of the month written as an ordinal ("3rd", "12th", "1st", "2nd", "3º", "3o") or a number.
pub(super) fn ordinal(word: &str) -> Option<u32> {
    let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
    let suffix = &word[digits.len()..];
    if digits.is_empty() || digits.len() > 2 {
        return None;
    }
    matches!(suffix, "" | "st" | "nd" | "rd" | "th" | "o" | "a" | "º")
        .then(|| digits.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates_stay_whole() {
        assert_eq!(
            words("¿Mañana a las 17:30h, o el 3/5?"),
            ["manana", "a", "las", "17:30h", "o", "el", "3/5"]
        );
        assert_eq!(words("at 5pm."), ["at", "5pm"]);
        assert_eq!(words("às 5 e meia"), ["as", "5", "e", "meia"]);
        assert_eq!(words("don't"), ["don", "t"]);
    }

    #[test]
    fn numbers_in_digits_and_words() {
        assert_eq!(number("5"), Some(5));
        assert_eq!(number("cinco"), Some(5));
        assert_eq!(number("duas"), Some(2));
        assert_eq!(number("twelve"), Some(12));
        assert_eq!(number("12345"), None);
        assert_eq!(number("five5"), None);
        assert_eq!(ordinal("3rd"), Some(3));
        assert_eq!(ordinal("12"), Some(12));
        assert_eq!(ordinal("123"), None);
        assert_eq!(ordinal("3pm"), None);
    }
}

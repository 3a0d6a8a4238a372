//! Text as every rule here reads it: folded by [`crate::text::normalise`] (lower-case words without
//! accents, punctuation or emoji), and texting abbreviations spelled out.

pub use crate::text::normalise;

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

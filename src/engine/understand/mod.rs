//! Rule-based understanding of short customer messages in Spanish, English and Portuguese: the
//! [`Intent`](crate::engine::flow::Intent) a free text expresses, the language it is written in, the
//! language a phone number suggests, and which of the offered rows or buttons a typed answer picks.
//!
//! Everything works on [`normalise`]d text: lower-case words without accents or punctuation. Cues are
//! matched as whole words or phrases, longest first, so "no hay problema" is one cue (yes) rather
//! than "no" followed by something else.
//!
//! Each part lives in a submodule, and the entry points are re-exported here:
//! - `normalise`: folding case, accents, punctuation and emoji away ([`normalise`]);
//! - `cues`: the word tables of intents (cues, neutral phrases, negations, fillers);
//! - `intent`: reading an intent with those tables ([`intent`]; how it decides is said there);
//! - `language`: the language of a text and of a phone number ([`language_of`],
//!   [`language_for_phone`]);
//! - `pick`: which offered row or button a typed answer names ([`pick`]).
//!
//! Reading more from free text (dates, times, services, staff) belongs in further submodules beside
//! these, working on the same normalised words.

mod cues;
mod intent;
mod language;
mod normalise;
mod pick;

pub use intent::intent;
pub use language::{language_for_phone, language_of};
pub use normalise::normalise;
pub use pick::pick;

/// Messages with more words than this only match strong phrases, and only pick a title they equal
/// or whose words hold all of theirs.
const MAX_WORDS: usize = 12;

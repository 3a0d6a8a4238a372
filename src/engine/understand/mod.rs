//! Rule-based understanding of customer messages in Spanish, English and Portuguese: the
//! [`Intent`](crate::engine::flow::Intent) a free text expresses, the language it is written in, the
//! language a phone number suggests, which of the offered rows or buttons a typed answer picks, and
//! what a message asks for: the services and staff it names, the day and the time
//! ([`understand`] → [`Understanding`]).
//!
//! Everything works on [`normalise`]d text: lower-case words without accents or punctuation. Cues are
//! matched as whole words or phrases, longest first, so "no hay problema" is one cue (yes) rather
//! than "no" followed by something else. Everything is pure and deterministic: the same message,
//! catalog and clock always read the same.
//!
//! Each part lives in a submodule, and the entry points are re-exported here:
//! - `normalise`: folding case, accents, punctuation and emoji away ([`normalise`]);
//! - `cues`: the word tables of intents (cues, neutral phrases, negations, fillers);
//! - `intent`: reading an intent with those tables ([`intent`]; how it decides is said there);
//! - `language`: the language of a text and of a phone number ([`language_of`],
//!   [`language_for_phone`]);
//! - `pick`: which offered row or button a typed answer names ([`pick`]);
//! - `words`: the words slot reading works on, times and dates kept whole, numbers in words;
//! - `fuzzy`: one typo allowed in long words, never in a word that means something else;
//! - `calendar`: weekday, month, relative-day and part-of-day words;
//! - `named`: the services and staff a message names, with the salon's synonyms;
//! - `dates`, `times`: the day and the time asked for ([`TimeWish`]);
//! - `message`: all of it together for one message ([`understand`], [`Understanding`]).

mod calendar;
mod cues;
mod dates;
mod fuzzy;
mod intent;
mod language;
mod message;
mod named;
mod normalise;
mod pick;
#[cfg(test)]
mod table_tests;
mod times;
mod words;

pub use intent::intent;
pub use language::{language_for_phone, language_of};
pub use message::{Context, Report, Understanding, understand};
pub use normalise::normalise;
pub use pick::pick;
pub use times::TimeWish;

/// Messages with more words than this only match strong phrases, and only pick a title they equal
/// or whose words hold all of theirs.
const MAX_WORDS: usize = 12;

//! The file's shape, as TOML deserialises it: nothing is checked here beyond types and field names
//! (unknown fields are rejected). Spans are kept so that every later problem can name its line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) flow: RawHeader,
    #[serde(default)]
    pub(super) global: Vec<Spanned<RawTransition>>,
    #[serde(default)]
    pub(super) states: BTreeMap<String, Spanned<RawState>>,
    #[serde(default)]
    pub(super) ahead: Vec<Spanned<RawAhead>>,
}

/// `[[ahead]]`: the states free text may skip, in order, and where a change of mind keeps what
/// was chosen.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAhead {
    pub(super) steps: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) keep_from: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeader {
    pub(super) name: Spanned<String>,
    pub(super) version: Spanned<u32>,
    pub(super) entry: Spanned<String>,
    #[serde(default)]
    pub(super) migrations: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    pub(super) say: Spanned<String>,
    pub(super) buttons: Option<Spanned<Vec<Spanned<RawButton>>>>,
    pub(super) list: Option<Spanned<RawList>>,
    pub(super) cta: Option<Spanned<RawCta>>,
    #[serde(default)]
    pub(super) on: Vec<Spanned<RawTransition>>,
    pub(super) timeout: Option<Spanned<RawTimeout>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawButton {
    pub(super) id: String,
    pub(super) label: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawList {
    pub(super) label: Spanned<String>,
    pub(super) options: Spanned<String>,
    pub(super) page: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCta {
    pub(super) label: Spanned<String>,
    pub(super) url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTransition {
    pub(super) button: Option<String>,
    pub(super) choose: Option<Spanned<String>>,
    pub(super) intent: Option<Spanned<String>>,
    pub(super) text: Option<Spanned<String>>,
    pub(super) event: Option<Spanned<String>>,
    pub(super) when: Option<Spanned<String>>,
    #[serde(rename = "do", default)]
    pub(super) actions: Vec<Spanned<String>>,
    pub(super) set: Option<String>,
    pub(super) say: Option<Spanned<String>>,
    pub(super) goto: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimeout {
    pub(super) minutes: u32,
    #[serde(rename = "do", default)]
    pub(super) actions: Vec<Spanned<String>>,
    pub(super) goto: Option<Spanned<String>>,
}

//! The file's shape, as TOML deserialises it: nothing is checked here beyond types and field names
//! (unknown fields are rejected). Spans are kept where a later check needs to point at a line.

use serde::Deserialize;
use toml::Spanned;

use super::model::{DateOrder, Language, LateDeposit};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalog {
    pub(super) salon: RawSalon,
    #[serde(default)]
    pub(super) services: Vec<RawService>,
    #[serde(default)]
    pub(super) staff: Vec<RawStaff>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSalon {
    pub(super) name: Spanned<String>,
    pub(super) address: Spanned<String>,
    #[serde(default)]
    pub(super) phone: Option<Spanned<String>>,
    pub(super) time_zone: Spanned<String>,
    pub(super) currency: Spanned<String>,
    pub(super) default_language: Language,
    pub(super) slot_minutes: Spanned<u32>,
    pub(super) horizon_days: Spanned<u32>,
    pub(super) min_notice_minutes: u32,
    pub(super) hold_minutes: Spanned<u32>,
    pub(super) reminder_hours: u32,
    pub(super) cancellation: RawCancellation,
    pub(super) hours: RawWeek,
    #[serde(default)]
    pub(super) date_order: DateOrder,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCancellation {
    pub(super) free_until_hours: u32,
    pub(super) late_deposit: LateDeposit,
}

pub(super) type RawRanges = Vec<Spanned<String>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeek {
    #[serde(default)]
    mon: RawRanges,
    #[serde(default)]
    tue: RawRanges,
    #[serde(default)]
    wed: RawRanges,
    #[serde(default)]
    thu: RawRanges,
    #[serde(default)]
    fri: RawRanges,
    #[serde(default)]
    sat: RawRanges,
    #[serde(default)]
    sun: RawRanges,
}

impl RawWeek {
    pub(super) fn into_days(self) -> [RawRanges; 7] {
        [
            self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun,
        ]
    }
}

/// Breaks: per weekday, and `every_day` for those taken on every working day.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBreaks {
    #[serde(default)]
    every_day: RawRanges,
    #[serde(default)]
    mon: RawRanges,
    #[serde(default)]
    tue: RawRanges,
    #[serde(default)]
    wed: RawRanges,
    #[serde(default)]
    thu: RawRanges,
    #[serde(default)]
    fri: RawRanges,
    #[serde(default)]
    sat: RawRanges,
    #[serde(default)]
    sun: RawRanges,
}

impl RawBreaks {
    pub(super) fn into_parts(self) -> (RawRanges, [RawRanges; 7]) {
        let days = [
            self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun,
        ];
        (self.every_day, days)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) id: Spanned<String>,
    pub(super) name: RawNames,
    pub(super) category: Spanned<String>,
    pub(super) duration_minutes: Spanned<u32>,
    pub(super) price: u64,
    pub(super) deposit: Option<Spanned<u64>>,
    #[serde(default)]
    pub(super) buffer_after_minutes: u32,
    #[serde(default)]
    pub(super) synonyms: RawSynonyms,
}

/// Other words customers use for a service, per language.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSynonyms {
    #[serde(default)]
    pub(super) es: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) en: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) pt: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNames {
    pub(super) es: Option<Spanned<String>>,
    pub(super) en: Option<Spanned<String>>,
    pub(super) pt: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStaff {
    pub(super) id: Spanned<String>,
    pub(super) name: Spanned<String>,
    pub(super) services: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) hours: RawWeek,
    #[serde(default)]
    pub(super) breaks: RawBreaks,
    #[serde(default)]
    pub(super) days_off: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) synonyms: Vec<Spanned<String>>,
}

pub(super) const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[cfg(test)]
mod tests {
    use crate::booking::catalog::CatalogError;
    use crate::booking::catalog::parse;
    use crate::booking::catalog::test_support::with;

    #[test]
    fn unknown_and_missing_fields_are_rejected() {
        let error = parse(&with("price = 2000", "price = 2000\nprise = 2000")).unwrap_err();
        assert!(matches!(error, CatalogError::Syntax { line: Some(_), .. }));
        assert!(
            error.to_string().contains("unknown field `prise`"),
            "{error}"
        );

        let error = parse(&with("address = \"Calle Mayor 1\"\n", "")).unwrap_err();
        assert!(
            error.to_string().contains("missing field `address`"),
            "{error}"
        );

        let error = parse(&with(
            "hours.mon = [\"09:00-14:00\"]",
            "hours.every_day = [\"09:00-14:00\"]",
        ))
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `every_day`"),
            "{error}"
        );

        let error = parse(&with(
            "default_language = \"es\"",
            "default_language = \"fr\"",
        ))
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown variant `fr`"),
            "{error}"
        );

        let error =
            parse(&with("late_deposit = \"keep\"", "late_deposit = \"maybe\"")).unwrap_err();
        assert!(
            error.to_string().contains("unknown variant `maybe`"),
            "{error}"
        );
    }
}

//! Catalogs and helpers shared by the unit tests of the submodules.

use super::hours::parse_range;
use super::{CatalogError, Problem, TimeRange, parse};

pub(super) const MINIMAL: &str = r#"
[salon]
name = "Test"
address = "Calle Mayor 1"
time_zone = "Europe/Madrid"
currency = "EUR"
default_language = "es"
slot_minutes = 15
horizon_days = 30
min_notice_minutes = 60
hold_minutes = 10
reminder_hours = 24
cancellation = { free_until_hours = 24, late_deposit = "keep" }
hours.mon = ["09:00-20:00"]

[[services]]
id = "cut"
name.es = "Corte"
category = "cut"
duration_minutes = 30
price = 2000

[[staff]]
id = "ana"
name = "Ana"
services = ["cut"]
hours.mon = ["09:00-14:00"]
"#;

pub(super) const SECOND_SERVICE: &str = r#"
[[services]]
id = "nails"
name.es = "Uñas"
category = "nails"
duration_minutes = 45
price = 1500
"#;

pub(super) fn with(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "MINIMAL has no {from:?}");
    MINIMAL.replacen(from, to, 1)
}

/// The field and problem of a catalog that must be rejected by validation.
pub(super) fn invalid(text: &str) -> (String, Option<usize>, Problem) {
    match parse(text) {
        Err(CatalogError::Invalid {
            field,
            line,
            problem,
        }) => (field, line, problem),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

pub(super) fn range(text: &str) -> TimeRange {
    parse_range(text).unwrap()
}

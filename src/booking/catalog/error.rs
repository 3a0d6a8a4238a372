//! Why a catalog could not be loaded, as one message naming the field (and the line) to fix.

use std::path::PathBuf;

use super::hours::TimeRange;
use super::model::Language;

/// Why a catalog could not be loaded. Each one is a single message naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, or not the expected shape (a missing or unknown field, a wrong type).
    #[error("{}{message}", at_line_showing(*line, context.as_deref()))]
    Syntax {
        line: Option<usize>,
        /// The text of that line (up to 80 characters), which shows the key or table concerned.
        context: Option<String>,
        message: String,
    },
    /// Valid TOML whose content breaks a rule of the catalog.
    #[error("{}{field}: {problem}", at_line(*line))]
    Invalid {
        /// Where, as a path such as `staff[lucia].hours.mon[1]`.
        field: String,
        line: Option<usize>,
        problem: Problem,
    },
}

/// What is wrong with a field of an otherwise well-formed catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("must not be empty")]
    Empty,
    #[error("{0:?} is not a valid id (1 to 64 letters, digits, '-' or '_')")]
    BadId(String),
    #[error("duplicate id {0:?}")]
    DuplicateId(String),
    #[error("unknown service {0:?}")]
    UnknownService(String),
    #[error("no staff member offers this service")]
    NotOffered,
    #[error("unknown time zone {0:?} (expected an IANA name such as \"Europe/Madrid\")")]
    UnknownTimeZone(String),
    #[error("{0:?} is not a phone number in international form (such as \"+34910000000\")")]
    BadPhone(String),
    #[error("{0:?} is not an ISO 4217 currency code (three capital letters, such as \"EUR\")")]
    BadCurrency(String),
    #[error("{0:?} is not a time range \"HH:MM-HH:MM\"")]
    BadRange(String),
    #[error("{0:?} must end after it starts")]
    EndNotAfterStart(String),
    #[error("{0} overlaps {1}")]
    Overlap(TimeRange, TimeRange),
    #[error("{0:?} is not an ISO date (YYYY-MM-DD)")]
    BadDate(String),
    #[error("must be greater than 0")]
    Zero,
    #[error("{value} is not a multiple of slot_minutes ({slot})")]
    NotMultipleOfSlot { value: u32, slot: u32 },
    #[error("{0} does not divide a day (1440 minutes) evenly")]
    SlotNotDividingDay(u32),
    #[error("has no name in the default language {0:?}")]
    MissingDefaultName(Language),
    #[error("deposit {deposit} is greater than the price {price}")]
    DepositOverPrice { deposit: u64, price: u64 },
}

/// The TOML crate's message, with the line it points at (which names the key or table in question).
pub(super) fn syntax_error(text: &str, error: &toml::de::Error) -> CatalogError {
    let start = error.span().map(|span| span.start);
    let context = start.and_then(|start| {
        let line_start = text
            .get(..start)?
            .rfind('\n')
            .map_or(0, |newline| newline + 1);
        let line = text.get(line_start..)?.lines().next()?.trim();
        (!line.is_empty()).then(|| line.chars().take(80).collect())
    });
    CatalogError::Syntax {
        line: start.and_then(|start| line_of(text, start)),
        context,
        message: error.message().to_owned(),
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|line| format!("line {line}: "))
        .unwrap_or_default()
}

fn at_line_showing(line: Option<usize>, context: Option<&str>) -> String {
    match (line, context) {
        (Some(line), Some(context)) => format!("line {line} (`{context}`): "),
        (line, _) => at_line(line),
    }
}

pub(super) fn line_of(text: &str, offset: usize) -> Option<usize> {
    text.get(..offset)
        .map(|before| before.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::catalog::parse;
    use crate::booking::catalog::test_support::with;

    #[test]
    fn toml_errors_give_the_line() {
        let error = parse(&with("slot_minutes = 15", "slot_minutes = \"often\"")).unwrap_err();
        assert!(
            matches!(error, CatalogError::Syntax { line: Some(8), .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "line 8 (`slot_minutes = \"often\"`): invalid type: string \"often\", expected u32"
        );
    }
}

//! Query and form parameters of the admin routes, read by hand so that a bad one is answered 400
//! naming it (`{"error":"bad_parameter","message":"invalid parameter 'limit': ..."}`) rather than
//! with the framework's generic rejection.

use chrono::{DateTime, NaiveDate, Utc};

use crate::conversation::E164;
use crate::error::AppError;

/// The parameters of a request, in order; unknown names are ignored.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

fn bad(name: &'static str, reason: impl Into<String>) -> AppError {
    AppError::BadParameter {
        name,
        reason: reason.into(),
    }
}

impl Params {
    /// The value of `name`, when given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// `limit`: 1..=100, `default` when absent.
    pub fn limit(&self, default: u32) -> Result<u32, AppError> {
        match self.get("limit") {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| bad("limit", format!("expected 1 to 100, got '{raw}'"))),
        }
    }

    /// `offset`: 0 or more, 0 when absent.
    pub fn offset(&self) -> Result<u64, AppError> {
        match self.get("offset") {
            None => Ok(0),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= i64::MAX as u64)
                .ok_or_else(|| bad("offset", format!("expected 0 or more, got '{raw}'"))),
        }
    }

    /// An ISO-8601 instant (`2026-01-31T09:00:00Z`, with an offset, or a date meaning its
    /// midnight UTC).
    pub fn instant(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, AppError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
            return Ok(Some(at.with_timezone(&Utc)));
        }
        // Without an offset (as a browser's date-time field sends it): UTC.
        for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
            if let Ok(at) = chrono::NaiveDateTime::parse_from_str(raw, format) {
                return Ok(Some(at.and_utc()));
            }
        }
        if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            return Ok(day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
        }
        Err(bad(
            name,
            format!("expected an ISO-8601 time such as 2026-01-31T09:00:00Z, got '{raw}'"),
        ))
    }

    /// A calendar date `YYYY-MM-DD`.
    pub fn date(&self, name: &'static str) -> Result<Option<NaiveDate>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| bad(name, format!("expected YYYY-MM-DD, got '{raw}'"))),
        }
    }

    /// A phone in E.164, with or without its `+`.
    pub fn phone(&self, name: &'static str) -> Result<Option<E164>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => E164::parse(raw).map(Some).ok_or_else(|| {
                bad(
                    name,
                    format!("expected a phone in E.164 such as +34600000000, got '{raw}'"),
                )
            }),
        }
    }

    /// One of `allowed`.
    pub fn one_of(&self, name: &'static str, allowed: &[&str]) -> Result<Option<String>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) if allowed.contains(&raw) => Ok(Some(raw.to_owned())),
            Some(raw) => Err(bad(
                name,
                format!("expected one of {}, got '{raw}'", allowed.join(", ")),
            )),
        }
    }

    /// Free text of at most `max` characters.
    pub fn text(&self, name: &'static str, max: usize) -> Result<Option<String>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) if raw.chars().count() <= max => Ok(Some(raw.to_owned())),
            Some(_) => Err(bad(name, format!("longer than {max} characters"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn limits_offsets_and_times_are_checked() {
        assert_eq!(params(&[]).limit(50).unwrap(), 50);
        assert_eq!(params(&[("limit", "100")]).limit(50).unwrap(), 100);
        for bad in ["0", "101", "x", "-1"] {
            let err = params(&[("limit", bad)]).limit(50).unwrap_err();
            assert!(err.to_string().contains("'limit'"), "{err}");
        }
        assert!(params(&[("offset", "-3")]).offset().is_err());
        let at = params(&[("since", "2026-01-31T09:00:00+01:00")])
            .instant("since")
            .unwrap()
            .unwrap();
        assert_eq!(at.to_rfc3339(), "2026-01-31T08:00:00+00:00");
        assert!(params(&[("since", "yesterday")]).instant("since").is_err());
        let phone = params(&[("from", "34600000001")]).phone("from").unwrap();
        assert_eq!(phone.unwrap().as_str(), "+34600000001");
        assert!(params(&[("from", "+34abc")]).phone("from").is_err());
    }
}

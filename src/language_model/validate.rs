//! The model's answer checked against the catalog and the calendar before anything uses it: an
//! unknown service or intent, a day outside the booking horizon or in the past, a time that is not
//! a time of day, are dropped (the rest is kept). What survives is the same [`Understanding`] the
//! rules produce, so the engine cannot tell, and trusts it no more than the rules.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;

use crate::booking::catalog::{Catalog, Language, ServiceId};
use crate::engine::flow::Intent;
use crate::engine::understand::{TimeWish, Understanding};

/// The answer's fields as the schema asks for them.
#[derive(Debug, Deserialize)]
pub(super) struct Answer {
    language: Option<String>,
    intent: Option<String>,
    service: Option<String>,
    date: Option<String>,
    time_from: Option<String>,
    time_to: Option<String>,
}

/// The answer as an [`Understanding`], keeping only what the catalog and the calendar allow.
pub(super) fn validated(answer: Answer, catalog: &Catalog, now: DateTime<Utc>) -> Understanding {
    let salon = catalog.salon();
    let today = now.with_timezone(&salon.time_zone).date_naive();
    let last = today + Duration::days(i64::from(salon.horizon_days.saturating_sub(1)));
    let language = answer
        .language
        .as_deref()
        .and_then(|code| Language::ALL.into_iter().find(|l| l.as_str() == code));
    let intent = answer.intent.as_deref().and_then(Intent::from_name);
    let services = answer
        .service
        .map(ServiceId::new)
        .filter(|id| catalog.service(id).is_some())
        .into_iter()
        .collect();
    let date = answer
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .filter(|d| today <= *d && *d <= last);
    let clock = |t: Option<String>| t.and_then(|t| NaiveTime::parse_from_str(&t, "%H:%M").ok());
    let time = match (clock(answer.time_from), clock(answer.time_to)) {
        (Some(from), Some(to)) if from < to => Some(TimeWish::Between { from, to }),
        (Some(time), _) => Some(TimeWish::At { time }),
        _ => None,
    };
    Understanding {
        language,
        intent,
        services,
        staff: None,
        date,
        time,
    }
}

//! The salon's catalog: who the salon is, what it sells, who works when, and its booking policies.
//!
//! It is read once from `SALON_CONFIG` (`salon.toml`) by [`load`] and checked whole by [`parse`], so a
//! mistake stops start-up with one message naming the field (and the line, where TOML tells it) instead
//! of surfacing later as a customer who cannot book. Everything after that (the engine, availability,
//! policies) works on the validated [`Catalog`] and can rely on its invariants: ids are unique, staff
//! offer only services that exist, every service has a name in the default language, durations fit
//! the slot grid and time ranges are well formed and do not overlap.
//!
//! Times of day are local wall-clock times of the salon's [`Salon::time_zone`]; turning them into
//! instants (and the daylight-saving rules that involves) is the job of
//! [`availability`](super::availability).
//!
//! Each part lives in a submodule, and everything public is re-exported here:
//! - `model`: what the catalog describes ([`Salon`], [`Service`], [`Staff`], their ids, [`Names`] and
//!   [`Language`], the [`CancellationPolicy`]);
//! - `hours`: times of day ([`TimeRange`], [`WeeklyHours`]) and reading `"HH:MM-HH:MM"`;
//! - `error`: [`CatalogError`] and the [`Problem`] it names;
//! - `raw`: the file's shape, as TOML deserialises it;
//! - `check`: from that shape to a [`Catalog`], enforcing its invariants.

mod check;
mod error;
mod hours;
mod model;
mod raw;
#[cfg(test)]
mod test_support;

use std::path::Path;

pub use error::{CatalogError, Problem};
pub use hours::{MINUTES_PER_DAY, TimeRange, WeeklyHours};
pub use model::{
    CancellationPolicy, DateOrder, Language, LateDeposit, Names, Salon, Service, ServiceId, Staff,
    StaffId,
};

use error::syntax_error;
use raw::RawCatalog;

/// Reads the catalog file at `path` and [`parse`]s it. The only I/O of the booking domain.
pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text)
}

/// Parses and validates a catalog written in TOML (the format of `salon.toml`).
pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
    let raw: RawCatalog = toml::from_str(text).map_err(|error| syntax_error(text, &error))?;
    check::catalog(text, raw)
}

/// The validated catalog. Only [`parse`] (or [`load`]) makes one, so its invariants hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    salon: Salon,
    services: Vec<Service>,
    staff: Vec<Staff>,
}

impl Catalog {
    /// The salon's identity, hours and policies.
    pub fn salon(&self) -> &Salon {
        &self.salon
    }

    /// Services in the order of the file (the order menus show them).
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Staff in the order of the file: "anyone" prefers the earlier ones.
    pub fn staff(&self) -> &[Staff] {
        &self.staff
    }

    /// The service with this id.
    pub fn service(&self, id: &ServiceId) -> Option<&Service> {
        self.services.iter().find(|service| &service.id == id)
    }

    /// The staff member with this id.
    pub fn staff_member(&self, id: &StaffId) -> Option<&Staff> {
        self.staff.iter().find(|member| &member.id == id)
    }

    /// The staff members who offer a service, in catalog order.
    pub fn staff_offering<'a>(
        &'a self,
        id: &ServiceId,
    ) -> impl Iterator<Item = &'a Staff> + use<'a> {
        let id = id.clone();
        self.staff.iter().filter(move |member| member.offers(&id))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Weekday};

    use super::test_support::{MINIMAL, range};
    use super::*;

    #[test]
    fn the_example_salon_parses() {
        let catalog = parse(include_str!("../../../salon.toml")).unwrap();
        let salon = catalog.salon();
        assert_eq!(salon.time_zone, chrono_tz::Europe::Madrid);
        assert_eq!(salon.currency, "EUR");
        assert_eq!(salon.default_language, Language::Es);
        assert_eq!(salon.slot_minutes, 15);
        assert_eq!(salon.cancellation.late_deposit, LateDeposit::Keep);
        assert_eq!(salon.hours.on(Weekday::Sun), &[] as &[TimeRange]);
        assert_eq!(catalog.services().len(), 6);
        assert_eq!(catalog.staff().len(), 3);

        let highlights = catalog.service(&ServiceId::new("highlights")).unwrap();
        assert_eq!(highlights.name.get(Language::En), "Highlights");
        assert_eq!(highlights.deposit, 2000);
        assert_eq!(highlights.occupied_minutes(), 165);

        let lucia = catalog.staff_member(&StaffId::new("lucia")).unwrap();
        assert_eq!(
            lucia.hours.on(Weekday::Tue),
            &[range("09:30-14:00"), range("16:00-20:30")]
        );
        assert_eq!(lucia.breaks.on(Weekday::Sat), &[range("11:30-11:45")]);
        assert!(lucia.is_off(NaiveDate::from_ymd_opt(2026, 8, 12).unwrap()));
        let ines = catalog.staff_member(&StaffId::new("ines")).unwrap();
        assert!(ines.is_off(NaiveDate::from_ymd_opt(2026, 5, 15).unwrap()));
        let offering: Vec<&str> = catalog
            .staff_offering(&ServiceId::new("cut-men"))
            .map(|staff| staff.id.as_str())
            .collect();
        assert_eq!(offering, ["lucia", "marcos"]);
    }

    #[test]
    fn load_reads_a_file_and_names_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("salon.toml");
        std::fs::write(&path, MINIMAL).unwrap();
        assert_eq!(load(&path).unwrap().salon().name, "Test");

        let missing = dir.path().join("nope.toml");
        let error = load(&missing).unwrap_err();
        assert!(matches!(error, CatalogError::Read { ref path, .. } if path == &missing));
        assert!(error.to_string().starts_with("cannot read "), "{error}");
    }
}

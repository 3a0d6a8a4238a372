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
    /// Every name and synonym, folded into words once (see [`Catalog::phrases`]).
    phrases: Vec<Phrase>,
}

/// A name or synonym of a service or a staff member as the words a message must hold to name it,
/// folded as messages are read ([`crate::text::normalise`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    pub words: Vec<String>,
    pub names: Named,
}

/// What a [`Phrase`] names: the service or staff member at this index of the catalog's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    Service(usize),
    Staff(usize),
}

impl Phrase {
    /// Every phrase of these services and staff: each service's names in every language and its
    /// synonyms, then each staff member's name and synonyms, in catalog order.
    fn all(services: &[Service], staff: &[Staff]) -> Vec<Phrase> {
        let mut phrases = Vec::new();
        let mut add = |text: &str, names: Named| {
            let words: Vec<String> = crate::text::normalise(text)
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect();
            if !words.is_empty() {
                phrases.push(Phrase { words, names });
            }
        };
        for (index, service) in services.iter().enumerate() {
            for language in Language::ALL {
                if let Some(name) = service.name.exact(language) {
                    add(name, Named::Service(index));
                }
            }
            for (_, synonym) in &service.synonyms {
                add(synonym, Named::Service(index));
            }
        }
        for (index, member) in staff.iter().enumerate() {
            add(&member.name, Named::Staff(index));
            for synonym in &member.synonyms {
                add(synonym, Named::Staff(index));
            }
        }
        phrases
    }
}

impl Catalog {
    /// The salon's identity, hours and policies.
    pub fn salon(&self) -> &Salon {
        &self.salon
    }

    /// A catalog of these parts, its phrases worked out; only `check` calls it, after checking them.
    fn new(salon: Salon, services: Vec<Service>, staff: Vec<Staff>) -> Self {
        let phrases = Phrase::all(&services, &staff);
        Catalog {
            salon,
            services,
            staff,
            phrases,
        }
    }

    /// Every name and synonym of the services and staff, as folded words with what each names:
    /// what the understanding of a message matches its words against.
    pub fn phrases(&self) -> &[Phrase] {
        &self.phrases
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
    fn names_and_synonyms_are_folded_into_words_once() {
        let catalog = parse(include_str!("../../../salon.toml")).unwrap();
        let words_of = |names: Named| -> Vec<String> {
            catalog
                .phrases()
                .iter()
                .filter(|phrase| phrase.names == names)
                .map(|phrase| phrase.words.join(" "))
                .collect()
        };
        let cut = catalog
            .services()
            .iter()
            .position(|s| s.id.as_str() == "cut-women")
            .unwrap();
        let cut = words_of(Named::Service(cut));
        assert!(cut.contains(&"corte senora".to_owned()), "{cut:?}");
        assert!(cut.contains(&"women s haircut".to_owned()), "{cut:?}");
        let lucia = catalog
            .staff()
            .iter()
            .position(|s| s.id.as_str() == "lucia")
            .unwrap();
        assert_eq!(words_of(Named::Staff(lucia))[0], "lucia");
        assert!(
            catalog.phrases().iter().all(|p| p
                .words
                .iter()
                .all(|w| !w.is_empty() && *w == crate::text::normalise(w))),
            "every word folded"
        );
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

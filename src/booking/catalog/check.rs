//! From the file's shape to the catalog, checking as it goes; the first problem found is reported.

use std::collections::{BTreeSet, HashSet};
use std::ops::Range;

use chrono::NaiveDate;
use chrono_tz::Tz;
use toml::Spanned;

use super::Catalog;
use super::error::{CatalogError, Problem, line_of};
use super::hours::{MINUTES_PER_DAY, TimeRange, WeeklyHours, parse_range};
use super::model::{
    CancellationPolicy, Language, Names, Salon, Service, ServiceId, Staff, StaffId,
};
use super::raw::{
    DAY_KEYS, RawCatalog, RawNames, RawRanges, RawSalon, RawService, RawStaff, RawSynonyms,
};

/// Checks `raw`, deserialised from `text` (which the lines of errors are counted in), into a catalog.
pub(super) fn catalog(text: &str, raw: RawCatalog) -> Result<Catalog, CatalogError> {
    Checker { text }.catalog(raw)
}

struct Checker<'a> {
    text: &'a str,
}

type Checked<T> = Result<T, CatalogError>;

impl Checker<'_> {
    fn invalid(
        &self,
        field: impl Into<String>,
        span: Option<Range<usize>>,
        problem: Problem,
    ) -> CatalogError {
        CatalogError::Invalid {
            field: field.into(),
            line: span.and_then(|span| line_of(self.text, span.start)),
            problem,
        }
    }

    fn catalog(&self, raw: RawCatalog) -> Checked<Catalog> {
        let salon = self.salon(raw.salon)?;
        let services = self.services(raw.services, &salon)?;
        let known: HashSet<&ServiceId> = services.iter().map(|service| &service.id).collect();
        let staff = self.all_staff(raw.staff, &known)?;
        self.every_service_offered(&services, &staff)?;
        Ok(Catalog::new(salon, services, staff))
    }

    fn salon(&self, raw: RawSalon) -> Checked<Salon> {
        let slot_minutes = self.slot_minutes(raw.slot_minutes)?;
        Ok(Salon {
            name: self.non_empty("salon.name", raw.name)?,
            address: self.non_empty("salon.address", raw.address)?,
            phone: match raw.phone {
                Some(phone) => Some(self.phone(phone)?),
                None => None,
            },
            time_zone: self.time_zone(raw.time_zone)?,
            currency: self.currency(raw.currency)?,
            default_language: raw.default_language,
            slot_minutes,
            horizon_days: self.positive("salon.horizon_days", raw.horizon_days)?,
            min_notice_minutes: raw.min_notice_minutes,
            hold_minutes: self.positive("salon.hold_minutes", raw.hold_minutes)?,
            cancellation: CancellationPolicy {
                free_until_hours: raw.cancellation.free_until_hours,
                late_deposit: raw.cancellation.late_deposit,
            },
            reminder_hours: raw.reminder_hours,
            hours: self.week("salon.hours", raw.hours.into_days(), Vec::new())?,
            date_order: raw.date_order,
        })
    }

    fn non_empty(&self, field: &str, value: Spanned<String>) -> Checked<String> {
        if value.get_ref().trim().is_empty() {
            return Err(self.invalid(field, Some(value.span()), Problem::Empty));
        }
        Ok(value.into_inner())
    }

    /// The salon's WhatsApp number, in E.164.
    fn phone(&self, value: Spanned<String>) -> Checked<String> {
        match crate::conversation::E164::parse(value.get_ref()) {
            Some(phone) => Ok(phone.as_str().to_owned()),
            None => Err(self.invalid(
                "salon.phone",
                Some(value.span()),
                Problem::BadPhone(value.into_inner()),
            )),
        }
    }

    fn positive(&self, field: &str, value: Spanned<u32>) -> Checked<u32> {
        match *value.get_ref() {
            0 => Err(self.invalid(field, Some(value.span()), Problem::Zero)),
            n => Ok(n),
        }
    }

    fn slot_minutes(&self, value: Spanned<u32>) -> Checked<u32> {
        let minutes = self.positive("salon.slot_minutes", value.clone())?;
        if u32::from(MINUTES_PER_DAY) % minutes != 0 {
            let problem = Problem::SlotNotDividingDay(minutes);
            return Err(self.invalid("salon.slot_minutes", Some(value.span()), problem));
        }
        Ok(minutes)
    }

    fn time_zone(&self, value: Spanned<String>) -> Checked<Tz> {
        value.get_ref().parse::<Tz>().map_err(|_| {
            let problem = Problem::UnknownTimeZone(value.get_ref().clone());
            self.invalid("salon.time_zone", Some(value.span()), problem)
        })
    }

    fn currency(&self, value: Spanned<String>) -> Checked<String> {
        let code = value.get_ref();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            let problem = Problem::BadCurrency(code.clone());
            return Err(self.invalid("salon.currency", Some(value.span()), problem));
        }
        Ok(value.into_inner())
    }

    fn id(
        &self,
        field: &str,
        value: &Spanned<String>,
        seen: &mut HashSet<String>,
    ) -> Checked<String> {
        let id = value.get_ref();
        let well_formed = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(self.invalid(field, Some(value.span()), Problem::BadId(id.clone())));
        }
        if !seen.insert(id.clone()) {
            let problem = Problem::DuplicateId(id.clone());
            return Err(self.invalid(field, Some(value.span()), problem));
        }
        Ok(id.clone())
    }

    /// Time ranges of each weekday, plus `every_day` ones added to all; sorted, checked for overlap.
    fn week(
        &self,
        field: &str,
        days: [RawRanges; 7],
        every_day: RawRanges,
    ) -> Checked<WeeklyHours> {
        let every_field = format!("{field}.every_day");
        let every_day = self.ranges(&every_field, every_day)?;
        self.without_overlap(&every_field, every_day.clone())?;
        let mut week = WeeklyHours::default();
        for ((slot, key), raw) in week.days.iter_mut().zip(DAY_KEYS).zip(days) {
            let day_field = format!("{field}.{key}");
            let mut ranges = self.ranges(&day_field, raw)?;
            ranges.extend(every_day.iter().cloned());
            *slot = self.without_overlap(&day_field, ranges)?;
        }
        Ok(week)
    }

    fn ranges(&self, field: &str, raw: RawRanges) -> Checked<Vec<(TimeRange, Range<usize>)>> {
        raw.into_iter()
            .enumerate()
            .map(|(index, text)| {
                parse_range(text.get_ref())
                    .map(|range| (range, text.span()))
                    .map_err(|problem| {
                        self.invalid(format!("{field}[{index}]"), Some(text.span()), problem)
                    })
            })
            .collect()
    }

    fn without_overlap(
        &self,
        field: &str,
        mut ranges: Vec<(TimeRange, Range<usize>)>,
    ) -> Checked<Vec<TimeRange>> {
        ranges.sort_by_key(|(range, _)| *range);
        for pair in ranges.windows(2) {
            if let [(first, _), (second, span)] = pair
                && first.overlaps(*second)
            {
                let problem = Problem::Overlap(*second, *first);
                return Err(self.invalid(field, Some(span.clone()), problem));
            }
        }
        Ok(ranges.into_iter().map(|(range, _)| range).collect())
    }

    fn services(&self, raw: Vec<RawService>, salon: &Salon) -> Checked<Vec<Service>> {
        if raw.is_empty() {
            return Err(self.invalid("services", None, Problem::Empty));
        }
        let mut seen = HashSet::new();
        raw.into_iter()
            .enumerate()
            .map(|(index, raw)| self.service(index, raw, salon, &mut seen))
            .collect()
    }

    fn service(
        &self,
        index: usize,
        raw: RawService,
        salon: &Salon,
        seen: &mut HashSet<String>,
    ) -> Checked<Service> {
        let id = self.id(&format!("services[{index}].id"), &raw.id, seen)?;
        let field = |name: &str| format!("services[{id}].{name}");
        let duration_minutes = self.duration(
            &field("duration_minutes"),
            raw.duration_minutes,
            salon.slot_minutes,
        )?;
        let deposit = raw
            .deposit
            .map(|deposit| (*deposit.get_ref(), deposit.span()));
        let deposit = self.deposit(&field("deposit"), deposit, raw.price)?;
        let synonyms = self.service_synonyms(&field("synonyms"), raw.synonyms)?;
        Ok(Service {
            name: self.names(
                &field("name"),
                raw.name,
                salon.default_language,
                raw.id.span(),
            )?,
            category: self.non_empty(&field("category"), raw.category)?,
            id: ServiceId::new(id),
            duration_minutes,
            price: raw.price,
            deposit,
            buffer_after_minutes: raw.buffer_after_minutes,
            synonyms,
        })
    }

    fn duration(&self, field: &str, value: Spanned<u32>, slot: u32) -> Checked<u32> {
        let minutes = self.positive(field, value.clone())?;
        if minutes % slot != 0 {
            let problem = Problem::NotMultipleOfSlot {
                value: minutes,
                slot,
            };
            return Err(self.invalid(field, Some(value.span()), problem));
        }
        Ok(minutes)
    }

    fn deposit(
        &self,
        field: &str,
        deposit: Option<(u64, Range<usize>)>,
        price: u64,
    ) -> Checked<u64> {
        match deposit {
            Some((deposit, span)) if deposit > price => Err(self.invalid(
                field,
                Some(span),
                Problem::DepositOverPrice { deposit, price },
            )),
            Some((deposit, _)) => Ok(deposit),
            None => Ok(0),
        }
    }

    fn names(
        &self,
        field: &str,
        raw: RawNames,
        fallback: Language,
        span: Range<usize>,
    ) -> Checked<Names> {
        let text = |name: Option<Spanned<String>>, language: Language| match name {
            Some(name) => self
                .non_empty(&format!("{field}.{language}"), name)
                .map(Some),
            None => Ok(None),
        };
        let names = Names {
            es: text(raw.es, Language::Es)?,
            en: text(raw.en, Language::En)?,
            pt: text(raw.pt, Language::Pt)?,
            fallback,
        };
        if names.exact(fallback).is_none() {
            return Err(self.invalid(field, Some(span), Problem::MissingDefaultName(fallback)));
        }
        Ok(names)
    }

    fn all_staff(&self, raw: Vec<RawStaff>, known: &HashSet<&ServiceId>) -> Checked<Vec<Staff>> {
        if raw.is_empty() {
            return Err(self.invalid("staff", None, Problem::Empty));
        }
        let mut seen = HashSet::new();
        raw.into_iter()
            .enumerate()
            .map(|(index, raw)| self.staff(index, raw, known, &mut seen))
            .collect()
    }

    fn staff(
        &self,
        index: usize,
        raw: RawStaff,
        known: &HashSet<&ServiceId>,
        seen: &mut HashSet<String>,
    ) -> Checked<Staff> {
        let id = self.id(&format!("staff[{index}].id"), &raw.id, seen)?;
        let field = |name: &str| format!("staff[{id}].{name}");
        let (every_day, break_days) = raw.breaks.into_parts();
        Ok(Staff {
            name: self.non_empty(&field("name"), raw.name)?,
            services: self.offered(&field("services"), raw.services, known)?,
            hours: self.week(&field("hours"), raw.hours.into_days(), Vec::new())?,
            breaks: self.week(&field("breaks"), break_days, every_day)?,
            days_off: self.days_off(&field("days_off"), raw.days_off)?,
            synonyms: self.synonyms(&field("synonyms"), raw.synonyms)?,
            id: StaffId::new(id),
        })
    }

    fn offered(
        &self,
        field: &str,
        raw: Spanned<Vec<Spanned<String>>>,
        known: &HashSet<&ServiceId>,
    ) -> Checked<Vec<ServiceId>> {
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.is_empty() {
            return Err(self.invalid(field, Some(span), Problem::Empty));
        }
        let mut seen = HashSet::new();
        raw.into_iter()
            .map(|text| {
                let id = ServiceId::new(text.get_ref().clone());
                if !known.contains(&id) {
                    let problem = Problem::UnknownService(id.as_str().to_owned());
                    return Err(self.invalid(field, Some(text.span()), problem));
                }
                if !seen.insert(id.clone()) {
                    let problem = Problem::DuplicateId(id.as_str().to_owned());
                    return Err(self.invalid(field, Some(text.span()), problem));
                }
                Ok(id)
            })
            .collect()
    }

    fn days_off(
        &self,
        field: &str,
        raw: Vec<Spanned<toml::Value>>,
    ) -> Checked<BTreeSet<NaiveDate>> {
        raw.into_iter()
            .map(|value| {
                date_of(value.get_ref()).ok_or_else(|| {
                    let shown = match value.get_ref() {
                        toml::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    self.invalid(field, Some(value.span()), Problem::BadDate(shown))
                })
            })
            .collect()
    }

    /// A service's synonyms, each with its language; none may be blank.
    fn service_synonyms(&self, field: &str, raw: RawSynonyms) -> Checked<Vec<(Language, String)>> {
        let mut all = Vec::new();
        for (language, words) in [
            (Language::Es, raw.es),
            (Language::En, raw.en),
            (Language::Pt, raw.pt),
        ] {
            for word in self.synonyms(&format!("{field}.{language}"), words)? {
                all.push((language, word));
            }
        }
        Ok(all)
    }

    /// Synonyms as written: none may be blank or hold no letter (it could never be matched).
    fn synonyms(&self, field: &str, raw: Vec<Spanned<String>>) -> Checked<Vec<String>> {
        raw.into_iter()
            .map(|word| {
                if !word.get_ref().chars().any(char::is_alphabetic) {
                    return Err(self.invalid(field, Some(word.span()), Problem::Empty));
                }
                Ok(word.into_inner())
            })
            .collect()
    }

    fn every_service_offered(&self, services: &[Service], staff: &[Staff]) -> Checked<()> {
        match services
            .iter()
            .find(|service| !staff.iter().any(|member| member.offers(&service.id)))
        {
            Some(service) => Err(self.invalid(
                format!("services[{}]", service.id),
                None,
                Problem::NotOffered,
            )),
            None => Ok(()),
        }
    }
}

/// A TOML date (`2026-05-15`) or a string holding one (`"2026-05-15"`); a date-time is not a day.
fn date_of(value: &toml::Value) -> Option<NaiveDate> {
    match value {
        toml::Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
        toml::Value::Datetime(datetime) if datetime.time.is_none() && datetime.offset.is_none() => {
            let date = datetime.date?;
            NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{NaiveDate, Weekday};

    use crate::booking::catalog::test_support::{MINIMAL, SECOND_SERVICE, invalid, range, with};
    use crate::booking::catalog::{Language, Problem, parse};

    #[test]
    fn empty_texts_are_rejected() {
        let (field, line, problem) = invalid(&with("name = \"Test\"", "name = \" \""));
        assert_eq!(
            (field.as_str(), line, problem),
            ("salon.name", Some(3), Problem::Empty)
        );
        let (field, _, problem) = invalid(&with("category = \"cut\"", "category = \"\""));
        assert_eq!(
            (field.as_str(), problem),
            ("services[cut].category", Problem::Empty)
        );
    }

    #[test]
    fn unknown_time_zone_is_rejected_with_its_line() {
        let error = parse(&with("Europe/Madrid", "Europe/Madird")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 5: salon.time_zone: unknown time zone \"Europe/Madird\" \
             (expected an IANA name such as \"Europe/Madrid\")"
        );
    }

    #[test]
    fn currency_must_be_three_capital_letters() {
        for bad in ["eur", "EURO", "€"] {
            let (field, _, problem) = invalid(&with("\"EUR\"", &format!("{bad:?}")));
            assert_eq!(field, "salon.currency");
            assert_eq!(problem, Problem::BadCurrency(bad.to_owned()));
        }
    }

    #[test]
    fn numbers_that_must_be_positive() {
        for (from, to, field) in [
            (
                "slot_minutes = 15",
                "slot_minutes = 0",
                "salon.slot_minutes",
            ),
            (
                "horizon_days = 30",
                "horizon_days = 0",
                "salon.horizon_days",
            ),
            (
                "hold_minutes = 10",
                "hold_minutes = 0",
                "salon.hold_minutes",
            ),
            (
                "duration_minutes = 30",
                "duration_minutes = 0",
                "services[cut].duration_minutes",
            ),
        ] {
            let (got, _, problem) = invalid(&with(from, to));
            assert_eq!((got.as_str(), problem), (field, Problem::Zero));
        }
    }

    #[test]
    fn slot_minutes_must_divide_the_day() {
        let (field, _, problem) = invalid(&with("slot_minutes = 15", "slot_minutes = 7"));
        assert_eq!(
            (field.as_str(), problem),
            ("salon.slot_minutes", Problem::SlotNotDividingDay(7))
        );
    }

    #[test]
    fn durations_must_be_multiples_of_the_slot() {
        let (field, line, problem) =
            invalid(&with("duration_minutes = 30", "duration_minutes = 40"));
        assert_eq!(field, "services[cut].duration_minutes");
        assert_eq!(line, Some(20));
        assert_eq!(
            problem,
            Problem::NotMultipleOfSlot {
                value: 40,
                slot: 15
            }
        );
    }

    #[test]
    fn ids_must_be_well_formed_and_unique() {
        let (field, _, problem) = invalid(&with("id = \"cut\"", "id = \"corte de pelo\""));
        assert_eq!(
            (field.as_str(), problem),
            ("services[0].id", Problem::BadId("corte de pelo".into()))
        );

        let twice = format!(
            "{MINIMAL}{}",
            SECOND_SERVICE.replace("\"nails\"\nname", "\"cut\"\nname")
        );
        let (field, line, problem) = invalid(&twice);
        assert_eq!(
            (field.as_str(), problem),
            ("services[1].id", Problem::DuplicateId("cut".into()))
        );
        assert_eq!(line, Some(30));

        let staff_twice =
            format!("{MINIMAL}\n[[staff]]\nid = \"ana\"\nname = \"Ana B\"\nservices = [\"cut\"]\n");
        let (field, _, problem) = invalid(&staff_twice);
        assert_eq!(
            (field.as_str(), problem),
            ("staff[1].id", Problem::DuplicateId("ana".into()))
        );
    }

    #[test]
    fn staff_must_offer_known_services_once() {
        let (field, line, problem) = invalid(&with(
            "services = [\"cut\"]",
            "services = [\"cut\", \"perm\"]",
        ));
        assert_eq!(
            (field.as_str(), problem),
            (
                "staff[ana].services",
                Problem::UnknownService("perm".into())
            )
        );
        assert_eq!(line, Some(26));

        let (_, _, problem) = invalid(&with(
            "services = [\"cut\"]",
            "services = [\"cut\", \"cut\"]",
        ));
        assert_eq!(problem, Problem::DuplicateId("cut".into()));

        let (field, _, problem) = invalid(&with("services = [\"cut\"]", "services = []"));
        assert_eq!(
            (field.as_str(), problem),
            ("staff[ana].services", Problem::Empty)
        );
    }

    #[test]
    fn every_service_needs_someone_to_offer_it() {
        let (field, _, problem) = invalid(&format!("{MINIMAL}{SECOND_SERVICE}"));
        assert_eq!(
            (field.as_str(), problem),
            ("services[nails]", Problem::NotOffered)
        );
    }

    #[test]
    fn a_catalog_needs_services_and_staff() {
        let no_staff = MINIMAL.split("[[staff]]").next().unwrap();
        let (field, _, problem) = invalid(no_staff);
        assert_eq!((field.as_str(), problem), ("staff", Problem::Empty));

        let (head, tail) = MINIMAL.split_once("[[services]]").unwrap();
        let staff = tail.split_once("[[staff]]").unwrap().1;
        let (field, _, problem) = invalid(&format!("{head}[[staff]]{staff}"));
        assert_eq!((field.as_str(), problem), ("services", Problem::Empty));
    }

    #[test]
    fn ranges_of_a_day_must_not_overlap() {
        let (field, line, problem) = invalid(&with(
            "[\"09:00-14:00\"]",
            "[\"16:00-20:00\", \"09:00-14:00\", \"13:30-15:00\"]",
        ));
        assert_eq!(field, "staff[ana].hours.mon");
        assert_eq!(line, Some(27));
        assert_eq!(
            problem,
            Problem::Overlap(range("13:30-15:00"), range("09:00-14:00"))
        );
        assert_eq!(problem.to_string(), "13:30-15:00 overlaps 09:00-14:00");
    }

    #[test]
    fn breaks_of_every_day_and_of_one_day_must_not_overlap() {
        let breaks = "hours.mon = [\"09:00-14:00\"]\nbreaks.every_day = [\"11:00-11:30\"]\nbreaks.mon = [\"11:15-11:45\"]";
        let (field, _, problem) = invalid(&with("hours.mon = [\"09:00-14:00\"]", breaks));
        assert_eq!(field, "staff[ana].breaks.mon");
        assert_eq!(
            problem,
            Problem::Overlap(range("11:15-11:45"), range("11:00-11:30"))
        );

        let twice =
            "hours.mon = [\"09:00-14:00\"]\nbreaks.every_day = [\"11:00-11:30\", \"11:15-11:20\"]";
        let (field, _, _) = invalid(&with("hours.mon = [\"09:00-14:00\"]", twice));
        assert_eq!(field, "staff[ana].breaks.every_day");

        let fine = "hours.mon = [\"09:00-14:00\"]\nbreaks.every_day = [\"11:00-11:30\"]\nbreaks.tue = [\"12:00-12:15\"]";
        let catalog = parse(&with("hours.mon = [\"09:00-14:00\"]", fine)).unwrap();
        let ana = &catalog.staff()[0];
        assert_eq!(
            ana.breaks.on(Weekday::Tue),
            &[range("11:00-11:30"), range("12:00-12:15")]
        );
        assert_eq!(ana.breaks.on(Weekday::Sun), &[range("11:00-11:30")]);
    }

    #[test]
    fn days_off_are_iso_dates() {
        let days = "services = [\"cut\"]\ndays_off = [2026-05-15, \"2026-12-24\"]";
        let catalog = parse(&with("services = [\"cut\"]", days)).unwrap();
        let expected: BTreeSet<NaiveDate> = [(2026, 5, 15), (2026, 12, 24)]
            .into_iter()
            .map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
            .collect();
        assert_eq!(catalog.staff()[0].days_off, expected);

        for (bad, shown) in [
            ("\"15/05/2026\"", "15/05/2026"),
            ("2026-05-15T10:00:00", "2026-05-15T10:00:00"),
            ("\"2026-02-30\"", "2026-02-30"),
        ] {
            let (field, _, problem) = invalid(&with(
                "services = [\"cut\"]",
                &format!("services = [\"cut\"]\ndays_off = [{bad}]"),
            ));
            assert_eq!(
                (field.as_str(), problem),
                ("staff[ana].days_off", Problem::BadDate(shown.into()))
            );
        }
    }

    #[test]
    fn every_service_needs_a_name_in_the_default_language() {
        let (field, _, problem) = invalid(&with("name.es = \"Corte\"", "name.en = \"Cut\""));
        assert_eq!(
            (field.as_str(), problem),
            (
                "services[cut].name",
                Problem::MissingDefaultName(Language::Es)
            )
        );
        assert!(
            parse(&with("name.es = \"Corte\"", "name.en = \"Cut\"").replace("\"es\"", "\"en\""))
                .is_ok()
        );
    }

    #[test]
    fn a_deposit_cannot_exceed_the_price() {
        let (field, _, problem) = invalid(&with("price = 2000", "price = 2000\ndeposit = 2500"));
        assert_eq!(field, "services[cut].deposit");
        assert_eq!(
            problem,
            Problem::DepositOverPrice {
                deposit: 2500,
                price: 2000
            }
        );
        let catalog = parse(&with("price = 2000", "price = 2000\ndeposit = 2000")).unwrap();
        assert!(catalog.services()[0].has_deposit());
    }
}

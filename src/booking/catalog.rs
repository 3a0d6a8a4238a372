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

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

/// Minutes in a day: a [`TimeRange`] may end at `24:00`, which is this.
pub const MINUTES_PER_DAY: u16 = 24 * 60;

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
    Checker { text }.catalog(raw)
}

/// The TOML crate's message, with the line it points at (which names the key or table in question).
fn syntax_error(text: &str, error: &toml::de::Error) -> CatalogError {
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

fn line_of(text: &str, offset: usize) -> Option<usize> {
    text.get(..offset)
        .map(|before| before.matches('\n').count() + 1)
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

/// The id of a service (`[[services]] id`), such as `cut-women`. Also what buttons and list rows carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(String);

/// The id of a staff member (`[[staff]] id`), such as `lucia`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StaffId(String);

macro_rules! id_type {
    ($name:ident) => {
        impl $name {
            /// Wraps an id; whether it exists is for the [`Catalog`] to say.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as written in the catalog.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(ServiceId);
id_type!(StaffId);

/// A language the bot speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Es,
    En,
    Pt,
}

impl Language {
    /// Every language, in a stable order.
    pub const ALL: [Language; 3] = [Language::Es, Language::En, Language::Pt];

    /// The ISO 639-1 code: `es`, `en` or `pt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Es => "es",
            Language::En => "en",
            Language::Pt => "pt",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a deposit when the customer cancels after the free cancellation deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LateDeposit {
    /// The salon keeps it.
    Keep,
    /// It is given back all the same.
    Refund,
}

/// The cancellation policy (`[salon.cancellation]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancellationPolicy {
    /// Cancelling at least this many hours before the appointment is free (the deposit is refunded).
    pub free_until_hours: u32,
    /// What happens to the deposit when cancelling later than that.
    pub late_deposit: LateDeposit,
}

/// The salon itself (`[salon]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Salon {
    pub name: String,
    pub address: String,
    /// The IANA time zone all hours and dates of the catalog are in.
    pub time_zone: Tz,
    /// ISO 4217 code of prices and deposits, such as `EUR`.
    pub currency: String,
    /// The language of customers whose language is unknown, and the one every name must exist in.
    pub default_language: Language,
    /// Granularity of the slot grid: slots start at local multiples of it from midnight.
    pub slot_minutes: u32,
    /// Days that can be booked: today and the `horizon_days - 1` following days (salon-local dates).
    pub horizon_days: u32,
    /// The earliest bookable start is this many minutes after now.
    pub min_notice_minutes: u32,
    /// How long a slot is held for a customer who is confirming or paying.
    pub hold_minutes: u32,
    pub cancellation: CancellationPolicy,
    /// How long before an appointment the reminder is sent (0: no reminder).
    pub reminder_hours: u32,
    /// Opening hours; staff work only within them.
    pub hours: WeeklyHours,
}

/// A name in the bot's languages; always present in the default language, used as the fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    es: Option<String>,
    en: Option<String>,
    pt: Option<String>,
    fallback: Language,
}

impl Names {
    /// The name in `language`, else in the catalog's default language.
    pub fn get(&self, language: Language) -> &str {
        self.exact(language)
            .or_else(|| self.exact(self.fallback))
            .unwrap_or_default()
    }

    /// The name in `language` only if it was written for it.
    pub fn exact(&self, language: Language) -> Option<&str> {
        match language {
            Language::Es => self.es.as_deref(),
            Language::En => self.en.as_deref(),
            Language::Pt => self.pt.as_deref(),
        }
    }
}

/// One service (`[[services]]`). Money is in minor units of the salon's currency (cents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub name: Names,
    /// A free-form group such as `cut`, `colour` or `nails`, for menus.
    pub category: String,
    /// Time with the customer; a positive multiple of the salon's `slot_minutes`.
    pub duration_minutes: u32,
    pub price: u64,
    /// Paid when booking; 0 means no deposit. Never more than the price.
    pub deposit: u64,
    /// Time the staff member needs after the service (cleaning, colour processing) before the next one.
    pub buffer_after_minutes: u32,
}

impl Service {
    /// Whether booking this service asks for a deposit.
    pub fn has_deposit(&self) -> bool {
        self.deposit > 0
    }

    /// Minutes a booking takes from its staff member's day: duration plus buffer.
    pub fn occupied_minutes(&self) -> u32 {
        self.duration_minutes + self.buffer_after_minutes
    }
}

/// One staff member (`[[staff]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: StaffId,
    pub name: String,
    /// The services they offer (all exist in the catalog).
    pub services: Vec<ServiceId>,
    /// Their working hours (clipped to the salon's when computing availability).
    pub hours: WeeklyHours,
    /// Breaks per weekday, the `every_day` ones already included in each day.
    pub breaks: WeeklyHours,
    /// Salon-local dates on which they do not work.
    pub days_off: BTreeSet<NaiveDate>,
}

impl Staff {
    /// Whether they offer the service.
    pub fn offers(&self, service: &ServiceId) -> bool {
        self.services.contains(service)
    }

    /// Whether `day` is one of their days off.
    pub fn is_off(&self, day: NaiveDate) -> bool {
        self.days_off.contains(&day)
    }
}

/// Ranges of local wall-clock time per weekday, sorted and not overlapping. A missing day is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours {
    days: [Vec<TimeRange>; 7],
}

impl WeeklyHours {
    /// The ranges of a weekday, sorted by start.
    pub fn on(&self, weekday: Weekday) -> &[TimeRange] {
        let index = weekday.num_days_from_monday() as usize;
        self.days.get(index).map(Vec::as_slice).unwrap_or_default()
    }
}

/// A range of local wall-clock time within one day, `[start, end)` in minutes from midnight; the end
/// may be `24:00`. Written `"09:00-14:00"` in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

impl TimeRange {
    /// A range from `start` to `end` minutes after midnight, if `start < end <= 24:00`.
    pub fn new(start: u16, end: u16) -> Option<Self> {
        (start < end && end <= MINUTES_PER_DAY).then_some(Self { start, end })
    }

    /// Minutes from midnight to the start.
    pub fn start_minute(self) -> u16 {
        self.start
    }

    /// Minutes from midnight to the end (exclusive; up to 1440).
    pub fn end_minute(self) -> u16 {
        self.end
    }

    /// Whether the two ranges share any minute (touching ends do not).
    pub fn overlaps(self, other: TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The minutes both ranges cover, if any.
    pub fn intersection(self, other: TimeRange) -> Option<TimeRange> {
        TimeRange::new(self.start.max(other.start), self.end.min(other.end))
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = (self.start, self.end);
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            start / 60,
            start % 60,
            end / 60,
            end % 60
        )
    }
}

fn parse_range(text: &str) -> Result<TimeRange, Problem> {
    let bad = || Problem::BadRange(text.to_owned());
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let (start, end) = (
        parse_clock(start.trim()).ok_or_else(bad)?,
        parse_clock(end.trim()).ok_or_else(bad)?,
    );
    TimeRange::new(start, end).ok_or_else(|| Problem::EndNotAfterStart(text.to_owned()))
}

/// `HH:MM` (or `H:MM`) as minutes from midnight; `24:00` is the end of the day.
fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let digits = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    let (hours, minutes) = (
        digits(hours, 2)?,
        digits(minutes, 2).filter(|_| minutes.len() == 2)?,
    );
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= MINUTES_PER_DAY).then_some(total)
}

// ---------------------------------------------------------------------------------------------------
// The file's shape. Spans are kept where a later check needs to point at a line.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    salon: RawSalon,
    #[serde(default)]
    services: Vec<RawService>,
    #[serde(default)]
    staff: Vec<RawStaff>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSalon {
    name: Spanned<String>,
    address: Spanned<String>,
    time_zone: Spanned<String>,
    currency: Spanned<String>,
    default_language: Language,
    slot_minutes: Spanned<u32>,
    horizon_days: Spanned<u32>,
    min_notice_minutes: u32,
    hold_minutes: Spanned<u32>,
    reminder_hours: u32,
    cancellation: RawCancellation,
    hours: RawWeek,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCancellation {
    free_until_hours: u32,
    late_deposit: LateDeposit,
}

type RawRanges = Vec<Spanned<String>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWeek {
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
    fn into_days(self) -> [RawRanges; 7] {
        [
            self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun,
        ]
    }
}

/// Breaks: per weekday, and `every_day` for those taken on every working day.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBreaks {
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
    fn into_parts(self) -> (RawRanges, [RawRanges; 7]) {
        let days = [
            self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun,
        ];
        (self.every_day, days)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: Spanned<String>,
    name: RawNames,
    category: Spanned<String>,
    duration_minutes: Spanned<u32>,
    price: u64,
    deposit: Option<Spanned<u64>>,
    #[serde(default)]
    buffer_after_minutes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNames {
    es: Option<Spanned<String>>,
    en: Option<Spanned<String>>,
    pt: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaff {
    id: Spanned<String>,
    name: Spanned<String>,
    services: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    hours: RawWeek,
    #[serde(default)]
    breaks: RawBreaks,
    #[serde(default)]
    days_off: Vec<Spanned<toml::Value>>,
}

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

// ---------------------------------------------------------------------------------------------------
// From the file's shape to the catalog, checking as it goes; the first problem found is reported.

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
        Ok(Catalog {
            salon,
            services,
            staff,
        })
    }

    fn salon(&self, raw: RawSalon) -> Checked<Salon> {
        let slot_minutes = self.slot_minutes(raw.slot_minutes)?;
        Ok(Salon {
            name: self.non_empty("salon.name", raw.name)?,
            address: self.non_empty("salon.address", raw.address)?,
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
        })
    }

    fn non_empty(&self, field: &str, value: Spanned<String>) -> Checked<String> {
        if value.get_ref().trim().is_empty() {
            return Err(self.invalid(field, Some(value.span()), Problem::Empty));
        }
        Ok(value.into_inner())
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
        Ok(Service {
            name: self.names(
                &field("name"),
                raw.name,
                salon.default_language,
                raw.id.span(),
            )?,
            category: self.non_empty(&field("category"), raw.category)?,
            id: ServiceId(id),
            duration_minutes,
            price: raw.price,
            deposit,
            buffer_after_minutes: raw.buffer_after_minutes,
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
            id: StaffId(id),
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
                let id = ServiceId(text.get_ref().clone());
                if !known.contains(&id) {
                    let problem = Problem::UnknownService(id.0.clone());
                    return Err(self.invalid(field, Some(text.span()), problem));
                }
                if !seen.insert(id.clone()) {
                    let problem = Problem::DuplicateId(id.0.clone());
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
    use super::*;

    const MINIMAL: &str = r#"
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

    const SECOND_SERVICE: &str = r#"
[[services]]
id = "nails"
name.es = "Uñas"
category = "nails"
duration_minutes = 45
price = 1500
"#;

    fn with(from: &str, to: &str) -> String {
        assert!(MINIMAL.contains(from), "MINIMAL has no {from:?}");
        MINIMAL.replacen(from, to, 1)
    }

    /// The field and problem of a catalog that must be rejected by validation.
    fn invalid(text: &str) -> (String, Option<usize>, Problem) {
        match parse(text) {
            Err(CatalogError::Invalid {
                field,
                line,
                problem,
            }) => (field, line, problem),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn range(text: &str) -> TimeRange {
        parse_range(text).unwrap()
    }

    #[test]
    fn the_example_salon_parses() {
        let catalog = parse(include_str!("../../salon.toml")).unwrap();
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

    #[test]
    fn names_fall_back_to_the_default_language() {
        let catalog = parse(MINIMAL).unwrap();
        let cut = catalog.service(&ServiceId::new("cut")).unwrap();
        assert_eq!(cut.name.get(Language::Pt), "Corte");
        assert_eq!(cut.name.exact(Language::Pt), None);
        assert!(!cut.has_deposit());
        assert_eq!(cut.buffer_after_minutes, 0);
    }

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
    fn time_ranges_must_be_well_formed() {
        for bad in [
            "9-14",
            "09:00",
            "09:60-10:00",
            "24:30-25:00",
            "0900-1400",
            "09:00-14:0",
            "a:00-14:00",
        ] {
            let (field, _, problem) = invalid(&with("[\"09:00-20:00\"]", &format!("[{bad:?}]")));
            assert_eq!(
                (field.as_str(), problem),
                ("salon.hours.mon[0]", Problem::BadRange(bad.into()))
            );
        }
        assert_eq!(range("9:00 - 24:00"), TimeRange::new(540, 1440).unwrap());
        assert_eq!(range("00:00-24:00").to_string(), "00:00-24:00");
    }

    #[test]
    fn time_ranges_must_end_after_they_start() {
        for bad in ["14:00-09:00", "10:00-10:00", "24:00-24:00"] {
            let (field, _, problem) = invalid(&with("[\"09:00-14:00\"]", &format!("[{bad:?}]")));
            assert_eq!(
                (field.as_str(), problem),
                (
                    "staff[ana].hours.mon[0]",
                    Problem::EndNotAfterStart(bad.into())
                )
            );
        }
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

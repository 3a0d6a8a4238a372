//! Availability: which start times can be offered for a service on a day, by whom.
//!
//! A pure function of the [`Catalog`], the clock and the staff's busy intervals (live appointments and
//! holds, read by the caller from the store), so the engine can show slots and tests can pin every rule
//! down to the instant. The database's exclusion constraint stays the final word on double booking;
//! this module decides what is worth offering.
//!
//! # Conventions
//!
//! * **Busy and occupied intervals are half-open and include the buffer.** A stored appointment or hold
//!   occupies `[start, start + duration + buffer_after)`; [`Busy`] carries exactly that interval, and a
//!   [`Slot`] is free when its own `[start, occupies_until)` overlaps no busy interval of its staff
//!   member. Touching intervals (one ends when the other starts) do not overlap.
//! * **The slot grid is local wall-clock time**: starts are the multiples of `slot_minutes` from the
//!   salon's local midnight that fall within the day's working ranges (salon hours ∩ staff hours, minus
//!   breaks, none on a day off). The service plus its buffer must end, in real elapsed time, by the
//!   instant the working range ends.
//! * **Daylight saving.** A grid time that does not exist (the spring-forward gap) is skipped. A grid
//!   time that exists twice (the fall-back overlap) is taken at its *earlier* instant, and the grid goes
//!   on in wall-clock time: after `02:45` (first pass, summer time) comes `03:00` (winter time), so the
//!   repeated hour yields no second set of starts, and a staff member's starts stay distinct and
//!   increasing. A range boundary that falls in a gap is the first instant after the gap (a salon that
//!   "opens at 00:00" on a day whose midnight does not exist opens when the clock shows 01:00); a
//!   boundary in an overlap is its earlier instant, like starts.
//! * **Dates are salon-local.** Bookable days are today (the salon's date at `now`) and the following
//!   `horizon_days - 1` days; a start must be at least `min_notice_minutes` after `now`.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::catalog::{Catalog, Salon, Service, ServiceId, Staff, StaffId, TimeRange};

/// Longest run of non-existent local times looked through to find where a range boundary lands: a
/// whole day (Samoa skipped 2011-12-30 entirely), more than any ordinary DST gap.
const MAX_GAP_MINUTES: i64 = 24 * 60;

/// Whom the customer wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffChoice {
    /// Whoever is free: for each start time, the first staff member in catalog order who is.
    Anyone,
    /// This staff member only.
    Specific(StaffId),
}

/// Time a staff member is already taken: a live appointment or hold, as stored, i.e.
/// `[start, start + duration + buffer_after)` (see the module's conventions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub staff: StaffId,
    pub start: DateTime<Utc>,
    /// Exclusive, and already including the buffer after the service.
    pub end: DateTime<Utc>,
}

/// A start time that can be offered, with the staff member who would do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub staff: StaffId,
    pub start: DateTime<Utc>,
    /// When the service ends for the customer: `start + duration`.
    pub end: DateTime<Utc>,
    /// When the staff member is free again: `end + buffer_after`; the interval to store as busy.
    pub occupies_until: DateTime<Utc>,
}

/// The free slots for `service` on the salon-local `day`, in increasing start order.
///
/// Empty when the service or staff member is unknown, the staff member does not offer the service, or
/// the day is outside today..today+horizon. With [`StaffChoice::Anyone`] there is one slot per start
/// time, given to the first free staff member in catalog order.
pub fn free_slots(
    catalog: &Catalog,
    service: &ServiceId,
    staff: StaffChoice,
    day: NaiveDate,
    now: DateTime<Utc>,
    busy: &[Busy],
) -> Vec<Slot> {
    slots_on(catalog, service, &staff, day, now, busy)
}

/// Up to `count_days` salon-local days, from `from` on (and not before today), that have at least one
/// free slot, in order; the search stops at the last day of the booking horizon.
pub fn days_with_slots(
    catalog: &Catalog,
    service: &ServiceId,
    staff: StaffChoice,
    from: NaiveDate,
    count_days: u32,
    now: DateTime<Utc>,
    busy: &[Busy],
) -> Vec<NaiveDate> {
    let salon = catalog.salon();
    let today = local_today(salon, now);
    let Some(last) = last_bookable_day(salon, today) else {
        return Vec::new();
    };
    from.max(today)
        .iter_days()
        .take_while(|day| *day <= last)
        .filter(|day| !slots_on(catalog, service, &staff, *day, now, busy).is_empty())
        .take(usize::try_from(count_days).unwrap_or(usize::MAX))
        .collect()
}

fn slots_on(
    catalog: &Catalog,
    service_id: &ServiceId,
    choice: &StaffChoice,
    day: NaiveDate,
    now: DateTime<Utc>,
    busy: &[Busy],
) -> Vec<Slot> {
    let salon = catalog.salon();
    let Some(service) = catalog.service(service_id) else {
        return Vec::new();
    };
    if !is_bookable_day(salon, day, now) {
        return Vec::new();
    }
    let earliest = now + minutes(salon.min_notice_minutes);
    let grid: Vec<(usize, Slot)> = candidates(catalog, service_id, choice)
        .flat_map(|(rank, staff)| {
            staff_slots(salon, service, staff, day)
                .into_iter()
                .filter(|slot| slot.start >= earliest)
                .map(move |slot| (rank, slot))
        })
        .collect();
    let from = grid.iter().map(|(_, slot)| slot.start).min();
    let until = grid.iter().map(|(_, slot)| slot.occupies_until).max();
    let (Some(from), Some(until)) = (from, until) else {
        return Vec::new();
    };
    // Only busy time within the day's slots can take one of them: look at the rest once, not once
    // per slot (the salon's whole book covers the booking horizon).
    let day_busy: Vec<&Busy> = busy
        .iter()
        .filter(|taken| taken.start < until && from < taken.end)
        .collect();
    let mut slots: Vec<(usize, Slot)> = grid
        .into_iter()
        .filter(|(_, slot)| is_free(slot, &day_busy))
        .collect();
    // One slot per start: the lowest catalog rank among those free at that instant.
    slots.sort_by_key(|(rank, slot)| (slot.start, *rank));
    slots.dedup_by_key(|(_, slot)| slot.start);
    slots.into_iter().map(|(_, slot)| slot).collect()
}

/// The staff members who may do the service, with their rank in the catalog.
fn candidates<'a>(
    catalog: &'a Catalog,
    service: &'a ServiceId,
    choice: &'a StaffChoice,
) -> impl Iterator<Item = (usize, &'a Staff)> + 'a {
    catalog
        .staff()
        .iter()
        .enumerate()
        .filter(move |(_, staff)| staff.offers(service))
        .filter(move |(_, staff)| match choice {
            StaffChoice::Anyone => true,
            StaffChoice::Specific(id) => &staff.id == id,
        })
}

fn local_today(salon: &Salon, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&salon.time_zone).date_naive()
}

fn last_bookable_day(salon: &Salon, today: NaiveDate) -> Option<NaiveDate> {
    let ahead = salon.horizon_days.checked_sub(1)?;
    today.checked_add_days(Days::new(u64::from(ahead)))
}

fn is_bookable_day(salon: &Salon, day: NaiveDate, now: DateTime<Utc>) -> bool {
    let today = local_today(salon, now);
    last_bookable_day(salon, today).is_some_and(|last| today <= day && day <= last)
}

/// Every grid start of the staff member's working ranges that day where the service and its buffer
/// fit, before looking at notice and busy time.
fn staff_slots(salon: &Salon, service: &Service, staff: &Staff, day: NaiveDate) -> Vec<Slot> {
    if staff.is_off(day) {
        return Vec::new();
    }
    working_ranges(salon, staff, day)
        .into_iter()
        .flat_map(|range| range_slots(salon, service, &staff.id, day, range))
        .collect()
}

/// Salon hours ∩ staff hours, minus breaks, in local wall-clock minutes; sorted and disjoint.
fn working_ranges(salon: &Salon, staff: &Staff, day: NaiveDate) -> Vec<TimeRange> {
    let weekday = day.weekday();
    let open: Vec<TimeRange> = salon
        .hours
        .on(weekday)
        .iter()
        .flat_map(|salon_range| {
            staff
                .hours
                .on(weekday)
                .iter()
                .filter_map(move |staff_range| salon_range.intersection(*staff_range))
        })
        .collect();
    staff
        .breaks
        .on(weekday)
        .iter()
        .fold(open, |ranges, pause| subtract(&ranges, *pause))
}

/// The parts of `ranges` outside `cut`.
fn subtract(ranges: &[TimeRange], cut: TimeRange) -> Vec<TimeRange> {
    ranges
        .iter()
        .flat_map(|range| {
            if !range.overlaps(cut) {
                return vec![*range];
            }
            let before = TimeRange::new(range.start_minute(), cut.start_minute());
            let after = TimeRange::new(cut.end_minute(), range.end_minute());
            before.into_iter().chain(after).collect()
        })
        .collect()
}

/// The grid starts inside one working range whose occupied time ends by the range's end instant.
fn range_slots(
    salon: &Salon,
    service: &Service,
    staff: &StaffId,
    day: NaiveDate,
    range: TimeRange,
) -> Vec<Slot> {
    let tz = salon.time_zone;
    let Some(range_end) = first_instant_from(tz, wall_clock(day, range.end_minute())) else {
        return Vec::new();
    };
    let step = salon.slot_minutes;
    let first = u32::from(range.start_minute()).div_ceil(step) * step;
    (first..u32::from(range.end_minute()))
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .filter_map(|minute| instant(tz, wall_clock(day, minute)))
        .map(|start| slot_at(service, staff, start))
        .filter(|slot| slot.occupies_until <= range_end)
        .collect()
}

fn slot_at(service: &Service, staff: &StaffId, start: DateTime<Utc>) -> Slot {
    let end = start + minutes(service.duration_minutes);
    Slot {
        staff: staff.clone(),
        start,
        end,
        occupies_until: end + minutes(service.buffer_after_minutes),
    }
}

fn is_free(slot: &Slot, busy: &[&Busy]) -> bool {
    busy.iter()
        .filter(|taken| taken.staff == slot.staff)
        .all(|taken| taken.end <= slot.start || slot.occupies_until <= taken.start)
}

fn minutes(count: u32) -> TimeDelta {
    TimeDelta::minutes(i64::from(count))
}

/// The local wall-clock time `minute` minutes after the day's midnight (1440 is the next midnight).
fn wall_clock(day: NaiveDate, minute: impl Into<i64>) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN) + TimeDelta::minutes(minute.into())
}

/// The instant of a local time: `None` in a gap, the earlier instant in an overlap.
fn instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

/// The instant of a local time, or if it falls in a gap, of the first local minute after the gap.
fn first_instant_from(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    (0..=MAX_GAP_MINUTES).find_map(|offset| instant(tz, local + TimeDelta::minutes(offset)))
}

#[cfg(test)]
mod tests {
    use chrono::{Offset, Timelike};

    use super::*;
    use crate::booking::catalog::parse;

    /// Madrid, open Monday to Saturday 09:00-20:00 (summer time, UTC+2, in June 2026). Ana works
    /// weekdays in two ranges with a break and a day off; Bea works 08:00-21:00 (clipped to the salon's
    /// hours) Monday to Saturday, cuts only.
    const MADRID: &str = r#"
[salon]
name = "Test"
address = "Calle Mayor 1"
time_zone = "Europe/Madrid"
currency = "EUR"
default_language = "es"
slot_minutes = 15
horizon_days = 60
min_notice_minutes = 60
hold_minutes = 10
reminder_hours = 24
cancellation = { free_until_hours = 24, late_deposit = "keep" }
hours = { mon = ["09:00-20:00"], tue = ["09:00-20:00"], wed = ["09:00-20:00"], thu = ["09:00-20:00"], fri = ["09:00-20:00"], sat = ["09:00-20:00"] }

[[services]]
id = "cut"
name.es = "Corte"
category = "cut"
duration_minutes = 30
price = 2000

[[services]]
id = "colour"
name.es = "Color"
category = "colour"
duration_minutes = 60
price = 5000
deposit = 1000
buffer_after_minutes = 15

[[staff]]
id = "ana"
name = "Ana"
services = ["cut", "colour"]
hours = { mon = ["09:00-14:00", "16:00-20:00"], tue = ["09:00-14:00", "16:00-20:00"], wed = ["09:00-14:00", "16:00-20:00"], thu = ["09:00-14:00", "16:00-20:00"], fri = ["09:00-14:00", "16:00-20:00"] }
breaks.every_day = ["11:00-11:30"]
days_off = [2026-06-10]

[[staff]]
id = "bea"
name = "Bea"
services = ["cut"]
hours = { mon = ["08:00-21:00"], tue = ["08:00-21:00"], wed = ["08:00-21:00"], thu = ["08:00-21:00"], fri = ["08:00-21:00"], sat = ["08:00-21:00"] }
"#;

    fn madrid() -> Catalog {
        parse(MADRID).unwrap()
    }

    /// A salon open around the clock every day in `tz`, with no notice and a long horizon, whose one
    /// staff member works `hours` every day; services `cut` (30 min) and `long` (60 min).
    fn around_the_clock(tz: &str, hours: &str) -> Catalog {
        let week = |ranges: &str| {
            ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .map(|day| format!("{day} = [{ranges:?}]"))
                .join(", ")
        };
        let text = format!(
            r#"
[salon]
name = "Test"
address = "Somewhere"
time_zone = "{tz}"
currency = "EUR"
default_language = "es"
slot_minutes = 15
horizon_days = 400
min_notice_minutes = 0
hold_minutes = 10
reminder_hours = 24
cancellation = {{ free_until_hours = 24, late_deposit = "refund" }}
hours = {{ {salon} }}

[[services]]
id = "cut"
name.es = "Corte"
category = "cut"
duration_minutes = 30
price = 2000

[[services]]
id = "long"
name.es = "Largo"
category = "cut"
duration_minutes = 60
price = 2000

[[staff]]
id = "ana"
name = "Ana"
services = ["cut", "long"]
hours = {{ {staff} }}
"#,
            salon = week("00:00-24:00"),
            staff = week(hours),
        );
        parse(&text).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// `count` instants `step` minutes apart from `first`.
    fn every(first: DateTime<Utc>, step: i64, count: i64) -> Vec<DateTime<Utc>> {
        (0..count)
            .map(|i| first + TimeDelta::minutes(step * i))
            .collect()
    }

    fn starts(slots: &[Slot]) -> Vec<DateTime<Utc>> {
        slots.iter().map(|slot| slot.start).collect()
    }

    fn who(slots: &[Slot]) -> Vec<&str> {
        slots.iter().map(|slot| slot.staff.as_str()).collect()
    }

    fn id(text: &str) -> ServiceId {
        ServiceId::new(text)
    }

    fn ana() -> StaffChoice {
        StaffChoice::Specific(StaffId::new("ana"))
    }

    fn busy(staff: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Busy {
        Busy {
            staff: StaffId::new(staff),
            start,
            end,
        }
    }

    /// Monday 2026-06-01 10:00 in Madrid.
    fn now() -> DateTime<Utc> {
        at(2026, 6, 1, 8, 0)
    }

    /// Monday 2026-06-08, a week after [`now`].
    fn monday() -> NaiveDate {
        date(2026, 6, 8)
    }

    #[test]
    fn slots_follow_the_grid_within_hours_and_around_breaks() {
        let slots = free_slots(&madrid(), &id("cut"), ana(), monday(), now(), &[]);
        // 09:00-10:30 (the 10:45 cut would run into the 11:00 break), 11:30-13:30, 16:00-19:30 local.
        let expected: Vec<_> = [
            every(at(2026, 6, 8, 7, 0), 15, 7),
            every(at(2026, 6, 8, 9, 30), 15, 9),
            every(at(2026, 6, 8, 14, 0), 15, 15),
        ]
        .concat();
        assert_eq!(starts(&slots), expected);
        assert!(slots.iter().all(|slot| slot.staff.as_str() == "ana"
            && slot.end == slot.start + TimeDelta::minutes(30)
            && slot.occupies_until == slot.end));
    }

    #[test]
    fn the_buffer_must_fit_before_the_range_ends() {
        let slots = free_slots(&madrid(), &id("colour"), ana(), monday(), now(), &[]);
        // 60 minutes + 15 of buffer: the last morning start is 09:45 (done at 11:00, the break).
        let expected: Vec<_> = [
            every(at(2026, 6, 8, 7, 0), 15, 4),
            every(at(2026, 6, 8, 9, 30), 15, 6),
            every(at(2026, 6, 8, 14, 0), 15, 12),
        ]
        .concat();
        assert_eq!(starts(&slots), expected);
        let last_morning = &slots[3];
        assert_eq!(last_morning.start, at(2026, 6, 8, 7, 45));
        assert_eq!(last_morning.end, at(2026, 6, 8, 8, 45));
        assert_eq!(last_morning.occupies_until, at(2026, 6, 8, 9, 0));
    }

    #[test]
    fn starts_respect_the_minimum_notice() {
        let catalog = madrid();
        // 09:10 local + 60 minutes: the first start is 10:15 local.
        let slots = free_slots(
            &catalog,
            &id("cut"),
            ana(),
            monday(),
            at(2026, 6, 8, 7, 10),
            &[],
        );
        assert_eq!(slots[0].start, at(2026, 6, 8, 8, 15));
        // Exactly on the grid: 09:00 local + 60 minutes allows 10:00.
        let slots = free_slots(
            &catalog,
            &id("cut"),
            ana(),
            monday(),
            at(2026, 6, 8, 7, 0),
            &[],
        );
        assert_eq!(slots[0].start, at(2026, 6, 8, 8, 0));
        // After the last possible start, nothing is left that day.
        let slots = free_slots(
            &catalog,
            &id("cut"),
            ana(),
            monday(),
            at(2026, 6, 8, 17, 0),
            &[],
        );
        assert_eq!(slots, []);
    }

    #[test]
    fn days_outside_the_horizon_have_no_slots() {
        let catalog = madrid();
        let first_of = |day: NaiveDate, now: DateTime<Utc>| {
            starts(&free_slots(&catalog, &id("cut"), ana(), day, now, &[]))
                .first()
                .copied()
        };
        // Today is 2026-06-01: the 60 bookable days run to Thursday 2026-07-30.
        assert_eq!(
            first_of(date(2026, 7, 30), now()),
            Some(at(2026, 7, 30, 7, 0))
        );
        assert_eq!(first_of(date(2026, 7, 31), now()), None);
        assert_eq!(first_of(date(2026, 5, 29), now()), None);
        // 22:30 UTC on 06-01 is already 06-02 in Madrid: 06-01 is past and 07-31 is bookable.
        let late = at(2026, 6, 1, 22, 30);
        assert_eq!(first_of(date(2026, 6, 1), late), None);
        assert_eq!(
            first_of(date(2026, 7, 31), late),
            Some(at(2026, 7, 31, 7, 0))
        );
    }

    #[test]
    fn busy_time_removes_overlapping_slots_at_both_ends() {
        let catalog = madrid();
        // Ana is busy 17:00-17:45 local; Bea's appointment at 16:00 does not concern Ana.
        let taken = [
            busy("ana", at(2026, 6, 8, 15, 0), at(2026, 6, 8, 15, 45)),
            busy("bea", at(2026, 6, 8, 14, 0), at(2026, 6, 8, 14, 30)),
        ];
        let slots = free_slots(&catalog, &id("cut"), ana(), monday(), now(), &taken);
        let afternoon: Vec<_> = starts(&slots)
            .into_iter()
            .filter(|start| *start >= at(2026, 6, 8, 14, 0))
            .collect();
        // 16:45 would end inside it, 17:30 would start inside it; 16:30 and 17:45 only touch it.
        let expected: Vec<_> = [
            every(at(2026, 6, 8, 14, 0), 15, 3),
            every(at(2026, 6, 8, 15, 45), 15, 8),
        ]
        .concat();
        assert_eq!(afternoon, expected);
    }

    #[test]
    fn the_buffer_of_a_slot_must_not_overlap_busy_time() {
        // Ana is busy 18:00-19:00 local. A colour at 16:45 is done with its buffer at 18:00; one at
        // 17:00 ends at 18:00 but its buffer runs to 18:15.
        let taken = [busy("ana", at(2026, 6, 8, 16, 0), at(2026, 6, 8, 17, 0))];
        let slots = free_slots(&madrid(), &id("colour"), ana(), monday(), now(), &taken);
        let afternoon: Vec<_> = starts(&slots)
            .into_iter()
            .filter(|start| *start >= at(2026, 6, 8, 14, 0))
            .collect();
        assert_eq!(afternoon, every(at(2026, 6, 8, 14, 0), 15, 4));
    }

    #[test]
    fn a_busy_interval_that_includes_its_buffer_frees_the_staff_when_it_ends() {
        // A stored colour at 16:00 local occupies [16:00, 17:15): the next cut can start at 17:15.
        let taken = [busy("ana", at(2026, 6, 8, 14, 0), at(2026, 6, 8, 15, 15))];
        let slots = free_slots(&madrid(), &id("cut"), ana(), monday(), now(), &taken);
        let afternoon: Vec<_> = starts(&slots)
            .into_iter()
            .filter(|start| *start >= at(2026, 6, 8, 14, 0))
            .collect();
        assert_eq!(afternoon, every(at(2026, 6, 8, 15, 15), 15, 10));
    }

    #[test]
    fn anyone_takes_the_first_free_staff_member_once_per_start() {
        // Ana (first in the catalog) is busy 09:00-10:00 local.
        let taken = [busy("ana", at(2026, 6, 8, 7, 0), at(2026, 6, 8, 8, 0))];
        let slots = free_slots(
            &madrid(),
            &id("cut"),
            StaffChoice::Anyone,
            monday(),
            now(),
            &taken,
        );
        // Every quarter from 09:00 to 19:30 local once: nothing at 08:xx or 20:00 (the salon's hours).
        assert_eq!(starts(&slots), every(at(2026, 6, 8, 7, 0), 15, 43));
        let staff = who(&slots);
        assert_eq!(staff[..4], ["bea"; 4]); // 09:00-09:45: Ana is busy
        assert_eq!(staff[4..7], ["ana"; 3]); // 10:00-10:30
        assert_eq!(staff[7..10], ["bea"; 3]); // 10:45-11:15: Ana's break is at 11:00
        assert_eq!(staff[10], "ana"); // 11:30
        assert_eq!(staff[18], "ana"); // 13:30, done at 14:00
        assert_eq!(staff[19..28], ["bea"; 9]); // 13:45-15:45: Ana is off until 16:00
        assert_eq!(staff[28], "ana"); // 16:00
        assert_eq!(staff[42], "ana"); // 19:30
    }

    #[test]
    fn anyone_skips_staff_who_do_not_offer_the_service() {
        let slots = free_slots(
            &madrid(),
            &id("colour"),
            StaffChoice::Anyone,
            monday(),
            now(),
            &[],
        );
        assert!(!slots.is_empty());
        assert!(who(&slots).iter().all(|staff| *staff == "ana"));
    }

    #[test]
    fn a_day_off_has_no_slots() {
        let catalog = madrid();
        let wednesday = date(2026, 6, 10);
        assert_eq!(
            free_slots(&catalog, &id("cut"), ana(), wednesday, now(), &[]),
            []
        );
        let anyone = free_slots(
            &catalog,
            &id("cut"),
            StaffChoice::Anyone,
            wednesday,
            now(),
            &[],
        );
        assert_eq!(starts(&anyone), every(at(2026, 6, 10, 7, 0), 15, 43));
        assert!(who(&anyone).iter().all(|staff| *staff == "bea"));
    }

    #[test]
    fn unknown_or_unqualified_choices_have_no_slots() {
        let catalog = madrid();
        let bea = StaffChoice::Specific(StaffId::new("bea"));
        let nobody = StaffChoice::Specific(StaffId::new("zoe"));
        assert_eq!(
            free_slots(&catalog, &id("colour"), bea, monday(), now(), &[]),
            []
        );
        assert_eq!(
            free_slots(&catalog, &id("cut"), nobody, monday(), now(), &[]),
            []
        );
        assert_eq!(
            free_slots(
                &catalog,
                &id("perm"),
                StaffChoice::Anyone,
                monday(),
                now(),
                &[]
            ),
            []
        );
    }

    #[test]
    fn days_with_slots_skips_closed_days_and_days_off() {
        let catalog = madrid();
        // From Friday 06-05: Saturday Ana does not work, Sunday is closed, Wednesday 06-10 is her day off.
        let days = days_with_slots(&catalog, &id("cut"), ana(), date(2026, 6, 5), 4, now(), &[]);
        assert_eq!(
            days,
            [
                date(2026, 6, 5),
                date(2026, 6, 8),
                date(2026, 6, 9),
                date(2026, 6, 11)
            ]
        );
        // A fully busy Friday is skipped too.
        let taken = [busy("ana", at(2026, 6, 5, 0, 0), at(2026, 6, 5, 23, 0))];
        let days = days_with_slots(
            &catalog,
            &id("cut"),
            ana(),
            date(2026, 6, 5),
            1,
            now(),
            &taken,
        );
        assert_eq!(days, [date(2026, 6, 8)]);
    }

    #[test]
    fn days_with_slots_stays_within_today_and_the_horizon() {
        let catalog = madrid();
        let days = days_with_slots(
            &catalog,
            &id("cut"),
            ana(),
            date(2026, 7, 29),
            5,
            now(),
            &[],
        );
        assert_eq!(days, [date(2026, 7, 29), date(2026, 7, 30)]);
        let days = days_with_slots(&catalog, &id("cut"), ana(), date(2026, 5, 1), 1, now(), &[]);
        assert_eq!(days, [date(2026, 6, 1)]);
        let days = days_with_slots(&catalog, &id("cut"), ana(), date(2026, 6, 5), 0, now(), &[]);
        assert_eq!(days, []);
    }

    #[test]
    fn madrid_spring_forward_skips_the_missing_hour() {
        // 2026-03-29: at 02:00 CET (01:00 UTC) clocks jump to 03:00 CEST.
        let catalog = around_the_clock("Europe/Madrid", "00:00-06:00");
        let day = date(2026, 3, 29);
        let slots = free_slots(&catalog, &id("cut"), ana(), day, at(2026, 3, 1, 0, 0), &[]);
        // 00:00-01:45 CET, then 03:00-05:30 CEST: 02:xx does not exist.
        let expected = [
            every(at(2026, 3, 28, 23, 0), 15, 8),
            every(at(2026, 3, 29, 1, 0), 15, 11),
        ]
        .concat();
        assert_eq!(starts(&slots), expected);
        let tz = chrono_tz::Europe::Madrid;
        assert!(
            slots
                .iter()
                .all(|slot| slot.start.with_timezone(&tz).hour() != 2)
        );
        assert!(starts(&slots).windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn madrid_spring_forward_fits_services_in_real_time() {
        // Working 01:00 CET to 04:00 CEST is two real hours (00:00-02:00 UTC).
        let catalog = around_the_clock("Europe/Madrid", "01:00-04:00");
        let day = date(2026, 3, 29);
        let slots = free_slots(&catalog, &id("long"), ana(), day, at(2026, 3, 1, 0, 0), &[]);
        let mut expected = every(at(2026, 3, 29, 0, 0), 15, 4); // 01:00-01:45 CET
        expected.push(at(2026, 3, 29, 1, 0)); // 03:00 CEST, done at 04:00 CEST
        assert_eq!(starts(&slots), expected);
    }

    #[test]
    fn madrid_fall_back_uses_the_earlier_instant_and_no_repeated_starts() {
        // 2026-10-25: at 03:00 CEST (01:00 UTC) clocks go back to 02:00 CET; 02:xx happens twice.
        let catalog = around_the_clock("Europe/Madrid", "00:00-06:00");
        let day = date(2026, 10, 25);
        let slots = free_slots(&catalog, &id("cut"), ana(), day, at(2026, 10, 1, 0, 0), &[]);
        // 00:00-02:45 CEST (the first 02:xx), then 03:00-05:30 CET; the second 02:xx (01:00-01:45 UTC)
        // gives no starts.
        let expected = [
            every(at(2026, 10, 24, 22, 0), 15, 12),
            every(at(2026, 10, 25, 2, 0), 15, 11),
        ]
        .concat();
        assert_eq!(starts(&slots), expected);
        assert!(starts(&slots).windows(2).all(|pair| pair[0] < pair[1]));
        // The last start ends at 06:00 CET.
        assert_eq!(
            slots.last().map(|slot| slot.end),
            Some(at(2026, 10, 25, 5, 0))
        );
    }

    #[test]
    fn sao_paulo_has_no_dst_since_2019() {
        let tz = chrono_tz::America::Sao_Paulo;
        let catalog = around_the_clock("America/Sao_Paulo", "09:00-10:00");
        // January was summer time until 2019; now 09:00 is 12:00 UTC all year.
        for day in [date(2026, 1, 12), date(2026, 7, 13)] {
            let slots = free_slots(&catalog, &id("cut"), ana(), day, at(2026, 1, 1, 0, 0), &[]);
            let first = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
            assert_eq!(starts(&slots), every(first, 15, 3));
            let offset = slots[0].start.with_timezone(&tz).offset().fix();
            assert_eq!(offset.local_minus_utc(), -3 * 3600);
        }
    }

    #[test]
    fn sao_paulo_2018_dst_start_skips_the_missing_midnight() {
        // 2018-11-04: 00:00 -03 did not exist; clocks went from 23:59 to 01:00 -02 (03:00 UTC).
        let catalog = around_the_clock("America/Sao_Paulo", "00:00-03:00");
        let now = at(2018, 10, 1, 0, 0);
        let slots = free_slots(&catalog, &id("cut"), ana(), date(2018, 11, 4), now, &[]);
        assert_eq!(starts(&slots), every(at(2018, 11, 4, 3, 0), 15, 7));
        assert_eq!(
            slots.last().map(|slot| slot.end),
            Some(at(2018, 11, 4, 5, 0))
        );
    }

    #[test]
    fn sao_paulo_2018_a_day_ending_at_a_missing_midnight_ends_when_the_clock_jumps() {
        // On 11-03, "22:00-24:00" ends at the jump (03:00 UTC): the last cut starts at 23:30 -03.
        let catalog = around_the_clock("America/Sao_Paulo", "22:00-24:00");
        let now = at(2018, 10, 1, 0, 0);
        let slots = free_slots(&catalog, &id("cut"), ana(), date(2018, 11, 3), now, &[]);
        assert_eq!(starts(&slots), every(at(2018, 11, 4, 1, 0), 15, 7));
    }
}

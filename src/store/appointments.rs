//! Appointments: holds, bookings and their status changes, with no double booking ever.
//!
//! On Postgres an exclusion constraint refuses two live appointments of one staff member whose times
//! (service plus buffer) overlap, whatever the code does; on SQLite the overlap is checked inside the
//! write transaction (one writer, so nothing slips in between). Holds that ran out are expired in the
//! same transaction that books, since `now()` cannot be part of a constraint. Status changes are allowed
//! only along `AppointmentStatus::can_become`.
//! How room is made for a time differs (`pg::make_room`, `lite::make_room`); every other statement
//! is the same on both backends.

use chrono::{DateTime, Utc};

use super::turn::TurnError;
use super::{Store, StoreError, Time, Tx, named};
pub use crate::booking::appointment::Appointment;
use crate::booking::appointment::AppointmentStatus;

/// A slot to hold for a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHold {
    pub business_id: String,
    pub conversation_key: String,
    pub service_id: String,
    pub staff_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `ends_at` plus the service's buffer: the staff member is busy until then.
    pub occupied_until: DateTime<Utc>,
    pub hold_expires_at: DateTime<Utc>,
    pub deposit_minor: i64,
}

/// A staff member's busy time, for availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyTime {
    pub staff_id: String,
    pub starts_at: DateTime<Utc>,
    pub occupied_until: DateTime<Utc>,
}

impl From<BusyTime> for crate::booking::availability::Busy {
    fn from(b: BusyTime) -> Self {
        Self {
            staff: crate::booking::catalog::StaffId::new(b.staff_id),
            start: b.starts_at,
            end: b.occupied_until,
        }
    }
}

/// Why a booking change was refused.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// Someone else holds or booked an overlapping time with that staff member.
    #[error("the slot is taken")]
    SlotTaken,
    #[error("appointment {0} not found")]
    NotFound(i64),
    #[error("appointment {id} cannot go from {from} to {to}")]
    NotAllowed {
        id: i64,
        from: AppointmentStatus,
        to: AppointmentStatus,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for BookingError {
    fn from(err: sqlx::Error) -> Self {
        // 23P01: exclusion_violation, the database refusing a double booking.
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some("23P01")
        {
            return BookingError::SlotTaken;
        }
        BookingError::Store(StoreError::from(err))
    }
}

const LIVE: &str = "('held', 'pending_payment', 'confirmed')";

const COLUMNS: &str = "id, business_id, conversation_key, service_id, staff_id, starts_at, ends_at, \
     occupied_until, status, hold_expires_at, deposit_minor";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    business_id: String,
    conversation_key: String,
    service_id: String,
    staff_id: String,
    starts_at: Time,
    ends_at: Time,
    occupied_until: Time,
    status: String,
    hold_expires_at: Option<Time>,
    deposit_minor: i64,
}

impl TryFrom<Row> for Appointment {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Appointment {
            id: r.id,
            business_id: r.business_id,
            conversation_key: r.conversation_key,
            service_id: r.service_id,
            staff_id: r.staff_id,
            starts_at: r.starts_at.0,
            ends_at: r.ends_at.0,
            occupied_until: r.occupied_until.0,
            status: named(AppointmentStatus::parse, "appointment status", &r.status)?,
            hold_expires_at: r.hold_expires_at.map(|t| t.0),
            deposit_minor: r.deposit_minor,
        })
    }
}

fn appointment(row: Option<Row>) -> Result<Option<Appointment>, StoreError> {
    row.map(Appointment::try_from).transpose()
}

impl Store {
    /// Holds a slot for a customer, after expiring the holds that ran out on that staff member's
    /// overlapping time. `SlotTaken` when a live appointment overlaps.
    pub async fn hold_slot(
        &self,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        let mut tx = self.begin().await?;
        let held = tx.hold(hold, now).await?;
        tx.commit().await?;
        Ok(held)
    }

    /// Moves an appointment to `to` if its current status allows it.
    pub async fn transition_appointment(
        &self,
        id: i64,
        to: AppointmentStatus,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        let mut tx = self.begin().await?;
        let updated = tx.transition(id, to, now).await?;
        tx.commit().await?;
        match updated {
            Some(a) => Ok(a),
            None => match self.appointment(id).await? {
                Some(a) => Err(BookingError::NotAllowed {
                    id,
                    from: a.status,
                    to,
                }),
                None => Err(BookingError::NotFound(id)),
            },
        }
    }

    /// Moves a live appointment to another time (and staff member), keeping everything else (the
    /// deposit included). `SlotTaken` when the new time overlaps another live appointment.
    pub async fn reschedule_appointment(
        &self,
        id: i64,
        to: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        let mut tx = self.begin().await?;
        let moved = tx.reschedule(id, to, now).await?;
        tx.commit().await?;
        moved.ok_or(BookingError::NotFound(id))
    }

    /// Expires every hold whose time ran out; returns how many.
    pub async fn expire_holds(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on!(Store, self, |s| sqlx::query(
            "UPDATE appointments SET status = 'expired', updated_at = $1 \
             WHERE status = 'held' AND hold_expires_at <= $1",
        )
        .bind(Time(now))
        .execute(s.write())
        .await?
        .rows_affected()))
    }

    pub async fn appointment(&self, id: i64) -> Result<Option<Appointment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM appointments WHERE id = $1");
        appointment(on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(s.read())
            .await?))
    }

    /// How many live bookings still to come are kept under another business than `calendar` (the
    /// simulator's aside): made before every channel shared the salon's calendar, so the database
    /// does not keep them apart from the calendar's.
    pub async fn upcoming_outside(
        &self,
        calendar: &str,
        simulator: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT count(*) FROM appointments \
             WHERE business_id <> $1 AND business_id <> $2 AND status IN {LIVE} AND occupied_until > $3"
        );
        let (n,): (i64,) = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(calendar)
            .bind(simulator)
            .bind(Time(now))
            .fetch_one(s.read())
            .await?);
        Ok(n)
    }

    /// The live busy times of a business between two instants (holds that ran out excluded).
    pub async fn busy_times(
        &self,
        business_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BusyTime>, StoreError> {
        let sql = format!(
            "SELECT staff_id, starts_at, occupied_until FROM appointments \
             WHERE business_id = $1 AND status IN {LIVE} \
               AND NOT (status = 'held' AND hold_expires_at <= $4) \
               AND starts_at < $3 AND occupied_until > $2 ORDER BY starts_at"
        );
        let rows: Vec<(String, Time, Time)> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(business_id)
            .bind(Time(from))
            .bind(Time(to))
            .bind(Time(now))
            .fetch_all(s.read())
            .await?);
        Ok(rows
            .into_iter()
            .map(|(staff_id, starts_at, occupied_until)| BusyTime {
                staff_id,
                starts_at: starts_at.0,
                occupied_until: occupied_until.0,
            })
            .collect())
    }

    /// A customer's appointments, by start time.
    /// Appointments starting in `[from, to)`, whatever their status, by start then staff (the day
    /// view).
    pub async fn appointments_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Appointment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM appointments WHERE starts_at >= $1 AND starts_at < $2 \
             ORDER BY starts_at, staff_id, id"
        );
        let rows: Vec<Row> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(Time(from))
            .bind(Time(to))
            .fetch_all(s.read())
            .await?);
        rows.into_iter().map(Appointment::try_from).collect()
    }

    pub async fn conversation_appointments(
        &self,
        conversation_key: &str,
    ) -> Result<Vec<Appointment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM appointments WHERE conversation_key = $1 ORDER BY starts_at, id"
        );
        let rows: Vec<Row> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(conversation_key)
            .fetch_all(s.read())
            .await?);
        rows.into_iter().map(Appointment::try_from).collect()
    }
}

impl Tx<'_> {
    /// Holds a slot (see [`Store::hold_slot`]) inside this transaction.
    pub(super) async fn hold(
        &mut self,
        h: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        self.make_room(h, None, now).await?;
        let sql = format!(
            "INSERT INTO appointments (business_id, conversation_key, service_id, staff_id, starts_at, \
                 ends_at, occupied_until, status, hold_expires_at, deposit_minor, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'held', $8, $9, $10, $10) RETURNING {COLUMNS}"
        );
        let row: Row = on!(Tx, self, |tx| sqlx::query_as(&sql)
            .bind(&h.business_id)
            .bind(&h.conversation_key)
            .bind(&h.service_id)
            .bind(&h.staff_id)
            .bind(Time(h.starts_at))
            .bind(Time(h.ends_at))
            .bind(Time(h.occupied_until))
            .bind(Time(h.hold_expires_at))
            .bind(h.deposit_minor)
            .bind(Time(now))
            .fetch_one(&mut **tx)
            .await?);
        Ok(Appointment::try_from(row)?)
    }

    /// Moves a live appointment (see [`Store::reschedule_appointment`]) inside this transaction;
    /// `None` when there is no such live appointment.
    pub(super) async fn reschedule(
        &mut self,
        id: i64,
        to: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Option<Appointment>, BookingError> {
        self.make_room(to, Some(id), now).await?;
        let sql = format!(
            "UPDATE appointments SET staff_id = $2, service_id = $3, starts_at = $4, ends_at = $5, \
                 occupied_until = $6, updated_at = $7 \
             WHERE id = $1 AND status IN {LIVE} RETURNING {COLUMNS}"
        );
        Ok(appointment(on!(Tx, self, |tx| sqlx::query_as(&sql)
            .bind(id)
            .bind(&to.staff_id)
            .bind(&to.service_id)
            .bind(Time(to.starts_at))
            .bind(Time(to.ends_at))
            .bind(Time(to.occupied_until))
            .bind(Time(now))
            .fetch_optional(&mut **tx)
            .await?))?)
    }

    /// Expires the run-out holds on `h`'s staff member's overlapping time, so that only live
    /// appointments stand in the way; on SQLite also refuses (`SlotTaken`) a time that a live
    /// appointment other than `moving` overlaps (on Postgres the exclusion constraint refuses it).
    async fn make_room(
        &mut self,
        h: &NewHold,
        moving: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), BookingError> {
        match self {
            Tx::Postgres(tx) => Ok(pg::make_room(tx, h, now).await?),
            Tx::Sqlite(tx) => match lite::overlaps(tx, h, moving, now).await? {
                true => Err(BookingError::SlotTaken),
                false => Ok(()),
            },
        }
    }

    /// Moves an appointment to `to` if its current status allows it; `None` otherwise.
    pub(super) async fn transition(
        &mut self,
        id: i64,
        to: AppointmentStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<Appointment>, BookingError> {
        let sources = AppointmentStatus::sources_of(to);
        if sources.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "UPDATE appointments SET status = $2, updated_at = $3, \
                 hold_expires_at = CASE WHEN $2 = 'held' THEN hold_expires_at ELSE NULL END \
             WHERE id = $1 AND status IN {} RETURNING {COLUMNS}",
            in_list(&sources)
        );
        Ok(appointment(on!(Tx, self, |tx| sqlx::query_as(&sql)
            .bind(id)
            .bind(to.as_str())
            .bind(Time(now))
            .fetch_optional(&mut **tx)
            .await?))?)
    }

    /// Moves an appointment as a deposit's news decided (`booking::payment`): from `from`, the
    /// status it was read in, to `to`, along an ordinary or a payment-only transition. A time let
    /// go and confirmed again by a late payment is checked for overlaps as a new hold is
    /// (`SlotTaken` when someone took it meanwhile). `HoldLost` when the appointment is no longer
    /// in `from` (the turn is planned again from what it is now).
    pub(super) async fn payment_move(
        &mut self,
        id: i64,
        from: AppointmentStatus,
        to: AppointmentStatus,
        now: DateTime<Utc>,
    ) -> Result<(), TurnError> {
        if from == to {
            return Ok(());
        }
        if !(from.can_become(to) || from.can_become_by_payment(to)) {
            return Err(TurnError::Store(StoreError::Corrupt(format!(
                "appointment {id} cannot go from {from} to {to}"
            ))));
        }
        if to.is_live() && !from.is_live() {
            let sql = format!("SELECT {COLUMNS} FROM appointments WHERE id = $1");
            let row: Option<Row> = on!(Tx, self, |tx| sqlx::query_as(&sql)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?);
            let Some(found) = appointment(row)? else {
                return Err(TurnError::HoldLost);
            };
            let again = NewHold {
                business_id: found.business_id,
                conversation_key: found.conversation_key,
                service_id: found.service_id,
                staff_id: found.staff_id,
                starts_at: found.starts_at,
                ends_at: found.ends_at,
                occupied_until: found.occupied_until,
                hold_expires_at: now,
                deposit_minor: found.deposit_minor,
            };
            self.make_room(&again, Some(id), now).await?;
        }
        let moved = on!(Tx, self, |tx| sqlx::query(
            "UPDATE appointments SET status = $3, updated_at = $4, \
                 hold_expires_at = CASE WHEN $3 = 'pending_payment' THEN hold_expires_at END \
             WHERE id = $1 AND status = $2",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(Time(now))
        .execute(&mut **tx)
        .await
        .map_err(BookingError::from)?
        .rows_affected());
        if moved == 0 {
            return Err(TurnError::HoldLost);
        }
        Ok(())
    }

    /// Gives back the conversation's held or payment-pending time.
    pub(super) async fn release_hold(
        &mut self,
        conversation_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on!(Tx, self, |tx| sqlx::query(
            "UPDATE appointments SET status = 'cancelled', hold_expires_at = NULL, updated_at = $2 \
             WHERE conversation_key = $1 AND status IN ('held', 'pending_payment')",
        )
        .bind(conversation_key)
        .bind(Time(now))
        .execute(&mut **tx)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The conversation's newest hold that has not run out becomes `to` (confirmed, or waiting for
    /// its deposit; a payment-pending one may also be confirmed). Its id, or `None` when there is none.
    pub(super) async fn settle_hold(
        &mut self,
        conversation_key: &str,
        to: AppointmentStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let id: Option<(i64,)> = on!(Tx, self, |tx| sqlx::query_as(
            "UPDATE appointments SET status = $2, updated_at = $3, \
                 hold_expires_at = CASE WHEN $2 = 'pending_payment' THEN hold_expires_at END \
             WHERE id = (SELECT id FROM appointments WHERE conversation_key = $1 \
                   AND ((status = 'held' AND hold_expires_at > $3) \
                        OR (status = 'pending_payment' AND $2 = 'confirmed')) \
                 ORDER BY id DESC LIMIT 1) \
             RETURNING id",
        )
        .bind(conversation_key)
        .bind(to.as_str())
        .bind(Time(now))
        .fetch_optional(&mut **tx)
        .await?);
        Ok(id.map(|(id,)| id))
    }
}

/// `('a', 'b')` for an SQL `IN`, from statuses (fixed names, never user input).
fn in_list(statuses: &[AppointmentStatus]) -> String {
    let names: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}

mod pg {
    use super::*;

    /// Takes the staff member's booking turn, then expires the run-out holds that overlap the time.
    pub(super) async fn make_room(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        h: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        // Bookings of one staff member take turns (a transaction-scoped advisory lock): two
        // transactions inserting overlapping rows would otherwise each wait for the other while checking
        // the exclusion constraint, and one would die of a deadlock instead of hearing "slot taken".
        // The constraint stays the guarantee; the lock only makes the loser's answer clean.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))")
            .bind(&h.business_id)
            .bind(&h.staff_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE appointments SET status = 'expired', updated_at = $5 \
             WHERE business_id = $1 AND staff_id = $2 AND status = 'held' AND hold_expires_at <= $5 \
               AND tstzrange(starts_at, occupied_until, '[)') && tstzrange($3, $4, '[)')",
        )
        .bind(&h.business_id)
        .bind(&h.staff_id)
        .bind(h.starts_at)
        .bind(h.occupied_until)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

mod lite {
    use super::*;

    /// Expires run-out holds overlapping the time, then tells whether a live appointment other than
    /// `except` still overlaps it. SQLite's one writer keeps anything from slipping in between.
    pub(super) async fn overlaps(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        h: &NewHold,
        except: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query(
            "UPDATE appointments SET status = 'expired', updated_at = $5 \
             WHERE business_id = $1 AND staff_id = $2 AND status = 'held' AND hold_expires_at <= $5 \
               AND starts_at < $4 AND occupied_until > $3",
        )
        .bind(&h.business_id)
        .bind(&h.staff_id)
        .bind(Time(h.starts_at))
        .bind(Time(h.occupied_until))
        .bind(Time(now))
        .execute(&mut **tx)
        .await?;
        let sql = format!(
            "SELECT count(*) FROM appointments WHERE business_id = $1 AND staff_id = $2 \
               AND status IN {LIVE} AND starts_at < $4 AND occupied_until > $3 AND id <> $5"
        );
        let (n,): (i64,) = sqlx::query_as(&sql)
            .bind(&h.business_id)
            .bind(&h.staff_id)
            .bind(Time(h.starts_at))
            .bind(Time(h.occupied_until))
            .bind(except.unwrap_or(-1))
            .fetch_one(&mut **tx)
            .await?;
        Ok(n > 0)
    }
}

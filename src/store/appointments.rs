//! Appointments: holds, bookings and their status changes, with no double booking ever.
//!
//! On Postgres an exclusion constraint refuses two live appointments of one staff member whose times
//! (service plus buffer) overlap, whatever the code does; on SQLite the overlap is checked inside the
//! write transaction (one writer, so nothing slips in between). Holds that ran out are expired in the
//! same transaction that books, since `now()` cannot be part of a constraint. Status changes are allowed
//! only along `AppointmentStatus::can_become`.
//!
//! Both dialects live side by side below (`pg`, `lite`).

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
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

impl Store {
    /// Holds a slot for a customer, after expiring the holds that ran out on that staff member's
    /// overlapping time. `SlotTaken` when a live appointment overlaps.
    pub async fn hold_slot(
        &self,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        match self {
            Store::Postgres(s) => pg::hold(s.pool(), hold, now).await,
            Store::Sqlite(s) => lite::hold(s.writer(), hold, now).await,
        }
    }

    /// Moves an appointment to `to` if its current status allows it.
    pub async fn transition_appointment(
        &self,
        id: i64,
        to: AppointmentStatus,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        let updated = match self {
            Store::Postgres(s) => pg::transition(s.pool(), id, to, now).await?,
            Store::Sqlite(s) => lite::transition(s.writer(), id, to, now).await?,
        };
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
        let moved = match self {
            Store::Postgres(s) => pg::reschedule(s.pool(), id, to, now).await?,
            Store::Sqlite(s) => lite::reschedule(s.writer(), id, to, now).await?,
        };
        moved.ok_or(BookingError::NotFound(id))
    }

    /// Expires every hold whose time ran out; returns how many.
    pub async fn expire_holds(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        match self {
            Store::Postgres(s) => pg::expire(s.pool(), now).await,
            Store::Sqlite(s) => lite::expire(s.writer(), now).await,
        }
    }

    pub async fn appointment(&self, id: i64) -> Result<Option<Appointment>, StoreError> {
        match self {
            Store::Postgres(s) => pg::by_id(s.pool(), id).await,
            Store::Sqlite(s) => lite::by_id(s.pool(), id).await,
        }
    }

    /// The live busy times of a business between two instants (holds that ran out excluded).
    pub async fn busy_times(
        &self,
        business_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BusyTime>, StoreError> {
        match self {
            Store::Postgres(s) => pg::busy(s.pool(), business_id, from, to, now).await,
            Store::Sqlite(s) => lite::busy(s.pool(), business_id, from, to, now).await,
        }
    }

    /// A customer's appointments, by start time.
    pub async fn conversation_appointments(
        &self,
        conversation_key: &str,
    ) -> Result<Vec<Appointment>, StoreError> {
        match self {
            Store::Postgres(s) => pg::for_conversation(s.pool(), conversation_key).await,
            Store::Sqlite(s) => lite::for_conversation(s.pool(), conversation_key).await,
        }
    }
}

fn status(s: &str) -> Result<AppointmentStatus, StoreError> {
    AppointmentStatus::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown appointment status '{s}'")))
}

/// `('a', 'b')` for an SQL `IN`, from statuses (fixed names, never user input).
fn in_list(statuses: &[AppointmentStatus]) -> String {
    let names: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}

pub(super) mod pg {
    use super::*;
    use sqlx::PgPool;

    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        business_id: String,
        conversation_key: String,
        service_id: String,
        staff_id: String,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        occupied_until: DateTime<Utc>,
        status: String,
        hold_expires_at: Option<DateTime<Utc>>,
        deposit_minor: i64,
    }

    fn appointment(r: Row) -> Result<Appointment, StoreError> {
        Ok(Appointment {
            id: r.id,
            business_id: r.business_id,
            conversation_key: r.conversation_key,
            service_id: r.service_id,
            staff_id: r.staff_id,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            occupied_until: r.occupied_until,
            status: status(&r.status)?,
            hold_expires_at: r.hold_expires_at,
            deposit_minor: r.deposit_minor,
        })
    }

    /// Takes the staff member's booking turn, then expires the run-out holds that overlap `[from, to)`.
    async fn expire_overlapping(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        business_id: &str,
        staff_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        // Bookings of one staff member take turns (a transaction-scoped advisory lock): two
        // transactions inserting overlapping rows would otherwise each wait for the other while checking
        // the exclusion constraint, and one would die of a deadlock instead of hearing "slot taken".
        // The constraint stays the guarantee; the lock only makes the loser's answer clean.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))")
            .bind(business_id)
            .bind(staff_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE appointments SET status = 'expired', updated_at = $5 \
             WHERE business_id = $1 AND staff_id = $2 AND status = 'held' AND hold_expires_at <= $5 \
               AND tstzrange(starts_at, occupied_until, '[)') && tstzrange($3, $4, '[)')",
        )
        .bind(business_id)
        .bind(staff_id)
        .bind(from)
        .bind(to)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(super) async fn hold(
        pool: &PgPool,
        h: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let held = hold_in(&mut tx, h, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(held)
    }

    /// [`hold`] inside the caller's transaction.
    pub(in crate::store) async fn hold_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        h: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        expire_overlapping(
            tx,
            &h.business_id,
            &h.staff_id,
            h.starts_at,
            h.occupied_until,
            now,
        )
        .await?;
        let sql = format!(
            "INSERT INTO appointments (business_id, conversation_key, service_id, staff_id, starts_at, \
                 ends_at, occupied_until, status, hold_expires_at, deposit_minor, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'held', $8, $9, $10, $10) RETURNING {COLUMNS}"
        );
        let row: Row = sqlx::query_as(&sql)
            .bind(&h.business_id)
            .bind(&h.conversation_key)
            .bind(&h.service_id)
            .bind(&h.staff_id)
            .bind(h.starts_at)
            .bind(h.ends_at)
            .bind(h.occupied_until)
            .bind(h.hold_expires_at)
            .bind(h.deposit_minor)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
        Ok(appointment(row)?)
    }

    pub(in crate::store) async fn transition(
        pool: impl sqlx::PgExecutor<'_>,
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
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(id)
            .bind(to.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await?;
        Ok(row.map(appointment).transpose()?)
    }

    pub(super) async fn reschedule(
        pool: &PgPool,
        id: i64,
        to: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Option<Appointment>, BookingError> {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let moved = reschedule_in(&mut tx, id, to, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(moved)
    }

    /// [`reschedule`] inside the caller's transaction.
    pub(in crate::store) async fn reschedule_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        id: i64,
        to: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Option<Appointment>, BookingError> {
        expire_overlapping(
            tx,
            &to.business_id,
            &to.staff_id,
            to.starts_at,
            to.occupied_until,
            now,
        )
        .await?;
        let sql = format!(
            "UPDATE appointments SET staff_id = $2, service_id = $3, starts_at = $4, ends_at = $5, \
                 occupied_until = $6, updated_at = $7 \
             WHERE id = $1 AND status IN {LIVE} RETURNING {COLUMNS}"
        );
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(id)
            .bind(&to.staff_id)
            .bind(&to.service_id)
            .bind(to.starts_at)
            .bind(to.ends_at)
            .bind(to.occupied_until)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(row.map(appointment).transpose()?)
    }

    pub(super) async fn expire(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE appointments SET status = 'expired', updated_at = $1 \
             WHERE status = 'held' AND hold_expires_at <= $1",
        )
        .bind(now)
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn by_id(pool: &PgPool, id: i64) -> Result<Option<Appointment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM appointments WHERE id = $1");
        let row: Option<Row> = sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?;
        row.map(appointment).transpose()
    }

    pub(super) async fn busy(
        pool: &PgPool,
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
        let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(&sql)
            .bind(business_id)
            .bind(from)
            .bind(to)
            .bind(now)
            .fetch_all(pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(staff_id, starts_at, occupied_until)| BusyTime {
                staff_id,
                starts_at,
                occupied_until,
            })
            .collect())
    }

    pub(super) async fn for_conversation(
        pool: &PgPool,
        key: &str,
    ) -> Result<Vec<Appointment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM appointments WHERE conversation_key = $1 ORDER BY starts_at, id"
        );
        let rows: Vec<Row> = sqlx::query_as(&sql).bind(key).fetch_all(pool).await?;
        rows.into_iter().map(appointment).collect()
    }
}

pub(super) mod lite {
    use super::*;
    use sqlx::SqlitePool;

    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        business_id: String,
        conversation_key: String,
        service_id: String,
        staff_id: String,
        starts_at: i64,
        ends_at: i64,
        occupied_until: i64,
        status: String,
        hold_expires_at: Option<i64>,
        deposit_minor: i64,
    }

    use crate::store::sqlite::time;

    fn appointment(r: Row) -> Result<Appointment, StoreError> {
        Ok(Appointment {
            id: r.id,
            business_id: r.business_id,
            conversation_key: r.conversation_key,
            service_id: r.service_id,
            staff_id: r.staff_id,
            starts_at: time(r.starts_at)?,
            ends_at: time(r.ends_at)?,
            occupied_until: time(r.occupied_until)?,
            status: status(&r.status)?,
            hold_expires_at: r.hold_expires_at.map(time).transpose()?,
            deposit_minor: r.deposit_minor,
        })
    }

    /// Expires run-out holds overlapping `[from, to)`, then tells whether a live appointment other than
    /// `except` still overlaps it.
    async fn overlaps(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        h: &NewHold,
        except: Option<i64>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let (from, to) = (
            h.starts_at.timestamp_millis(),
            h.occupied_until.timestamp_millis(),
        );
        sqlx::query(
            "UPDATE appointments SET status = 'expired', updated_at = ?5 \
             WHERE business_id = ?1 AND staff_id = ?2 AND status = 'held' AND hold_expires_at <= ?5 \
               AND starts_at < ?4 AND occupied_until > ?3",
        )
        .bind(&h.business_id)
        .bind(&h.staff_id)
        .bind(from)
        .bind(to)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let sql = format!(
            "SELECT count(*) FROM appointments WHERE business_id = ?1 AND staff_id = ?2 \
               AND status IN {LIVE} AND starts_at < ?4 AND occupied_until > ?3 AND id <> ?5"
        );
        let (n,): (i64,) = sqlx::query_as(&sql)
            .bind(&h.business_id)
            .bind(&h.staff_id)
            .bind(from)
            .bind(to)
            .bind(except.unwrap_or(-1))
            .fetch_one(&mut **tx)
            .await?;
        Ok(n > 0)
    }

    pub(super) async fn hold(
        pool: &SqlitePool,
        h: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let held = hold_in(&mut tx, h, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(held)
    }

    /// [`hold`] inside the caller's transaction.
    pub(in crate::store) async fn hold_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        h: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Appointment, BookingError> {
        let now = now.timestamp_millis();
        if overlaps(tx, h, None, now).await? {
            return Err(BookingError::SlotTaken);
        }
        let sql = format!(
            "INSERT INTO appointments (business_id, conversation_key, service_id, staff_id, starts_at, \
                 ends_at, occupied_until, status, hold_expires_at, deposit_minor, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 'held', ?, ?, ?, ?) RETURNING {COLUMNS}"
        );
        let row: Row = sqlx::query_as(&sql)
            .bind(&h.business_id)
            .bind(&h.conversation_key)
            .bind(&h.service_id)
            .bind(&h.staff_id)
            .bind(h.starts_at.timestamp_millis())
            .bind(h.ends_at.timestamp_millis())
            .bind(h.occupied_until.timestamp_millis())
            .bind(h.hold_expires_at.timestamp_millis())
            .bind(h.deposit_minor)
            .bind(now)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
        Ok(appointment(row)?)
    }

    pub(in crate::store) async fn transition(
        pool: impl sqlx::SqliteExecutor<'_>,
        id: i64,
        to: AppointmentStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<Appointment>, BookingError> {
        let sources = AppointmentStatus::sources_of(to);
        if sources.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "UPDATE appointments SET status = ?2, updated_at = ?3, \
                 hold_expires_at = CASE WHEN ?2 = 'held' THEN hold_expires_at ELSE NULL END \
             WHERE id = ?1 AND status IN {} RETURNING {COLUMNS}",
            in_list(&sources)
        );
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(id)
            .bind(to.as_str())
            .bind(now.timestamp_millis())
            .fetch_optional(pool)
            .await?;
        Ok(row.map(appointment).transpose()?)
    }

    pub(super) async fn reschedule(
        pool: &SqlitePool,
        id: i64,
        to: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Option<Appointment>, BookingError> {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let moved = reschedule_in(&mut tx, id, to, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(moved)
    }

    /// [`reschedule`] inside the caller's transaction.
    pub(in crate::store) async fn reschedule_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        id: i64,
        to: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Option<Appointment>, BookingError> {
        let now = now.timestamp_millis();
        if overlaps(tx, to, Some(id), now).await? {
            return Err(BookingError::SlotTaken);
        }
        let sql = format!(
            "UPDATE appointments SET staff_id = ?2, service_id = ?3, starts_at = ?4, ends_at = ?5, \
                 occupied_until = ?6, updated_at = ?7 \
             WHERE id = ?1 AND status IN {LIVE} RETURNING {COLUMNS}"
        );
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(id)
            .bind(&to.staff_id)
            .bind(&to.service_id)
            .bind(to.starts_at.timestamp_millis())
            .bind(to.ends_at.timestamp_millis())
            .bind(to.occupied_until.timestamp_millis())
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(row.map(appointment).transpose()?)
    }

    pub(super) async fn expire(pool: &SqlitePool, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE appointments SET status = 'expired', updated_at = ?1 \
             WHERE status = 'held' AND hold_expires_at <= ?1",
        )
        .bind(now.timestamp_millis())
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn by_id(
        pool: &SqlitePool,
        id: i64,
    ) -> Result<Option<Appointment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM appointments WHERE id = ?");
        let row: Option<Row> = sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?;
        row.map(appointment).transpose()
    }

    pub(super) async fn busy(
        pool: &SqlitePool,
        business_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BusyTime>, StoreError> {
        let sql = format!(
            "SELECT staff_id, starts_at, occupied_until FROM appointments \
             WHERE business_id = ?1 AND status IN {LIVE} \
               AND NOT (status = 'held' AND hold_expires_at <= ?4) \
               AND starts_at < ?3 AND occupied_until > ?2 ORDER BY starts_at"
        );
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(&sql)
            .bind(business_id)
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .bind(now.timestamp_millis())
            .fetch_all(pool)
            .await?;
        rows.into_iter()
            .map(|(staff_id, s, u)| {
                Ok(BusyTime {
                    staff_id,
                    starts_at: time(s)?,
                    occupied_until: time(u)?,
                })
            })
            .collect()
    }

    pub(super) async fn for_conversation(
        pool: &SqlitePool,
        key: &str,
    ) -> Result<Vec<Appointment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM appointments WHERE conversation_key = ? ORDER BY starts_at, id"
        );
        let rows: Vec<Row> = sqlx::query_as(&sql).bind(key).fetch_all(pool).await?;
        rows.into_iter().map(appointment).collect()
    }
}

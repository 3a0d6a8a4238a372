//! Appointments in the database: no double booking, ever, on both backends.

use chrono::{DateTime, Duration, TimeZone, Utc};
use salonbot::booking::appointment::AppointmentStatus;
use salonbot::store::{BookingError, NewHold, Store};

use crate::both_backends;
use crate::helpers::{Backend, TestDb};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

fn hold(staff: &str, customer: &str, start: DateTime<Utc>, minutes: i64, buffer: i64) -> NewHold {
    let ends_at = start + Duration::minutes(minutes);
    NewHold {
        business_id: "106540352242922".into(),
        conversation_key: format!("whatsapp:106540352242922:{customer}"),
        service_id: "cut".into(),
        staff_id: staff.into(),
        starts_at: start,
        ends_at,
        occupied_until: ends_at + Duration::minutes(buffer),
        hold_expires_at: at(8, 10),
        deposit_minor: 1000,
    }
}

async fn store(backend: Backend) -> (TestDb, Store) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    (db, store)
}

async fn overlapping_live_appointments_of_one_staff_member_are_refused(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = at(8, 0);
    // 10:00-10:30 plus a 15-minute buffer: Marta is busy until 10:45.
    let first = store
        .hold_slot(&hold("marta", "+34600000001", at(10, 0), 30, 15), now)
        .await
        .unwrap();
    assert_eq!(first.status, AppointmentStatus::Held);
    for (start, what) in [
        (at(10, 0), "same time"),
        (at(10, 15), "inside"),
        (at(9, 45), "overlapping the start"),
        (at(10, 30), "inside the buffer"),
    ] {
        let err = store
            .hold_slot(&hold("marta", "+34600000002", start, 30, 0), now)
            .await
            .unwrap_err();
        assert!(matches!(err, BookingError::SlotTaken), "{what}: {err:?}");
    }
    // Right after the buffer, and another staff member at the same time, are fine.
    store
        .hold_slot(&hold("marta", "+34600000002", at(10, 45), 30, 0), now)
        .await
        .unwrap();
    store
        .hold_slot(&hold("lucia", "+34600000003", at(10, 0), 30, 0), now)
        .await
        .unwrap();
    // Cancelling frees the slot.
    store
        .transition_appointment(first.id, AppointmentStatus::Cancelled, now)
        .await
        .unwrap();
    store
        .hold_slot(&hold("marta", "+34600000004", at(10, 0), 30, 0), now)
        .await
        .unwrap();
}
both_backends!(
    no_overlap,
    overlapping_live_appointments_of_one_staff_member_are_refused
);

async fn a_hold_that_ran_out_frees_its_slot_for_the_next_booking(backend: Backend) {
    let (_db, store) = store(backend).await;
    let first = store
        .hold_slot(&hold("marta", "+34600000001", at(11, 0), 30, 0), at(8, 0))
        .await
        .unwrap();
    // Still held at 08:05; expired at 08:10 even before the sweeper ran.
    assert!(matches!(
        store
            .hold_slot(&hold("marta", "+34600000002", at(11, 0), 30, 0), at(8, 5))
            .await,
        Err(BookingError::SlotTaken)
    ));
    let second = store
        .hold_slot(&hold("marta", "+34600000002", at(11, 0), 30, 0), at(8, 10))
        .await
        .unwrap();
    assert_eq!(
        store.appointment(first.id).await.unwrap().unwrap().status,
        AppointmentStatus::Expired
    );
    // The first customer can no longer confirm the slot they lost.
    let err = store
        .transition_appointment(first.id, AppointmentStatus::Confirmed, at(8, 11))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BookingError::NotAllowed {
                from: AppointmentStatus::Expired,
                ..
            }
        ),
        "{err:?}"
    );
    // A hold becomes a booking by an update of the same row.
    let confirmed = store
        .transition_appointment(second.id, AppointmentStatus::Confirmed, at(8, 11))
        .await
        .unwrap();
    assert_eq!(
        (confirmed.id, confirmed.status),
        (second.id, AppointmentStatus::Confirmed)
    );
    assert_eq!(confirmed.hold_expires_at, None);
    // The sweeper expires only holds, and only when their time ran out.
    assert_eq!(store.expire_holds(at(23, 0)).await.unwrap(), 0);
}
both_backends!(
    hold_expiry,
    a_hold_that_ran_out_frees_its_slot_for_the_next_booking
);

async fn status_changes_follow_the_allowed_transitions(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = at(8, 0);
    let a = store
        .hold_slot(&hold("marta", "+34600000001", at(12, 0), 30, 0), now)
        .await
        .unwrap();
    store
        .transition_appointment(a.id, AppointmentStatus::PendingPayment, now)
        .await
        .unwrap();
    store
        .transition_appointment(a.id, AppointmentStatus::Confirmed, now)
        .await
        .unwrap();
    let err = store
        .transition_appointment(a.id, AppointmentStatus::Held, now)
        .await
        .unwrap_err();
    assert!(matches!(err, BookingError::NotAllowed { .. }), "{err:?}");
    store
        .transition_appointment(a.id, AppointmentStatus::Cancelled, now)
        .await
        .unwrap();
    let refunded = store
        .transition_appointment(a.id, AppointmentStatus::Refunded, now)
        .await
        .unwrap();
    assert_eq!(refunded.status, AppointmentStatus::Refunded);
    assert!(matches!(
        store
            .transition_appointment(9999, AppointmentStatus::Cancelled, now)
            .await,
        Err(BookingError::NotFound(9999))
    ));
}
both_backends!(transitions, status_changes_follow_the_allowed_transitions);

async fn rescheduling_keeps_the_deposit_and_respects_other_bookings(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = at(8, 0);
    let a = store
        .hold_slot(&hold("marta", "+34600000001", at(13, 0), 30, 0), now)
        .await
        .unwrap();
    store
        .transition_appointment(a.id, AppointmentStatus::Confirmed, now)
        .await
        .unwrap();
    let other = store
        .hold_slot(&hold("marta", "+34600000002", at(15, 0), 30, 0), now)
        .await
        .unwrap();
    assert!(matches!(
        store
            .reschedule_appointment(a.id, &hold("marta", "+34600000001", at(15, 15), 30, 0), now)
            .await,
        Err(BookingError::SlotTaken)
    ));
    // Moving within its own old time is not a conflict with itself.
    let moved = store
        .reschedule_appointment(a.id, &hold("marta", "+34600000001", at(13, 15), 30, 0), now)
        .await
        .unwrap();
    assert_eq!(
        (moved.starts_at, moved.deposit_minor, moved.status),
        (at(13, 15), 1000, AppointmentStatus::Confirmed)
    );
    let busy = store
        .busy_times("106540352242922", at(0, 0), at(23, 59), now)
        .await
        .unwrap();
    let starts: Vec<_> = busy.iter().map(|b| b.starts_at).collect();
    assert_eq!(starts, [at(13, 15), other.starts_at]);
    let mine = store
        .conversation_appointments("whatsapp:106540352242922:+34600000001")
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
}
both_backends!(
    reschedule,
    rescheduling_keeps_the_deposit_and_respects_other_bookings
);

async fn two_hundred_customers_racing_for_five_slots_get_exactly_five(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = at(8, 0);
    let slots: Vec<DateTime<Utc>> = (0..5)
        .map(|i| at(16, 0) + Duration::minutes(30 * i))
        .collect();
    let attempts = (0..200).map(|i| {
        let store = store.clone();
        let start = slots[i % 5];
        tokio::spawn(async move {
            store
                .hold_slot(&hold("marta", &format!("+346000{i:05}"), start, 30, 0), now)
                .await
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut won = 0;
    for r in results {
        match r.unwrap() {
            Ok(_) => won += 1,
            Err(BookingError::SlotTaken) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 5);
    let busy = store
        .busy_times("106540352242922", at(0, 0), at(23, 59), now)
        .await
        .unwrap();
    let mut starts: Vec<_> = busy.iter().map(|b| b.starts_at).collect();
    starts.sort();
    assert_eq!(starts, slots);
}
both_backends!(
    race,
    two_hundred_customers_racing_for_five_slots_get_exactly_five
);

#[tokio::test]
async fn the_database_itself_refuses_a_double_booking_written_around_the_store() {
    let (_db, store) = store(Backend::Postgres).await;
    let Store::Postgres(pg) = &store else {
        unreachable!()
    };
    let insert = "INSERT INTO appointments (business_id, conversation_key, service_id, staff_id, starts_at, \
         ends_at, occupied_until, status, created_at, updated_at) \
         VALUES ('b', 'c', 's', 'marta', $1, $2, $2, 'confirmed', now(), now())";
    sqlx::query(insert)
        .bind(at(17, 0))
        .bind(at(17, 30))
        .execute(pg.pool())
        .await
        .unwrap();
    let err = sqlx::query(insert)
        .bind(at(17, 15))
        .bind(at(17, 45))
        .execute(pg.pool())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("appointments_no_double_booking"),
        "{err}"
    );
}

mod properties {
    //! Random sequences of booking operations never double-book and never take an illegal step.

    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// Hold `slots` quarter-hours for a staff member from quarter `start`, with a buffer of `buffer`.
        Hold {
            staff: u8,
            start: u8,
            slots: u8,
            buffer: u8,
        },
        /// Move appointment number `which` (modulo how many exist) to a status.
        Transition { which: u8, to: u8 },
        /// Move appointment `which` to another time.
        Reschedule {
            which: u8,
            staff: u8,
            start: u8,
            slots: u8,
        },
        /// Let time pass (holds run out) and sweep.
        Tick { minutes: u8 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..2u8, 0..24u8, 1..5u8, 0..2u8).prop_map(|(staff, start, slots, buffer)| Op::Hold { staff, start, slots, buffer }),
            3 => (any::<u8>(), 0..8u8).prop_map(|(which, to)| Op::Transition { which, to }),
            2 => (any::<u8>(), 0..2u8, 0..24u8, 1..5u8).prop_map(|(which, staff, start, slots)| Op::Reschedule { which, staff, start, slots }),
            1 => (1..20u8).prop_map(|minutes| Op::Tick { minutes }),
        ]
    }

    fn slot_hold(
        business: &str,
        staff: u8,
        start: u8,
        slots: u8,
        buffer: u8,
        expires: DateTime<Utc>,
    ) -> NewHold {
        let starts_at = at(9, 0) + Duration::minutes(15 * i64::from(start));
        let ends_at = starts_at + Duration::minutes(15 * i64::from(slots));
        NewHold {
            business_id: business.to_owned(),
            conversation_key: format!("{business}:c"),
            service_id: "s".into(),
            staff_id: format!("staff{staff}"),
            starts_at,
            ends_at,
            occupied_until: ends_at + Duration::minutes(15 * i64::from(buffer)),
            hold_expires_at: expires,
            deposit_minor: 0,
        }
    }

    async fn check_invariants(
        store: &Store,
        business: &str,
        ids: &[i64],
        known: &HashMap<i64, AppointmentStatus>,
    ) {
        let mut live = Vec::new();
        for id in ids {
            let a = store.appointment(*id).await.unwrap().unwrap();
            // The status is the one the model expects, or an expiry the store did by itself.
            let expected = known[id];
            assert!(
                a.status == expected
                    || (expected == AppointmentStatus::Held
                        && a.status == AppointmentStatus::Expired),
                "appointment {id}: {expected} expected, {} stored",
                a.status
            );
            if a.status.is_live() {
                live.push(a);
            }
        }
        for (i, a) in live.iter().enumerate() {
            for b in &live[i + 1..] {
                let overlap = a.staff_id == b.staff_id
                    && a.starts_at < b.occupied_until
                    && b.starts_at < a.occupied_until;
                assert!(!overlap, "{business}: double booking {a:?} and {b:?}");
            }
        }
    }

    async fn run(store: &Store, ops: Vec<Op>) {
        let business = format!("b{}", uuid::Uuid::new_v4().simple());
        let mut now = at(8, 0);
        let mut ids: Vec<i64> = Vec::new();
        let mut known: HashMap<i64, AppointmentStatus> = HashMap::new();
        for op in ops {
            match op {
                Op::Hold {
                    staff,
                    start,
                    slots,
                    buffer,
                } => {
                    let h = slot_hold(
                        &business,
                        staff,
                        start,
                        slots,
                        buffer,
                        now + Duration::minutes(10),
                    );
                    match store.hold_slot(&h, now).await {
                        Ok(a) => {
                            ids.push(a.id);
                            known.insert(a.id, AppointmentStatus::Held);
                        }
                        Err(BookingError::SlotTaken) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                }
                Op::Transition { which, to } if !ids.is_empty() => {
                    let id = ids[usize::from(which) % ids.len()];
                    let to = AppointmentStatus::ALL[usize::from(to)];
                    let before = store.appointment(id).await.unwrap().unwrap().status;
                    match store.transition_appointment(id, to, now).await {
                        Ok(a) => {
                            assert!(before.can_become(to), "{before} -> {to} was allowed");
                            known.insert(id, a.status);
                        }
                        Err(BookingError::NotAllowed { from, .. }) => {
                            assert!(!from.can_become(to), "{from} -> {to} was refused");
                            known.insert(id, from);
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                }
                Op::Reschedule {
                    which,
                    staff,
                    start,
                    slots,
                } if !ids.is_empty() => {
                    let id = ids[usize::from(which) % ids.len()];
                    let h = slot_hold(&business, staff, start, slots, 0, now);
                    match store.reschedule_appointment(id, &h, now).await {
                        Ok(_) | Err(BookingError::SlotTaken) | Err(BookingError::NotFound(_)) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                    // A hold that ran out may have been expired along the way.
                    let stored = store.appointment(id).await.unwrap().unwrap().status;
                    known.insert(id, stored);
                }
                Op::Tick { minutes } => {
                    now += Duration::minutes(i64::from(minutes));
                    store.expire_holds(now).await.unwrap();
                    for id in &ids {
                        known.insert(*id, store.appointment(*id).await.unwrap().unwrap().status);
                    }
                }
                _ => {}
            }
            check_invariants(store, &business, &ids, &known).await;
        }
    }

    fn cases(backend: Backend, count: u32) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (db, store) = rt.block_on(super::store(backend));
        let config = ProptestConfig {
            cases: count,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |(ops in proptest::collection::vec(op(), 1..40))| {
            rt.block_on(run(&store, ops));
        });
        drop(db);
    }

    #[test]
    fn random_operations_never_double_book_on_postgres() {
        cases(Backend::Postgres, 48);
    }

    #[test]
    fn random_operations_never_double_book_on_sqlite() {
        cases(Backend::Sqlite, 48);
    }
}

//! The storage contract: the same assertions on PostgreSQL and SQLite.

use std::time::Duration;

use chrono::{DateTime, Utc};
use salonbot::store::{AuditRecord, EventKind, InboxStatus, NewInboxEvent, Provider, Store};

use crate::both_backends;
use crate::helpers::{Backend, TestDb};

fn event(id: &str, conversation: &str, at: DateTime<Utc>) -> NewInboxEvent {
    NewInboxEvent {
        said: None,
        provider: Provider::WhatsApp,
        provider_event_id: id.to_owned(),
        business_id: "106540352242922".to_owned(),
        conversation_key: conversation.to_owned(),
        kind: EventKind::Message,
        payload: format!(r#"{{"id":"{id}"}}"#),
        received_at: at,
    }
}

async fn store(backend: Backend) -> (TestDb, Store) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    (db, store)
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn record_inbound_tells_new_from_known(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = t0();
    let first = store
        .record_inbound(&[event("a", "c1", now), event("b", "c1", now)])
        .await
        .unwrap();
    assert_eq!(first, [true, true]);
    let again = store
        .record_inbound(&[event("b", "c1", now), event("c", "c2", now)])
        .await
        .unwrap();
    assert_eq!(again, [false, true]);
    assert_eq!(store.count_inbox().await.unwrap(), 3);
    let b = store
        .find_inbox_event(Provider::WhatsApp, "b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.status, InboxStatus::Pending);
    assert_eq!(b.attempts, 0);
    assert_eq!(b.received_at, now, "times round-trip to the millisecond");
    assert_eq!(b.payload["id"], "b");
    // The same id from another provider is another event.
    let mut stripe = event("a", "c9", now);
    stripe.provider = Provider::Stripe;
    assert_eq!(store.record_inbound(&[stripe]).await.unwrap(), [true]);
    assert!(store.record_inbound(&[]).await.unwrap().is_empty());
}
both_backends!(record_inbound, record_inbound_tells_new_from_known);

async fn concurrent_writers_store_each_id_once(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = t0();
    let tasks = (0..16).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .record_inbound(
                    &(0..20)
                        .map(|i| event(&format!("e{i}"), "c", now))
                        .collect::<Vec<_>>(),
                )
                .await
                .unwrap()
        })
    });
    let results = futures_util::future::join_all(tasks).await;
    let mut new_per_id = [0; 20];
    for r in results {
        for (i, new) in r.unwrap().into_iter().enumerate() {
            new_per_id[i] += usize::from(new);
        }
    }
    assert_eq!(new_per_id, [1; 20], "each id is new for exactly one writer");
    assert_eq!(store.count_inbox().await.unwrap(), 20);
}
both_backends!(concurrent_record, concurrent_writers_store_each_id_once);

async fn claims_take_only_the_oldest_open_event_of_each_conversation(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = t0();
    store
        .record_inbound(&[
            event("a1", "A", now),
            event("b1", "B", now),
            event("a2", "A", now),
        ])
        .await
        .unwrap();
    let lease = Duration::from_secs(30);
    let claimed = store.claim_inbox(now, lease, 10).await.unwrap();
    let ids: Vec<&str> = claimed
        .iter()
        .map(|e| e.provider_event_id.as_str())
        .collect();
    assert_eq!(ids, ["a1", "b1"]);
    assert!(
        claimed
            .iter()
            .all(|e| e.status == InboxStatus::Processing && e.attempts == 1)
    );
    // A's next event waits while a1 is held.
    assert!(store.claim_inbox(now, lease, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .complete_inbox(&[(claimed[0].id, 1)], now)
            .await
            .unwrap(),
        1
    );
    let next = store.claim_inbox(now, lease, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].provider_event_id, "a2");
    let a1 = store
        .find_inbox_event(Provider::WhatsApp, "a1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a1.status, InboxStatus::Done);
}
both_backends!(
    claim_order,
    claims_take_only_the_oldest_open_event_of_each_conversation
);

/// A conversation with many waiting events holds back no one: a claim looks past them (and past
/// events leased to another worker) to the other conversations' oldest events, up to its limit.
async fn a_claim_looks_past_a_flooded_conversation(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = t0();
    let mut events: Vec<_> = (0..40)
        .map(|i| event(&format!("flood{i}"), "F", now))
        .collect();
    events.extend((0..6).map(|i| event(&format!("other{i}"), &format!("C{i}"), now)));
    store.record_inbound(&events).await.unwrap();
    let lease = Duration::from_secs(30);
    let first = store.claim_inbox(now, lease, 3).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|e| e.provider_event_id.as_str()).collect();
    assert_eq!(ids, ["flood0", "other0", "other1"]);
    let second = store.claim_inbox(now, lease, 10).await.unwrap();
    let ids: Vec<&str> = second
        .iter()
        .map(|e| e.provider_event_id.as_str())
        .collect();
    assert_eq!(ids, ["other2", "other3", "other4", "other5"]);
    assert!(store.claim_inbox(now, lease, 10).await.unwrap().is_empty());
}
both_backends!(claim_flood, a_claim_looks_past_a_flooded_conversation);

async fn an_expired_lease_is_taken_over_and_the_old_claim_loses(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = t0();
    store.record_inbound(&[event("x", "X", now)]).await.unwrap();
    let lease = Duration::from_secs(30);
    let first = store.claim_inbox(now, lease, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    let later = now + chrono::Duration::seconds(31);
    let second = store.claim_inbox(later, lease, 10).await.unwrap();
    assert_eq!(second.len(), 1, "a crashed worker's event is taken over");
    assert_eq!(second[0].attempts, 2);
    // Settled together: the stale claim is refused, the live one is done.
    let settled = store
        .complete_inbox(&[(first[0].id, 1), (second[0].id, 2)], later)
        .await
        .unwrap();
    assert_eq!(settled, 1, "the stale claim is not settled");
    let x = store
        .find_inbox_event(Provider::WhatsApp, "x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(x.status, InboxStatus::Done);
}
both_backends!(
    lease_expiry,
    an_expired_lease_is_taken_over_and_the_old_claim_loses
);

async fn failures_are_retried_later_and_dead_events_stop_blocking(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = t0();
    store
        .record_inbound(&[event("f1", "F", now), event("f2", "F", now)])
        .await
        .unwrap();
    let lease = Duration::from_secs(30);
    let c = store.claim_inbox(now, lease, 10).await.unwrap();
    let retry_at = now + chrono::Duration::seconds(10);
    assert!(
        store
            .fail_inbox(c[0].id, 1, "boom", Some(retry_at))
            .await
            .unwrap()
    );
    let failed = store
        .find_inbox_event(Provider::WhatsApp, "f1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, InboxStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("boom"));
    // Not before its retry time, and f2 keeps waiting behind it (order within the conversation).
    assert!(store.claim_inbox(now, lease, 10).await.unwrap().is_empty());
    let retry = store.claim_inbox(retry_at, lease, 10).await.unwrap();
    assert_eq!(retry[0].provider_event_id, "f1");
    assert_eq!(retry[0].attempts, 2);
    assert!(
        store
            .fail_inbox(retry[0].id, 2, "boom again", None)
            .await
            .unwrap()
    );
    let dead = store
        .find_inbox_event(Provider::WhatsApp, "f1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.status, InboxStatus::Dead);
    let next = store.claim_inbox(retry_at, lease, 10).await.unwrap();
    assert_eq!(
        next[0].provider_event_id, "f2",
        "a dead event no longer blocks"
    );
}
both_backends!(
    retries,
    failures_are_retried_later_and_dead_events_stop_blocking
);

async fn audit_records_are_stored_and_pruned(backend: Backend) {
    let (_db, store) = store(backend).await;
    let record = |outcome: &'static str, at: DateTime<Utc>| AuditRecord {
        provider: Provider::WhatsApp,
        outcome,
        status_code: 200,
        body_bytes: 321,
        remote_addr: Some("203.0.113.1".into()),
        latency: Duration::from_micros(850),
        request_id: Some("r1".into()),
        events_new: 2,
        events_duplicate: 1,
        received_at: at,
    };
    let old = t0() - chrono::Duration::days(40);
    store
        .record_audit(&[record("accepted", old), record("duplicate", t0())])
        .await
        .unwrap();
    let all = store.recent_audit(10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].outcome, "duplicate");
    assert_eq!(all[0].body_bytes, 321);
    assert_eq!(all[0].events_new, 2);
    assert_eq!(all[0].received_at, t0());
    let pruned = store
        .prune_audit(t0() - chrono::Duration::days(30))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(store.recent_audit(10).await.unwrap().len(), 1);
}
both_backends!(audit, audit_records_are_stored_and_pruned);

async fn conversation_events_come_oldest_first(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = t0();
    store
        .record_inbound(&[
            event("k1", "K", now),
            event("z", "Z", now),
            event("k2", "K", now),
        ])
        .await
        .unwrap();
    let events = store.conversation_events("K").await.unwrap();
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e.provider_event_id.as_str())
        .collect();
    assert_eq!(ids, ["k1", "k2"]);
}
both_backends!(conversation_events, conversation_events_come_oldest_first);

async fn migrations_can_run_twice(backend: Backend) {
    let (_db, store) = store(backend).await;
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}
both_backends!(migrate_twice, migrations_can_run_twice);

async fn pending_migrations_are_read_without_applying_them(backend: Backend) {
    let db = TestDb::new(backend).await;
    let url = salonbot::config::DatabaseUrl::parse(&db.url).unwrap();
    let store = Store::connect(&url, &salonbot::store::StoreOptions::default())
        .await
        .unwrap();
    let pending = store.pending_migrations().await.unwrap();
    assert!(
        pending.len() >= 7,
        "a fresh database lacks every migration: {pending:?}"
    );
    assert!(
        pending.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {pending:?}"
    );
    // Asking twice changes nothing: the first call applied none of them.
    assert_eq!(store.pending_migrations().await.unwrap(), pending);
    assert!(store.count_inbox().await.is_err(), "no tables yet");
    store.migrate().await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), Vec::<i64>::new());
}
both_backends!(
    pending_migrations,
    pending_migrations_are_read_without_applying_them
);

/// On Postgres only leases and records that a later durable commit flushes go through the pool that
/// does not wait for the disk; everything that acknowledges (the inbox insert, a turn, a settle) goes
/// through the pool that does.
#[tokio::test]
async fn only_the_lease_pool_commits_without_waiting_for_the_disk() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let Store::Postgres(pg) = &store else {
        unreachable!("a Postgres test database");
    };
    let setting = |pool: sqlx::PgPool| async move {
        let (value,): (String,) = sqlx::query_as("SHOW synchronous_commit")
            .fetch_one(&pool)
            .await
            .unwrap();
        value
    };
    assert_eq!(setting(pg.pool().clone()).await, "on", "durable commits");
    assert_eq!(setting(pg.lazy().clone()).await, "off", "leases");
    // The lazy pool still works on the test's schema: a claim through it finds the stored event.
    store
        .record_inbound(&[event("lazy-1", "k", t0())])
        .await
        .unwrap();
    let claimed = store
        .claim_inbox(t0(), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
}

/// Has a trigger note, for every row written to each of `tables`, the `synchronous_commit` of the
/// session that wrote it (and the row's status, if it has one): afterwards the notes tell which pool
/// each write went through.
async fn note_commit_settings(pool: &sqlx::PgPool, schema: &str, tables: &[&str]) {
    sqlx::query(&format!(
        "CREATE TABLE \"{schema}\".commit_notes (id bigserial, tbl text, op text, status text, \
             setting text)"
    ))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(&format!(
        "CREATE FUNCTION \"{schema}\".note_commit() RETURNS trigger AS $$ BEGIN \
           INSERT INTO \"{schema}\".commit_notes (tbl, op, status, setting) \
           VALUES (TG_TABLE_NAME, TG_OP, to_jsonb(NEW)->>'status', \
                   current_setting('synchronous_commit')); \
           RETURN NULL; END $$ LANGUAGE plpgsql"
    ))
    .execute(pool)
    .await
    .unwrap();
    for table in tables {
        sqlx::query(&format!(
            "CREATE TRIGGER note_commit AFTER INSERT OR UPDATE ON \"{schema}\".{table} \
             FOR EACH ROW EXECUTE FUNCTION \"{schema}\".note_commit()"
        ))
        .execute(pool)
        .await
        .unwrap();
    }
}

/// The settings noted for the rows of `table` written by `op` (with the status `status`, if given).
async fn noted_settings(
    pool: &sqlx::PgPool,
    table: &str,
    op: &str,
    status: Option<&str>,
) -> Vec<String> {
    let notes: Vec<(String,)> = sqlx::query_as(
        "SELECT setting FROM commit_notes \
         WHERE tbl = $1 AND op = $2 AND ($3::text IS NULL OR status = $3) ORDER BY id",
    )
    .bind(table)
    .bind(op)
    .bind(status)
    .fetch_all(pool)
    .await
    .unwrap();
    notes.into_iter().map(|(setting,)| setting).collect()
}

/// What a webhook's 200 acknowledges (the inbox insert), a turn (alone or committed with others) and
/// the settling of an event are written by sessions whose commits wait for the disk; only the claims
/// are not. Seen from Postgres itself: a trigger notes each writing session's `synchronous_commit`.
#[tokio::test]
async fn acknowledged_events_turns_and_settles_are_written_by_sessions_that_wait_for_the_disk() {
    use salonbot::store::{NewOutbound, TurnCommit};
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let Store::Postgres(pg) = &store else {
        unreachable!("a Postgres test database");
    };
    let pool = pg.pool().clone();
    note_commit_settings(
        &pool,
        db.schema.as_deref().unwrap(),
        &["inbox_events", "conversations", "outbox"],
    )
    .await;

    let now = t0();
    store
        .record_inbound(&[
            event("alone", "A", now),
            event("together", "B", now),
            event("settled", "C", now),
        ])
        .await
        .unwrap();
    let claimed = store
        .claim_inbox(now, Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let turn = |n: usize| TurnCommit {
        event_id: claimed[n].id,
        attempt: claimed[n].attempts,
        business_id: "106540352242922".into(),
        conversation_key: claimed[n].conversation_key.clone(),
        flow: "booking".into(),
        state: serde_json::json!({"state": "greeting"}),
        language: Some("es".into()),
        human: false,
        booking: Vec::new(),
        outbox: vec![NewOutbound {
            idempotency_key: format!("turn:{}:0.0", claimed[n].id),
            provider: salonbot::store::Provider::WhatsApp,
            business_id: "106540352242922".into(),
            conversation_key: claimed[n].conversation_key.clone(),
            recipient: format!("+3460000000{n}"),
            kind: "text".into(),
            payload: serde_json::json!({"type": "text"}),
            created_at: now,
        }],
        timers: Vec::new(),
        cancel_timers: Vec::new(),
    };
    // A turn in a transaction of its own (as one that books), a turn in the statement that commits
    // plain turns together, and an event settled by the worker.
    store.commit_turn(&turn(0), now).await.unwrap();
    let together = store.commit_turns(&[turn(1)], now).await;
    assert!(together.iter().all(Result::is_ok), "{together:?}");
    assert_eq!(
        store
            .complete_inbox(&[(claimed[2].id, claimed[2].attempts)], now)
            .await
            .unwrap(),
        1
    );

    // The notes tell the pools apart: the claims went through the one that does not wait.
    assert_eq!(
        noted_settings(&pool, "inbox_events", "UPDATE", Some("processing")).await,
        ["off"; 3]
    );
    assert_eq!(
        noted_settings(&pool, "inbox_events", "INSERT", None).await,
        ["on"; 3],
        "the inbox insert a webhook's 200 stands for"
    );
    assert_eq!(
        noted_settings(&pool, "inbox_events", "UPDATE", Some("done")).await,
        ["on"; 3],
        "two turns and a settle"
    );
    assert_eq!(
        noted_settings(&pool, "conversations", "INSERT", None).await,
        ["on"; 2],
        "the turns' conversation state"
    );
    assert_eq!(
        noted_settings(&pool, "outbox", "INSERT", None).await,
        ["on"; 2],
        "the turns' replies"
    );
}

async fn a_chatwoot_conversation_is_remembered_once_and_leads_back(backend: Backend) {
    let (_db, store) = store(backend).await;
    let now = t0();
    let key = "whatsapp:106540352242922:+34600111222";
    assert_eq!(store.chatwoot_conversation(key).await.unwrap(), None);
    assert_eq!(
        store
            .remember_chatwoot_conversation(key, "106540352242922", 152, Some(77), now)
            .await
            .unwrap(),
        152
    );
    // A second creation racing the first: the first one remembered stays.
    assert_eq!(
        store
            .remember_chatwoot_conversation(key, "106540352242922", 153, Some(77), now)
            .await
            .unwrap(),
        152
    );
    let route = store.chatwoot_route(152).await.unwrap().expect("a route");
    assert_eq!(route.conversation_key, key);
    assert_eq!(route.business_id, "106540352242922");
    assert_eq!(store.chatwoot_route(153).await.unwrap(), None);
    // Channel mode follows Chatwoot to a new conversation: the latest wins.
    store
        .set_chatwoot_conversation(
            key,
            "106540352242922",
            160,
            now + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(store.chatwoot_conversation(key).await.unwrap(), Some(160));
    assert_eq!(
        store
            .chatwoot_route(160)
            .await
            .unwrap()
            .unwrap()
            .conversation_key,
        key
    );
}
both_backends!(
    chatwoot_conversations,
    a_chatwoot_conversation_is_remembered_once_and_leads_back
);

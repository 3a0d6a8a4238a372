//! The dispatcher settling what Meta answered, when the answer or the store misbehaves: a `wamid`
//! Meta already gave another message, a store failure right after Meta accepted, `Retry-After`, and
//! the pair rate limit at the attempt limit.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use salonbot::store::{OutboundStatus, Store};
use salonbot::worker::outbox::DispatchOptions;

use crate::both_backends;
use crate::fake_graph::{Answer, FakeGraph};
use crate::helpers::{Backend, TestDb};
use crate::outbox::{dispatcher, enqueue, message, quick_options};

async fn row(store: &Store, recipient: &str) -> salonbot::store::Outbound {
    store
        .outbox_for_recipient(recipient)
        .await
        .unwrap()
        .remove(0)
}

async fn a_repeated_wamid_neither_stops_sending_nor_sends_twice(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    let now = Utc::now();
    let options = DispatchOptions {
        lease: Duration::from_millis(300),
        ..quick_options()
    };
    let (d, _) = dispatcher(&store, &graph, options);
    enqueue(
        &store,
        &[
            message("a", "+34600000001", "uno", now),
            message("b", "+34600000002", "dos", now),
        ],
    )
    .await
    .unwrap();
    assert_eq!(d.run_once().await.unwrap(), 2);

    // The fake starts its ids again: the next two answers repeat ids of the first batch.
    graph.restart_ids();
    enqueue(
        &store,
        &[
            message("c", "+34600000003", "tres", now),
            message("d", "+34600000004", "cuatro", now),
            message("e", "+34600000005", "cinco", now),
        ],
    )
    .await
    .unwrap();
    assert_eq!(d.run_once().await.unwrap(), 3, "the batch is settled");
    let mut repeated = 0;
    for recipient in ["+34600000003", "+34600000004", "+34600000005"] {
        let r = row(&store, recipient).await;
        assert_eq!(r.status, OutboundStatus::Sent, "{recipient} was accepted");
        match r.wamid.as_deref() {
            Some("wamid.fake.3") => assert_eq!(r.last_error, None),
            None => {
                repeated += 1;
                let why = r.last_error.unwrap_or_default();
                assert!(why.contains("another message"), "{why}");
            }
            other => panic!("{recipient}: unexpected wamid {other:?}"),
        }
    }
    assert_eq!(repeated, 2, "both repeated ids are flagged");
    for recipient in ["+34600000001", "+34600000002"] {
        let first = row(&store, recipient).await;
        assert!(first.wamid.is_some(), "the earlier message keeps its id");
    }

    // Long after every lease, nothing is sent again and sending goes on.
    tokio::time::sleep(Duration::from_millis(400)).await;
    enqueue(&store, &[message("f", "+34600000006", "seis", now)])
        .await
        .unwrap();
    assert_eq!(d.run_once().await.unwrap(), 1, "only the new message");
    assert_eq!(graph.delivered().len(), 6, "each message accepted once");
    assert_eq!(
        row(&store, "+34600000006").await.status,
        OutboundStatus::Sent
    );
}
both_backends!(
    repeated_wamid,
    a_repeated_wamid_neither_stops_sending_nor_sends_twice
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_meta_accepted_while_the_store_fails_are_recorded_when_it_is_back_not_sent_again()
{
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let Store::Postgres(pg) = &store else {
        unreachable!()
    };
    let pool = pg.pool().clone();
    // While the gate is shut, recording a message as sent fails; every try is counted (a sequence is
    // not rolled back with the failed statement).
    for sql in [
        "CREATE TABLE settle_gate (shut boolean NOT NULL)",
        "INSERT INTO settle_gate VALUES (true)",
        "CREATE SEQUENCE settle_tries",
        "CREATE FUNCTION settle_gate() RETURNS trigger AS $$ BEGIN \
           PERFORM nextval('settle_tries'); \
           IF (SELECT shut FROM settle_gate) THEN RAISE EXCEPTION 'storage hiccup'; END IF; \
           RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER settle_gate BEFORE UPDATE ON outbox FOR EACH ROW \
           WHEN (NEW.status = 'sent') EXECUTE FUNCTION settle_gate()",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let graph = FakeGraph::start().await;
    let now = Utc::now();
    enqueue(&store, &[message("a", "+34600000001", "hola", now)])
        .await
        .unwrap();
    let options = DispatchOptions {
        lease: Duration::from_secs(2),
        ..quick_options()
    };
    let (d, _) = dispatcher(&store, &graph, options);
    let d = Arc::new(d);
    let running = tokio::spawn({
        let d = d.clone();
        async move { d.run_once().await }
    });

    // Once a try to record the accepted message has failed, the store comes back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (tries,): (i64,) = sqlx::query_as(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM settle_tries",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if tries > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no try to record the message"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sqlx::query("UPDATE settle_gate SET shut = false")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(running.await.unwrap().unwrap(), 1);
    let sent = row(&store, "+34600000001").await;
    assert_eq!(sent.status, OutboundStatus::Sent);
    assert_eq!(sent.wamid.as_deref(), Some("wamid.fake.1"));

    // After the lease the message is not claimed and sent again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(d.run_once().await.unwrap(), 0);
    assert_eq!(graph.delivered().len(), 1, "the customer got it once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metas_retry_after_sets_the_next_attempt() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    graph.script([Answer::RetryAfter { seconds: 90 }]);
    let before = Utc::now();
    enqueue(&store, &[message("a", "+34600000001", "hola", before)])
        .await
        .unwrap();
    let (d, _) = dispatcher(&store, &graph, quick_options());
    assert_eq!(d.run_once().await.unwrap(), 1);
    let r = row(&store, "+34600000001").await;
    assert_eq!(r.status, OutboundStatus::Pending);
    assert!(
        r.next_attempt_at >= before + chrono::Duration::seconds(90),
        "Retry-After beats the quick backoff: {:?}",
        r.next_attempt_at - before
    );
    assert_eq!(d.run_once().await.unwrap(), 0, "not tried before then");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_rate_limit_at_the_attempt_limit_is_dead() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    graph.fail_recipient("+34600000001", 400, 131056);
    let now = Utc::now();
    enqueue(&store, &[message("a", "+34600000001", "hola", now)])
        .await
        .unwrap();
    let options = DispatchOptions {
        max_attempts: 1,
        ..quick_options()
    };
    let (d, _) = dispatcher(&store, &graph, options);
    assert_eq!(d.run_once().await.unwrap(), 1);
    let r = row(&store, "+34600000001").await;
    assert_eq!(
        (r.status, r.error_code, r.attempts),
        (OutboundStatus::Dead, Some(131056), 1)
    );
}

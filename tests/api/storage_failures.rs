//! Ack means durable: when the database refuses, hangs or rejects a batch, the answer is 503 (Meta
//! retries) and nothing is half-written.

use std::time::{Duration, Instant};

use salonbot::store::Provider;
use serde_json::{Value, json};

use crate::helpers::{AppBuilder, Backend, TestDb, fixture, text_message};
use crate::proxy::{Mode, Proxy, postgres_addr};

async fn app_behind_proxy() -> (crate::helpers::TestApp, Proxy, salonbot::store::Store) {
    let db = TestDb::new(Backend::Postgres).await;
    let direct = db.store().await; // migrated, and a way to look at the data while the proxy is down
    let proxy = Proxy::start(postgres_addr()).await;
    let app = AppBuilder::new(Backend::Postgres)
        .var("STORE_TIMEOUT_MS", "700")
        .database_url(proxy.postgres_url(db.schema.as_deref().unwrap()))
        .spawn()
        .await;
    // Keep the schema alive for the whole test.
    std::mem::forget(db);
    (app, proxy, direct)
}

fn two_message_batch(a: &str, b: &str) -> String {
    let mut body: Value =
        serde_json::from_str(&fixture("14_batch_two_changes_two_messages.json")).unwrap();
    body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = json!(a);
    body["entry"][0]["changes"][1]["value"]["messages"][0]["id"] = json!(b);
    body.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_answers_503_and_stores_nothing_then_recovers() {
    let (app, proxy, direct) = app_behind_proxy().await;
    let (a, b) = ("wamid.down.a", "wamid.down.b");
    let body = two_message_batch(a, b);

    proxy.set(Mode::Refuse);
    let res = app.post_whatsapp(body.clone()).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unavailable");
    assert_eq!(
        direct.count_inbox().await.unwrap(),
        0,
        "nothing half-written"
    );
    let health = app.get("/health").await;
    assert_eq!(health.status(), 503);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "unhealthy");
    assert_eq!(health["database"], "disconnected");
    assert_eq!(app.get("/health/ready").await.status(), 503);
    assert_eq!(app.get("/health/live").await.status(), 200);

    // Meta retries once the database is back: both events, once each.
    proxy.set(Mode::Forward);
    let mut status = 0;
    for _ in 0..50 {
        status = app.post_whatsapp(body.clone()).await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
    assert_eq!(direct.count_inbox().await.unwrap(), 2);
    assert!(
        direct
            .find_inbox_event(Provider::WhatsApp, a)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        direct
            .find_inbox_event(Provider::WhatsApp, b)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_database_gets_503_within_the_store_timeout_not_a_hung_connection() {
    let (app, proxy, direct) = app_behind_proxy().await;
    // Warm the pool so the hang hits live connections too.
    assert_eq!(
        app.post_whatsapp(text_message("wamid.hang.warm", "34600111222", "hola"))
            .await
            .status(),
        200
    );
    proxy.set(Mode::Hang);
    // Without the store timeout the request would wait on the hung connection for as long as the
    // database hangs (here: until the proxy heals below), so any answer at all shows the timeout; the
    // deadline is only there to fail rather than hang, far above STORE_TIMEOUT_MS=700.
    let res = tokio::time::timeout(
        Duration::from_secs(15),
        app.post_whatsapp(text_message("wamid.hang.1", "34600111222", "hola")),
    )
    .await
    .expect("answered while the database hangs");
    assert_eq!(res.status(), 503);
    proxy.set(Mode::Forward);
    let mut status = 0;
    for _ in 0..50 {
        status = app
            .post_whatsapp(text_message("wamid.hang.1", "34600111222", "hola"))
            .await
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "recovers when the database answers again");
    assert!(
        direct
            .find_inbox_event(Provider::WhatsApp, "wamid.hang.1")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_database_rejects_is_not_half_written() {
    let db = TestDb::new(Backend::Postgres).await;
    let direct = db.store().await;
    let pool = match &direct {
        salonbot::store::Store::Postgres(pg) => pg.pool().clone(),
        _ => unreachable!(),
    };
    // The database refuses the second event of the batch, after accepting the first.
    sqlx::query(
        "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
           IF NEW.provider_event_id = 'wamid.poison' THEN RAISE EXCEPTION 'poison'; END IF; \
           RETURN NEW; END $$ LANGUAGE plpgsql",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON inbox_events \
         FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = AppBuilder::new(Backend::Postgres)
        .database_url(db.url.clone())
        .spawn()
        .await;

    let res = app
        .post_whatsapp(two_message_batch("wamid.good", "wamid.poison"))
        .await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        direct.count_inbox().await.unwrap(),
        0,
        "the good event is not stored alone"
    );

    // Other customers' webhooks sharing a commit batch with the poisoned one are not held hostage.
    let poisoned = app.post_whatsapp(two_message_batch("wamid.good", "wamid.poison"));
    let others = futures_util::future::join_all((0..20).map(|i| {
        app.post_whatsapp(text_message(
            &format!("wamid.other.{i}"),
            "34600999888",
            "hola",
        ))
    }));
    let (poisoned, others) = tokio::join!(poisoned, others);
    assert_eq!(poisoned.status(), 503);
    assert!(others.iter().all(|r| r.status() == 200));
    assert_eq!(direct.count_inbox().await.unwrap(), 20);
    assert!(
        direct
            .find_inbox_event(Provider::WhatsApp, "wamid.good")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_redis_costs_a_timeout_now_and_then_never_a_webhook() {
    let proxy = Proxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let app = AppBuilder::new(Backend::Postgres)
        .var("REDIS_URL", &format!("redis://{}", proxy.addr))
        .spawn()
        .await;
    assert_eq!(
        app.post_whatsapp(text_message("wamid.rh.0", "34600111222", "hola"))
            .await
            .status(),
        200
    );
    proxy.set(Mode::Hang);
    let started = Instant::now();
    for i in 1..=20 {
        let body = text_message(&format!("wamid.rh.{i}"), "34600111222", "hola");
        assert_eq!(app.post_whatsapp(body.clone()).await.status(), 200);
        // A redelivery is still recognised: the database is the authority.
        assert_eq!(app.post_whatsapp(body).await.status(), 200);
    }
    // The time is the point here: without the breaker each of these 40 webhooks, one after the other,
    // would wait out Redis' 250 ms call timeout, 10 s in all; with it, about one call a second waits.
    // The bound sits well above the usual second or two so that a loaded machine does not trip it.
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(8),
        "40 webhooks took {waited:?} with Redis hanging: the breaker should skip it"
    );
    assert_eq!(app.store.count_inbox().await.unwrap(), 21);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("salonbot_redis_errors_total"), "{metrics}");
    let health: Value = app.get("/health").await.json().await.unwrap();
    assert_eq!(health["status"], "degraded");
}

//! The operator API and the staff pages: authentication (bearer token, session cookie, CSRF, the
//! failed-authentication budget), every endpoint on an empty database and on real traffic sent
//! through the signed webhook, and the parameters each refuses by name.

use std::time::Duration;

use reqwest::StatusCode;
use salonbot::store::{InboxStatus, Provider, Store};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{AppBuilder, Backend, TestApp, text_message, wait_until};

pub const TOKEN: &str = "admin-token-for-tests-0123456789";

pub async fn admin_app(backend: Backend) -> TestApp {
    AppBuilder::new(backend)
        .var("ADMIN_TOKEN", TOKEN)
        .var("WHATSAPP_RECIPIENT_GAP_MS", "0")
        .spawn()
        .await
}

pub async fn api(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn api_send(app: &TestApp, method: reqwest::Method, path: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The texts of a message listing's page, in its order.
pub fn texts(listing: &Value) -> Vec<&str> {
    listing["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

/// Runs a statement on the app's database (to put a row in a state only failures reach).
pub async fn execute(store: &Store, sql: &str, id: i64) {
    match store {
        Store::Postgres(s) => {
            sqlx::query(sql).bind(id).execute(s.pool()).await.unwrap();
        }
        Store::Sqlite(s) => {
            sqlx::query(sql).bind(id).execute(s.pool()).await.unwrap();
        }
    }
}

/// Sends a customer's message through the signed webhook and waits until the bot handled it.
pub async fn customer_says(app: &TestApp, wamid: &str, phone: &str, text: &str) -> i64 {
    let response = app.post_whatsapp(text_message(wamid, phone, text)).await;
    assert_eq!(response.status(), 200);
    wait_until(Duration::from_secs(20), "the message handled", || async {
        app.store
            .find_inbox_event(Provider::WhatsApp, wamid)
            .await
            .unwrap()
            .filter(|e| e.status == InboxStatus::Done)
            .map(|e| e.id)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_answer_404_when_admin_token_is_unset() {
    let app = AppBuilder::new(Backend::Sqlite).spawn().await;
    for path in [
        "/api/messages",
        "/api/stats",
        "/api/openapi.json",
        "/admin",
        "/admin/login",
    ] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let response = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_401_to_a_wrong_token_and_429_once_the_budget_is_spent() {
    let app = AppBuilder::new(Backend::Sqlite)
        .var("ADMIN_TOKEN", TOKEN)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "3")
        .spawn()
        .await;
    let missing = app.get("/api/messages").await;
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    for wrong in ["Bearer nope", "Basic abc"] {
        let response = app
            .client
            .get(app.url("/api/stats"))
            .header("authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{wrong}");
    }
    // Three failures spent the budget: even the right token waits for the window to end.
    let response = app
        .client
        .get(app.url("/api/stats"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

async fn empty_database_gives_empty_answers(backend: Backend) {
    let app = admin_app(backend).await;
    let (status, body) = api(&app, "/api/messages").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], Value::Array(vec![]));
    assert_eq!(body["total"], 0);
    assert_eq!(body["limit"], 50);
    assert_eq!(body["offset"], 0);

    let (status, stats) = api(&app, "/api/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["messages"], 0);
    assert_eq!(stats["customers"], 0);
    assert_eq!(stats["first_message_at"], Value::Null);
    assert_eq!(stats["last_message_at"], Value::Null);
    assert_eq!(stats["top_senders"], Value::Array(vec![]));
    assert_eq!(stats["median_answer_ms"], Value::Null);

    let (status, day) = api(&app, "/api/appointments?date=2026-03-02").await;
    assert_eq!(status, 200);
    assert_eq!(day["date"], "2026-03-02");
    assert_eq!(day["data"], Value::Array(vec![]));

    let (_, conversations) = api(&app, "/api/conversations").await;
    assert_eq!(conversations["total"], 0);
    let (_, dead) = api(&app, "/api/dead-letters").await;
    assert_eq!(dead["inbox"], Value::Array(vec![]));
    assert_eq!(dead["outbox"], Value::Array(vec![]));
    let (status, webhooks) = api(&app, "/api/webhooks").await;
    assert_eq!(status, 200);
    assert_eq!(webhooks["total"], 0);

    let (status, _) = api(&app, "/api/conversations/whatsapp:x:+34600000001").await;
    assert_eq!(status, 404);
    let (status, _) = api_send(&app, reqwest::Method::POST, "/api/events/999/replay").await;
    assert_eq!(status, 404);
    let (status, _) = api_send(
        &app,
        reqwest::Method::POST,
        "/api/dead-letters/inbox-999/retry",
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = api_send(&app, reqwest::Method::DELETE, "/api/dead-letters/outbox-1").await;
    assert_eq!(status, 404);

    let (status, doc) = api(&app, "/api/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/messages",
        "/api/dead-letters/{id}/retry",
        "/api/events/{id}/replay",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
both_backends!(
    api_answers_an_empty_database_with_empty_listings,
    empty_database_gives_empty_answers
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refuses_bad_parameters_naming_them() {
    let app = admin_app(Backend::Sqlite).await;
    for (path, name) in [
        ("/api/messages?limit=0", "limit"),
        ("/api/messages?limit=101", "limit"),
        ("/api/messages?limit=ten", "limit"),
        ("/api/messages?offset=-1", "offset"),
        ("/api/messages?from=hello", "from"),
        ("/api/messages?since=yesterday", "since"),
        ("/api/appointments?date=02/03/2026", "date"),
        ("/api/webhooks?provider=telegram", "provider"),
        ("/api/webhooks?outcome=great", "outcome"),
        ("/api/conversations?limit=500", "limit"),
        ("/api/dead-letters?limit=0", "limit"),
    ] {
        let (status, body) = api(&app, path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"], "bad_parameter", "{path}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&format!("'{name}'")), "{path}: {message}");
    }
    let (status, body) = api_send(&app, reqwest::Method::POST, "/api/events/abc/replay").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("'id'"));
    let (status, _) = api_send(&app, reqwest::Method::POST, "/api/dead-letters/7/retry").await;
    assert_eq!(status, 400);
}

async fn messages_are_filtered_ordered_and_paged(backend: Backend) {
    let app = admin_app(backend).await;
    customer_says(&app, "wamid.adm.1", "34600000001", "Hola, quiero una CITA").await;
    customer_says(&app, "wamid.adm.2", "34600000002", "hello there").await;
    let cutoff = chrono::Utc::now();
    customer_says(&app, "wamid.adm.3", "34600000001", "mañana por la tarde").await;

    let (status, all) = api(&app, "/api/messages").await;
    assert_eq!(status, 200);
    assert_eq!(all["total"], 3);
    assert_eq!(
        texts(&all),
        [
            "Hola, quiero una CITA",
            "hello there",
            "mañana por la tarde"
        ]
    );
    assert_eq!(all["data"][0]["from"], "+34600000001");
    assert_eq!(all["data"][0]["name"], "Ana");
    assert_eq!(all["data"][0]["type"], "text");

    // `from` with or without its `+`.
    for from in ["%2B34600000001", "34600000001"] {
        let (_, mine) = api(&app, &format!("/api/messages?from={from}")).await;
        assert_eq!(mine["total"], 2, "{from}");
        assert!(
            mine["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["from"] == "+34600000001")
        );
    }
    let (_, q) = api(&app, "/api/messages?q=cita").await;
    assert_eq!(q["total"], 1);
    assert_eq!(q["data"][0]["text"], "Hola, quiero una CITA");
    // Case folds beyond ASCII; `%`, `_` and `\` are letters to find, not wildcards.
    let (_, q) = api(&app, "/api/messages?q=MA%C3%91ANA").await;
    assert_eq!(q["total"], 1, "{q}");
    assert_eq!(q["data"][0]["text"], "mañana por la tarde");
    for literal in ["%25", "_", "h_llo", "%5C"] {
        let (status, q) = api(&app, &format!("/api/messages?q={literal}")).await;
        assert_eq!(status, 200, "{literal}: {q}");
        assert_eq!(q["total"], 0, "{literal}: {q}");
    }
    let since = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (_, recent) = api(
        &app,
        &format!("/api/messages?since={}", since.replace('+', "%2B")),
    )
    .await;
    assert_eq!(recent["total"], 1);
    assert_eq!(recent["data"][0]["text"], "mañana por la tarde");

    let (_, page) = api(&app, "/api/messages?limit=1&offset=1").await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["limit"], 1);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["text"], "hello there");

    let (_, stats) = api(&app, "/api/stats").await;
    assert_eq!(stats["messages"], 3);
    assert_eq!(stats["customers"], 2);
    assert_eq!(stats["top_senders"][0]["from"], "+34600000001");
    assert_eq!(stats["top_senders"][0]["messages"], 2);
    assert!(stats["first_message_at"].is_string());
    assert!(stats["median_answer_ms"].as_i64().unwrap() >= 0, "{stats}");
    assert!(stats["conversations"].as_i64().unwrap() >= 2);
    // The three messages, counted on their (UTC) day's bar of the last 14 days.
    let per_day = stats["messages_per_day"].as_array().unwrap();
    assert_eq!(per_day.len(), 14, "{stats}");
    let day = all["data"][2]["received_at"].as_str().unwrap()[..10].to_owned();
    let bar = per_day.iter().find(|d| d["date"] == day.as_str());
    assert_eq!(
        bar.map(|d| &d["messages"]),
        Some(&Value::from(3)),
        "{stats}"
    );
    let all: i64 = per_day
        .iter()
        .map(|d| d["messages"].as_i64().unwrap())
        .sum();
    assert_eq!(all, 3, "{stats}");

    // Each accepted webhook is in the log.
    let _ = app.audit_records(3).await;
    let (_, log) = api(&app, "/api/webhooks?provider=whatsapp&outcome=accepted").await;
    assert_eq!(log["total"], 3);
    assert_eq!(log["data"][0]["status"], 200);
    let whatsapp = log["last_hour"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["provider"] == "whatsapp")
        .unwrap();
    assert_eq!(whatsapp["total"], 3);
    assert_eq!(whatsapp["errors"], 0);
    let (_, none) = api(&app, "/api/webhooks?provider=stripe").await;
    assert_eq!(none["total"], 0);
}
both_backends!(
    messages_listing_filters_by_sender_time_and_text_in_a_stable_order,
    messages_are_filtered_ordered_and_paged
);

async fn conversations_change_hands(backend: Backend) {
    let app = admin_app(backend).await;
    customer_says(&app, "wamid.adm.h1", "34600000011", "hola").await;
    let key = "whatsapp:106540352242922:+34600000011";
    let (status, list) = api(&app, "/api/conversations").await;
    assert_eq!(status, 200);
    let listed = &list["data"][0];
    assert_eq!(listed["id"], key);
    assert_eq!(listed["human"], false);
    assert_eq!(listed["last_message"], "hola");
    assert_eq!(listed["customer"], "********0011");

    let path = format!("/api/conversations/{}", key.replace('+', "%2B"));
    let (status, one) = api(&app, &path).await;
    assert_eq!(status, 200);
    let transcript = one["transcript"].as_array().unwrap();
    assert_eq!(transcript[0]["direction"], "in");
    assert_eq!(transcript[0]["text"], "hola");
    assert!(
        transcript.iter().any(|l| l["direction"] == "out"),
        "{transcript:?}"
    );

    let human = |want: bool| {
        let app = &app;
        let path = path.clone();
        async move {
            wait_until(Duration::from_secs(20), "the hand-over", || async {
                let (_, one) = api(app, &path).await;
                (one["conversation"]["human"] == want).then_some(())
            })
            .await
        }
    };
    let (status, _) = api_send(&app, reqwest::Method::POST, &format!("{path}/human")).await;
    assert_eq!(status, 200);
    human(true).await;
    let (status, _) = api_send(&app, reqwest::Method::POST, &format!("{path}/bot")).await;
    assert_eq!(status, 200);
    human(false).await;
    let (status, _) = api_send(
        &app,
        reqwest::Method::POST,
        "/api/conversations/whatsapp:x:%2B1/human",
    )
    .await;
    assert_eq!(status, 404);
}
both_backends!(
    conversations_are_handed_to_a_person_and_back_to_the_bot,
    conversations_change_hands
);

async fn dead_letters_are_retried_discarded_and_replayed(backend: Backend) {
    let app = admin_app(backend).await;
    let first = customer_says(&app, "wamid.adm.d1", "34600000021", "hola").await;
    let second = customer_says(&app, "wamid.adm.d2", "34600000022", "hola").await;
    for id in [first, second] {
        execute(
            &app.store,
            "UPDATE inbox_events SET status = 'dead', last_error = 'boom' WHERE id = $1",
            id,
        )
        .await;
    }
    let (_, dead) = api(&app, "/api/dead-letters").await;
    let ids: Vec<&str> = dead["inbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [format!("inbox-{second}"), format!("inbox-{first}")]);
    assert_eq!(dead["inbox"][0]["error"], "boom");

    let (status, _) = api_send(
        &app,
        reqwest::Method::POST,
        &format!("/api/dead-letters/inbox-{first}/retry"),
    )
    .await;
    assert_eq!(status, 200);
    wait_until(
        Duration::from_secs(20),
        "the retried event handled",
        || async {
            let e = app.store.inbox_event(first).await.unwrap().unwrap();
            (e.status == InboxStatus::Done).then_some(())
        },
    )
    .await;

    let (status, _) = api_send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/dead-letters/inbox-{second}"),
    )
    .await;
    assert_eq!(status, 200);
    let discarded = app.store.inbox_event(second).await.unwrap().unwrap();
    assert_eq!(discarded.status, InboxStatus::Done);
    assert!(
        discarded
            .last_error
            .unwrap()
            .starts_with("discarded by an operator: boom")
    );
    let (_, dead) = api(&app, "/api/dead-letters").await;
    assert_eq!(dead["inbox"], Value::Array(vec![]));
    // Already discarded: nothing to discard twice.
    let (status, _) = api_send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/dead-letters/inbox-{second}"),
    )
    .await;
    assert_eq!(status, 404);

    // Any handled event can be replayed into its lane; it is handled (once) again.
    let (status, body) = api_send(
        &app,
        reqwest::Method::POST,
        &format!("/api/events/{first}/replay"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    wait_until(
        Duration::from_secs(20),
        "the replayed event handled",
        || async {
            let e = app.store.inbox_event(first).await.unwrap().unwrap();
            (e.status == InboxStatus::Done).then_some(())
        },
    )
    .await;
}
both_backends!(
    dead_letters_are_listed_retried_discarded_and_events_replayed,
    dead_letters_are_retried_discarded_and_replayed
);

/// A message of the generic channel, stored through its signed webhook, is read like a WhatsApp
/// one: `/api/messages` gives its sender and text, and the conversation's transcript (API and page)
/// shows it and the bot's plain-text reply.
async fn generic_channel_messages_are_read_with_their_sender_and_text(backend: Backend) {
    use crate::custom_channel::{NOWHERE, builder, handled, message, post};
    let app = builder(backend, NOWHERE)
        .var("ADMIN_TOKEN", TOKEN)
        .spawn()
        .await;
    let id = format!("m-{}", uuid::Uuid::new_v4().simple());
    let sent = post(&app, &message(&id, "+34600444051", "hola, quiero una cita")).await;
    assert_eq!(sent.status(), 200);
    handled(&app, &id).await;

    let (status, listed) = api(&app, "/api/messages").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["total"], 1, "{listed}");
    let first = &listed["data"][0];
    assert_eq!(first["from"], "+34600444051", "{first}");
    assert_eq!(first["text"], "hola, quiero una cita", "{first}");
    assert_eq!(first["type"], "text", "{first}");
    for path in [
        "/api/messages?from=%2B34600444051",
        "/api/messages?from=34600444051&q=QUIERO",
    ] {
        let (_, found) = api(&app, path).await;
        assert_eq!(found["total"], 1, "{path}: {found}");
        assert_eq!(found["data"][0]["text"], "hola, quiero una cita");
    }
    let (_, stats) = api(&app, "/api/stats").await;
    assert_eq!(stats["customers"], 1, "{stats}");
    assert_eq!(stats["top_senders"][0]["from"], "+34600444051", "{stats}");

    let key = "custom:+34910000000:+34600444051";
    let path = key.replace('+', "%2B");
    let (status, conversation) = api(&app, &format!("/api/conversations/{path}")).await;
    assert_eq!(status, 200, "{conversation}");
    let transcript = conversation["transcript"].as_array().unwrap();
    assert_eq!(transcript[0]["direction"], "in", "{conversation}");
    assert_eq!(transcript[0]["text"], "hola, quiero una cita");
    assert_eq!(transcript[0]["note"], "book", "{conversation}");
    let reply = transcript
        .iter()
        .find(|l| l["direction"] == "out")
        .unwrap_or_else(|| panic!("the bot's reply: {conversation}"));
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("¿Qué servicio te hacemos?"),
        "{reply}"
    );

    let mut browser = crate::admin_pages::Browser::new(&app);
    browser.log_in().await;
    let page = browser.get(&format!("/admin/conversations/{path}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<div class=\"bubble in\">hola, quiero una cita"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<div class=\"bubble out\">"),
        "{}",
        page.body
    );
    assert!(page.body.contains("understood: book"), "{}", page.body);

    // Words the rules do not read, read by the language model (its reading recorded with the
    // message): the note says what the model understood.
    let id = format!("m-{}", uuid::Uuid::new_v4().simple());
    let sent = post(&app, &message(&id, "+34600444051", "lo de siempre, porfa")).await;
    assert_eq!(sent.status(), 200);
    let event = app
        .store
        .find_inbox_event(salonbot::store::Provider::Custom, &id)
        .await
        .unwrap()
        .unwrap();
    let reading = serde_json::json!({"intent": "book", "services": ["highlights"]});
    app.store
        .record_model_reading(event.id, Some(&reading), "test-model", chrono::Utc::now())
        .await
        .unwrap();
    handled(&app, &id).await;
    let (_, conversation) = api(&app, &format!("/api/conversations/{path}")).await;
    let line = conversation["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["text"] == "lo de siempre, porfa")
        .cloned()
        .unwrap_or_default();
    assert_eq!(line["note"], "model: book, Mechas", "{conversation}");
}
both_backends!(
    admin_reads_the_generic_channel,
    generic_channel_messages_are_read_with_their_sender_and_text
);

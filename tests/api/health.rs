//! Operations endpoints: health, readiness, liveness, metrics, request ids.

use serde_json::Value;

use crate::helpers::{AppBuilder, Backend, spawn_app, text_message};

#[tokio::test]
async fn health_is_healthy_with_postgres_and_redis() {
    let app = spawn_app(Backend::Postgres).await;
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["database"], "connected");
    assert_eq!(body["redis"], "connected");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_seconds"].is_u64());
}

#[tokio::test]
async fn health_on_the_embedded_default_reports_redis_disabled() {
    let app = spawn_app(Backend::Sqlite).await;
    let body: Value = app.get("/health").await.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["redis"], "disabled");
}

#[tokio::test]
async fn readiness_names_what_is_missing() {
    let app = AppBuilder::new(Backend::Sqlite)
        .without("WHATSAPP_APP_SECRET")
        .spawn()
        .await;
    for path in ["/health/ready", "/ready"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 503);
        let body: Value = res.json().await.unwrap();
        let reasons = body["reasons"].to_string();
        assert!(reasons.contains("WHATSAPP_APP_SECRET"), "{reasons}");
    }
    let configured = spawn_app(Backend::Sqlite).await;
    assert_eq!(configured.get("/health/ready").await.status(), 200);
    assert_eq!(configured.get("/ready").await.status(), 200);
    assert_eq!(configured.get("/health/live").await.status(), 200);
}

#[tokio::test]
async fn metrics_count_webhooks_by_outcome_with_latency_and_routes() {
    let app = spawn_app(Backend::Sqlite).await;
    app.post_whatsapp(text_message("wamid.m1", "34600111222", "hola"))
        .await;
    app.post_whatsapp(text_message("wamid.m1", "34600111222", "hola"))
        .await;
    app.post_whatsapp("{").await;
    app.post_whatsapp_signed_as("{}", Some("sha256=00")).await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for line in [
        r#"salonbot_webhooks_total{provider="whatsapp",outcome="accepted"} 1"#,
        r#"salonbot_webhooks_total{provider="whatsapp",outcome="duplicate"} 1"#,
        r#"salonbot_webhooks_total{provider="whatsapp",outcome="malformed"} 1"#,
        r#"salonbot_webhooks_total{provider="whatsapp",outcome="invalid_signature"} 1"#,
        r#"salonbot_inbox_events_total{provider="whatsapp",outcome="new"} 1"#,
        r#"salonbot_webhook_duration_seconds_count{provider="whatsapp"} 4"#,
        r#"salonbot_http_requests_total{route="/webhooks/whatsapp",status="200"} 2"#,
        r#"salonbot_http_requests_total{route="/webhooks/whatsapp",status="401"} 1"#,
        "# TYPE salonbot_webhook_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_keeps_a_given_one() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.get("/health/live").await;
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a uuid: {id}");
    let res = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-123");
}

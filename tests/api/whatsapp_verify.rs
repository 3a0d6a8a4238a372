//! Meta's verification handshake: `GET /webhooks/whatsapp`.

use crate::helpers::{AppBuilder, Backend, VERIFY_TOKEN, spawn_app};

#[tokio::test]
async fn handshake_echoes_the_challenge_as_plain_text() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .get(&format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(res.text().await.unwrap(), "1158201444");
}

#[tokio::test]
async fn handshake_works_on_the_older_alias_path() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .get(&format!(
            "/webhook/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "42");
}

#[tokio::test]
async fn handshake_is_refused_with_403_for_a_wrong_token_mode_or_missing_parameters() {
    let app = spawn_app(Backend::Sqlite).await;
    let cases = [
        "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1".to_owned(),
        format!(
            "/webhooks/whatsapp?hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"
        ),
        format!("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
        "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1".to_owned(),
        "/webhooks/whatsapp".to_owned(),
        format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}x&hub.challenge=1"
        ),
    ];
    for path in cases {
        let res = app.get(&path).await;
        assert_eq!(res.status(), 403, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "verification_refused");
    }
}

#[tokio::test]
async fn handshake_answers_503_when_no_verify_token_is_configured() {
    let app = AppBuilder::new(Backend::Sqlite)
        .without("WHATSAPP_VERIFY_TOKEN")
        .spawn()
        .await;
    let res = app
        .get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=&hub.challenge=1")
        .await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_configured");
}

#[tokio::test]
async fn wrong_tokens_spend_the_failed_authentication_budget() {
    let app = AppBuilder::new(Backend::Sqlite)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "2")
        .spawn()
        .await;
    let wrong = "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1";
    assert_eq!(app.get(wrong).await.status(), 403);
    assert_eq!(app.get(wrong).await.status(), 403);
    let res = app
        .get(&format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"
        ))
        .await;
    assert_eq!(
        res.status(),
        429,
        "even the right token waits for the window to end"
    );
    assert!(res.headers().contains_key("retry-after"));
}

//! The Cloud API client against the local fake Graph API.

use std::time::Duration;

use salonbot::config::Secret;
use salonbot::telemetry::Metrics;
use salonbot::whatsapp::client::{RetryBudget, WhatsAppClient, WhatsAppSender};
use salonbot::whatsapp::error::SendError;
use serde_json::{Value, json};

use crate::fake_graph::{Answer, FakeGraph, PHONE_NUMBER_ID, TOKEN, VERSION};

fn quick_budget() -> RetryBudget {
    RetryBudget {
        initial: Duration::from_millis(20),
        max_interval: Duration::from_millis(100),
        max_elapsed: Duration::from_millis(600),
    }
}

fn client(graph: &FakeGraph, metrics: Metrics) -> WhatsAppClient {
    WhatsAppClient::new(
        &graph.base(),
        PHONE_NUMBER_ID,
        Secret::new(TOKEN),
        Duration::from_millis(500),
        quick_budget(),
        metrics,
    )
    .unwrap()
}

fn text(to: &str, body: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": false, "body": body}
    })
}

#[tokio::test]
async fn a_message_is_posted_to_the_phone_numbers_messages_endpoint_with_the_token() {
    let graph = FakeGraph::start().await;
    let client = client(&graph, Metrics::new());
    let sent = client
        .send("text", &text("+34600111222", "Hola Ana"))
        .await
        .unwrap();
    assert_eq!(sent.wamid, "wamid.fake.1");
    assert_eq!(sent.wa_id.as_deref(), Some("34600111222"));
    let requests = graph.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path,
        format!("/{VERSION}/{PHONE_NUMBER_ID}/messages")
    );
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(requests[0].body, text("+34600111222", "Hola Ana"));
}

#[tokio::test]
async fn mark_as_read_sends_the_status_body() {
    let graph = FakeGraph::start().await;
    client(&graph, Metrics::new())
        .mark_read("wamid.incoming.1")
        .await
        .unwrap();
    assert_eq!(
        graph.requests()[0].body,
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.incoming.1"})
    );
}

#[tokio::test]
async fn transient_failures_are_retried_with_growing_waits() {
    let graph = FakeGraph::start().await;
    graph.script([
        Answer::MetaError {
            status: 500,
            code: 1,
        },
        Answer::Bare { status: 502 },
        Answer::MetaError {
            status: 400,
            code: 131000,
        },
    ]);
    let sent = client(&graph, Metrics::new())
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap();
    assert_eq!(sent.wamid, "wamid.fake.1");
    let requests = graph.requests();
    assert_eq!(requests.len(), 4, "three failures, then success");
    for pair in requests.windows(2) {
        assert!(
            pair[1].at > pair[0].at + Duration::from_millis(5),
            "backed off between tries"
        );
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let graph = FakeGraph::start().await;
    graph.script([Answer::RetryAfter { seconds: 1 }]);
    let budget = RetryBudget {
        max_elapsed: Duration::from_secs(5),
        ..quick_budget()
    };
    let client = WhatsAppClient::new(
        &graph.base(),
        PHONE_NUMBER_ID,
        Secret::new(TOKEN),
        Duration::from_secs(2),
        budget,
        Metrics::new(),
    )
    .unwrap();
    client
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap();
    let requests = graph.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(950));
}

#[tokio::test]
async fn a_failure_that_outlasts_the_budget_is_handed_back_as_transient() {
    let graph = FakeGraph::start().await;
    graph.script((0..100).map(|_| Answer::MetaError {
        status: 503,
        code: 2,
    }));
    let err = client(&graph, Metrics::new())
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(err.code(), Some(2));
    let tries = graph.requests().len();
    assert!(
        (2..100).contains(&tries),
        "retried within the budget, then stopped: {tries}"
    );
}

#[tokio::test]
async fn a_timeout_is_a_transient_failure() {
    let graph = FakeGraph::start().await;
    graph.script((0..20).map(|_| Answer::Slow(Duration::from_secs(2))));
    let err = client(&graph, Metrics::new())
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
}

#[tokio::test]
async fn handled_errors_are_returned_at_once_without_retry() {
    type Expect = fn(&SendError) -> bool;
    let cases: [(u16, i64, Expect); 7] = [
        (400, 131047, |e| matches!(e, SendError::OutsideWindow)),
        (400, 131026, |e| {
            matches!(e, SendError::Undeliverable { code: 131026, .. })
        }),
        (400, 131050, |e| {
            matches!(e, SendError::Undeliverable { code: 131050, .. })
        }),
        (400, 100, |e| {
            matches!(e, SendError::Rejected { code: 100, .. })
        }),
        (400, 132001, |e| {
            matches!(e, SendError::Rejected { code: 132001, .. })
        }),
        (401, 190, |e| matches!(e, SendError::TokenInvalid { .. })),
        (403, 368, |e| {
            matches!(e, SendError::AccountRestricted { code: 368, .. })
        }),
    ];
    for (status, code, expected) in cases {
        let graph = FakeGraph::start().await;
        graph.script([Answer::MetaError { status, code }]);
        let err = client(&graph, Metrics::new())
            .send("text", &text("+34600111222", "hola"))
            .await
            .unwrap_err();
        assert!(expected(&err), "{code}: {err:?}");
        assert_eq!(
            graph.requests().len(),
            1,
            "{code} is not retried by the client"
        );
    }
    // The pair rate limit is left to the outbox, which waits minutes, not milliseconds.
    let graph = FakeGraph::start().await;
    graph.script([Answer::MetaError {
        status: 400,
        code: 131056,
    }]);
    let err = client(&graph, Metrics::new())
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap_err();
    assert_eq!(err, SendError::PairRateLimited);
    assert_eq!(graph.requests().len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_reported_as_token_invalid() {
    let graph = FakeGraph::start().await;
    let client = WhatsAppClient::new(
        &graph.base(),
        PHONE_NUMBER_ID,
        Secret::new("expired"),
        Duration::from_secs(1),
        quick_budget(),
        Metrics::new(),
    )
    .unwrap();
    let err = client
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap_err();
    assert!(err.stops_sending(), "{err:?}");
}

#[tokio::test]
async fn sends_are_counted_by_kind_and_outcome() {
    let graph = FakeGraph::start().await;
    let metrics = Metrics::new();
    let client = client(&graph, metrics.clone());
    client
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap();
    graph.script([Answer::MetaError {
        status: 400,
        code: 131047,
    }]);
    let _ = client.send("text", &text("+34600111222", "hola")).await;
    let text = metrics.render();
    assert!(
        text.contains(r#"salonbot_outbound_total{kind="text",outcome="sent"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"salonbot_outbound_total{kind="text",outcome="outside_window"} 1"#));
    assert!(text.contains(r#"salonbot_outbound_errors_total{code="131047"} 1"#));
    assert!(text.contains("salonbot_outbound_latency_seconds_bucket"));
}

#[tokio::test]
async fn without_an_access_token_messages_stay_in_the_sandbox() {
    let graph = FakeGraph::start().await;
    let config = salonbot::config::Config::from_lookup(|name| match name {
        "WHATSAPP_API_BASE" => Some(graph.base()),
        _ => None,
    })
    .unwrap();
    let sender = WhatsAppSender::from_config(&config.whatsapp, Metrics::new()).unwrap();
    assert!(sender.is_sandbox());
    let sent = sender
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap();
    assert!(sent.wamid.starts_with("sandbox."));
    assert!(graph.requests().is_empty(), "nothing left the machine");

    let live = salonbot::config::Config::from_lookup(|name| match name {
        "WHATSAPP_API_BASE" => Some(graph.base()),
        "WHATSAPP_ACCESS_TOKEN" => Some(TOKEN.into()),
        "WHATSAPP_PHONE_NUMBER_ID" => Some(PHONE_NUMBER_ID.into()),
        _ => None,
    })
    .unwrap();
    let sender = WhatsAppSender::from_config(&live.whatsapp, Metrics::new()).unwrap();
    assert!(!sender.is_sandbox());
    sender
        .send("text", &text("+34600111222", "hola"))
        .await
        .unwrap();
    assert_eq!(graph.requests().len(), 1);
}

#[tokio::test]
async fn every_kind_of_message_the_bot_builds_is_accepted_as_sent() {
    use salonbot::whatsapp::messages::{
        ListRow, ListSection, MediaSource, MessageBody, OutboundMessage, Recipient, ReplyButton,
        TemplateComponent, TemplateParameter,
    };
    let graph = FakeGraph::start().await;
    let client = client(&graph, Metrics::new());
    let to = Recipient::phone("+34600111222");
    let bodies = vec![
        MessageBody::text("Hola Ana, ¿qué te apetece hoy?"),
        MessageBody::Template {
            name: "recordatorio_cita".into(),
            language_code: "es".into(),
            components: vec![
                TemplateComponent::body(vec![
                    TemplateParameter::Text("Ana".into()),
                    TemplateParameter::Text("martes 10:30".into()),
                ]),
                TemplateComponent::quick_reply(0, "confirm:42"),
                TemplateComponent::quick_reply(1, "cancel:42"),
            ],
        },
        MessageBody::Buttons {
            header: Some("Tu cita".into()),
            body: "¿Confirmamos?".into(),
            footer: Some("Salón Marta".into()),
            buttons: vec![ReplyButton::new("yes", "Sí"), ReplyButton::new("no", "No")],
        },
        MessageBody::List {
            header: None,
            body: "Elige un servicio".into(),
            footer: None,
            button_label: "Servicios".into(),
            sections: vec![
                ListSection::titled(
                    "Cabello",
                    vec![ListRow::new("cut", "Corte").with_description("30 min · 25 €")],
                ),
                ListSection::titled("Uñas", vec![ListRow::new("mani", "Manicura")]),
            ],
        },
        MessageBody::CtaUrl {
            header: None,
            body: "Paga la señal para reservar".into(),
            footer: None,
            display_text: "Pagar".into(),
            url: "https://pay.example.com/s/abc".into(),
        },
        MessageBody::Image {
            media: MediaSource::Link("https://salon.example.com/precios.jpg".into()),
            caption: Some("Precios".into()),
        },
        MessageBody::Document {
            media: MediaSource::Id("1234567890".into()),
            caption: None,
            filename: Some("factura.pdf".into()),
        },
        MessageBody::Location {
            latitude: 40.4168,
            longitude: -3.7038,
            name: Some("Salón Marta".into()),
            address: Some("Calle Mayor 1, Madrid".into()),
        },
    ];
    for body in bodies {
        let message = OutboundMessage::new(to.clone(), body).in_reply_to("wamid.incoming.7");
        message.validate().unwrap();
        let json = message.to_json();
        let sent = client.send(message.kind(), &json).await;
        assert!(sent.is_ok(), "{} refused: {sent:?}", message.kind());
        assert_eq!(graph.requests().last().unwrap().body, json);
    }
    assert_eq!(graph.delivered().len(), 8);
}

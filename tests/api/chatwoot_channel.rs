//! Channel mode (`CHATWOOT_MODE=channel`): Chatwoot owns the WhatsApp number and the bot is its agent
//! bot. The customer's messages arrive as signed `message_created` webhooks from the fake Chatwoot, the
//! bot's replies are posted into the conversation with the bot token (choices as `input_select`, never
//! a `source_id`), taps come back as the row's title, the bot acts only on `pending` conversations,
//! and a hand-off is `toggle_status` to `open` with the bot token.

use std::time::Duration;

use salonbot::booking::appointment::AppointmentStatus;
use salonbot::store::{OutboundStatus, Provider};

use crate::both_backends;
use crate::chatwoot_ingress::WEBHOOK_SECRET;
use crate::fake_chatwoot::{self, FakeChatwoot, Message};
use crate::helpers::{AppBuilder, Backend, TestApp, wait_until};

async fn app(backend: Backend) -> (TestApp, FakeChatwoot) {
    let chatwoot = FakeChatwoot::start().await;
    let app = AppBuilder::new(backend)
        .var("ADMIN_TOKEN", crate::admin::TOKEN)
        .var("CHATWOOT_MODE", "channel")
        .var("CHATWOOT_BASE_URL", &chatwoot.base())
        .var("CHATWOOT_API_TOKEN", fake_chatwoot::BOT_TOKEN)
        .var("CHATWOOT_ACCOUNT_ID", fake_chatwoot::ACCOUNT)
        .var("CHATWOOT_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .spawn()
        .await;
    chatwoot.deliver_to(app.url("/webhooks/chatwoot"), WEBHOOK_SECRET);
    (app, chatwoot)
}

/// One customer writing to the WhatsApp inbox Chatwoot owns.
struct Customer<'a> {
    app: &'a TestApp,
    chatwoot: &'a FakeChatwoot,
    phone: String,
    conversation: i64,
    seen: usize,
}

impl Customer<'_> {
    /// Says `text` and returns the bot's replies to it, once everything it led to is settled.
    async fn say(&mut self, text: &str) -> Vec<Message> {
        self.conversation = self.chatwoot.customer_says(&self.phone, text).await;
        wait_until(Duration::from_secs(30), "the turn settled", || async {
            if self.chatwoot.delivering() > 0 {
                return None;
            }
            let backlog = self.app.store.backlog().await.unwrap();
            (backlog.inbox_open == 0 && backlog.outbox_oldest.is_none()).then_some(())
        })
        .await;
        let bot: Vec<Message> = self
            .chatwoot
            .messages(self.conversation)
            .into_iter()
            .filter(|m| m.sender == "agent_bot" && !m.private)
            .collect();
        let new = bot[self.seen.min(bot.len())..].to_vec();
        self.seen = bot.len();
        new
    }

    /// Taps the choice `value` of the last reply that offered it, as WhatsApp does: by its title.
    async fn tap(&mut self, replies: &[Message], value: &str) -> Vec<Message> {
        let title = replies
            .iter()
            .rev()
            .flat_map(|m| m.items())
            .find(|(_, v)| v == value)
            .map(|(t, _)| t)
            .unwrap_or_else(|| panic!("no choice {value} in {replies:?}"));
        self.say(&title).await
    }

    /// The values of the last reply with choices, without "anyone" and paging.
    fn choices(replies: &[Message]) -> Vec<String> {
        let last = replies
            .iter()
            .rev()
            .find(|m| !m.items().is_empty())
            .expect("a reply with choices");
        last.items()
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| !["anyone", "earlier", "later"].contains(&v.as_str()))
            .collect()
    }
}

async fn channel_mode_books_end_to_end_with_taps_coming_back_as_titles(backend: Backend) {
    let (app, chatwoot) = app(backend).await;
    let mut ana = Customer {
        app: &app,
        chatwoot: &chatwoot,
        phone: "+34600888999".into(),
        conversation: 0,
        seen: 0,
    };
    let greeting = ana.say("hola").await;
    assert_eq!(greeting.len(), 1, "{greeting:?}");
    let hello = &greeting[0];
    assert!(hello.content.contains("Peluquería Malasaña"), "{hello:?}");
    assert_eq!(hello.content_type.as_deref(), Some("input_select"));
    let values: Vec<String> = hello.items().into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, ["book", "mine", "human"]);
    assert_eq!(
        hello.source_id, None,
        "Chatwoot would not deliver it with one"
    );
    let services = ana.tap(&greeting, "book").await;
    assert!(Customer::choices(&services).contains(&"cut-women".to_owned()));
    let staff = ana.tap(&services, "cut-women").await;
    let days = ana.tap(&staff, "lucia").await;
    let day = Customer::choices(&days)[2].clone();
    let times = ana.tap(&days, &day).await;
    let time = Customer::choices(&times)[0].clone();
    let confirm = ana.tap(&times, &time).await;
    let done = ana.tap(&confirm, "yes").await;
    assert!(!done.is_empty());
    let key = "whatsapp:chatwoot-1:+34600888999";
    let booked = app.store.conversation_appointments(key).await.unwrap();
    assert_eq!(booked.len(), 1, "{booked:?}");
    assert_eq!(booked[0].status, AppointmentStatus::Confirmed);
    // Every call with the bot token; the bot's own messages came back and were ignored.
    assert!(
        chatwoot
            .requests()
            .iter()
            .all(|r| r.token.as_deref() == Some(fake_chatwoot::BOT_TOKEN) && r.status == 200)
    );
}
both_backends!(
    books,
    channel_mode_books_end_to_end_with_taps_coming_back_as_titles
);

async fn a_hand_off_opens_the_conversation_and_the_bot_leaves_open_ones_alone(backend: Backend) {
    let (app, chatwoot) = app(backend).await;
    let mut ana = Customer {
        app: &app,
        chatwoot: &chatwoot,
        phone: "+34600999000".into(),
        conversation: 0,
        seen: 0,
    };
    let said = ana.say("quiero hablar con una persona").await;
    assert_eq!(said.len(), 1, "the customer is told: {said:?}");
    let conversation = chatwoot
        .conversations()
        .into_iter()
        .find(|c| c.id == ana.conversation)
        .unwrap();
    assert_eq!(conversation.status, "open", "handed off");
    let toggle = chatwoot
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/toggle_status"))
        .expect("toggle_status");
    assert_eq!(toggle.token.as_deref(), Some(fake_chatwoot::BOT_TOKEN));
    assert_eq!(toggle.body["status"], "open");
    let note = chatwoot
        .messages(ana.conversation)
        .into_iter()
        .find(|m| m.private)
        .expect("a private note");
    assert!(
        note.content.contains("quiero hablar con una persona"),
        "{note:?}"
    );
    // The conversation is open: a person has it, and the bot says nothing. The customer's words
    // are still listed as theirs.
    assert!(ana.say("hola?").await.is_empty());
    let (_, listed) = crate::admin::api(&app, "/api/messages?from=%2B34600999000").await;
    assert_eq!(
        crate::admin::texts(&listed),
        ["quiero hablar con una persona", "hola?"],
        "{listed}"
    );
    // The staff's note `/bot` gives it back: pending again, and the bot answers.
    chatwoot.note(ana.conversation, "/bot").await;
    wait_until(
        Duration::from_secs(20),
        "the conversation pending",
        || async {
            chatwoot
                .conversations()
                .into_iter()
                .find(|c| c.id == ana.conversation && c.status == "pending")
        },
    )
    .await;
    assert!(!ana.say("quiero reservar").await.is_empty());
}
both_backends!(
    hand_off,
    a_hand_off_opens_the_conversation_and_the_bot_leaves_open_ones_alone
);

async fn a_reply_whose_answer_was_lost_is_not_posted_twice(backend: Backend) {
    let (app, chatwoot) = app(backend).await;
    let mut ana = Customer {
        app: &app,
        chatwoot: &chatwoot,
        phone: "+34600777111".into(),
        conversation: 0,
        seen: 0,
    };
    // Chatwoot creates the greeting but the bot hears 500, as after a crash between Chatwoot's
    // answer and the row marked sent: the row is tried again.
    chatwoot.fail_after_storing(1);
    let greeting = ana.say("hola").await;
    assert_eq!(greeting.len(), 1, "posted once: {greeting:?}");
    let hello = &greeting[0];
    assert!(hello.content.contains("Peluquería Malasaña"), "{hello:?}");
    assert_eq!(
        hello.source_id, None,
        "Chatwoot would not deliver it with one"
    );
    let marker = hello.content_attributes["salonbot"]
        .as_str()
        .expect("the marker in content_attributes")
        .to_owned();
    assert!(marker.starts_with("salonbot:"), "{marker}");
    assert_eq!(hello.items().len(), 3, "the choices kept beside the marker");
    let requests = chatwoot.requests();
    let posts: Vec<u16> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        posts,
        [500],
        "the retry found the marker and posted nothing"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/messages")),
        "the retry looked first"
    );
    let rows: Vec<_> = app
        .store
        .recent_outbox(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.provider == Provider::Chatwoot)
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, OutboundStatus::Sent);
    assert_eq!(rows[0].attempts, 2);
    assert_eq!(marker, format!("salonbot:{}", rows[0].id));
    // The conversation goes on as usual.
    let services = ana.tap(&greeting, "book").await;
    assert_eq!(services.len(), 1, "{services:?}");
}
both_backends!(
    lost_answer,
    a_reply_whose_answer_was_lost_is_not_posted_twice
);

/// The conversation's transcript in channel mode: the customer's words through Chatwoot and the
/// bot's replies posted there, in order.
async fn the_admin_transcript_reads_channel_mode(backend: Backend) {
    let (app, chatwoot) = app(backend).await;
    let mut ana = Customer {
        app: &app,
        chatwoot: &chatwoot,
        phone: "+34600888998".into(),
        conversation: 0,
        seen: 0,
    };
    let greeting = ana.say("hola").await;
    assert_eq!(greeting.len(), 1, "{greeting:?}");
    let (status, conversation) = crate::admin::api(
        &app,
        "/api/conversations/whatsapp:chatwoot-1:%2B34600888998",
    )
    .await;
    assert_eq!(status, 200, "{conversation}");
    let lines: Vec<(&str, &str)> = conversation["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["direction"].as_str().unwrap(),
                l["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], ("in", "hola"));
    assert_eq!(lines[1].0, "out");
    assert!(lines[1].1.contains("Peluquería Malasaña"), "{lines:?}");

    // The customer's words through Chatwoot are listed, and found by sender and text, with the
    // other channels' messages; the agent's own messages are not the customer's.
    ana.say("Quiero una cita").await;
    for path in [
        "/api/messages",
        "/api/messages?from=%2B34600888998",
        "/api/messages?q=CITA",
    ] {
        let (status, listed) = crate::admin::api(&app, path).await;
        assert_eq!(status, 200, "{listed}");
        let texts = crate::admin::texts(&listed);
        let expected: &[&str] = if path.contains("q=") {
            &["Quiero una cita"]
        } else {
            &["hola", "Quiero una cita"]
        };
        assert_eq!(texts, expected, "{path}: {listed}");
        assert_eq!(
            listed["data"][0]["from"], "+34600888998",
            "{path}: {listed}"
        );
    }
    let (_, stats) = crate::admin::api(&app, "/api/stats").await;
    assert_eq!(stats["messages"], 2, "{stats}");
    assert_eq!(stats["customers"], 1, "{stats}");
    assert_eq!(stats["top_senders"][0]["from"], "+34600888998", "{stats}");
}
both_backends!(
    admin_transcript_in_channel_mode,
    the_admin_transcript_reads_channel_mode
);

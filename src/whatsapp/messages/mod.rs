//! Outbound messages: typed request bodies for the Cloud API's `POST /{phone_number_id}/messages`.
//!
//! This module owns the wire format of everything the bot sends (text, templates, reply buttons, lists,
//! call-to-action URLs, images, documents, locations, and the mark-as-read request) and the limits Meta
//! puts on them. It does no I/O: the WhatsApp client serialises an [`OutboundMessage`] with
//! [`OutboundMessage::to_json`] (or through its `Serialize` impl) and posts it.
//!
//! Meta's reference: <https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/>
//! (one page per message type: `text-messages`, `interactive-reply-buttons-messages`,
//! `interactive-list-messages`, `interactive-cta-url-messages`, `image-messages`, `document-messages`,
//! `location-messages`, `mark-message-as-read`), and for templates
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/>.
//!
//! Limits are enforced in two places, for two audiences:
//! - [`OutboundMessage::validate`] reports every limit a message breaks, for the flow checker to show at
//!   load time;
//! - [`OutboundMessage::into_sendable`] makes any message sendable at run time. A text longer than 4,096
//!   characters is split into several messages at a sentence or word boundary rather than shortened (so
//!   nothing the customer should read is lost; see [`split_text`]), and so are over-long interactive bodies
//!   and captions; everything else goes through [`OutboundMessage::fit_to_limits`], which shortens labels
//!   with an ellipsis and drops extra buttons or rows, returning what it changed so the caller can log it.
//!
//! Lengths are counted in Unicode scalar values (`char`s), never bytes: "✂️" is two characters (the
//! scissors and a variation selector) and "ñ" is one. Shortening never cuts inside a `char`, and avoids
//! separating an emoji from its variation selector, skin tone or zero-width joiner.
//!
//! Each part lives in a submodule, and everything public is re-exported here:
//! - [`limits`]: Meta's limits, in characters;
//! - `wire`: the JSON of each message ([`OutboundMessage::to_json`], its `Serialize` impl,
//!   [`mark_read_json`]);
//! - `validate`: [`Limit`], [`LimitViolation`] and the load-time check, [`OutboundMessage::validate`];
//! - `fit`: shortening and dropping at run time, [`OutboundMessage::fit_to_limits`];
//! - `split`: splitting long content into several messages ([`OutboundMessage::into_sendable`],
//!   [`split_text`]) and cutting text without separating characters that belong together ([`shorten`]).

mod fit;
pub mod limits;
pub mod render;
mod split;
#[cfg(test)]
mod test_support;
mod validate;
mod wire;

pub use split::{shorten, split_text};
pub use validate::{Limit, LimitViolation};
pub use wire::mark_read_json;

use crate::conversation::{ConversationKey, CustomerId};

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// A phone number, sent as given in `"to"`: E.164 with or without the `+` (`+34600111222` or
    /// `34600111222`; Meta accepts both, and `wa_id` comes without).
    Phone(String),
    /// A business-scoped user id (BSUID, e.g. `US.13491208655302741918`), for customers who use a
    /// WhatsApp username and arrive without a phone number.
    // NOTE: sent as `"recipient": "<BSUID>"` instead of `"to"`. Meta's "Business-scoped user IDs" page
    // (developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/) was
    // only readable here through copies: https://dualhook.com/docs/contacts-bsuid-api-changes ("Messages
    // API requests add `recipient`, which accepts a BSUID or parent BSUID ... If both `to` and `recipient`
    // are present, `to` takes precedence") and Gupshup's partner docs (same two rules). Hence never both.
    BusinessScopedUser(String),
}

impl Recipient {
    /// A phone recipient (`"to"`).
    pub fn phone(number: impl Into<String>) -> Self {
        Self::Phone(number.into())
    }

    /// A business-scoped user id recipient (`"recipient"`).
    pub fn business_scoped_user(bsuid: impl Into<String>) -> Self {
        Self::BusinessScopedUser(bsuid.into())
    }

    /// Whom to write to for a conversation's customer: their phone, else their business-scoped user
    /// id; `None` when the conversation has neither (an identifier WhatsApp cannot address).
    pub fn of_customer(customer: &CustomerId) -> Option<Self> {
        match customer {
            CustomerId::Phone(phone) => Some(Self::phone(phone.as_str())),
            CustomerId::User(user) => Some(Self::business_scoped_user(user)),
            CustomerId::Raw(_) | CustomerId::System => None,
        }
    }

    /// The same, from a stored conversation key.
    pub fn of_conversation(conversation_key: &str) -> Option<Self> {
        Self::of_customer(&ConversationKey::parse(conversation_key)?.customer)
    }
}

/// One message to send: recipient, content, and optionally the customer message it replies to.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    pub to: Recipient,
    pub body: MessageBody,
    /// The `wamid` of the message this one quotes (`"context": {"message_id": ...}`).
    pub reply_to: Option<String>,
}

/// What a message says. Each variant serialises to one `"type"` of Meta's request.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageBody {
    /// `"type": "text"`. `preview_url` asks the client to render a preview of the first URL.
    Text { body: String, preview_url: bool },
    /// `"type": "template"`: an approved template by name and language, with its variable values.
    Template {
        name: String,
        /// Language and locale code of the approved template, e.g. `es` or `en_US`.
        language_code: String,
        /// Omitted from the request when empty (a template without variables).
        components: Vec<TemplateComponent>,
    },
    /// `"type": "interactive"`, `"interactive": {"type": "button"}`: one to three reply buttons.
    Buttons {
        header: Option<String>,
        body: String,
        footer: Option<String>,
        buttons: Vec<ReplyButton>,
    },
    /// `"type": "interactive"`, `"interactive": {"type": "list"}`: a button that opens a list of rows.
    List {
        header: Option<String>,
        body: String,
        footer: Option<String>,
        /// The label of the button that opens the list (`action.button`).
        button_label: String,
        sections: Vec<ListSection>,
    },
    /// `"type": "interactive"`, `"interactive": {"type": "cta_url"}`: a button that opens a URL.
    CtaUrl {
        header: Option<String>,
        body: String,
        footer: Option<String>,
        display_text: String,
        url: String,
    },
    /// `"type": "image"`.
    Image {
        media: MediaSource,
        caption: Option<String>,
    },
    /// `"type": "document"`. `filename` (with extension) picks the icon the client shows.
    Document {
        media: MediaSource,
        caption: Option<String>,
        filename: Option<String>,
    },
    /// `"type": "location"`: a pin, in decimal degrees.
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
}

/// One reply button: `id` comes back in the webhook when tapped, `title` is what the customer sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

impl ReplyButton {
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
        }
    }
}

/// A section of a list message. Meta needs a title when a list has more than one section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSection {
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

impl ListSection {
    /// A section with a title.
    pub fn titled(title: impl Into<String>, rows: Vec<ListRow>) -> Self {
        Self {
            title: Some(title.into()),
            rows,
        }
    }

    /// A section without a title (fine when it is the only one).
    pub fn untitled(rows: Vec<ListRow>) -> Self {
        Self { title: None, rows }
    }
}

/// One option of a list: `id` comes back in the webhook when chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

impl ListRow {
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            description: None,
        }
    }

    /// The same row with a description under its title.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// Where the media of an image or document message comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// A public HTTPS URL Meta downloads (`"link"`).
    Link(String),
    /// The id of media uploaded to Meta beforehand (`"id"`); Meta recommends this for performance.
    Id(String),
}

/// One component of a template message, carrying the values of the template's variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateComponent {
    /// `{"type": "header", "parameters": [...]}`.
    Header { parameters: Vec<TemplateParameter> },
    /// `{"type": "body", "parameters": [...]}`.
    Body { parameters: Vec<TemplateParameter> },
    /// `{"type": "button", "sub_type": ..., "index": "<index>", "parameters": [...]}`: the value of one of
    /// the template's buttons, by its 0-based position (sent as a string, as Meta documents it).
    Button {
        sub_type: TemplateButtonSubType,
        index: u8,
        parameters: Vec<TemplateParameter>,
    },
}

impl TemplateComponent {
    /// A body component with these values.
    pub fn body(parameters: Vec<TemplateParameter>) -> Self {
        Self::Body { parameters }
    }

    /// A header component with these values.
    pub fn header(parameters: Vec<TemplateParameter>) -> Self {
        Self::Header { parameters }
    }

    /// The payload returned in the webhook when the quick-reply button at `index` is tapped.
    pub fn quick_reply(index: u8, payload: impl Into<String>) -> Self {
        Self::Button {
            sub_type: TemplateButtonSubType::QuickReply,
            index,
            parameters: vec![TemplateParameter::Payload(payload.into())],
        }
    }

    /// The suffix appended to the URL of the dynamic URL button at `index`.
    pub fn url_button(index: u8, url_suffix: impl Into<String>) -> Self {
        Self::Button {
            sub_type: TemplateButtonSubType::Url,
            index,
            parameters: vec![TemplateParameter::Text(url_suffix.into())],
        }
    }
}

/// The `sub_type` of a template button component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateButtonSubType {
    /// `"quick_reply"`: the parameter is a `payload`.
    QuickReply,
    /// `"url"`: the parameter is the `text` appended to the template's URL.
    Url,
}

/// The value of one template variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateParameter {
    /// `{"type": "text", "text": ...}`, for positional variables (`{{1}}`) and URL suffixes.
    Text(String),
    /// `{"type": "text", "parameter_name": ..., "text": ...}`, for named variables (`{{first_name}}`).
    NamedText { name: String, text: String },
    /// `{"type": "payload", "payload": ...}`, for quick-reply buttons.
    Payload(String),
}

impl OutboundMessage {
    /// A message to `to`, not replying to anything.
    pub fn new(to: Recipient, body: MessageBody) -> Self {
        Self {
            to,
            body,
            reply_to: None,
        }
    }

    /// The same message, quoting the customer message `message_id` (a `wamid`).
    pub fn in_reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.reply_to = Some(message_id.into());
        self
    }

    /// The metrics label of this message's kind; see [`MessageBody::kind`].
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }
}

impl MessageBody {
    /// A plain text message without link preview.
    pub fn text(body: impl Into<String>) -> Self {
        Self::Text {
            body: body.into(),
            preview_url: false,
        }
    }

    /// The metrics label of this kind (`salonbot_outbound_total{kind}`): "text", "template", "buttons",
    /// "list", "cta_url", "image", "document" or "location".
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Template { .. } => "template",
            Self::Buttons { .. } => "buttons",
            Self::List { .. } => "list",
            Self::CtaUrl { .. } => "cta_url",
            Self::Image { .. } => "image",
            Self::Document { .. } => "document",
            Self::Location { .. } => "location",
        }
    }
}

/// The length Meta counts: Unicode scalar values (`char`s), not bytes.
fn char_len(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::messages::test_support::{buttons, list, phone, rows};

    #[test]
    fn kind_names_each_variant_for_metrics() {
        let media = MediaSource::Id("1".into());
        let kinds = [
            MessageBody::text("a").kind(),
            MessageBody::Template {
                name: "t".into(),
                language_code: "es".into(),
                components: vec![],
            }
            .kind(),
            buttons(&["a"]).kind(),
            list(vec![ListSection::untitled(rows("r", 1))]).kind(),
            MessageBody::CtaUrl {
                header: None,
                body: "b".into(),
                footer: None,
                display_text: "d".into(),
                url: "u".into(),
            }
            .kind(),
            MessageBody::Image {
                media: media.clone(),
                caption: None,
            }
            .kind(),
            MessageBody::Document {
                media,
                caption: None,
                filename: None,
            }
            .kind(),
            MessageBody::Location {
                latitude: 0.0,
                longitude: 0.0,
                name: None,
                address: None,
            }
            .kind(),
        ];
        assert_eq!(
            kinds,
            [
                "text", "template", "buttons", "list", "cta_url", "image", "document", "location"
            ]
        );
        assert_eq!(
            OutboundMessage::new(phone(), MessageBody::text("a")).kind(),
            "text"
        );
    }
}

//! The wire format: the JSON body of `POST /{phone_number_id}/messages` for each kind of message
//! ([`OutboundMessage::to_json`] and the `Serialize` impl that uses it), and [`mark_read_json`].

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::{
    ListSection, MediaSource, MessageBody, OutboundMessage, Recipient, TemplateButtonSubType,
    TemplateComponent, TemplateParameter,
};

impl OutboundMessage {
    /// The JSON body of `POST /{phone_number_id}/messages`, exactly as Meta documents it.
    pub fn to_json(&self) -> Value {
        let mut request = Map::new();
        request.insert("messaging_product".into(), "whatsapp".into());
        request.insert("recipient_type".into(), "individual".into());
        match &self.to {
            Recipient::Phone(phone) => request.insert("to".into(), phone.as_str().into()),
            Recipient::BusinessScopedUser(bsuid) => {
                request.insert("recipient".into(), bsuid.as_str().into())
            }
        };
        if let Some(message_id) = &self.reply_to {
            request.insert("context".into(), json!({ "message_id": message_id }));
        }
        let (message_type, content) = self.body.type_and_content();
        request.insert("type".into(), message_type.into());
        request.insert(message_type.into(), content);
        Value::Object(request)
    }
}

impl Serialize for OutboundMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// The request body that marks a received message (and the ones before it) as read: blue ticks.
///
/// Meta: <https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/mark-message-as-read/>.
pub fn mark_read_json(message_id: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id,
    })
}

impl MessageBody {
    /// Meta's `"type"` and the object sent under that key.
    fn type_and_content(&self) -> (&'static str, Value) {
        match self {
            Self::Text { body, preview_url } => {
                ("text", json!({ "preview_url": preview_url, "body": body }))
            }
            Self::Template {
                name,
                language_code,
                components,
            } => {
                let mut template = Map::new();
                template.insert("name".into(), name.as_str().into());
                template.insert("language".into(), json!({ "code": language_code }));
                if !components.is_empty() {
                    let components = components.iter().map(template_component_json).collect();
                    template.insert("components".into(), Value::Array(components));
                }
                ("template", Value::Object(template))
            }
            Self::Buttons {
                header,
                body,
                footer,
                buttons,
            } => {
                let buttons: Vec<Value> = buttons
                    .iter()
                    .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }))
                    .collect();
                let action = json!({ "buttons": buttons });
                (
                    "interactive",
                    interactive_json("button", header, body, footer, action),
                )
            }
            Self::List {
                header,
                body,
                footer,
                button_label,
                sections,
            } => {
                let sections: Vec<Value> = sections.iter().map(list_section_json).collect();
                let action = json!({ "button": button_label, "sections": sections });
                (
                    "interactive",
                    interactive_json("list", header, body, footer, action),
                )
            }
            Self::CtaUrl {
                header,
                body,
                footer,
                display_text,
                url,
            } => {
                let action = json!({
                    "name": "cta_url",
                    "parameters": { "display_text": display_text, "url": url },
                });
                (
                    "interactive",
                    interactive_json("cta_url", header, body, footer, action),
                )
            }
            Self::Image { media, caption } => ("image", media_json(media, caption, &None)),
            Self::Document {
                media,
                caption,
                filename,
            } => ("document", media_json(media, caption, filename)),
            Self::Location {
                latitude,
                longitude,
                name,
                address,
            } => {
                // Meta's location-messages page documents both coordinates as strings in decimal
                // degrees; `f64`'s Display is the shortest form that reads back as the same number.
                let mut location = Map::new();
                location.insert("latitude".into(), latitude.to_string().into());
                location.insert("longitude".into(), longitude.to_string().into());
                if let Some(name) = name {
                    location.insert("name".into(), name.as_str().into());
                }
                if let Some(address) = address {
                    location.insert("address".into(), address.as_str().into());
                }
                ("location", Value::Object(location))
            }
        }
    }
}

impl TemplateButtonSubType {
    fn as_str(self) -> &'static str {
        match self {
            Self::QuickReply => "quick_reply",
            Self::Url => "url",
        }
    }
}

impl TemplateParameter {
    fn to_json(&self) -> Value {
        match self {
            Self::Text(text) => json!({ "type": "text", "text": text }),
            Self::NamedText { name, text } => {
                json!({ "type": "text", "parameter_name": name, "text": text })
            }
            Self::Payload(payload) => json!({ "type": "payload", "payload": payload }),
        }
    }
}

fn template_component_json(component: &TemplateComponent) -> Value {
    let parameters = |parameters: &[TemplateParameter]| -> Vec<Value> {
        parameters.iter().map(TemplateParameter::to_json).collect()
    };
    match component {
        TemplateComponent::Header { parameters: p } => {
            json!({ "type": "header", "parameters": parameters(p) })
        }
        TemplateComponent::Body { parameters: p } => {
            json!({ "type": "body", "parameters": parameters(p) })
        }
        TemplateComponent::Button {
            sub_type,
            index,
            parameters: p,
        } => json!({
            "type": "button",
            "sub_type": sub_type.as_str(),
            "index": index.to_string(),
            "parameters": parameters(p),
        }),
    }
}

fn interactive_json(
    kind: &str,
    header: &Option<String>,
    body: &str,
    footer: &Option<String>,
    action: Value,
) -> Value {
    let mut interactive = Map::new();
    interactive.insert("type".into(), kind.into());
    if let Some(header) = header {
        interactive.insert("header".into(), json!({ "type": "text", "text": header }));
    }
    interactive.insert("body".into(), json!({ "text": body }));
    if let Some(footer) = footer {
        interactive.insert("footer".into(), json!({ "text": footer }));
    }
    interactive.insert("action".into(), action);
    Value::Object(interactive)
}

fn list_section_json(section: &ListSection) -> Value {
    let rows: Vec<Value> = section
        .rows
        .iter()
        .map(|row| {
            let mut out = Map::new();
            out.insert("id".into(), row.id.as_str().into());
            out.insert("title".into(), row.title.as_str().into());
            if let Some(description) = &row.description {
                out.insert("description".into(), description.as_str().into());
            }
            Value::Object(out)
        })
        .collect();
    let mut out = Map::new();
    if let Some(title) = &section.title {
        out.insert("title".into(), title.as_str().into());
    }
    out.insert("rows".into(), Value::Array(rows));
    Value::Object(out)
}

fn media_json(media: &MediaSource, caption: &Option<String>, filename: &Option<String>) -> Value {
    let mut out = Map::new();
    match media {
        MediaSource::Link(link) => out.insert("link".into(), link.as_str().into()),
        MediaSource::Id(id) => out.insert("id".into(), id.as_str().into()),
    };
    if let Some(caption) = caption {
        out.insert("caption".into(), caption.as_str().into());
    }
    if let Some(filename) = filename {
        out.insert("filename".into(), filename.as_str().into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::messages::test_support::{buttons, list, phone};
    use crate::whatsapp::messages::{ListRow, ReplyButton};

    fn send(body: MessageBody) -> Value {
        OutboundMessage::new(phone(), body).to_json()
    }

    #[test]
    fn text_serialises_as_meta_documents_it() {
        assert_eq!(
            send(MessageBody::text("Hola, ¿en qué te ayudo?")),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "+34600111222",
                "type": "text",
                "text": { "preview_url": false, "body": "Hola, ¿en qué te ayudo?" }
            })
        );
    }

    #[test]
    fn reply_adds_context_and_bsuid_goes_in_recipient_instead_of_to() {
        let message = OutboundMessage::new(
            Recipient::business_scoped_user("ES.13491208655302741918"),
            MessageBody::Text {
                body: "Mira https://salon.example".into(),
                preview_url: true,
            },
        )
        .in_reply_to("wamid.ABC");
        assert_eq!(
            message.to_json(),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "recipient": "ES.13491208655302741918",
                "context": { "message_id": "wamid.ABC" },
                "type": "text",
                "text": { "preview_url": true, "body": "Mira https://salon.example" }
            })
        );
    }

    #[test]
    fn serialize_impl_gives_the_same_json() {
        let message = OutboundMessage::new(phone(), MessageBody::text("hola"));
        let via_serde = serde_json::to_value(&message).unwrap();
        assert_eq!(via_serde, message.to_json());
    }

    #[test]
    fn template_serialises_components_with_string_button_index() {
        let body = MessageBody::Template {
            name: "appointment_reminder".into(),
            language_code: "es".into(),
            components: vec![
                TemplateComponent::header(vec![TemplateParameter::Text("Mañana".into())]),
                TemplateComponent::body(vec![
                    TemplateParameter::Text("Lucía".into()),
                    TemplateParameter::NamedText {
                        name: "time".into(),
                        text: "10:30".into(),
                    },
                ]),
                TemplateComponent::quick_reply(0, "confirm:42"),
                TemplateComponent::url_button(1, "b/42"),
            ],
        };
        assert_eq!(
            send(body),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "+34600111222",
                "type": "template",
                "template": {
                    "name": "appointment_reminder",
                    "language": { "code": "es" },
                    "components": [
                        { "type": "header", "parameters": [ { "type": "text", "text": "Mañana" } ] },
                        { "type": "body", "parameters": [
                            { "type": "text", "text": "Lucía" },
                            { "type": "text", "parameter_name": "time", "text": "10:30" }
                        ] },
                        { "type": "button", "sub_type": "quick_reply", "index": "0",
                          "parameters": [ { "type": "payload", "payload": "confirm:42" } ] },
                        { "type": "button", "sub_type": "url", "index": "1",
                          "parameters": [ { "type": "text", "text": "b/42" } ] }
                    ]
                }
            })
        );
    }

    #[test]
    fn template_without_components_omits_them() {
        let body = MessageBody::Template {
            name: "hello_world".into(),
            language_code: "en_US".into(),
            components: vec![],
        };
        assert_eq!(
            send(body)["template"],
            json!({ "name": "hello_world", "language": { "code": "en_US" } })
        );
    }

    #[test]
    fn buttons_serialise_with_optional_header_and_footer() {
        let body = MessageBody::Buttons {
            header: Some("Tu cita".into()),
            body: "¿Confirmas el martes a las 10:00?".into(),
            footer: Some("Salón Lucía".into()),
            buttons: vec![
                ReplyButton::new("confirm", "Confirmar"),
                ReplyButton::new("change", "Cambiar"),
            ],
        };
        assert_eq!(
            send(body),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "+34600111222",
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "header": { "type": "text", "text": "Tu cita" },
                    "body": { "text": "¿Confirmas el martes a las 10:00?" },
                    "footer": { "text": "Salón Lucía" },
                    "action": { "buttons": [
                        { "type": "reply", "reply": { "id": "confirm", "title": "Confirmar" } },
                        { "type": "reply", "reply": { "id": "change", "title": "Cambiar" } }
                    ] }
                }
            })
        );
        assert_eq!(
            send(buttons(&["Sí"]))["interactive"],
            json!({
                "type": "button",
                "body": { "text": "¿Qué prefieres?" },
                "action": { "buttons": [ { "type": "reply", "reply": { "id": "b0", "title": "Sí" } } ] }
            })
        );
    }

    #[test]
    fn list_serialises_sections_rows_and_optional_fields() {
        let body = MessageBody::List {
            header: Some("Servicios".into()),
            body: "¿Qué te hacemos?".into(),
            footer: Some("Precios con IVA".into()),
            button_label: "Ver servicios".into(),
            sections: vec![
                ListSection::titled(
                    "Pelo",
                    vec![
                        ListRow::new("cut", "Corte").with_description("30 min · 20 €"),
                        ListRow::new("dye", "Tinte"),
                    ],
                ),
                ListSection::titled("Uñas", vec![ListRow::new("mani", "Manicura")]),
            ],
        };
        assert_eq!(
            send(body)["interactive"],
            json!({
                "type": "list",
                "header": { "type": "text", "text": "Servicios" },
                "body": { "text": "¿Qué te hacemos?" },
                "footer": { "text": "Precios con IVA" },
                "action": {
                    "button": "Ver servicios",
                    "sections": [
                        { "title": "Pelo", "rows": [
                            { "id": "cut", "title": "Corte", "description": "30 min · 20 €" },
                            { "id": "dye", "title": "Tinte" }
                        ] },
                        { "title": "Uñas", "rows": [ { "id": "mani", "title": "Manicura" } ] }
                    ]
                }
            })
        );
        let untitled = list(vec![ListSection::untitled(vec![ListRow::new("a", "A")])]);
        assert_eq!(
            send(untitled)["interactive"]["action"]["sections"],
            json!([ { "rows": [ { "id": "a", "title": "A" } ] } ])
        );
    }

    #[test]
    fn cta_url_serialises_action_name_and_parameters() {
        let body = MessageBody::CtaUrl {
            header: None,
            body: "Paga la señal para reservar.".into(),
            footer: Some("Caduca en 30 min".into()),
            display_text: "Pagar señal".into(),
            url: "https://pay.example/abc".into(),
        };
        assert_eq!(
            send(body),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "+34600111222",
                "type": "interactive",
                "interactive": {
                    "type": "cta_url",
                    "body": { "text": "Paga la señal para reservar." },
                    "footer": { "text": "Caduca en 30 min" },
                    "action": {
                        "name": "cta_url",
                        "parameters": { "display_text": "Pagar señal", "url": "https://pay.example/abc" }
                    }
                }
            })
        );
    }

    #[test]
    fn media_serialise_by_link_or_id_with_optional_caption_and_filename() {
        let image = MessageBody::Image {
            media: MediaSource::Link("https://salon.example/cut.jpg".into()),
            caption: Some("Así queda".into()),
        };
        assert_eq!(
            send(image),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "+34600111222",
                "type": "image",
                "image": { "link": "https://salon.example/cut.jpg", "caption": "Así queda" }
            })
        );
        let image = MessageBody::Image {
            media: MediaSource::Id("1013859600285441".into()),
            caption: None,
        };
        assert_eq!(send(image)["image"], json!({ "id": "1013859600285441" }));
        let document = MessageBody::Document {
            media: MediaSource::Id("555".into()),
            caption: Some("Tu factura".into()),
            filename: Some("factura-42.pdf".into()),
        };
        let json = send(document);
        assert_eq!(json["type"], "document");
        assert_eq!(
            json["document"],
            json!({ "id": "555", "caption": "Tu factura", "filename": "factura-42.pdf" })
        );
        let document = MessageBody::Document {
            media: MediaSource::Link("https://salon.example/precios.pdf".into()),
            caption: None,
            filename: None,
        };
        assert_eq!(
            send(document)["document"],
            json!({ "link": "https://salon.example/precios.pdf" })
        );
    }

    #[test]
    fn location_serialises_coordinates_as_decimal_strings() {
        let body = MessageBody::Location {
            latitude: 40.4168,
            longitude: -3.7038,
            name: Some("Salón Lucía".into()),
            address: Some("Calle Mayor 1, Madrid".into()),
        };
        assert_eq!(
            send(body),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "+34600111222",
                "type": "location",
                "location": {
                    "latitude": "40.4168",
                    "longitude": "-3.7038",
                    "name": "Salón Lucía",
                    "address": "Calle Mayor 1, Madrid"
                }
            })
        );
        let bare = MessageBody::Location {
            latitude: 0.5,
            longitude: 1.0,
            name: None,
            address: None,
        };
        assert_eq!(
            send(bare)["location"],
            json!({ "latitude": "0.5", "longitude": "1" })
        );
    }

    #[test]
    fn mark_read_is_a_status_body() {
        assert_eq!(
            mark_read_json("wamid.HBgL"),
            json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HBgL" })
        );
    }
}

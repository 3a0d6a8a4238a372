//! The load-time check: every limit a message breaks, as [`LimitViolation`]s
//! ([`OutboundMessage::validate`]).

use std::fmt;

use super::limits::*;
use super::{MediaSource, MessageBody, OutboundMessage, TemplateComponent, char_len};

/// Which limit a field breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// At most this many characters.
    MaxChars(usize),
    /// At least this many characters (1: the field is required and may not be empty).
    MinChars(usize),
    /// At most this many items.
    MaxItems(usize),
    /// At least this many items.
    MinItems(usize),
    /// Each value must differ from the others of its kind in the message (button titles, ids).
    Distinct,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MaxChars(n) => write!(f, "at most {n} characters"),
            Self::MinChars(n) => write!(f, "at least {n} characters"),
            Self::MaxItems(n) => write!(f, "at most {n} items"),
            Self::MinItems(n) => write!(f, "at least {n} items"),
            Self::Distinct => f.write_str("a value no other item repeats"),
        }
    }
}

/// One broken limit: which field (as a path in Meta's JSON), which limit, and the actual length or count
/// (for [`Limit::Distinct`], how many items share the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {}", describe(.limit, .actual))]
pub struct LimitViolation {
    pub field: String,
    pub limit: Limit,
    pub actual: usize,
}

fn describe(limit: &Limit, actual: &usize) -> String {
    match limit {
        Limit::MaxChars(max) => {
            format!("is {actual} characters long; WhatsApp allows at most {max}")
        }
        Limit::MinChars(min) => {
            format!("is {actual} characters long; WhatsApp needs at least {min}")
        }
        Limit::MaxItems(max) => format!("has {actual} items; WhatsApp allows at most {max}"),
        Limit::MinItems(min) => format!("has {actual} items; WhatsApp needs at least {min}"),
        Limit::Distinct => {
            format!("repeats a value {actual} items share; WhatsApp needs each to be different")
        }
    }
}

impl LimitViolation {
    pub(super) fn new(field: impl Into<String>, limit: Limit, actual: usize) -> Self {
        Self {
            field: field.into(),
            limit,
            actual,
        }
    }
}

impl OutboundMessage {
    /// Every limit this message breaks, for the flow checker to report at load time.
    pub fn validate(&self) -> Result<(), Vec<LimitViolation>> {
        self.body.validate()
    }
}

impl MessageBody {
    /// Every limit this message breaks; see [`OutboundMessage::validate`].
    pub fn validate(&self) -> Result<(), Vec<LimitViolation>> {
        let mut found = Vec::new();
        match self {
            Self::Text { body, .. } => {
                check_required("text.body", body, &mut found);
                check_max("text.body", body, TEXT_BODY, &mut found);
            }
            Self::Template {
                name,
                language_code,
                components,
            } => {
                check_required("template.name", name, &mut found);
                check_required("template.language.code", language_code, &mut found);
                for (i, component) in components.iter().enumerate() {
                    let parameters = match component {
                        TemplateComponent::Header { parameters }
                        | TemplateComponent::Body { parameters }
                        | TemplateComponent::Button { parameters, .. } => parameters,
                    };
                    if parameters.is_empty() {
                        found.push(LimitViolation::new(
                            format!("template.components[{i}].parameters"),
                            Limit::MinItems(1),
                            0,
                        ));
                    }
                }
            }
            Self::Buttons {
                header,
                body,
                footer,
                buttons,
            } => {
                check_frame(header, body, INTERACTIVE_BODY, footer, &mut found);
                check_count(
                    "interactive.action.buttons",
                    buttons.len(),
                    1,
                    REPLY_BUTTONS,
                    &mut found,
                );
                for (i, button) in buttons.iter().enumerate() {
                    let field =
                        |name: &str| format!("interactive.action.buttons[{i}].reply.{name}");
                    check_required(&field("id"), &button.id, &mut found);
                    check_max(&field("id"), &button.id, BUTTON_ID, &mut found);
                    check_required(&field("title"), &button.title, &mut found);
                    check_max(&field("title"), &button.title, BUTTON_TITLE, &mut found);
                }
                check_distinct(
                    buttons.iter().map(|b| b.id.as_str()),
                    |i| format!("interactive.action.buttons[{i}].reply.id"),
                    &mut found,
                );
                check_distinct(
                    buttons.iter().map(|b| b.title.as_str()),
                    |i| format!("interactive.action.buttons[{i}].reply.title"),
                    &mut found,
                );
            }
            Self::List {
                header,
                body,
                footer,
                button_label,
                sections,
            } => {
                check_frame(header, body, LIST_BODY, footer, &mut found);
                check_required("interactive.action.button", button_label, &mut found);
                check_max(
                    "interactive.action.button",
                    button_label,
                    LIST_BUTTON_LABEL,
                    &mut found,
                );
                check_count(
                    "interactive.action.sections",
                    sections.len(),
                    1,
                    LIST_SECTIONS,
                    &mut found,
                );
                let total_rows = sections.iter().map(|s| s.rows.len()).sum();
                check_count(
                    "interactive.action.sections[*].rows",
                    total_rows,
                    1,
                    LIST_ROWS_TOTAL,
                    &mut found,
                );
                for (s, section) in sections.iter().enumerate() {
                    let title_field = format!("interactive.action.sections[{s}].title");
                    match &section.title {
                        Some(title) => {
                            check_required(&title_field, title, &mut found);
                            check_max(&title_field, title, SECTION_TITLE, &mut found);
                        }
                        None if sections.len() > 1 => {
                            found.push(LimitViolation::new(title_field, Limit::MinChars(1), 0));
                        }
                        None => {}
                    }
                    if section.rows.is_empty() && sections.len() > 1 {
                        found.push(LimitViolation::new(
                            format!("interactive.action.sections[{s}].rows"),
                            Limit::MinItems(1),
                            0,
                        ));
                    }
                    for (r, row) in section.rows.iter().enumerate() {
                        let field = |name: &str| {
                            format!("interactive.action.sections[{s}].rows[{r}].{name}")
                        };
                        check_required(&field("id"), &row.id, &mut found);
                        check_max(&field("id"), &row.id, ROW_ID, &mut found);
                        check_required(&field("title"), &row.title, &mut found);
                        check_max(&field("title"), &row.title, ROW_TITLE, &mut found);
                        if let Some(description) = &row.description {
                            check_max(
                                &field("description"),
                                description,
                                ROW_DESCRIPTION,
                                &mut found,
                            );
                        }
                    }
                }
                let row_fields: Vec<(String, &str)> = sections
                    .iter()
                    .enumerate()
                    .flat_map(|(s, section)| {
                        section.rows.iter().enumerate().map(move |(r, row)| {
                            (
                                format!("interactive.action.sections[{s}].rows[{r}].id"),
                                row.id.as_str(),
                            )
                        })
                    })
                    .collect();
                check_distinct(
                    row_fields.iter().map(|(_, id)| *id),
                    |i| row_fields[i].0.clone(),
                    &mut found,
                );
            }
            Self::CtaUrl {
                header,
                body,
                footer,
                display_text,
                url,
            } => {
                check_frame(header, body, INTERACTIVE_BODY, footer, &mut found);
                let display = "interactive.action.parameters.display_text";
                check_required(display, display_text, &mut found);
                check_max(display, display_text, CTA_DISPLAY_TEXT, &mut found);
                check_required("interactive.action.parameters.url", url, &mut found);
            }
            Self::Image { media, caption } => check_media("image", media, caption, &mut found),
            Self::Document { media, caption, .. } => {
                check_media("document", media, caption, &mut found)
            }
            Self::Location { .. } => {}
        }
        if found.is_empty() { Ok(()) } else { Err(found) }
    }
}

pub(super) fn too_long(field: &str, max: usize, text: &str) -> LimitViolation {
    LimitViolation::new(field, Limit::MaxChars(max), char_len(text))
}

fn check_max(field: &str, text: &str, max: usize, found: &mut Vec<LimitViolation>) {
    if char_len(text) > max {
        found.push(too_long(field, max, text));
    }
}

fn check_required(field: &str, text: &str, found: &mut Vec<LimitViolation>) {
    if text.is_empty() {
        found.push(LimitViolation::new(field, Limit::MinChars(1), 0));
    }
}

fn check_count(field: &str, count: usize, min: usize, max: usize, found: &mut Vec<LimitViolation>) {
    if count < min {
        found.push(LimitViolation::new(field, Limit::MinItems(min), count));
    } else if count > max {
        found.push(LimitViolation::new(field, Limit::MaxItems(max), count));
    }
}

/// Reports every item whose value an earlier item already has.
fn check_distinct<'a>(
    values: impl Iterator<Item = &'a str>,
    field: impl Fn(usize) -> String,
    found: &mut Vec<LimitViolation>,
) {
    let values: Vec<&str> = values.collect();
    for (i, value) in values.iter().enumerate() {
        if values[..i].contains(value) {
            let sharing = values.iter().filter(|v| *v == value).count();
            found.push(LimitViolation::new(field(i), Limit::Distinct, sharing));
        }
    }
}

/// Header, body and footer of an interactive message.
fn check_frame(
    header: &Option<String>,
    body: &str,
    body_max: usize,
    footer: &Option<String>,
    found: &mut Vec<LimitViolation>,
) {
    if let Some(header) = header {
        check_required("interactive.header.text", header, found);
        check_max("interactive.header.text", header, HEADER_TEXT, found);
    }
    check_required("interactive.body.text", body, found);
    check_max("interactive.body.text", body, body_max, found);
    if let Some(footer) = footer {
        check_required("interactive.footer.text", footer, found);
        check_max("interactive.footer.text", footer, FOOTER_TEXT, found);
    }
}

fn check_media(
    kind: &str,
    media: &MediaSource,
    caption: &Option<String>,
    found: &mut Vec<LimitViolation>,
) {
    match media {
        MediaSource::Link(link) => check_required(&format!("{kind}.link"), link, found),
        MediaSource::Id(id) => check_required(&format!("{kind}.id"), id, found),
    }
    if let Some(caption) = caption {
        check_max(&format!("{kind}.caption"), caption, CAPTION, found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::messages::test_support::{buttons, list, rows, v};
    use crate::whatsapp::messages::{ListRow, ListSection, ReplyButton};

    fn violations(body: MessageBody) -> Vec<LimitViolation> {
        match body.validate() {
            Ok(()) => Vec::new(),
            Err(found) => found,
        }
    }

    #[test]
    fn messages_exactly_at_the_limits_are_valid() {
        // Multi-byte characters: the limits count characters, not bytes.
        let message = MessageBody::Buttons {
            header: Some("ñ".repeat(HEADER_TEXT)),
            body: "é".repeat(INTERACTIVE_BODY),
            footer: Some("ü".repeat(FOOTER_TEXT)),
            buttons: vec![
                ReplyButton::new("i".repeat(BUTTON_ID), "ñ".repeat(BUTTON_TITLE)),
                ReplyButton::new("b", "b"),
                ReplyButton::new("c", "c"),
            ],
        };
        assert_eq!(message.validate(), Ok(()));
        assert_eq!(MessageBody::text("á".repeat(TEXT_BODY)).validate(), Ok(()));
        let full = list(vec![
            ListSection::titled(
                "s".repeat(SECTION_TITLE),
                vec![
                    ListRow::new("i".repeat(ROW_ID), "t".repeat(ROW_TITLE))
                        .with_description("d".repeat(ROW_DESCRIPTION)),
                ],
            ),
            ListSection::titled("Otros", rows("r", 9)),
        ]);
        assert_eq!(full.validate(), Ok(()));
    }

    #[test]
    fn text_violations_are_reported() {
        assert_eq!(
            violations(MessageBody::text("a".repeat(4097))),
            vec![v("text.body", Limit::MaxChars(4096), 4097)]
        );
        assert_eq!(
            violations(MessageBody::text("")),
            vec![v("text.body", Limit::MinChars(1), 0)]
        );
    }

    #[test]
    fn button_violations_are_reported() {
        assert_eq!(
            violations(buttons(&[])),
            vec![v("interactive.action.buttons", Limit::MinItems(1), 0)]
        );
        assert_eq!(
            violations(buttons(&["a", "b", "c", "d"])),
            vec![v("interactive.action.buttons", Limit::MaxItems(3), 4)]
        );
        assert_eq!(
            violations(buttons(&["Corte de pelo y peinado ✂️ largo"])),
            vec![v(
                "interactive.action.buttons[0].reply.title",
                Limit::MaxChars(20),
                32
            )]
        );
        assert_eq!(
            violations(buttons(&["Sí", ""])),
            vec![v(
                "interactive.action.buttons[1].reply.title",
                Limit::MinChars(1),
                0
            )]
        );
        assert_eq!(
            violations(buttons(&["Sí", "No", "Sí"])),
            vec![v(
                "interactive.action.buttons[2].reply.title",
                Limit::Distinct,
                2
            )]
        );
        let long_id = MessageBody::Buttons {
            header: Some("h".repeat(61)),
            body: "b".repeat(1025),
            footer: Some("f".repeat(61)),
            buttons: vec![
                ReplyButton::new("i".repeat(257), "A"),
                ReplyButton::new("", "B"),
                ReplyButton::new("x", "C"),
                ReplyButton::new("x", "D"),
            ],
        };
        assert_eq!(
            violations(long_id),
            vec![
                v("interactive.header.text", Limit::MaxChars(60), 61),
                v("interactive.body.text", Limit::MaxChars(1024), 1025),
                v("interactive.footer.text", Limit::MaxChars(60), 61),
                v("interactive.action.buttons", Limit::MaxItems(3), 4),
                v(
                    "interactive.action.buttons[0].reply.id",
                    Limit::MaxChars(256),
                    257
                ),
                v(
                    "interactive.action.buttons[1].reply.id",
                    Limit::MinChars(1),
                    0
                ),
                v("interactive.action.buttons[3].reply.id", Limit::Distinct, 2),
            ]
        );
    }

    #[test]
    fn list_violations_are_reported() {
        let message = MessageBody::List {
            header: None,
            body: "b".repeat(4097),
            footer: None,
            button_label: "Ver todos los servicios".into(),
            sections: vec![
                ListSection::titled(
                    "Servicios de peluquería y estética",
                    vec![
                        ListRow::new("i".repeat(201), "Corte de pelo largo con lavado")
                            .with_description("d".repeat(73)),
                    ],
                ),
                ListSection::untitled(rows("r", 10)),
            ],
        };
        assert_eq!(
            violations(message),
            vec![
                v("interactive.body.text", Limit::MaxChars(4096), 4097),
                v("interactive.action.button", Limit::MaxChars(20), 23),
                v(
                    "interactive.action.sections[*].rows",
                    Limit::MaxItems(10),
                    11
                ),
                v(
                    "interactive.action.sections[0].title",
                    Limit::MaxChars(24),
                    34
                ),
                v(
                    "interactive.action.sections[0].rows[0].id",
                    Limit::MaxChars(200),
                    201
                ),
                v(
                    "interactive.action.sections[0].rows[0].title",
                    Limit::MaxChars(24),
                    30
                ),
                v(
                    "interactive.action.sections[0].rows[0].description",
                    Limit::MaxChars(72),
                    73
                ),
                v(
                    "interactive.action.sections[1].title",
                    Limit::MinChars(1),
                    0
                ),
            ]
        );
        let eleven_sections: Vec<ListSection> = (0..11)
            .map(|s| ListSection::titled(format!("S{s}"), rows(&format!("s{s}-"), 1)))
            .collect();
        let found = violations(list(eleven_sections));
        assert!(found.contains(&v("interactive.action.sections", Limit::MaxItems(10), 11)));
        assert!(found.contains(&v(
            "interactive.action.sections[*].rows",
            Limit::MaxItems(10),
            11
        )));
        assert_eq!(
            violations(list(vec![])),
            vec![
                v("interactive.action.sections", Limit::MinItems(1), 0),
                v("interactive.action.sections[*].rows", Limit::MinItems(1), 0),
            ]
        );
        let duplicate_ids = list(vec![
            ListSection::titled("A", vec![ListRow::new("x", "Uno")]),
            ListSection::titled("B", vec![ListRow::new("x", "Dos")]),
        ]);
        assert_eq!(
            violations(duplicate_ids),
            vec![v(
                "interactive.action.sections[1].rows[0].id",
                Limit::Distinct,
                2
            )]
        );
    }

    #[test]
    fn cta_and_caption_violations_are_reported() {
        let cta = MessageBody::CtaUrl {
            header: None,
            body: "b".repeat(1025),
            footer: None,
            display_text: "Paga aquí la señal ya".into(),
            url: String::new(),
        };
        assert_eq!(
            violations(cta),
            vec![
                v("interactive.body.text", Limit::MaxChars(1024), 1025),
                v(
                    "interactive.action.parameters.display_text",
                    Limit::MaxChars(20),
                    21
                ),
                v("interactive.action.parameters.url", Limit::MinChars(1), 0),
            ]
        );
        let image = MessageBody::Image {
            media: MediaSource::Link("https://x/y.jpg".into()),
            caption: Some("c".repeat(1025)),
        };
        assert_eq!(
            violations(image),
            vec![v("image.caption", Limit::MaxChars(1024), 1025)]
        );
        let document = MessageBody::Document {
            media: MediaSource::Id(String::new()),
            caption: Some("c".repeat(1025)),
            filename: None,
        };
        assert_eq!(
            violations(document),
            vec![
                v("document.id", Limit::MinChars(1), 0),
                v("document.caption", Limit::MaxChars(1024), 1025),
            ]
        );
    }

    #[test]
    fn template_violations_are_reported() {
        let template = MessageBody::Template {
            name: String::new(),
            language_code: "es".into(),
            components: vec![TemplateComponent::body(vec![])],
        };
        assert_eq!(
            violations(template),
            vec![
                v("template.name", Limit::MinChars(1), 0),
                v("template.components[0].parameters", Limit::MinItems(1), 0),
            ]
        );
    }

    #[test]
    fn violation_displays_field_limit_and_actual_length() {
        let violation = v(
            "interactive.action.buttons[0].reply.title",
            Limit::MaxChars(20),
            32,
        );
        assert_eq!(
            violation.to_string(),
            "interactive.action.buttons[0].reply.title is 32 characters long; WhatsApp allows at most 20"
        );
        assert_eq!(
            v("interactive.action.buttons", Limit::MaxItems(3), 4).to_string(),
            "interactive.action.buttons has 4 items; WhatsApp allows at most 3"
        );
        assert_eq!(Limit::MaxChars(20).to_string(), "at most 20 characters");
    }
}

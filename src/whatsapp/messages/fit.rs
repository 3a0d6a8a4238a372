//! The run-time repair: a message made to fit Meta's limits by shortening and dropping, with what was
//! changed ([`OutboundMessage::fit_to_limits`]).

use super::limits::*;
use super::split::shorten;
use super::validate::too_long;
use super::{
    Limit, LimitViolation, ListSection, MessageBody, OutboundMessage, ReplyButton, char_len,
};

impl OutboundMessage {
    /// The message made sendable by shortening and dropping, and what was changed. See
    /// [`MessageBody::fit_to_limits`]; a text longer than 4,096 characters is left whole, for
    /// [`OutboundMessage::into_sendable`] to split.
    pub fn fit_to_limits(self) -> (Self, Vec<LimitViolation>) {
        let (body, changes) = self.body.fit_to_limits();
        (
            Self {
                to: self.to,
                body,
                reply_to: self.reply_to,
            },
            changes,
        )
    }
}

impl MessageBody {
    /// This content made to fit Meta's limits, and what was changed.
    ///
    /// Headers, footers, labels, titles, descriptions, captions and interactive bodies longer than their
    /// limit are shortened at a character boundary with an ellipsis (`…`); buttons and rows beyond the
    /// maximum are dropped, as are those with an empty or over-long id (a shortened id would not match
    /// what the flow expects back) or an empty title, and duplicate ids; a repeated button title gets a
    /// number. A button or list message left with no options becomes a text message with its header,
    /// body and footer. A text body over 4,096 characters is left whole (use
    /// [`OutboundMessage::into_sendable`] to split it). Required text that is empty (a body, a list label,
    /// a URL, a section title when there are several sections) cannot be invented here: [`Self::validate`]
    /// reports it, and the flow checker rejects such flows at load time.
    pub fn fit_to_limits(self) -> (Self, Vec<LimitViolation>) {
        let mut changes = Vec::new();
        let fitted = match self {
            Self::Buttons {
                header,
                body,
                footer,
                buttons,
            } => {
                let (header, body, footer) =
                    fit_frame(header, body, INTERACTIVE_BODY, footer, &mut changes);
                let buttons = fit_buttons(buttons, &mut changes);
                if buttons.is_empty() {
                    changes.push(LimitViolation::new(
                        "interactive.action.buttons",
                        Limit::MinItems(1),
                        0,
                    ));
                    frame_as_text(header, body, footer)
                } else {
                    Self::Buttons {
                        header,
                        body,
                        footer,
                        buttons,
                    }
                }
            }
            Self::List {
                header,
                body,
                footer,
                button_label,
                sections,
            } => {
                let (header, body, footer) =
                    fit_frame(header, body, LIST_BODY, footer, &mut changes);
                let button_label = shorten_field(
                    "interactive.action.button",
                    button_label,
                    LIST_BUTTON_LABEL,
                    &mut changes,
                );
                let sections = fit_sections(sections, &mut changes);
                if sections.is_empty() {
                    frame_as_text(header, body, footer)
                } else {
                    Self::List {
                        header,
                        body,
                        footer,
                        button_label,
                        sections,
                    }
                }
            }
            Self::CtaUrl {
                header,
                body,
                footer,
                display_text,
                url,
            } => {
                let (header, body, footer) =
                    fit_frame(header, body, INTERACTIVE_BODY, footer, &mut changes);
                let display_text = shorten_field(
                    "interactive.action.parameters.display_text",
                    display_text,
                    CTA_DISPLAY_TEXT,
                    &mut changes,
                );
                Self::CtaUrl {
                    header,
                    body,
                    footer,
                    display_text,
                    url,
                }
            }
            Self::Image { media, caption } => Self::Image {
                media,
                caption: caption.map(|c| shorten_field("image.caption", c, CAPTION, &mut changes)),
            },
            Self::Document {
                media,
                caption,
                filename,
            } => Self::Document {
                media,
                caption: caption
                    .map(|c| shorten_field("document.caption", c, CAPTION, &mut changes)),
                filename,
            },
            other @ (Self::Text { .. } | Self::Template { .. } | Self::Location { .. }) => other,
        };
        (fitted, changes)
    }
}

/// `text` shortened to `max` characters if longer, recording the change.
fn shorten_field(
    field: &str,
    text: String,
    max: usize,
    changes: &mut Vec<LimitViolation>,
) -> String {
    if char_len(&text) > max {
        changes.push(too_long(field, max, &text));
        shorten(&text, max)
    } else {
        text
    }
}

/// An optional header or footer: empty ones are dropped (Meta rejects an empty text), long ones shortened.
fn fit_optional(
    field: &str,
    text: Option<String>,
    max: usize,
    changes: &mut Vec<LimitViolation>,
) -> Option<String> {
    match text {
        Some(text) if text.is_empty() => {
            changes.push(LimitViolation::new(field, Limit::MinChars(1), 0));
            None
        }
        Some(text) => Some(shorten_field(field, text, max, changes)),
        None => None,
    }
}

fn fit_frame(
    header: Option<String>,
    body: String,
    body_max: usize,
    footer: Option<String>,
    changes: &mut Vec<LimitViolation>,
) -> (Option<String>, String, Option<String>) {
    (
        fit_optional("interactive.header.text", header, HEADER_TEXT, changes),
        shorten_field("interactive.body.text", body, body_max, changes),
        fit_optional("interactive.footer.text", footer, FOOTER_TEXT, changes),
    )
}

/// An interactive message with no options left, as a text with everything it said.
fn frame_as_text(header: Option<String>, body: String, footer: Option<String>) -> MessageBody {
    let parts: Vec<String> = [header, Some(body), footer]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect();
    MessageBody::text(parts.join("\n\n"))
}

fn fit_buttons(buttons: Vec<ReplyButton>, changes: &mut Vec<LimitViolation>) -> Vec<ReplyButton> {
    let field = |i: usize, name: &str| format!("interactive.action.buttons[{i}].reply.{name}");
    let all_ids: Vec<String> = buttons.iter().map(|b| b.id.clone()).collect();
    // (original index, button), so that reported fields name the button the author wrote.
    let mut kept: Vec<(usize, ReplyButton)> = Vec::new();
    for (i, button) in buttons.into_iter().enumerate() {
        let id_len = char_len(&button.id);
        if id_len == 0 {
            changes.push(LimitViolation::new(field(i, "id"), Limit::MinChars(1), 0));
        } else if id_len > BUTTON_ID {
            changes.push(LimitViolation::new(
                field(i, "id"),
                Limit::MaxChars(BUTTON_ID),
                id_len,
            ));
        } else if button.title.is_empty() {
            changes.push(LimitViolation::new(
                field(i, "title"),
                Limit::MinChars(1),
                0,
            ));
        } else if kept.iter().any(|(_, k)| k.id == button.id) {
            let sharing = all_ids.iter().filter(|id| **id == button.id).count();
            changes.push(LimitViolation::new(
                field(i, "id"),
                Limit::Distinct,
                sharing,
            ));
        } else {
            kept.push((i, button));
        }
    }
    if kept.len() > REPLY_BUTTONS {
        changes.push(LimitViolation::new(
            "interactive.action.buttons",
            Limit::MaxItems(REPLY_BUTTONS),
            kept.len(),
        ));
        kept.truncate(REPLY_BUTTONS);
    }
    let originals: Vec<String> = kept.iter().map(|(_, b)| b.title.clone()).collect();
    for (i, button) in &mut kept {
        let title = std::mem::take(&mut button.title);
        button.title = shorten_field(&field(*i, "title"), title, BUTTON_TITLE, changes);
    }
    // Meta rejects two buttons with the same title, and shortening can make two titles equal.
    for k in 0..kept.len() {
        let title = kept[k].1.title.clone();
        if !kept[..k].iter().any(|(_, b)| b.title == title) {
            continue;
        }
        let sharing = kept.iter().filter(|(_, b)| b.title == title).count();
        changes.push(LimitViolation::new(
            field(kept[k].0, "title"),
            Limit::Distinct,
            sharing,
        ));
        let mut n = 2;
        let distinct = loop {
            let candidate = numbered(&originals[k], BUTTON_TITLE, n);
            if !kept.iter().any(|(_, b)| b.title == candidate) {
                break candidate;
            }
            n += 1;
        };
        kept[k].1.title = distinct;
    }
    kept.into_iter().map(|(_, button)| button).collect()
}

/// `text` followed by ` n`, shortened first if both do not fit in `max` characters.
fn numbered(text: &str, max: usize, n: usize) -> String {
    let suffix = format!(" {n}");
    let room = max.saturating_sub(char_len(&suffix));
    let mut out = if char_len(text) <= room {
        text.to_owned()
    } else {
        shorten(text, room)
    };
    out.push_str(&suffix);
    out
}

fn fit_sections(sections: Vec<ListSection>, changes: &mut Vec<LimitViolation>) -> Vec<ListSection> {
    let row_field = |s: usize, r: usize, name: &str| {
        format!("interactive.action.sections[{s}].rows[{r}].{name}")
    };
    let all_ids: Vec<String> = sections
        .iter()
        .flat_map(|s| s.rows.iter().map(|r| r.id.clone()))
        .collect();
    let mut seen_ids: Vec<String> = Vec::new();
    let mut rows_kept = 0;
    let mut rows_offered = 0;
    let mut out = Vec::new();
    for (s, section) in sections.into_iter().enumerate() {
        let title = section.title.map(|title| {
            let field = format!("interactive.action.sections[{s}].title");
            shorten_field(&field, title, SECTION_TITLE, changes)
        });
        let mut rows = Vec::new();
        for (r, mut row) in section.rows.into_iter().enumerate() {
            let id_len = char_len(&row.id);
            if id_len == 0 {
                changes.push(LimitViolation::new(
                    row_field(s, r, "id"),
                    Limit::MinChars(1),
                    0,
                ));
                continue;
            }
            if id_len > ROW_ID {
                changes.push(LimitViolation::new(
                    row_field(s, r, "id"),
                    Limit::MaxChars(ROW_ID),
                    id_len,
                ));
                continue;
            }
            if row.title.is_empty() {
                changes.push(LimitViolation::new(
                    row_field(s, r, "title"),
                    Limit::MinChars(1),
                    0,
                ));
                continue;
            }
            if seen_ids.contains(&row.id) {
                let sharing = all_ids.iter().filter(|id| **id == row.id).count();
                changes.push(LimitViolation::new(
                    row_field(s, r, "id"),
                    Limit::Distinct,
                    sharing,
                ));
                continue;
            }
            rows_offered += 1;
            if rows_kept == LIST_ROWS_TOTAL {
                continue;
            }
            seen_ids.push(row.id.clone());
            rows_kept += 1;
            row.title = shorten_field(&row_field(s, r, "title"), row.title, ROW_TITLE, changes);
            row.description = row.description.map(|description| {
                shorten_field(
                    &row_field(s, r, "description"),
                    description,
                    ROW_DESCRIPTION,
                    changes,
                )
            });
            rows.push(row);
        }
        // A section whose rows were all dropped (or that had none) cannot be sent.
        if rows.is_empty() {
            changes.push(LimitViolation::new(
                format!("interactive.action.sections[{s}].rows"),
                Limit::MinItems(1),
                0,
            ));
            continue;
        }
        out.push(ListSection { title, rows });
    }
    if rows_offered > LIST_ROWS_TOTAL {
        changes.push(LimitViolation::new(
            "interactive.action.sections[*].rows",
            Limit::MaxItems(LIST_ROWS_TOTAL),
            rows_offered,
        ));
    }
    // With at most 10 rows and no empty section there are at most 10 sections; kept for clarity.
    if out.len() > LIST_SECTIONS {
        changes.push(LimitViolation::new(
            "interactive.action.sections",
            Limit::MaxItems(LIST_SECTIONS),
            out.len(),
        ));
        out.truncate(LIST_SECTIONS);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::messages::test_support::{buttons, list, rows, v};
    use crate::whatsapp::messages::{ListRow, MediaSource};

    #[test]
    fn fit_shortens_a_multibyte_button_title_with_an_ellipsis() {
        let (fitted, changes) = buttons(&["Corte de pelo y peinado ✂️ largo"]).fit_to_limits();
        assert_eq!(
            changes,
            vec![v(
                "interactive.action.buttons[0].reply.title",
                Limit::MaxChars(20),
                32
            )]
        );
        let MessageBody::Buttons { buttons, .. } = &fitted else {
            panic!("still buttons");
        };
        assert_eq!(buttons[0].title, "Corte de pelo y pei…");
        assert_eq!(buttons[0].title.chars().count(), 20);
        assert_eq!(fitted.validate(), Ok(()));
    }

    #[test]
    fn fit_shortens_header_footer_body_and_drops_extra_buttons() {
        let message = MessageBody::Buttons {
            header: Some("Cabecera ".repeat(10)),
            body: "b".repeat(1030),
            footer: Some(String::new()),
            buttons: vec![
                ReplyButton::new("a", "A"),
                ReplyButton::new("b", "B"),
                ReplyButton::new("c", "C"),
                ReplyButton::new("d", "D"),
            ],
        };
        let (fitted, changes) = message.fit_to_limits();
        assert_eq!(
            changes,
            vec![
                v("interactive.header.text", Limit::MaxChars(60), 90),
                v("interactive.body.text", Limit::MaxChars(1024), 1030),
                v("interactive.footer.text", Limit::MinChars(1), 0),
                v("interactive.action.buttons", Limit::MaxItems(3), 4),
            ]
        );
        let MessageBody::Buttons {
            header,
            body,
            footer,
            buttons,
        } = &fitted
        else {
            panic!("still buttons");
        };
        let header = header.as_deref().unwrap_or_default();
        assert!(header.ends_with('…') && header.chars().count() <= 60);
        assert!(body.ends_with('…') && body.chars().count() == 1024);
        assert_eq!(footer, &None);
        assert_eq!(buttons.len(), 3);
        assert_eq!(fitted.validate(), Ok(()));
    }

    #[test]
    fn fit_keeps_button_titles_distinct_after_shortening() {
        let message = buttons(&[
            "Corte de pelo y peinado corto",
            "Corte de pelo y peinado largo",
        ]);
        let (fitted, changes) = message.fit_to_limits();
        let MessageBody::Buttons { buttons, .. } = &fitted else {
            panic!("still buttons");
        };
        assert_eq!(buttons[0].title, "Corte de pelo y pei…");
        assert_eq!(buttons[1].title, "Corte de pelo y p… 2");
        assert!(changes.contains(&v(
            "interactive.action.buttons[1].reply.title",
            Limit::Distinct,
            2
        )));
        assert_eq!(fitted.validate(), Ok(()));
    }

    #[test]
    fn fit_drops_rows_beyond_ten_across_sections_and_shortens_row_text() {
        let message = MessageBody::List {
            header: None,
            body: "Elige".into(),
            footer: None,
            button_label: "Ver todos los servicios".into(),
            sections: vec![
                ListSection::titled(
                    "Servicios de peluquería y estética",
                    vec![ListRow::new("long", "Corte de pelo largo con lavado ✂️")
                        .with_description("Incluye lavado, corte, secado y peinado con productos profesionales de la casa")],
                ),
                ListSection::titled("Más", rows("a", 8)),
                ListSection::titled("Aún más", rows("b", 3)),
                ListSection::titled("Sin sitio", rows("c", 2)),
            ],
        };
        let (fitted, changes) = message.fit_to_limits();
        let MessageBody::List {
            button_label,
            sections,
            ..
        } = &fitted
        else {
            panic!("still a list");
        };
        assert_eq!(button_label, "Ver todos los servi…");
        assert_eq!(sections.len(), 3);
        assert_eq!(
            sections[0].title.as_deref(),
            Some("Servicios de peluquería…")
        );
        assert_eq!(sections[0].rows[0].title, "Corte de pelo largo con…");
        let description = sections[0].rows[0]
            .description
            .as_deref()
            .unwrap_or_default();
        assert!(description.ends_with('…') && description.chars().count() <= 72);
        let kept: Vec<&str> = sections
            .iter()
            .flat_map(|s| s.rows.iter().map(|r| r.id.as_str()))
            .collect();
        assert_eq!(
            kept,
            ["long", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "b0"]
        );
        assert!(changes.contains(&v(
            "interactive.action.sections[*].rows",
            Limit::MaxItems(10),
            14
        )));
        assert!(changes.contains(&v(
            "interactive.action.sections[3].rows",
            Limit::MinItems(1),
            0
        )));
        assert_eq!(fitted.validate(), Ok(()));
    }

    #[test]
    fn fit_turns_an_interactive_without_options_into_text() {
        let message = MessageBody::Buttons {
            header: Some("Huecos libres".into()),
            body: "No quedan huecos esta semana.".into(),
            footer: None,
            buttons: vec![ReplyButton::new("", "Sin id")],
        };
        let (fitted, changes) = message.fit_to_limits();
        assert_eq!(
            fitted,
            MessageBody::text("Huecos libres\n\nNo quedan huecos esta semana.")
        );
        assert_eq!(
            changes,
            vec![
                v(
                    "interactive.action.buttons[0].reply.id",
                    Limit::MinChars(1),
                    0
                ),
                v("interactive.action.buttons", Limit::MinItems(1), 0),
            ]
        );
        let (fitted, _) = list(vec![ListSection::untitled(vec![])]).fit_to_limits();
        assert_eq!(fitted, MessageBody::text("Elige un servicio"));
    }

    #[test]
    fn fit_shortens_captions_and_cta_labels_but_never_text() {
        let (fitted, changes) = MessageBody::Image {
            media: MediaSource::Id("1".into()),
            caption: Some("ñ".repeat(1100)),
        }
        .fit_to_limits();
        assert_eq!(
            changes,
            vec![v("image.caption", Limit::MaxChars(1024), 1100)]
        );
        let MessageBody::Image {
            caption: Some(caption),
            ..
        } = &fitted
        else {
            panic!("still an image with a caption");
        };
        assert_eq!(caption.chars().count(), 1024);
        assert!(caption.ends_with('…'));

        let (fitted, changes) = MessageBody::CtaUrl {
            header: None,
            body: "Reserva online".into(),
            footer: None,
            display_text: "Reservar cita online ya".into(),
            url: "https://salon.example".into(),
        }
        .fit_to_limits();
        assert_eq!(
            changes,
            vec![v(
                "interactive.action.parameters.display_text",
                Limit::MaxChars(20),
                23
            )]
        );
        assert_eq!(fitted.validate(), Ok(()));

        let long = MessageBody::text("palabra ".repeat(1000));
        let (fitted, changes) = long.clone().fit_to_limits();
        assert_eq!(fitted, long);
        assert!(changes.is_empty());
    }
}

//! Long content as several messages ([`OutboundMessage::into_sendable`], [`split_text`]), and cutting
//! text at a character boundary without separating an emoji, accent or flag from its other half
//! ([`shorten`]).

use super::limits::*;
use super::validate::too_long;
use super::{LimitViolation, MessageBody, OutboundMessage, char_len};

impl OutboundMessage {
    /// The messages to send in order for this one, and what was changed to get them.
    ///
    /// A text over 4,096 characters becomes several texts split by [`split_text`]. An interactive body
    /// over its limit keeps its last part (with the buttons, list or link) and the text before it is sent
    /// first as text messages; a caption over 1,024 characters keeps its first part and the rest follows
    /// as text. Nothing is shortened that way; everything else goes through
    /// [`OutboundMessage::fit_to_limits`]. Only the first message keeps `reply_to`.
    pub fn into_sendable(self) -> (Vec<OutboundMessage>, Vec<LimitViolation>) {
        let Self {
            to,
            body,
            mut reply_to,
        } = self;
        let mut changes = Vec::new();
        let bodies = split_long_content(body, &mut changes);
        let mut messages = Vec::with_capacity(bodies.len());
        for body in bodies {
            let (body, fitted) = body.fit_to_limits();
            changes.extend(fitted);
            messages.push(OutboundMessage {
                to: to.clone(),
                body,
                reply_to: reply_to.take(),
            });
        }
        (messages, changes)
    }
}

/// Splits a text, interactive body or caption that is too long into several messages (see
/// [`OutboundMessage::into_sendable`]); anything else is returned as it is.
fn split_long_content(body: MessageBody, changes: &mut Vec<LimitViolation>) -> Vec<MessageBody> {
    let texts = |chunks: Vec<String>| {
        chunks.into_iter().map(|body| MessageBody::Text {
            body,
            preview_url: false,
        })
    };
    match body {
        MessageBody::Text { body, preview_url } if char_len(&body) > TEXT_BODY => {
            changes.push(too_long("text.body", TEXT_BODY, &body));
            split_text(&body, TEXT_BODY)
                .into_iter()
                .map(|body| MessageBody::Text { body, preview_url })
                .collect()
        }
        MessageBody::Buttons {
            header,
            body,
            footer,
            buttons,
        } if char_len(&body) > INTERACTIVE_BODY => {
            changes.push(too_long("interactive.body.text", INTERACTIVE_BODY, &body));
            let (lead, body) = split_keeping_tail(&body, INTERACTIVE_BODY);
            let mut out: Vec<_> = texts(lead).collect();
            out.push(MessageBody::Buttons {
                header,
                body,
                footer,
                buttons,
            });
            out
        }
        MessageBody::List {
            header,
            body,
            footer,
            button_label,
            sections,
        } if char_len(&body) > LIST_BODY => {
            changes.push(too_long("interactive.body.text", LIST_BODY, &body));
            let (lead, body) = split_keeping_tail(&body, LIST_BODY);
            let mut out: Vec<_> = texts(lead).collect();
            out.push(MessageBody::List {
                header,
                body,
                footer,
                button_label,
                sections,
            });
            out
        }
        MessageBody::CtaUrl {
            header,
            body,
            footer,
            display_text,
            url,
        } if char_len(&body) > INTERACTIVE_BODY => {
            changes.push(too_long("interactive.body.text", INTERACTIVE_BODY, &body));
            let (lead, body) = split_keeping_tail(&body, INTERACTIVE_BODY);
            let mut out: Vec<_> = texts(lead).collect();
            out.push(MessageBody::CtaUrl {
                header,
                body,
                footer,
                display_text,
                url,
            });
            out
        }
        MessageBody::Image {
            media,
            caption: Some(caption),
        } if char_len(&caption) > CAPTION => {
            changes.push(too_long("image.caption", CAPTION, &caption));
            let (caption, rest) = split_keeping_head(&caption, CAPTION);
            let mut out = vec![MessageBody::Image {
                media,
                caption: Some(caption),
            }];
            out.extend(texts(rest));
            out
        }
        MessageBody::Document {
            media,
            caption: Some(caption),
            filename,
        } if char_len(&caption) > CAPTION => {
            changes.push(too_long("document.caption", CAPTION, &caption));
            let (caption, rest) = split_keeping_head(&caption, CAPTION);
            let mut out = vec![MessageBody::Document {
                media,
                caption: Some(caption),
                filename,
            }];
            out.extend(texts(rest));
            out
        }
        other => vec![other],
    }
}

/// The last piece of `text` that fits in `max_chars`, and the text before it in text messages.
fn split_keeping_tail(text: &str, max_chars: usize) -> (Vec<String>, String) {
    let ranges = split_ranges(text, max_chars);
    match ranges.as_slice() {
        [.., before_last, last] => (
            split_text(&text[..before_last.1], TEXT_BODY),
            text[last.0..last.1].to_owned(),
        ),
        _ => (Vec::new(), text.to_owned()),
    }
}

/// The first piece of `text` that fits in `max_chars`, and the text after it in text messages.
fn split_keeping_head(text: &str, max_chars: usize) -> (String, Vec<String>) {
    let ranges = split_ranges(text, max_chars);
    match ranges.as_slice() {
        [first, second, ..] => (
            text[first.0..first.1].to_owned(),
            split_text(&text[second.0..], TEXT_BODY),
        ),
        _ => (text.to_owned(), Vec::new()),
    }
}

/// `text` shortened to at most `max_chars` characters, ending with `…` when anything was cut.
///
/// The cut is at a character boundary, and backs off so as not to separate an emoji from its variation
/// selector, skin tone or zero-width joiner, a combining accent from its letter, or the two halves of a
/// flag; trailing whitespace before the ellipsis is removed.
pub fn shorten(text: &str, max_chars: usize) -> String {
    if char_len(text) <= max_chars {
        return text.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let cut = safe_cut(text, max_chars - 1);
    let mut out = text[..cut].trim_end().to_owned();
    out.push('…');
    out
}

/// Splits `body` into pieces of at most `max_chars` characters each, in order.
///
/// Each split is made at the last sentence boundary (`. `, `! `, `? ` or a newline) in the second half of
/// the allowed length, else at the last space, else (a single run longer than `max_chars`, such as a URL)
/// by a hard cut between characters. The whitespace at a split is dropped; nothing else is: the pieces
/// joined with the whitespace that separated them give back `body`. A body that fits is returned whole.
pub fn split_text(body: &str, max_chars: usize) -> Vec<String> {
    split_ranges(body, max_chars)
        .into_iter()
        .map(|(start, end)| body[start..end].to_owned())
        .collect()
}

/// The byte ranges of [`split_text`]'s pieces.
fn split_ranges(body: &str, max_chars: usize) -> Vec<(usize, usize)> {
    let max_chars = max_chars.max(1);
    let mut ranges = Vec::new();
    let mut start = 0;
    loop {
        let rest = &body[start..];
        if rest.chars().nth(max_chars).is_none() {
            ranges.push((start, body.len()));
            return ranges;
        }
        let (end, next) = split_point(rest, max_chars);
        ranges.push((start, start + end));
        start += next;
        if start >= body.len() {
            return ranges;
        }
    }
}

/// Where to split `rest` (longer than `max` characters): the end of the first piece, and the start of the
/// remainder after the whitespace at the split.
fn split_point(rest: &str, max: usize) -> (usize, usize) {
    let mut sentence_end = None;
    let mut word_end = None;
    // Byte offset just after the last non-whitespace character seen: the end of a piece split here.
    let mut content_end = 0;
    let mut previous = None;
    // `count` characters precede `c`; a whitespace at position `max` is the first one beyond the piece,
    // and may still be dropped as the whitespace at the split.
    for (count, (offset, c)) in rest.char_indices().enumerate() {
        if count > max {
            break;
        }
        if c.is_whitespace() {
            if content_end > 0 {
                let after_sentence = c == '\n' || matches!(previous, Some('.' | '!' | '?'));
                if after_sentence && count >= max / 2 {
                    sentence_end = Some(content_end);
                }
                word_end = Some(content_end);
            }
        } else {
            content_end = offset + c.len_utf8();
        }
        previous = Some(c);
    }
    match sentence_end.or(word_end) {
        Some(end) => {
            let after = &rest[end..];
            (end, end + after.len() - after.trim_start().len())
        }
        None => {
            let cut = safe_cut(rest, max);
            let cut = if cut == 0 { hard_cut(rest, max) } else { cut };
            (cut, cut)
        }
    }
}

/// The byte offset after the first `max` characters of `text` (or its end).
fn hard_cut(text: &str, max: usize) -> usize {
    text.char_indices()
        .nth(max)
        .map_or(text.len(), |(offset, _)| offset)
}

/// The byte offset of the longest prefix of at most `max` characters that does not split an emoji
/// sequence, a combining sequence or a flag (a heuristic: the crate has no grapheme segmentation).
fn safe_cut(text: &str, max: usize) -> usize {
    let chars: Vec<(usize, char)> = text.char_indices().take(max + 1).collect();
    if chars.len() <= max {
        return text.len();
    }
    let mut n = max;
    while n > 0 {
        let next = chars[n].1;
        let last = chars[n - 1].1;
        let splits_flag = is_regional_indicator(next)
            && is_regional_indicator(last)
            && chars[..n]
                .iter()
                .rev()
                .take_while(|(_, c)| is_regional_indicator(*c))
                .count()
                % 2
                == 1;
        if is_extender(next) || last == '\u{200D}' || splits_flag {
            n -= 1;
        } else {
            break;
        }
    }
    chars[n].0
}

/// Characters that attach to the one before them.
fn is_extender(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'     // combining diacritical marks
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200D}'                // zero-width joiner
        | '\u{20D0}'..='\u{20FF}'   // combining marks for symbols, keycap
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors (emoji presentation)
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}' // skin tones
        | '\u{E0020}'..='\u{E007F}' // tags (subdivision flags)
        | '\u{E0100}'..='\u{E01EF}')
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::messages::test_support::{buttons, phone, v};
    use crate::whatsapp::messages::{Limit, MediaSource, ReplyButton};

    fn body_of(message: &OutboundMessage) -> &str {
        match &message.body {
            MessageBody::Text { body, .. } => body,
            other => panic!("expected text, got {}", other.kind()),
        }
    }

    /// The pieces are, in order, the body minus only whitespace between them.
    fn assert_pieces_rebuild(body: &str, pieces: &[String]) {
        let mut rest = body;
        for (i, piece) in pieces.iter().enumerate() {
            assert!(!piece.is_empty(), "piece {i} is empty");
            let gap = rest.len() - rest.trim_start().len();
            if i > 0 {
                assert!(rest[..gap].chars().all(char::is_whitespace));
                rest = &rest[gap..];
            }
            assert!(
                rest.starts_with(piece.as_str()),
                "piece {i} is not next in the body"
            );
            rest = &rest[piece.len()..];
        }
        assert!(
            rest.trim().is_empty(),
            "text after the last piece: {rest:?}"
        );
    }

    #[test]
    fn shorten_does_not_split_emoji_sequences() {
        // Cutting at 17 characters would separate ✂ from its variation selector.
        assert_eq!(shorten("Manicura exprés ✂️ rápida", 18), "Manicura exprés…");
        assert_eq!(
            shorten("Manicura exprés ✂️ rápida", 20),
            "Manicura exprés ✂️…"
        );
        // A woman getting a haircut: 💇 + ZWJ + ♀ + VS16.
        assert_eq!(shorten("Ab 💇\u{200D}♀\u{FE0F} cd", 6), "Ab…");
        // Two flags: never keep half of one.
        assert_eq!(shorten("🇪🇸🇵🇹 salones", 4), "🇪🇸…");
        assert_eq!(shorten("corto", 5), "corto");
        assert_eq!(shorten("largo", 1), "…");
    }

    #[test]
    fn split_text_returns_short_text_whole() {
        assert_eq!(split_text("Hola.", 10), vec!["Hola.".to_owned()]);
        assert_eq!(split_text("", 10), vec![String::new()]);
    }

    #[test]
    fn split_text_prefers_sentence_boundaries_to_spaces() {
        let body = "Primera frase corta. Segunda frase algo más larga que la primera";
        let pieces = split_text(body, 40);
        assert_eq!(pieces[0], "Primera frase corta.");
        assert_pieces_rebuild(body, &pieces);
        assert!(pieces.iter().all(|p| p.chars().count() <= 40));

        let body = "¿Vienes mañana? Te esperamos a las diez en el salón de la calle Mayor";
        assert_eq!(split_text(body, 30)[0], "¿Vienes mañana?");

        let body = "Lista de precios\nCorte 20 €\nTinte 45 €";
        let pieces = split_text(body, 30);
        assert_eq!(pieces, vec!["Lista de precios\nCorte 20 €", "Tinte 45 €"]);
    }

    #[test]
    fn split_text_falls_back_to_words_then_to_hard_cuts() {
        let body = "uno dos tres cuatro cinco seis siete ocho nueve diez";
        let pieces = split_text(body, 12);
        assert!(pieces.iter().all(|p| p.chars().count() <= 12));
        assert_pieces_rebuild(body, &pieces);
        assert_eq!(
            pieces.join(" ").split_whitespace().collect::<Vec<_>>(),
            body.split_whitespace().collect::<Vec<_>>()
        );

        let body = "ñ".repeat(25);
        let pieces = split_text(&body, 10);
        assert_eq!(pieces, vec!["ñ".repeat(10), "ñ".repeat(10), "ñ".repeat(5)]);
        assert_eq!(pieces.concat(), body);
    }

    #[test]
    fn split_text_drops_only_the_whitespace_at_each_split() {
        let body = "Hola.   \n\n  Adiós, y gracias por venir al salón hoy.  Vuelve pronto 💇\u{200D}♀\u{FE0F}";
        for max in [8, 13, 21, 34] {
            let pieces = split_text(body, max);
            assert!(
                pieces.iter().all(|p| p.chars().count() <= max),
                "max {max}: {pieces:?}"
            );
            assert_pieces_rebuild(body, &pieces);
        }
    }

    #[test]
    fn split_text_keeps_its_promises_for_every_length() {
        let body = "¡Hola, Lucía! Tu cita: corte ✂️ y tinte 💇\u{200D}♀\u{FE0F} el martes.\n\
                    Dirección: calle Mayor 1, 🇪🇸 Madrid. https://salon.example/reserva/abcdefghijklmnop ¿Vale?";
        for max in 1..=body.chars().count() + 1 {
            let pieces = split_text(body, max);
            assert!(
                pieces.iter().all(|p| p.chars().count() <= max),
                "max {max}: {pieces:?}"
            );
            assert_pieces_rebuild(body, &pieces);
        }
    }

    fn long_spanish_text(chars: usize) -> String {
        let mut text = String::new();
        let mut i = 0;
        while text.chars().count() < chars + 100 {
            text.push_str(&format!(
                "La cita número {i} queda confirmada para el martes por la mañana con Lucía. "
            ));
            i += 1;
        }
        text.chars().take(chars).collect()
    }

    #[test]
    fn into_sendable_splits_a_9000_char_text_into_three_messages() {
        let text = long_spanish_text(9000);
        assert_eq!(text.chars().count(), 9000);
        let message =
            OutboundMessage::new(phone(), MessageBody::text(text.clone())).in_reply_to("wamid.Q");
        let (messages, changes) = message.into_sendable();
        assert_eq!(messages.len(), 3);
        assert_eq!(changes, vec![v("text.body", Limit::MaxChars(4096), 9000)]);
        assert_eq!(messages[0].reply_to.as_deref(), Some("wamid.Q"));
        assert!(messages[1..].iter().all(|m| m.reply_to.is_none()));
        let bodies: Vec<String> = messages.iter().map(|m| body_of(m).to_owned()).collect();
        assert!(bodies.iter().all(|b| b.chars().count() <= 4096));
        assert!(
            bodies[..2].iter().all(|b| b.ends_with('.')),
            "split at sentence ends"
        );
        assert_pieces_rebuild(&text, &bodies);
        let joined = bodies.join(" ");
        assert_eq!(
            joined.split_whitespace().collect::<Vec<_>>(),
            text.split_whitespace().collect::<Vec<_>>()
        );
        assert!(messages.iter().all(|m| m.validate().is_ok()));
    }

    #[test]
    fn into_sendable_sends_a_long_interactive_body_first_and_keeps_its_end_with_the_buttons() {
        let body = long_spanish_text(2500);
        let message = OutboundMessage::new(
            phone(),
            MessageBody::Buttons {
                header: None,
                body: body.clone(),
                footer: None,
                buttons: vec![ReplyButton::new("ok", "Vale")],
            },
        )
        .in_reply_to("wamid.Q");
        let (messages, changes) = message.into_sendable();
        assert_eq!(
            changes,
            vec![v("interactive.body.text", Limit::MaxChars(1024), 2500)]
        );
        let (last, lead) = messages.split_last().unwrap();
        assert!(lead.iter().all(|m| m.kind() == "text"));
        assert_eq!(messages[0].reply_to.as_deref(), Some("wamid.Q"));
        let MessageBody::Buttons { body: tail, .. } = &last.body else {
            panic!("the buttons come last");
        };
        assert!(tail.chars().count() <= 1024);
        let mut pieces: Vec<String> = lead.iter().map(|m| body_of(m).to_owned()).collect();
        pieces.push(tail.clone());
        assert_pieces_rebuild(&body, &pieces);
        assert!(messages.iter().all(|m| m.validate().is_ok()));
    }

    #[test]
    fn into_sendable_sends_the_rest_of_a_long_caption_after_the_image() {
        let caption = long_spanish_text(1500);
        let message = OutboundMessage::new(
            phone(),
            MessageBody::Image {
                media: MediaSource::Id("1".into()),
                caption: Some(caption.clone()),
            },
        );
        let (messages, changes) = message.into_sendable();
        assert_eq!(
            changes,
            vec![v("image.caption", Limit::MaxChars(1024), 1500)]
        );
        assert_eq!(messages.len(), 2);
        let MessageBody::Image {
            caption: Some(head),
            ..
        } = &messages[0].body
        else {
            panic!("the image comes first");
        };
        assert_pieces_rebuild(&caption, &[head.clone(), body_of(&messages[1]).to_owned()]);
    }

    #[test]
    fn into_sendable_fits_everything_else_in_one_message() {
        let message = OutboundMessage::new(phone(), buttons(&["Corte de pelo y peinado ✂️ largo"]))
            .in_reply_to("wamid.Q");
        let (messages, changes) = message.into_sendable();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].reply_to.as_deref(), Some("wamid.Q"));
        assert_eq!(
            changes,
            vec![v(
                "interactive.action.buttons[0].reply.title",
                Limit::MaxChars(20),
                32
            )]
        );
        let plain = OutboundMessage::new(phone(), MessageBody::text("Hola"));
        assert_eq!(plain.clone().into_sendable(), (vec![plain], vec![]));
    }
}

//! A reply as plain text, for a channel without buttons: the text, then each button or list row as a
//! numbered option (`1) Reservar cita`) in the order the bot offered them, which is the order the
//! engine reads a typed number against; a link as `label: url`.

use crate::engine::effect::{Reply, ReplyUi};

/// The text sent for `reply`.
pub fn text_of(reply: &Reply) -> String {
    let mut text = reply.text.trim_end().to_owned();
    let options: Vec<String> = match &reply.ui {
        ReplyUi::None => Vec::new(),
        ReplyUi::Buttons(buttons) => buttons
            .iter()
            .enumerate()
            .map(|(i, (_, title))| format!("{}) {title}", i + 1))
            .collect(),
        ReplyUi::List { rows, .. } => rows
            .iter()
            .enumerate()
            .map(|(i, row)| match &row.description {
                Some(description) => format!("{}) {} — {description}", i + 1, row.title),
                None => format!("{}) {}", i + 1, row.title),
            })
            .collect(),
        ReplyUi::Cta { label, url } => vec![format!("{label}: {url}")],
    };
    if !options.is_empty() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&options.join("\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::effect::Row;

    #[test]
    fn buttons_and_rows_become_numbered_options_in_their_order() {
        let buttons = Reply::with(
            "¿Qué quieres hacer?",
            ReplyUi::Buttons(vec![
                ("book".into(), "Reservar cita".into()),
                ("mine".into(), "Mis citas".into()),
            ]),
        );
        assert_eq!(
            text_of(&buttons),
            "¿Qué quieres hacer?\n\n1) Reservar cita\n2) Mis citas"
        );
        let list = Reply::with(
            "Elige servicio:",
            ReplyUi::List {
                button: "Ver".into(),
                rows: vec![
                    Row {
                        id: "cut".into(),
                        title: "Corte".into(),
                        description: Some("30 min · 18 €".into()),
                    },
                    Row {
                        id: "dye".into(),
                        title: "Tinte".into(),
                        description: None,
                    },
                ],
            },
        );
        assert_eq!(
            text_of(&list),
            "Elige servicio:\n\n1) Corte — 30 min · 18 €\n2) Tinte"
        );
    }

    #[test]
    fn plain_text_stays_and_links_show_their_url() {
        assert_eq!(text_of(&Reply::text("Hola\n")), "Hola");
        let link = Reply::with(
            "Paga la señal:",
            ReplyUi::Cta {
                label: "Pagar".into(),
                url: "https://pay.example/s".into(),
            },
        );
        assert_eq!(
            text_of(&link),
            "Paga la señal:\n\nPagar: https://pay.example/s"
        );
    }
}

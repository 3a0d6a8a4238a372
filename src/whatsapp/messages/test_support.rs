//! Builders shared by the unit tests of the submodules.

use super::{Limit, LimitViolation, ListRow, ListSection, MessageBody, Recipient, ReplyButton};

pub(super) fn phone() -> Recipient {
    Recipient::phone("+34600111222")
}

pub(super) fn buttons(titles: &[&str]) -> MessageBody {
    MessageBody::Buttons {
        header: None,
        body: "¿Qué prefieres?".into(),
        footer: None,
        buttons: titles
            .iter()
            .enumerate()
            .map(|(i, t)| ReplyButton::new(format!("b{i}"), *t))
            .collect(),
    }
}

pub(super) fn list(sections: Vec<ListSection>) -> MessageBody {
    MessageBody::List {
        header: None,
        body: "Elige un servicio".into(),
        footer: None,
        button_label: "Servicios".into(),
        sections,
    }
}

pub(super) fn rows(prefix: &str, n: usize) -> Vec<ListRow> {
    (0..n)
        .map(|i| ListRow::new(format!("{prefix}{i}"), format!("Servicio {prefix}{i}")))
        .collect()
}

pub(super) fn v(field: &str, limit: Limit, actual: usize) -> LimitViolation {
    LimitViolation::new(field, limit, actual)
}

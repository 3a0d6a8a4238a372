//! Meta's documented limits, in characters.
//!
//! Sources (Meta's pages, as of the 2025-11/2026 revisions): text-messages (text body),
//! interactive-reply-buttons-messages (button count, id, label, body, footer),
//! interactive-list-messages (list body, label, sections, rows, row id/title/description, header, footer),
//! interactive-cta-url-messages (body, label, header, footer), image-messages and document-messages
//! (caption). The section title limit comes from Meta's own WhatsApp Node.js SDK reference and every
//! third-party SDK consulted; the list page's table was cut before that row in the copy we could read.
//!
//! [`UI_LIMITS`] hands the ones a flow's states must respect to the flow checker, which names no
//! provider and receives them as data.

use crate::engine::check::UiLimits;

/// `text.body`.
pub const TEXT_BODY: usize = 4096;
/// `interactive.body.text` of reply-button and call-to-action URL messages.
pub const INTERACTIVE_BODY: usize = 1024;
/// `interactive.body.text` of list messages: Meta's list page documents 4,096, unlike the other
/// interactive types (older references and many SDKs say 1,024).
pub const LIST_BODY: usize = 4096;
/// `interactive.header.text` (text headers).
pub const HEADER_TEXT: usize = 60;
/// `interactive.footer.text`.
pub const FOOTER_TEXT: usize = 60;
/// Reply buttons in one message.
pub const REPLY_BUTTONS: usize = 3;
/// `action.buttons[].reply.title`.
pub const BUTTON_TITLE: usize = 20;
/// `action.buttons[].reply.id`.
pub const BUTTON_ID: usize = 256;
/// `action.button`, the label that opens a list.
pub const LIST_BUTTON_LABEL: usize = 20;
/// `action.sections`.
pub const LIST_SECTIONS: usize = 10;
/// Rows across all sections of one list.
pub const LIST_ROWS_TOTAL: usize = 10;
/// `action.sections[].title`.
pub const SECTION_TITLE: usize = 24;
/// `action.sections[].rows[].title`.
pub const ROW_TITLE: usize = 24;
/// `action.sections[].rows[].description`.
pub const ROW_DESCRIPTION: usize = 72;
/// `action.sections[].rows[].id`.
pub const ROW_ID: usize = 200;
/// `action.parameters.display_text` of a call-to-action URL message.
pub const CTA_DISPLAY_TEXT: usize = 20;
/// `image.caption`, `document.caption`.
pub const CAPTION: usize = 1024;

/// The limits the flow checker enforces on a state's buttons, list and call-to-action label.
pub const UI_LIMITS: UiLimits = UiLimits {
    reply_buttons: REPLY_BUTTONS,
    button_title: BUTTON_TITLE,
    button_id: BUTTON_ID,
    list_button_label: LIST_BUTTON_LABEL,
    row_title: ROW_TITLE,
    list_rows_total: LIST_ROWS_TOTAL,
    cta_display_text: CTA_DISPLAY_TEXT,
};

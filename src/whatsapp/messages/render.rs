//! A Cloud API message body as a person reads it: text as text, reply buttons and list rows as
//! numbered choices, links as `[label] url`, templates by name with their parameters. The simulator
//! prints replies this way; the sandbox sender logs them and `salonbot outbox list` shows them.

use serde_json::Value;

/// Something the customer can tap in a bot message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub kind: ChoiceKind,
    /// The button's or row's id (a quick reply's payload).
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

/// Which kind of tap a [`Choice`] is, which decides what WhatsApp sends for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceKind {
    /// A reply button of an interactive message: `interactive.button_reply`.
    Button,
    /// A row of an interactive list: `interactive.list_reply`.
    Row,
    /// A quick-reply button of a template: a message of type `button`.
    QuickReply,
}

/// A bot message as the terminal shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The lines to print, without the `bot: ` prefix.
    pub lines: Vec<String>,
    /// What can be tapped, numbered from 1 in this order (empty for plain messages).
    pub choices: Vec<Choice>,
}

impl Rendered {
    /// The whole message on one line (its choices are among its lines), for a log or a listing.
    pub fn one_line(&self) -> String {
        let lines: Vec<&str> = self
            .lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        lines.join(" / ")
    }
}

/// Renders a Cloud API `/messages` request body (an outbox row's payload) as lines of text.
pub fn render(payload: &Value) -> Rendered {
    let mut lines = Vec::new();
    let mut choices = Vec::new();
    let kind = payload["type"].as_str().unwrap_or_default();
    let content = &payload[kind];
    match kind {
        "text" => push_text(&mut lines, content["body"].as_str().unwrap_or_default()),
        "interactive" => render_interactive(content, &mut lines, &mut choices),
        "template" => render_template(content, &mut lines, &mut choices),
        "image" | "document" | "audio" | "video" | "sticker" => {
            let source = content["link"]
                .as_str()
                .or_else(|| content["id"].as_str())
                .unwrap_or_default();
            let name = content["filename"]
                .as_str()
                .map(|f| format!(" {f}"))
                .unwrap_or_default();
            lines.push(format!("[{kind}{name}] {source}"));
            if let Some(caption) = content["caption"].as_str() {
                push_text(&mut lines, caption);
            }
        }
        "location" => {
            let place: Vec<&str> = ["name", "address"]
                .iter()
                .filter_map(|k| content[*k].as_str())
                .collect();
            lines.push(format!(
                "[location {}, {}] {}",
                content["latitude"].as_str().unwrap_or_default(),
                content["longitude"].as_str().unwrap_or_default(),
                place.join(", ")
            ));
        }
        _ => lines.push(format!("[{kind}] {content}")),
    }
    Rendered { lines, choices }
}

fn push_text(lines: &mut Vec<String>, text: &str) {
    lines.extend(text.lines().map(str::to_owned));
    if text.is_empty() {
        lines.push(String::new());
    }
}

fn render_interactive(content: &Value, lines: &mut Vec<String>, choices: &mut Vec<Choice>) {
    if let Some(header) = content["header"]["text"].as_str() {
        push_text(lines, header);
    }
    push_text(lines, content["body"]["text"].as_str().unwrap_or_default());
    let action = &content["action"];
    match content["type"].as_str().unwrap_or_default() {
        "button" => {
            for button in action["buttons"].as_array().into_iter().flatten() {
                choices.push(Choice {
                    kind: ChoiceKind::Button,
                    id: button["reply"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    title: button["reply"]["title"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    description: None,
                });
                push_choice(lines, choices);
            }
        }
        "list" => {
            lines.push(format!(
                "[{}]",
                action["button"].as_str().unwrap_or_default()
            ));
            for section in action["sections"].as_array().into_iter().flatten() {
                if let Some(title) = section["title"].as_str() {
                    lines.push(format!("  {title}"));
                }
                for row in section["rows"].as_array().into_iter().flatten() {
                    choices.push(Choice {
                        kind: ChoiceKind::Row,
                        id: row["id"].as_str().unwrap_or_default().to_owned(),
                        title: row["title"].as_str().unwrap_or_default().to_owned(),
                        description: row["description"].as_str().map(str::to_owned),
                    });
                    push_choice(lines, choices);
                }
            }
        }
        "cta_url" => lines.push(format!(
            "[{}] {}",
            action["parameters"]["display_text"]
                .as_str()
                .unwrap_or_default(),
            action["parameters"]["url"].as_str().unwrap_or_default()
        )),
        other => lines.push(format!("[interactive {other}] {action}")),
    }
    if let Some(footer) = content["footer"]["text"].as_str() {
        push_text(lines, footer);
    }
}

fn render_template(content: &Value, lines: &mut Vec<String>, choices: &mut Vec<Choice>) {
    let mut parameters = Vec::new();
    for component in content["components"].as_array().into_iter().flatten() {
        let values = component["parameters"].as_array().into_iter().flatten();
        match (
            component["type"].as_str(),
            component["sub_type"].as_str().unwrap_or_default(),
        ) {
            (Some("button"), "quick_reply") => {
                for value in values {
                    let payload = value["payload"].as_str().unwrap_or_default().to_owned();
                    choices.push(Choice {
                        kind: ChoiceKind::QuickReply,
                        // The button's text is in the approved template, at Meta: show the payload.
                        title: payload.clone(),
                        id: payload,
                        description: None,
                    });
                }
            }
            (Some("button"), _) => {}
            _ => parameters.extend(
                values.filter_map(|v| v["text"].as_str().or_else(|| v["payload"].as_str())),
            ),
        }
    }
    let name = content["name"].as_str().unwrap_or_default();
    let language = content["language"]["code"].as_str().unwrap_or_default();
    let mut line = format!("[template {name} ({language})]");
    if !parameters.is_empty() {
        line.push(' ');
        line.push_str(&parameters.join(" | "));
    }
    lines.push(line);
    for (i, choice) in choices.iter().enumerate() {
        lines.push(choice_line(i + 1, choice));
    }
}

/// Adds the numbered line of the last choice.
fn push_choice(lines: &mut Vec<String>, choices: &[Choice]) {
    if let Some(choice) = choices.last() {
        lines.push(choice_line(choices.len(), choice));
    }
}

/// `  n) title — description`, as choice number `n` is shown.
fn choice_line(n: usize, choice: &Choice) -> String {
    match (&choice.kind, &choice.description) {
        (ChoiceKind::QuickReply, _) => format!("  {n}) [quick reply] {}", choice.id),
        (_, Some(description)) => format!("  {n}) {} — {description}", choice.title),
        (_, None) => format!("  {n}) {}", choice.title),
    }
}

//! Stripe's request bodies: `application/x-www-form-urlencoded`, nested values written in bracket
//! notation (`line_items[0][price_data][currency]=eur`,
//! <https://docs.stripe.com/api/request_body>). Keys keep their brackets unescaped, as Stripe's own
//! libraries send them; everything else is percent-encoded.

use std::fmt::Write;

/// A request body under construction: fields in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key=value`; `key` is already in bracket notation.
    pub fn field(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.fields.push((key.into(), value.to_string()));
        self
    }

    /// Adds the field only when there is a value.
    pub fn optional(self, key: impl Into<String>, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => self.field(key, value),
            None => self,
        }
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// The encoded body.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (key, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            escape(&mut out, key, true);
            out.push('=');
            escape(&mut out, value, false);
        }
        out
    }
}

/// Percent-encodes `text` as HTML forms do (space as `+`), keeping brackets in keys.
fn escape(out: &mut String, text: &str, key: bool) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            b'[' | b']' if key => out.push(char::from(byte)),
            b' ' => out.push('+'),
            other => {
                let _ = write!(out, "%{other:02X}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_keep_their_brackets_and_values_are_escaped() {
        let form = Form::new()
            .field("mode", "payment")
            .field(
                "line_items[0][price_data][product_data][name]",
                "Mechas & corte",
            )
            .field("line_items[0][price_data][unit_amount]", 2000)
            .field("success_url", "https://wa.me/34600000000?text=hola")
            .optional("customer_email", None::<&str>)
            .optional("locale", Some("pt-BR"));
        assert_eq!(
            form.encode(),
            "mode=payment\
             &line_items[0][price_data][product_data][name]=Mechas+%26+corte\
             &line_items[0][price_data][unit_amount]=2000\
             &success_url=https%3A%2F%2Fwa.me%2F34600000000%3Ftext%3Dhola\
             &locale=pt-BR"
        );
        assert_eq!(form.fields().len(), 5);
    }

    #[test]
    fn brackets_in_values_and_non_ascii_are_percent_encoded() {
        let form = Form::new().field("metadata[note]", "a[b] ñ");
        assert_eq!(form.encode(), "metadata[note]=a%5Bb%5D+%C3%B1");
    }
}

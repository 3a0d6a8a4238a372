//! Who a conversation is with: customer identifiers and the conversation key.
//!
//! A conversation is keyed by channel, business number and customer. The customer is a phone number in
//! E.164 when the provider gives one (`wa_id` has no `+`), else WhatsApp's business-scoped user id
//! (customers with a username may arrive without a phone), else the identifier exactly as the provider
//! sent it, so that no event is ever dropped for an identifier we do not understand.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phone number in E.164 form (`+` and digits), parsed with the `phonenumber` crate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct E164(String);

impl E164 {
    /// Parses a number with or without its leading `+` (`wa_id` comes without).
    pub fn parse(raw: &str) -> Option<Self> {
        let digits = raw.trim().trim_start_matches('+');
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number = phonenumber::parse(None, format!("+{digits}")).ok()?;
        Some(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but its last four digits hidden, for logs.
    pub fn masked(&self) -> Masked<'_> {
        Masked(&self.0)
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Displays an identifier with all but its last four characters replaced by `*`.
pub struct Masked<'a>(pub &'a str);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        let keep = chars.len().min(4);
        for _ in 0..chars.len() - keep {
            f.write_str("*")?;
        }
        for c in &chars[chars.len() - keep..] {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// The customer side of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomerId {
    Phone(E164),
    /// WhatsApp business-scoped user id (`user_id`), for customers known only by username.
    User(String),
    /// An identifier we could not interpret, kept as sent.
    Raw(String),
    /// Events about the business number itself (for example `value.errors`), with no customer.
    System,
}

impl CustomerId {
    /// The best identifier among what a provider sent: a phone first, then a user id.
    pub fn from_parts(phone: Option<&str>, user_id: Option<&str>) -> Self {
        if let Some(raw) = phone.filter(|p| !p.is_empty()) {
            if let Some(e164) = E164::parse(raw) {
                return Self::Phone(e164);
            }
            if let Some(user) = user_id.filter(|u| !u.is_empty()) {
                return Self::User(user.to_owned());
            }
            return Self::Raw(raw.to_owned());
        }
        match user_id.filter(|u| !u.is_empty()) {
            Some(user) => Self::User(user.to_owned()),
            None => Self::System,
        }
    }

    /// Safe to log: phones and ids masked to their last four characters.
    pub fn masked(&self) -> String {
        match self {
            CustomerId::Phone(p) => p.masked().to_string(),
            CustomerId::User(u) => format!("user:{}", Masked(u)),
            CustomerId::Raw(r) => format!("raw:{}", Masked(r)),
            CustomerId::System => "system".to_owned(),
        }
    }
}

impl CustomerId {
    /// Reads back the stored form written by `Display` (`+34600111222`, `user:<id>`, `raw:<id>`,
    /// `system`).
    pub fn parse(stored: &str) -> Self {
        if let Some(user) = stored.strip_prefix("user:") {
            return Self::User(user.to_owned());
        }
        if let Some(raw) = stored.strip_prefix("raw:") {
            return Self::Raw(raw.to_owned());
        }
        if stored == "system" {
            return Self::System;
        }
        match stored.strip_prefix('+').and_then(|_| E164::parse(stored)) {
            Some(phone) => Self::Phone(phone),
            None => Self::Raw(stored.to_owned()),
        }
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomerId::Phone(p) => f.write_str(p.as_str()),
            CustomerId::User(u) => write!(f, "user:{u}"),
            CustomerId::Raw(r) => write!(f, "raw:{r}"),
            CustomerId::System => f.write_str("system"),
        }
    }
}

/// The channel name of the generic signed channel's conversations.
pub const CUSTOM_CHANNEL: &str = "custom";

/// Channel + business number + customer: one live conversation per customer and business number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationKey {
    pub channel: &'static str,
    /// The business number's id at the provider (WhatsApp `phone_number_id`).
    pub business_id: String,
    pub customer: CustomerId,
}

impl ConversationKey {
    pub fn whatsapp(business_id: impl Into<String>, customer: CustomerId) -> Self {
        Self {
            channel: "whatsapp",
            business_id: business_id.into(),
            customer,
        }
    }

    /// A conversation of the generic signed channel: keyed by the salon's number the gateway wrote
    /// to (the `to` of its messages) and the customer's.
    pub fn custom(business: &E164, customer: E164) -> Self {
        Self {
            channel: CUSTOM_CHANNEL,
            business_id: business.to_string(),
            customer: CustomerId::Phone(customer),
        }
    }

    /// Whether this is a conversation of the generic signed channel (no 24-hour window, replies
    /// POSTed to `CUSTOM_REPLY_URL`).
    pub fn is_custom(&self) -> bool {
        self.channel == CUSTOM_CHANNEL
    }

    /// Reads back the stored form `channel:business:customer` (see `Display`); `None` for a key of
    /// another shape or channel.
    pub fn parse(stored: &str) -> Option<Self> {
        let mut parts = stored.splitn(3, ':');
        let channel = match parts.next()? {
            "whatsapp" => "whatsapp",
            CUSTOM_CHANNEL => CUSTOM_CHANNEL,
            _ => return None,
        };
        let business_id = parts.next()?.to_owned();
        let customer = CustomerId::parse(parts.next()?);
        Some(Self {
            channel,
            business_id,
            customer,
        })
    }

    /// The inbox lane of this conversation's delivery statuses: beside its messages rather than
    /// behind them, so that a status waiting for its message never holds the customer up.
    pub fn status_lane(&self) -> String {
        format!("{self}/statuses")
    }
}

/// The stored form, `channel:business:customer`, for example `whatsapp:1065:+16505551234`.
impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.channel, self.business_id, self.customer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wa_id_becomes_e164() {
        assert_eq!(E164::parse("16505551234").unwrap().as_str(), "+16505551234");
        assert_eq!(
            E164::parse("+34600111222").unwrap().as_str(),
            "+34600111222"
        );
        assert_eq!(
            E164::parse("5511987654321").unwrap().as_str(),
            "+5511987654321"
        );
    }

    #[test]
    fn non_numbers_are_not_phones() {
        assert!(E164::parse("PHONE_NUMBER").is_none());
        assert!(E164::parse("").is_none());
        assert!(E164::parse("12ab").is_none());
    }

    #[test]
    fn masking_keeps_the_last_four() {
        let p = E164::parse("34600111222").unwrap();
        assert_eq!(p.masked().to_string(), "********1222");
        assert_eq!(Masked("12").to_string(), "12");
    }

    #[test]
    fn customer_prefers_phone_then_user_id_then_raw() {
        assert_eq!(
            CustomerId::from_parts(Some("16505551234"), Some("US.1")),
            CustomerId::Phone(E164::parse("16505551234").unwrap())
        );
        assert_eq!(
            CustomerId::from_parts(None, Some("US.13491208655302741918")),
            CustomerId::User("US.13491208655302741918".into())
        );
        assert_eq!(
            CustomerId::from_parts(Some("PHONE_NUMBER"), None),
            CustomerId::Raw("PHONE_NUMBER".into())
        );
        assert_eq!(CustomerId::from_parts(None, None), CustomerId::System);
    }

    #[test]
    fn keys_read_back_as_written() {
        for customer in [
            CustomerId::from_parts(Some("16505551234"), None),
            CustomerId::User("US.13491208655302741918".into()),
            CustomerId::Raw("PHONE:NUMBER".into()),
            CustomerId::System,
        ] {
            let key = ConversationKey::whatsapp("106540352242922", customer);
            assert_eq!(ConversationKey::parse(&key.to_string()), Some(key));
        }
        assert_eq!(ConversationKey::parse("sms:1:+16505551234"), None);
        assert_eq!(ConversationKey::parse("whatsapp:1"), None);
    }

    #[test]
    fn custom_keys_read_back_as_written() {
        let salon = E164::parse("+34910000000").unwrap();
        let key = ConversationKey::custom(&salon, E164::parse("+34600111222").unwrap());
        assert_eq!(key.to_string(), "custom:+34910000000:+34600111222");
        assert!(key.is_custom());
        assert_eq!(ConversationKey::parse(&key.to_string()), Some(key));
        assert!(
            !ConversationKey::parse("whatsapp:1:+34600111222")
                .unwrap()
                .is_custom()
        );
    }

    #[test]
    fn key_is_channel_business_customer() {
        let key = ConversationKey::whatsapp(
            "106540352242922",
            CustomerId::from_parts(Some("16505551234"), None),
        );
        assert_eq!(key.to_string(), "whatsapp:106540352242922:+16505551234");
    }
}

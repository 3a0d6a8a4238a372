//! The Chatwoot API client: the application API under `{CHATWOOT_BASE_URL}/api/v1/accounts/{id}`,
//! authenticated with the `api_access_token` header.
//!
//! Which token: mirror mode needs a user's access token (an agent or administrator's profile token),
//! because Chatwoot refuses bot tokens everywhere but a few conversation endpoints
//! (`BOT_ACCESSIBLE_ENDPOINTS`: contacts and labels answer 401 to them); channel mode uses the agent
//! bot's token, so that a `toggle_status` to `open` counts as the bot's hand-off. The token is never
//! logged, and `Debug` shows only the base URL and account.
//!
//! No call is retried here: every call is an outbox row, retried by the dispatcher with backoff, so
//! a Chatwoot outage delays the mirror and loses nothing.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::ChatwootError;
use super::wire::{
    ContactCreatedIn, ContactIn, ContactOut, ContactsIn, ConversationCreatedIn, ConversationOut,
    LabelsIn, MessageIn, MessageOut, MessagesIn,
};
use crate::config::{ChatwootConfig, ChatwootMode, Secret};
use crate::telemetry::Metrics;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// A client for one Chatwoot account.
#[derive(Clone)]
pub struct ChatwootApi {
    http: reqwest::Client,
    base: String,
    account: String,
    inbox: Option<i64>,
    token: Secret,
    mode: ChatwootMode,
    metrics: Metrics,
}

impl std::fmt::Debug for ChatwootApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatwootApi")
            .field("base", &self.base)
            .field("account", &self.account)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ChatwootApi {
    /// The configured client; `None` when Chatwoot is not configured.
    pub fn from_config(
        config: &ChatwootConfig,
        metrics: Metrics,
    ) -> Result<Option<Self>, reqwest::Error> {
        let (Some(base), Some(token), Some(account)) =
            (&config.base_url, &config.api_token, &config.account_id)
        else {
            return Ok(None);
        };
        Self::new(
            base,
            account,
            config.inbox_id.as_deref().and_then(|i| i.parse().ok()),
            token.clone(),
            config.mode,
            TIMEOUT,
            metrics,
        )
        .map(Some)
    }

    pub fn new(
        base: &str,
        account: &str,
        inbox: Option<i64>,
        token: Secret,
        mode: ChatwootMode,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("salonbot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            account: account.to_owned(),
            inbox,
            token,
            mode,
            metrics,
        })
    }

    pub fn mode(&self) -> ChatwootMode {
        self.mode
    }

    /// The base URL (for messages to operators; holds no secret).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The inbox mirror mode writes to.
    pub fn inbox(&self) -> Result<i64, ChatwootError> {
        self.inbox
            .ok_or(ChatwootError::NotConfigured("CHATWOOT_INBOX_ID"))
    }

    fn account_path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account)
    }

    /// The configured inbox, as Chatwoot has it (the doctor's check of token and inbox).
    pub async fn get_inbox(&self) -> Result<Value, ChatwootError> {
        let path = self.account_path(&format!("/inboxes/{}", self.inbox()?));
        self.call::<Value, ()>("chatwoot_inbox", Method::GET, &path, None)
            .await
    }

    /// Contacts whose phone (or name, email, identifier) contains `phone`.
    pub async fn search_contacts(&self, phone: &str) -> Result<Vec<ContactIn>, ChatwootError> {
        let query = url_escape(phone);
        let path = self.account_path(&format!("/contacts/search?q={query}"));
        let found: ContactsIn = self
            .call::<_, ()>("chatwoot_contact_search", Method::GET, &path, None)
            .await?;
        Ok(found.payload)
    }

    /// Creates a contact in the inbox; 422 when the phone is taken already.
    pub async fn create_contact(&self, contact: &ContactOut) -> Result<ContactIn, ChatwootError> {
        let path = self.account_path("/contacts");
        let created: ContactCreatedIn = self
            .call(
                "chatwoot_contact_create",
                Method::POST,
                &path,
                Some(contact),
            )
            .await?;
        Ok(created.payload.contact)
    }

    /// Creates a conversation; returns its display id.
    pub async fn create_conversation(
        &self,
        conversation: &ConversationOut,
    ) -> Result<i64, ChatwootError> {
        let path = self.account_path("/conversations");
        let created: ConversationCreatedIn = self
            .call(
                "chatwoot_conversation_create",
                Method::POST,
                &path,
                Some(conversation),
            )
            .await?;
        Ok(created.id)
    }

    /// Posts a message (or a private note) into a conversation.
    pub async fn post_message(
        &self,
        conversation: i64,
        message: &MessageOut,
    ) -> Result<MessageIn, ChatwootError> {
        let path = self.account_path(&format!("/conversations/{conversation}/messages"));
        self.call("chatwoot_message", Method::POST, &path, Some(message))
            .await
    }

    /// A page of the conversation's messages, oldest first (to look for a marker before posting
    /// again): the latest 20, or with `before` the 20 before that message id (Chatwoot's
    /// `MessageFinder`).
    pub async fn messages(
        &self,
        conversation: i64,
        before: Option<i64>,
    ) -> Result<Vec<MessageIn>, ChatwootError> {
        let query = before.map_or_else(String::new, |id| format!("?before={id}"));
        let path = self.account_path(&format!("/conversations/{conversation}/messages{query}"));
        let found: MessagesIn = self
            .call::<_, ()>("chatwoot_messages", Method::GET, &path, None)
            .await?;
        Ok(found.payload)
    }

    /// Sets the conversation's status (`open`, `pending`, `resolved`).
    pub async fn toggle_status(
        &self,
        conversation: i64,
        status: &str,
    ) -> Result<(), ChatwootError> {
        let path = self.account_path(&format!("/conversations/{conversation}/toggle_status"));
        self.call::<Value, _>(
            "chatwoot_status",
            Method::POST,
            &path,
            Some(&json!({ "status": status })),
        )
        .await
        .map(|_| ())
    }

    /// The conversation's labels.
    pub async fn labels(&self, conversation: i64) -> Result<Vec<String>, ChatwootError> {
        let path = self.account_path(&format!("/conversations/{conversation}/labels"));
        let found: LabelsIn = self
            .call::<_, ()>("chatwoot_labels", Method::GET, &path, None)
            .await?;
        Ok(found.payload)
    }

    /// Replaces the conversation's labels with `labels` (Chatwoot replaces the whole list: send the
    /// union of what is there and what is added).
    pub async fn set_labels(
        &self,
        conversation: i64,
        labels: &[String],
    ) -> Result<(), ChatwootError> {
        let path = self.account_path(&format!("/conversations/{conversation}/labels"));
        self.call::<Value, _>(
            "chatwoot_labels_set",
            Method::POST,
            &path,
            Some(&json!({ "labels": labels })),
        )
        .await
        .map(|_| ())
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        kind: &'static str,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ChatwootError> {
        let started = Instant::now();
        let result = self.once(method, path, body).await;
        let outcome = match &result {
            Ok(_) => "sent",
            Err(err) if err.is_retryable() => "retryable",
            Err(_) => "failed",
        };
        self.metrics
            .outbound(kind, outcome, None, started.elapsed());
        let bytes = result?;
        serde_json::from_slice(&bytes).map_err(|e| ChatwootError::Decode(e.to_string()))
    }

    async fn once<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Vec<u8>, ChatwootError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .header("api_access_token", self.token.expose());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            // reqwest's error names the URL, never the header.
            ChatwootError::Network(e.without_url().to_string())
        })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ChatwootError::Network(e.without_url().to_string()))?;
        if (200..300).contains(&status) {
            Ok(bytes.to_vec())
        } else {
            tracing::debug!(path, status, "chatwoot refused a call");
            Err(ChatwootError::of_status(
                status,
                &String::from_utf8_lossy(&bytes),
            ))
        }
    }
}

/// Percent-escapes a query value (a `+` would otherwise read as a space).
fn url_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_prints() {
        let api = ChatwootApi::new(
            "http://chatwoot.test/",
            "1",
            Some(3),
            Secret::new("tok-secret"),
            ChatwootMode::Mirror,
            TIMEOUT,
            Metrics::new(),
        )
        .unwrap();
        let shown = format!("{api:?}");
        assert!(!shown.contains("tok-secret"), "{shown}");
        assert!(shown.contains("http://chatwoot.test"));
    }

    #[test]
    fn a_phone_is_escaped_for_the_search() {
        assert_eq!(url_escape("+351912345678"), "%2B351912345678");
    }
}

//! The Cloud API client: posts messages to `{WHATSAPP_API_BASE}/{WHATSAPP_PHONE_NUMBER_ID}/messages`,
//! and reads the number's record and the account's templates for `salonbot doctor`.
//!
//! One pooled HTTP client (rustls), a timeout per request (`WHATSAPP_HTTP_TIMEOUT_SECONDS`), and a small
//! retry budget for failures that a second try a moment later may fix (connection errors, timeouts, 5xx,
//! throttling codes), with exponential backoff and jitter (the `backoff` crate), honouring `Retry-After`.
//! Everything else is returned classified (`SendError`) for the caller to act on: the outbox schedules
//! longer retries, falls back to templates, or pauses sending.
//!
//! A retried POST whose first attempt did reach Meta (a timeout after Meta accepted it) can deliver a
//! message twice: the Cloud API has no idempotency key for messages. Such duplicates are rare and
//! preferred to losing a reply.
//!
//! Without `WHATSAPP_ACCESS_TOKEN` the bot runs in sandbox: messages are recorded as sent and nothing
//! leaves the machine.

use std::time::{Duration, Instant};

use backoff::ExponentialBackoffBuilder;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use serde::Deserialize;
use serde_json::Value;

use super::error::{MetaError, SendError};
use crate::config::{Secret, WhatsAppConfig};
use crate::telemetry::Metrics;

/// How long the client keeps retrying one request before handing the failure back.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    pub initial: Duration,
    pub max_interval: Duration,
    pub max_elapsed: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max_interval: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(10),
        }
    }
}

/// What Meta answered for a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The message's `wamid`; status webhooks refer to it.
    pub wamid: String,
    /// The recipient's WhatsApp id as Meta resolved it, when given.
    pub wa_id: Option<String>,
}

#[derive(Deserialize)]
struct SendAnswer {
    #[serde(default)]
    contacts: Vec<ContactOut>,
    messages: Vec<MessageIdOut>,
}

#[derive(Deserialize)]
struct ContactOut {
    #[serde(default)]
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct MessageIdOut {
    id: String,
}

/// The business number as the Graph API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PhoneNumberInfo {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    #[serde(default)]
    pub quality_rating: Option<String>,
    /// `TIER_250`, `TIER_1K`, ... : how many customers a day the number may start conversations with.
    #[serde(default)]
    pub messaging_limit_tier: Option<String>,
}

/// One message template of the business account, in one language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TemplateInfo {
    pub name: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED` ...
    pub status: String,
    #[serde(default)]
    pub language: Option<String>,
}

/// A live client for one business number.
#[derive(Clone)]
pub struct WhatsAppClient {
    http: reqwest::Client,
    /// `WHATSAPP_API_BASE`, without a trailing slash.
    api_base: String,
    phone_number_id: String,
    messages_url: String,
    token: Secret,
    retry: RetryBudget,
    metrics: Metrics,
}

impl std::fmt::Debug for WhatsAppClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppClient")
            .field("messages_url", &self.messages_url)
            .finish_non_exhaustive()
    }
}

/// Sends live, or records in sandbox.
#[derive(Clone, Debug)]
pub enum WhatsAppSender {
    Live(WhatsAppClient),
    /// No access token: messages are recorded as sent, nothing leaves the machine.
    Sandbox,
}

impl WhatsAppSender {
    pub fn from_config(config: &WhatsAppConfig, metrics: Metrics) -> Result<Self, reqwest::Error> {
        match (&config.access_token, &config.phone_number_id) {
            (Some(token), Some(phone_number_id)) => Ok(WhatsAppSender::Live(WhatsAppClient::new(
                &config.api_base,
                phone_number_id,
                token.clone(),
                config.http_timeout,
                RetryBudget::default(),
                metrics,
            )?)),
            _ => Ok(WhatsAppSender::Sandbox),
        }
    }

    pub fn is_sandbox(&self) -> bool {
        matches!(self, WhatsAppSender::Sandbox)
    }

    /// Sends a `/messages` request body; `kind` labels the metrics (text, template, buttons, ...).
    pub async fn send(&self, kind: &str, body: &Value) -> Result<SentMessage, SendError> {
        match self {
            WhatsAppSender::Live(client) => client.send(kind, body).await,
            WhatsAppSender::Sandbox => {
                let wamid = format!("sandbox.{}", uuid::Uuid::new_v4().simple());
                // The only place a sandboxed reply can be read without the database.
                let to = body["to"]
                    .as_str()
                    .or_else(|| body["recipient"].as_str())
                    .unwrap_or_default();
                let text = super::messages::render::render(body).one_line();
                tracing::info!(kind, %wamid, to = %crate::conversation::Masked(to), text = %text, "sandbox: message recorded, not sent");
                Ok(SentMessage { wamid, wa_id: None })
            }
        }
    }
}

impl WhatsAppClient {
    pub fn new(
        api_base: &str,
        phone_number_id: &str,
        token: Secret,
        timeout: Duration,
        retry: RetryBudget,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("salonbot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let api_base = api_base.trim_end_matches('/').to_owned();
        Ok(Self {
            http,
            messages_url: format!("{api_base}/{phone_number_id}/messages"),
            api_base,
            phone_number_id: phone_number_id.to_owned(),
            token,
            retry,
            metrics,
        })
    }

    /// Sends a message, retrying transient failures within the retry budget.
    pub async fn send(&self, kind: &str, body: &Value) -> Result<SentMessage, SendError> {
        let started = Instant::now();
        let result = self.post_with_retries(body).await.and_then(|answer| {
            let parsed: SendAnswer =
                serde_json::from_value(answer).map_err(|e| SendError::Rejected {
                    code: 0,
                    reason: format!("unexpected answer from Meta: {e}"),
                })?;
            let wamid = parsed
                .messages
                .into_iter()
                .next()
                .map(|m| m.id)
                .ok_or_else(|| SendError::Rejected {
                    code: 0,
                    reason: "Meta's answer carried no message id".into(),
                })?;
            Ok(SentMessage {
                wamid,
                wa_id: parsed.contacts.into_iter().next().and_then(|c| c.wa_id),
            })
        });
        let outcome = match &result {
            Ok(_) => "sent",
            Err(e) => e.label(),
        };
        self.metrics.outbound(
            kind,
            outcome,
            result.as_ref().err().and_then(SendError::code),
            started.elapsed(),
        );
        result
    }

    /// Marks a customer's message as read (blue ticks).
    pub async fn mark_read(&self, message_id: &str) -> Result<(), SendError> {
        let body = serde_json::json!({
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
        });
        let started = Instant::now();
        let result = self.post_with_retries(&body).await.map(|_| ());
        let outcome = match &result {
            Ok(()) => "sent",
            Err(e) => e.label(),
        };
        self.metrics.outbound(
            "mark_read",
            outcome,
            result.as_ref().err().and_then(SendError::code),
            started.elapsed(),
        );
        result
    }

    async fn post_with_retries(&self, body: &Value) -> Result<Value, SendError> {
        let policy = ExponentialBackoffBuilder::new()
            .with_initial_interval(self.retry.initial)
            .with_max_interval(self.retry.max_interval)
            .with_max_elapsed_time(Some(self.retry.max_elapsed))
            .build();
        let attempt = || async {
            match self.post_once(body).await {
                Ok(answer) => Ok(answer),
                // A wait longer than the budget is handed back for the outbox to schedule.
                Err(err @ SendError::Transient { retry_after, .. }) => match retry_after {
                    Some(after) if after > self.retry.max_elapsed => {
                        Err(backoff::Error::permanent(err))
                    }
                    Some(after) => Err(backoff::Error::retry_after(err, after)),
                    None => Err(backoff::Error::transient(err)),
                },
                // Everything else (including the pair rate limit, which asks for minutes) is for the
                // caller to act on.
                Err(err) => Err(backoff::Error::permanent(err)),
            }
        };
        backoff::future::retry_notify(policy, attempt, |err: SendError, wait: Duration| {
            tracing::debug!(error = %err, wait_ms = wait.as_millis() as u64, "retrying WhatsApp request");
        })
        .await
    }

    async fn post_once(&self, body: &Value) -> Result<Value, SendError> {
        let response = self
            .http
            .post(&self.messages_url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
            .json(body)
            .send()
            .await
            .map_err(|e| SendError::network(&e))?;
        Self::answer(response).await
    }

    /// The URL of the business number's record (`GET` gives its name, quality and limit tier).
    pub fn phone_number_url(&self) -> String {
        format!(
            "{}/{}?fields=display_phone_number,verified_name,quality_rating,messaging_limit_tier",
            self.api_base, self.phone_number_id
        )
    }

    /// The business number as Meta knows it: proves the token works for this number.
    pub async fn phone_number(&self) -> Result<PhoneNumberInfo, SendError> {
        let answer = self.get_once(&self.phone_number_url()).await?;
        serde_json::from_value(answer).map_err(|e| SendError::Rejected {
            code: 0,
            reason: format!("unexpected answer from Meta: {e}"),
        })
    }

    /// The URL listing the account's templates named `name`.
    pub fn templates_url(&self, business_account_id: &str, name: &str) -> String {
        format!(
            "{}/{business_account_id}/message_templates?fields=name,status,language&name={name}",
            self.api_base
        )
    }

    /// The account's templates named `name` (one per language), with their review status.
    pub async fn templates(
        &self,
        business_account_id: &str,
        name: &str,
    ) -> Result<Vec<TemplateInfo>, SendError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            data: Vec<TemplateInfo>,
        }
        let answer = self
            .get_once(&self.templates_url(business_account_id, name))
            .await?;
        let page: Page = serde_json::from_value(answer).map_err(|e| SendError::Rejected {
            code: 0,
            reason: format!("unexpected answer from Meta: {e}"),
        })?;
        // Meta's `name` filter matches by prefix: keep the exact name only.
        Ok(page.data.into_iter().filter(|t| t.name == name).collect())
    }

    async fn get_once(&self, url: &str) -> Result<Value, SendError> {
        let response = self
            .http
            .get(url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
            .send()
            .await
            .map_err(|e| SendError::network(&e))?;
        Self::answer(response).await
    }

    /// Meta's answer: its JSON on success, else the failure classified.
    async fn answer(response: reqwest::Response) -> Result<Value, SendError> {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|e| SendError::network(&e))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| SendError::Transient {
                reason: format!("unreadable answer from Meta: {e}"),
                retry_after: None,
                code: None,
            });
        }
        let error = MetaError::from_body(&bytes);
        let err = SendError::classify(status, error.as_ref(), retry_after);
        if let Some(meta) = &error {
            tracing::warn!(
                status,
                code = meta.code,
                subcode = meta.error_subcode,
                fbtrace_id = meta.fbtrace_id.as_deref().unwrap_or_default(),
                class = err.label(),
                "WhatsApp request failed: {}",
                meta.reason()
            );
        }
        Err(err)
    }
}

//! The optional language model for free text the rules are not sure about (`OPENAI_API_KEY`,
//! `OPENAI_BASE_URL` for any OpenAI-compatible server, `OPENAI_MODEL`, `OPENAI_TIMEOUT_MS`).
//!
//! It runs outside the engine's pure step: the worker asks it before a turn, only when the rules
//! understood nothing of a message, and its answer becomes part of the turn's input, recorded with the
//! message (`store::model_readings`) so that a replay gives the same turn. It is asked for a
//! structured answer (a JSON schema), validated against the catalog and the calendar into the same
//! [`Understanding`] the rules produce (`validate`); what is sent is said in `prompt`. Any error, a
//! malformed answer or no answer within the timeout gives `None`, and the turn goes on with the
//! rules. The model never decides availability, prices or policies: those come from the catalog and
//! the store, through the flow.

mod prompt;
mod validate;

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequestArgs, ResponseFormat, ResponseFormatJsonSchema,
};
use chrono::{DateTime, Utc};

use crate::booking::catalog::Catalog;
use crate::config::OpenAiConfig;
use crate::engine::understand::Understanding;
pub use prompt::masked;

/// The model used when `OPENAI_MODEL` is unset.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// Why the model gave nothing usable (logged; the turn goes on with the rules).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Request(#[from] async_openai::error::OpenAIError),
    #[error("answer is not the schema's JSON: {0}")]
    Malformed(String),
}

/// Asks an OpenAI-compatible chat completions API what a message says.
#[derive(Clone)]
pub struct ModelReader {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: Duration,
}

impl std::fmt::Debug for ModelReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelReader")
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ModelReader {
    /// The reader the configuration asks for, or `None` without `OPENAI_API_KEY` (rules only).
    pub fn from_config(config: &OpenAiConfig) -> Option<Self> {
        let key = config.api_key.as_ref()?;
        let mut settings = OpenAIConfig::new().with_api_key(key.expose());
        if let Some(base) = &config.base_url {
            settings = settings.with_api_base(base);
        }
        // One attempt: the turn has its own timeout and falls back to the rules; retrying a failed
        // request inside it would only spend that time.
        let no_retries = backoff::ExponentialBackoff {
            max_elapsed_time: Some(Duration::ZERO),
            ..Default::default()
        };
        Some(Self {
            client: Client::with_config(settings).with_backoff(no_retries),
            model: config
                .model
                .clone()
                .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
            timeout: config.timeout,
        })
    }

    /// The model's name, recorded with each answer.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// What the model reads in `text`, validated against the catalog; an error when it gave
    /// nothing usable in time.
    pub async fn read(
        &self,
        text: &str,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<Understanding, ModelError> {
        let ask = self.ask(text, catalog, now);
        let answer = tokio::time::timeout(self.timeout, ask)
            .await
            .map_err(|_| ModelError::Timeout(self.timeout))??;
        let answer: validate::Answer =
            serde_json::from_str(&answer).map_err(|e| ModelError::Malformed(e.to_string()))?;
        Ok(validate::validated(answer, catalog, now))
    }

    async fn ask(
        &self,
        text: &str,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<String, ModelError> {
        let system = ChatCompletionRequestSystemMessageArgs::default()
            .content(prompt::instructions(catalog, now))
            .build()?;
        let user = ChatCompletionRequestUserMessageArgs::default()
            .content(masked(text))
            .build()?;
        let format = ResponseFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: Some("What a salon customer's message asks for".to_owned()),
                name: "salon_message".to_owned(),
                schema: Some(prompt::schema()),
                strict: Some(true),
            },
        };
        let request = CreateChatCompletionRequestArgs::default()
            .model(&self.model)
            .messages(vec![system.into(), user.into()])
            .response_format(format)
            .temperature(0.0)
            .build()?;
        let response = self.client.chat().create(request).await?;
        response
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .ok_or_else(|| ModelError::Malformed("no message in the answer".to_owned()))
    }
}

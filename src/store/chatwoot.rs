//! The Chatwoot conversation of each customer conversation (table `chatwoot_conversations`):
//! created once by the first mirrored call and remembered, so that later calls post into it and
//! Chatwoot's webhooks about it are led to the customer's conversation.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, Time};

/// Where a Chatwoot conversation leads: the customer's conversation and its business number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatwootRoute {
    pub business_id: String,
    pub conversation_key: String,
}

impl Store {
    /// The Chatwoot conversation (display id) remembered for a customer conversation.
    pub async fn chatwoot_conversation(
        &self,
        conversation_key: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on!(Store, self, |s| {
            sqlx::query_as(
            "SELECT chatwoot_conversation_id FROM chatwoot_conversations WHERE conversation_key = $1",
        )
        .bind(conversation_key)
        .fetch_optional(s.read())
        .await?
        });
        Ok(row.map(|(id,)| id))
    }

    /// The customer conversation a Chatwoot conversation mirrors (the most recent, should an
    /// operator have pointed two at one).
    pub async fn chatwoot_route(
        &self,
        chatwoot_conversation_id: i64,
    ) -> Result<Option<ChatwootRoute>, StoreError> {
        let row: Option<(String, String)> = on!(Store, self, |s| sqlx::query_as(
            "SELECT business_id, conversation_key FROM chatwoot_conversations \
             WHERE chatwoot_conversation_id = $1 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(chatwoot_conversation_id)
        .fetch_optional(s.read())
        .await?);
        Ok(row.map(|(business_id, conversation_key)| ChatwootRoute {
            business_id,
            conversation_key,
        }))
    }

    /// Remembers the Chatwoot conversation of a customer conversation; the first one remembered
    /// stays, and is returned.
    pub async fn remember_chatwoot_conversation(
        &self,
        conversation_key: &str,
        business_id: &str,
        chatwoot_conversation_id: i64,
        contact_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        on!(Store, self, |s| sqlx::query(
            "INSERT INTO chatwoot_conversations \
             (conversation_key, business_id, chatwoot_conversation_id, contact_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (conversation_key) DO NOTHING",
        )
        .bind(conversation_key)
        .bind(business_id)
        .bind(chatwoot_conversation_id)
        .bind(contact_id)
        .bind(Time(now))
        .execute(s.write())
        .await
        .map(|_| ())?);
        Ok(self
            .chatwoot_conversation(conversation_key)
            .await?
            .unwrap_or(chatwoot_conversation_id))
    }

    /// Points a customer conversation at a Chatwoot conversation (channel mode, where Chatwoot opens
    /// a new conversation when a resolved one is written to again): the latest wins.
    pub async fn set_chatwoot_conversation(
        &self,
        conversation_key: &str,
        business_id: &str,
        chatwoot_conversation_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on!(Store, self, |s| sqlx::query(
            "INSERT INTO chatwoot_conversations \
             (conversation_key, business_id, chatwoot_conversation_id, contact_id, created_at) \
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (conversation_key) DO UPDATE \
             SET chatwoot_conversation_id = EXCLUDED.chatwoot_conversation_id, \
                 created_at = EXCLUDED.created_at",
        )
        .bind(conversation_key)
        .bind(business_id)
        .bind(chatwoot_conversation_id)
        .bind(Time(now))
        .execute(s.write())
        .await
        .map(|_| ())?);
        Ok(())
    }
}

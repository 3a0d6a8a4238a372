//! Conversations as the engine sees them: their stored state (flow, state, language, human mode),
//! the latest event applied and the number of turns, and the time of the customer's last message
//! (written by [`Store::record_customer_messages`] in `outbox.rs`, which it releases messages for).
//!
//! A conversation's state is saved only by a turn (`turn.rs`), together with its event marked done.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::turn::TurnCommit;
use super::{Store, StoreError, Time, Tx};

/// A conversation's stored engine state.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversation {
    /// The engine's state (JSON), `None` before the first turn.
    pub state: Option<Value>,
    /// The latest inbox event applied.
    pub last_event_id: i64,
}

fn stored((state, last_event_id): (Option<Json<Value>>, i64)) -> StoredConversation {
    StoredConversation {
        state: state.map(|s| s.0),
        last_event_id,
    }
}

impl Store {
    /// The engine's stored state of a conversation.
    pub async fn conversation_state(
        &self,
        conversation_key: &str,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let row = on!(Store, self, |s| sqlx::query_as(
            "SELECT state, last_event_id FROM conversations WHERE conversation_key = $1",
        )
        .bind(conversation_key)
        .fetch_optional(s.read())
        .await?);
        Ok(row.map(stored))
    }

    /// The stored states of several conversations at once (those without a row are absent).
    pub async fn conversation_states(
        &self,
        conversation_keys: &[String],
    ) -> Result<HashMap<String, StoredConversation>, StoreError> {
        if conversation_keys.is_empty() {
            return Ok(HashMap::new());
        }
        match self {
            Store::Postgres(s) => pg::load_many(s.read(), conversation_keys).await,
            Store::Sqlite(_) => {
                // SQLite reads are local: one by one costs no round trip.
                let mut found = HashMap::new();
                for key in conversation_keys {
                    if let Some(state) = self.conversation_state(key).await? {
                        found.insert(key.clone(), state);
                    }
                }
                Ok(found)
            }
        }
    }
}

impl Tx<'_> {
    /// Marks the turn's event done while this worker's claim on it holds, and then saves the
    /// conversation; `false` (and nothing saved) when the claim was lost.
    pub(super) async fn save_turn(
        &mut self,
        turn: &TurnCommit,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self {
            Tx::Postgres(tx) => pg::save_turn(tx, turn, now).await,
            Tx::Sqlite(_) => {
                if !self.mark_done(turn.event_id, turn.attempt, now).await? {
                    return Ok(false);
                }
                on!(Tx, self, |tx| {
                    sqlx::query(
                    "INSERT INTO conversations (conversation_key, business_id, flow, state, language, \
                         human, last_event_id, turns, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) \
                     ON CONFLICT (conversation_key) DO UPDATE SET flow = excluded.flow, \
                         state = excluded.state, language = excluded.language, human = excluded.human, \
                         last_event_id = max(conversations.last_event_id, excluded.last_event_id), \
                         turns = conversations.turns + 1, updated_at = excluded.updated_at",
                )
                .bind(&turn.conversation_key)
                .bind(&turn.business_id)
                .bind(&turn.flow)
                .bind(Json(&turn.state))
                .bind(&turn.language)
                .bind(turn.human)
                .bind(turn.event_id)
                .bind(Time(now))
                .execute(&mut **tx)
                .await?
                .rows_affected()
                });
                Ok(true)
            }
        }
    }
}

mod pg {
    use super::*;
    use sqlx::PgPool;

    pub(super) async fn load_many(
        pool: &PgPool,
        keys: &[String],
    ) -> Result<HashMap<String, StoredConversation>, StoreError> {
        let rows: Vec<(String, Option<Json<Value>>, i64)> = sqlx::query_as(
            "SELECT conversation_key, state, last_event_id FROM conversations \
             WHERE conversation_key = ANY($1)",
        )
        .bind(keys)
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, state, last)| (key, stored((state, last))))
            .collect())
    }

    /// The event marked done and the conversation saved in one statement: nothing is saved when the
    /// claim was lost.
    pub(super) async fn save_turn(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        turn: &TurnCommit,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let saved = sqlx::query(
            "WITH done AS ( \
                 UPDATE inbox_events SET status = 'done', processed_at = $8, last_error = NULL \
                 WHERE id = $7 AND attempts = $9 AND status = 'processing' RETURNING id) \
             INSERT INTO conversations (conversation_key, business_id, flow, state, language, human, \
                 last_event_id, turns, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, id, 1, $8, $8 FROM done \
             ON CONFLICT (conversation_key) DO UPDATE SET flow = EXCLUDED.flow, state = EXCLUDED.state, \
                 language = EXCLUDED.language, human = EXCLUDED.human, \
                 last_event_id = GREATEST(conversations.last_event_id, EXCLUDED.last_event_id), \
                 turns = conversations.turns + 1, updated_at = EXCLUDED.updated_at",
        )
        .bind(&turn.conversation_key)
        .bind(&turn.business_id)
        .bind(&turn.flow)
        .bind(&turn.state)
        .bind(&turn.language)
        .bind(turn.human)
        .bind(turn.event_id)
        .bind(now)
        .bind(turn.attempt)
        .execute(&mut **tx)
        .await?;
        Ok(saved.rows_affected() == 1)
    }
}

//! What the optional language model answered for a message, recorded with the message's inbox event
//! before its turn runs (table `model_readings`): the model is asked at most once per message, and a
//! turn handled again (a retry after a failed commit, `inbox replay`) reads the recorded answer, so a
//! replay gives the same turn. `null` records that the model gave nothing usable (an error, a
//! timeout, an answer that did not validate): the turn used the rules alone, and so will its replay.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{Store, StoreError, Time};

impl Store {
    /// The recorded answer for an inbox event: `None` when the model was never asked for it,
    /// `Some(None)` when it was and gave nothing usable.
    pub async fn model_reading(
        &self,
        inbox_event_id: i64,
    ) -> Result<Option<Option<Value>>, StoreError> {
        let row: Option<(Option<Json<Value>>,)> = on!(Store, self, |s| sqlx::query_as(
            "SELECT reading FROM model_readings WHERE inbox_event_id = $1",
        )
        .bind(inbox_event_id)
        .fetch_optional(s.read())
        .await?);
        Ok(row.map(|(reading,)| reading.map(|json| json.0)))
    }

    /// Records the model's answer for an inbox event (the first one recorded stays: a second worker
    /// racing for the same event reads it instead).
    pub async fn record_model_reading(
        &self,
        inbox_event_id: i64,
        reading: Option<&Value>,
        model: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on!(Store, self, |s| sqlx::query(
            "INSERT INTO model_readings (inbox_event_id, reading, model, recorded_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (inbox_event_id) DO NOTHING",
        )
        .bind(inbox_event_id)
        .bind(reading.map(Json))
        .bind(model)
        .bind(Time(now))
        .execute(s.write())
        .await
        .map(|_| ())?);
        Ok(())
    }
}

//! SQLite backend: the embedded default, one file, no server to run. Its pools, its migrations, and
//! how it encodes [`Time`].
//!
//! WAL journal with `synchronous = FULL`, so a commit is on disk before the webhook is acknowledged,
//! exactly as on Postgres. SQLite has one writer at a time: every write goes through one dedicated
//! connection, and the ingress batches its writes anyway.

use std::path::Path;
use std::time::Duration;

use chrono::DateTime;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteArgumentValue, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous, SqliteTypeInfo, SqliteValueRef,
};
use sqlx::{Decode, Encode, Sqlite, Type};

use super::{RawJson, StoreError, StoreOptions, Time};

#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// Readers (WAL lets them run beside the writer).
    pool: SqlitePool,
    /// The one connection that writes. SQLite allows one writer at a time; queueing writers here, in
    /// order, beats letting them collide on the file lock, whose busy handler sleeps for up to 100 ms.
    writer: SqlitePool,
}

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    /// Opens the database file, creating it and its folder when missing if `options.create` says so.
    pub async fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        if !options.create && !path.is_file() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(options.create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.clamp(1, 4))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self { pool, writer })
    }

    /// The reading connections.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// For reads.
    pub(super) fn read(&self) -> &SqlitePool {
        &self.pool
    }

    /// For writes: the single writing connection.
    pub(super) fn write(&self) -> &SqlitePool {
        &self.writer
    }

    /// For writes that need not wait for the disk: SQLite has only its one writer.
    pub(super) fn lazy(&self) -> &SqlitePool {
        &self.writer
    }

    pub(super) fn migrator(&self) -> &'static Migrator {
        &MIGRATOR
    }

    /// Whether the database was ever migrated.
    pub(super) async fn has_migrations_table(&self) -> Result<bool, StoreError> {
        let (exists,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(exists)
    }
}

impl Type<Sqlite> for Time {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Time {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode_by_ref(&self.0.timestamp_millis(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Time {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let ms = <i64 as Decode<Sqlite>>::decode(value)?;
        DateTime::from_timestamp_millis(ms)
            .map(Time)
            .ok_or_else(|| format!("time {ms} out of range").into())
    }
}

impl Type<Sqlite> for RawJson<'_> {
    fn type_info() -> SqliteTypeInfo {
        <str as Type<Sqlite>>::type_info()
    }
}

impl<'q> Encode<'q, Sqlite> for RawJson<'q> {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Sqlite>>::encode(self.0, buf)
    }
}

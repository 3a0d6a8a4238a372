-- Same tables as migrations/postgres/0001; times are Unix milliseconds (INTEGER) so that they compare
-- correctly, payloads are JSON text.
CREATE TABLE inbox_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    provider          TEXT    NOT NULL,
    provider_event_id TEXT    NOT NULL,
    business_id       TEXT    NOT NULL,
    conversation_key  TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    payload           TEXT    NOT NULL,
    received_at       INTEGER NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'done', 'failed', 'dead')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    next_attempt_at   INTEGER NOT NULL,
    processed_at      INTEGER,
    UNIQUE (provider, provider_event_id)
);

CREATE INDEX inbox_events_open_by_conversation ON inbox_events (conversation_key, id)
    WHERE status IN ('pending', 'processing', 'failed');
CREATE INDEX inbox_events_open ON inbox_events (id)
    WHERE status IN ('pending', 'processing', 'failed');

CREATE TABLE webhook_audit (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    provider         TEXT    NOT NULL,
    outcome          TEXT    NOT NULL,
    status_code      INTEGER NOT NULL,
    body_bytes       INTEGER NOT NULL,
    remote_addr      TEXT,
    latency_us       INTEGER NOT NULL,
    request_id       TEXT,
    events_new       INTEGER NOT NULL DEFAULT 0,
    events_duplicate INTEGER NOT NULL DEFAULT 0,
    received_at      INTEGER NOT NULL
);
CREATE INDEX webhook_audit_received_at ON webhook_audit (received_at);

-- Same table as migrations/postgres/0002; times in Unix milliseconds, JSON as text.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    business_id      TEXT    NOT NULL,
    conversation_key TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'waiting', 'sent', 'delivered', 'read', 'failed', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    error_code       INTEGER,
    wamid            TEXT UNIQUE,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    status_at        INTEGER
);

CREATE INDEX outbox_open_by_recipient ON outbox (recipient, id) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_open ON outbox (id) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_conversation ON outbox (conversation_key, id);

CREATE TABLE conversations (
    conversation_key TEXT PRIMARY KEY,
    business_id      TEXT    NOT NULL,
    last_inbound_at  INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- Inbox: every event a provider delivered, stored before the webhook is acknowledged.
-- (provider, provider_event_id) is the dedup authority.
CREATE TABLE inbox_events (
    id                BIGSERIAL PRIMARY KEY,
    provider          TEXT        NOT NULL,
    provider_event_id TEXT        NOT NULL,
    business_id       TEXT        NOT NULL,
    conversation_key  TEXT        NOT NULL,
    kind              TEXT        NOT NULL,
    payload           JSONB       NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL,
    status            TEXT        NOT NULL DEFAULT 'pending',
    attempts          INTEGER     NOT NULL DEFAULT 0,
    last_error        TEXT,
    -- pending/failed: not before this time; processing: the worker's lease ends at this time.
    next_attempt_at   TIMESTAMPTZ NOT NULL,
    processed_at      TIMESTAMPTZ,
    CONSTRAINT inbox_events_provider_event UNIQUE (provider, provider_event_id),
    CONSTRAINT inbox_events_status CHECK (status IN ('pending', 'processing', 'done', 'failed', 'dead'))
);

-- Open events only, so claiming costs the same with a million handled events behind it.
CREATE INDEX inbox_events_open_by_conversation ON inbox_events (conversation_key, id)
    WHERE status IN ('pending', 'processing', 'failed');
CREATE INDEX inbox_events_open ON inbox_events (id)
    WHERE status IN ('pending', 'processing', 'failed');

-- Audit trail: one row per webhook request, accepted or rejected, never with its body.
CREATE TABLE webhook_audit (
    id               BIGSERIAL PRIMARY KEY,
    provider         TEXT        NOT NULL,
    outcome          TEXT        NOT NULL,
    status_code      INTEGER     NOT NULL,
    body_bytes       BIGINT      NOT NULL,
    remote_addr      TEXT,
    latency_us       BIGINT      NOT NULL,
    request_id       TEXT,
    events_new       INTEGER     NOT NULL DEFAULT 0,
    events_duplicate INTEGER     NOT NULL DEFAULT 0,
    received_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_audit_received_at ON webhook_audit (received_at);

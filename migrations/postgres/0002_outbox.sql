-- Outbox: every message the bot sends, written in the same transaction as the change that caused it,
-- then sent by the dispatcher. `idempotency_key` is stable per message, so writing it twice stores it once.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT        NOT NULL,
    business_id     TEXT        NOT NULL,
    conversation_key TEXT       NOT NULL,
    -- E.164 phone or business-scoped user id: messages to one recipient leave in order.
    recipient       TEXT        NOT NULL,
    kind            TEXT        NOT NULL,
    -- The Cloud API /messages request body.
    payload         JSONB       NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'pending',
    attempts        INTEGER     NOT NULL DEFAULT 0,
    -- pending: not before this time; sending: the dispatcher's lease ends at this time.
    -- waiting: outside the customer's 24-hour window, sent once the customer writes again.
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    error_code      BIGINT,
    wamid           TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    status_at       TIMESTAMPTZ,
    CONSTRAINT outbox_idempotency_key UNIQUE (idempotency_key),
    CONSTRAINT outbox_wamid UNIQUE (wamid),
    CONSTRAINT outbox_status CHECK (status IN ('pending', 'sending', 'waiting', 'sent', 'delivered', 'read', 'failed', 'dead'))
);

CREATE INDEX outbox_open_by_recipient ON outbox (recipient, id) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_open ON outbox (id) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_conversation ON outbox (conversation_key, id);

-- One row per conversation: what the dispatcher needs to know of it. The time of the customer's last
-- message decides WhatsApp's 24-hour window: outside it only templates may be sent.
CREATE TABLE conversations (
    conversation_key TEXT PRIMARY KEY,
    business_id      TEXT        NOT NULL,
    last_inbound_at  TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

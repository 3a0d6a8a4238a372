-- Timers: hold expiry, reminders, idle resets. A due timer fires by becoming an inbox event of its
-- conversation, in the same transaction that marks it fired, so it fires once across any number of
-- instances, survives restarts, and is handled in order with the conversation's messages.
CREATE TABLE timers (
    id               BIGSERIAL PRIMARY KEY,
    -- Stable per purpose (for example `reminder:42`): scheduling again moves the timer.
    timer_key        TEXT        NOT NULL,
    business_id      TEXT        NOT NULL,
    conversation_key TEXT        NOT NULL,
    kind             TEXT        NOT NULL,
    payload          JSONB       NOT NULL,
    due_at           TIMESTAMPTZ NOT NULL,
    fired_at         TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT timers_key UNIQUE (timer_key)
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL;

-- Same table as migrations/postgres/0008; times in Unix milliseconds.
CREATE TABLE payments (
    appointment_id     INTEGER PRIMARY KEY REFERENCES appointments (id),
    business_id        TEXT    NOT NULL,
    conversation_key   TEXT    NOT NULL,
    amount_minor       INTEGER NOT NULL,
    currency           TEXT    NOT NULL,
    status             TEXT    NOT NULL DEFAULT 'requested' CHECK (status IN
        ('requested', 'open', 'processing', 'expired', 'failed', 'paid')),
    session_id         TEXT UNIQUE,
    session_url        TEXT,
    session_expires_at INTEGER,
    payment_intent     TEXT UNIQUE,
    amount_refunded    INTEGER NOT NULL DEFAULT 0,
    refund_requested   INTEGER NOT NULL DEFAULT 0,
    refund_status      TEXT CHECK (refund_status IN ('pending', 'failed', 'succeeded')),
    refund_id          TEXT,
    refund_attempts    INTEGER NOT NULL DEFAULT 0,
    disputed           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE INDEX payments_unsettled ON payments (appointment_id)
    WHERE status IN ('requested', 'open', 'processing');

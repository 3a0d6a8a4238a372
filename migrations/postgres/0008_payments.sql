-- Deposits: one row per appointment that asked for one, with its Checkout Session, the
-- PaymentIntent that paid it, and what Stripe said of it since. Written by the turns that ask for
-- the deposit and apply Stripe's events (one conversation at a time), and by the dispatcher, which
-- records a session's id as soon as Stripe created it so that it is never created twice.
CREATE TABLE payments (
    appointment_id     BIGINT      PRIMARY KEY REFERENCES appointments (id),
    business_id        TEXT        NOT NULL,
    conversation_key   TEXT        NOT NULL,
    amount_minor       BIGINT      NOT NULL,
    currency           TEXT        NOT NULL,
    -- requested (no session yet) -> open -> processing (paid by a slow method, not settled yet)
    -- -> expired | failed | paid. Only ever moves forward (booking::payment decides).
    status             TEXT        NOT NULL DEFAULT 'requested',
    session_id         TEXT,
    session_url        TEXT,
    session_expires_at TIMESTAMPTZ,
    payment_intent     TEXT,
    -- Cumulative, as Stripe reports it (charge.refunded's amount_refunded).
    amount_refunded    BIGINT      NOT NULL DEFAULT 0,
    -- What the bot asked Stripe to refund (0: nothing), and what became of it.
    refund_requested   BIGINT      NOT NULL DEFAULT 0,
    refund_status      TEXT,
    refund_id          TEXT,
    -- Refunds asked for so far (a failed one is asked for again, a few times).
    refund_attempts    INTEGER     NOT NULL DEFAULT 0,
    disputed           BOOLEAN     NOT NULL DEFAULT false,
    last_error         TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT payments_session UNIQUE (session_id),
    CONSTRAINT payments_intent UNIQUE (payment_intent),
    CONSTRAINT payments_status CHECK (status IN
        ('requested', 'open', 'processing', 'expired', 'failed', 'paid')),
    CONSTRAINT payments_refund_status CHECK (refund_status IN ('pending', 'failed', 'succeeded'))
);

-- Reconciliation asks Stripe about the deposits not settled yet.
CREATE INDEX payments_unsettled ON payments (appointment_id)
    WHERE status IN ('requested', 'open', 'processing');

-- The engine's state of each conversation, stored with it: the flow it runs and where it is (JSON,
-- so new fields need no migration), the customer's language, whether a person has it (human mode),
-- and the last inbox event applied, so an event is applied once even if its claim is retried.
ALTER TABLE conversations
    ADD COLUMN flow          TEXT,
    ADD COLUMN state         JSONB,
    ADD COLUMN language      TEXT,
    ADD COLUMN human         BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN last_event_id BIGINT  NOT NULL DEFAULT 0,
    ADD COLUMN turns         BIGINT  NOT NULL DEFAULT 0;

-- Availability reads the live appointments of a business by time.
CREATE INDEX appointments_live_by_time ON appointments (business_id, starts_at)
    WHERE status IN ('held', 'pending_payment', 'confirmed');

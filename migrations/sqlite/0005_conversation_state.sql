-- Same columns as migrations/postgres/0005.
ALTER TABLE conversations ADD COLUMN flow TEXT;
ALTER TABLE conversations ADD COLUMN state TEXT;
ALTER TABLE conversations ADD COLUMN language TEXT;
ALTER TABLE conversations ADD COLUMN human INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN last_event_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN turns INTEGER NOT NULL DEFAULT 0;

CREATE INDEX appointments_live_by_time ON appointments (business_id, starts_at)
    WHERE status IN ('held', 'pending_payment', 'confirmed');

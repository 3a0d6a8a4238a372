-- Same table as migrations/postgres/0003. SQLite has no exclusion constraints: the store checks for an
-- overlapping live appointment inside the write transaction that books (SQLite has a single writer, so
-- no other booking can slip in between the check and the insert).
CREATE TABLE appointments (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id      TEXT    NOT NULL,
    conversation_key TEXT    NOT NULL,
    service_id       TEXT    NOT NULL,
    staff_id         TEXT    NOT NULL,
    starts_at        INTEGER NOT NULL,
    ends_at          INTEGER NOT NULL,
    occupied_until   INTEGER NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN
        ('held', 'pending_payment', 'confirmed', 'completed', 'cancelled', 'expired', 'no_show', 'refunded')),
    hold_expires_at  INTEGER,
    deposit_minor    INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK (starts_at < ends_at AND ends_at <= occupied_until)
);

CREATE INDEX appointments_conversation ON appointments (conversation_key, starts_at);
CREATE INDEX appointments_staff_time ON appointments (business_id, staff_id, starts_at);
CREATE INDEX appointments_live_holds ON appointments (hold_expires_at) WHERE status = 'held';

-- Appointments, holds included: a hold becomes a booking by an update of the same row.
-- The exclusion constraint makes double booking impossible whatever the code does: two live
-- appointments of one staff member can never overlap (including the buffer after each service).
-- btree_gist gives GiST the `=` on text that the constraint needs next to the range overlap.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

CREATE TABLE appointments (
    id               BIGSERIAL PRIMARY KEY,
    business_id      TEXT        NOT NULL,
    conversation_key TEXT        NOT NULL,
    service_id       TEXT        NOT NULL,
    staff_id         TEXT        NOT NULL,
    starts_at        TIMESTAMPTZ NOT NULL,
    -- End of the service itself; `occupied_until` adds the buffer after it.
    ends_at          TIMESTAMPTZ NOT NULL,
    occupied_until   TIMESTAMPTZ NOT NULL,
    status           TEXT        NOT NULL,
    -- For holds: when the slot is released if not confirmed (now() cannot appear in a constraint, so
    -- the sweeper expires holds, and the booking transaction re-checks).
    hold_expires_at  TIMESTAMPTZ,
    deposit_minor    BIGINT      NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT appointments_status CHECK (status IN
        ('held', 'pending_payment', 'confirmed', 'completed', 'cancelled', 'expired', 'no_show', 'refunded')),
    CONSTRAINT appointments_times CHECK (starts_at < ends_at AND ends_at <= occupied_until),
    CONSTRAINT appointments_no_double_booking EXCLUDE USING gist (
        business_id WITH =,
        staff_id WITH =,
        tstzrange(starts_at, occupied_until, '[)') WITH &&
    ) WHERE (status IN ('held', 'pending_payment', 'confirmed'))
);

CREATE INDEX appointments_conversation ON appointments (conversation_key, starts_at);
CREATE INDEX appointments_live_holds ON appointments (hold_expires_at) WHERE status = 'held';

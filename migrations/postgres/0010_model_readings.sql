-- What the optional language model answered for a customer's message (validated against the catalog,
-- or null when it gave nothing usable), recorded before the message's turn runs: a turn handled again
-- (a retry, `inbox replay`) reads this instead of asking the model again, so it comes out the same.
-- 0008 and 0009 are taken by another change being made beside this one.
CREATE TABLE model_readings (
    inbox_event_id BIGINT PRIMARY KEY,
    reading JSONB,
    model TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);

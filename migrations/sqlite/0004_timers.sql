-- Same table as migrations/postgres/0004.
CREATE TABLE timers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    timer_key        TEXT    NOT NULL UNIQUE,
    business_id      TEXT    NOT NULL,
    conversation_key TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    due_at           INTEGER NOT NULL,
    fired_at         INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL;

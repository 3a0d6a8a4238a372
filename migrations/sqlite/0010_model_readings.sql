-- Same table as migrations/postgres/0010.
CREATE TABLE model_readings (
    inbox_event_id INTEGER PRIMARY KEY,
    reading TEXT,
    model TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);

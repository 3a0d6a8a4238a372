-- Same table as migrations/postgres/0011: the provider ids of removed inbox events, still duplicates.
CREATE TABLE inbox_seen (
    provider          TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    PRIMARY KEY (provider, provider_event_id)
) WITHOUT ROWID;

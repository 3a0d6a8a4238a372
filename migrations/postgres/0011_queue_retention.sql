-- Retention of the queues (QUEUE_RETENTION_DAYS): done inbox events are removed after a while, but their
-- provider ids stay here, so that a redelivery years later is still recognised as a duplicate. Only
-- the id pair is kept (no payload), and record_inbound looks here as well as at inbox_events.
CREATE TABLE inbox_seen (
    provider          TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    PRIMARY KEY (provider, provider_event_id)
);

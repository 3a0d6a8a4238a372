-- The outbox is read by conversation only to release the messages waiting for the customer's next
-- message (the 24-hour window): index those alone, not every row. Operators list dead events: index
-- those alone (normally none). (Postgres also moves its queue indexes onto a generated `queue`
-- column so that claims are HOT updates; SQLite has no such thing, its indexes stay on `status`.)
DROP INDEX outbox_conversation;
CREATE INDEX outbox_waiting ON outbox (conversation_key) WHERE status = 'waiting';
CREATE INDEX inbox_events_dead ON inbox_events (id) WHERE status = 'dead';

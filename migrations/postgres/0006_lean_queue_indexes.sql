-- Every status change of an outbox row writes a new entry into each of the table's indexes (a status
-- named in a partial index's predicate rules out a HOT update), so each index costs on every message.
-- The outbox is read by conversation only to release the messages waiting for the customer's next
-- message (the 24-hour window): index those alone, not every row. Operators list dead events: index
-- those alone (normally none).
DROP INDEX outbox_conversation;
CREATE INDEX outbox_waiting ON outbox (conversation_key) WHERE status = 'waiting';
CREATE INDEX inbox_events_dead ON inbox_events (id) WHERE status = 'dead';

-- Every status change of an inbox event or an outbox row writes a new entry into each of the table's
-- indexes (a status named in a partial index's predicate rules out a HOT update), so each index costs
-- on every turn. Keep the ones a query uses:
-- * the claims find each conversation's (recipient's) oldest open row through
--   `inbox_events_open_by_conversation` and `outbox_open_by_recipient`; the open-rows-by-id indexes
--   are unused since the claims were rewritten;
-- * the outbox is read by conversation only to release the messages waiting for the customer's next
--   message (the 24-hour window): index those alone;
-- * operators list dead events: index those alone (normally empty).
DROP INDEX inbox_events_open;
DROP INDEX outbox_open;
DROP INDEX outbox_conversation;
CREATE INDEX outbox_waiting ON outbox (conversation_key) WHERE status = 'waiting';
CREATE INDEX inbox_events_dead ON inbox_events (id) WHERE status = 'dead';

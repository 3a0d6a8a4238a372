-- Queue rows change status several times, and an UPDATE that changes a column an index names (in its
-- key or its partial-index predicate) writes a new entry into every index of the table. Claiming an
-- event (pending → processing) or a message (pending → sending) only moves it within the open queue,
-- so the partial indexes name a generated `queue` column instead of `status`: a claim changes no
-- indexed value and is a HOT update (the new row version on the same page, no index entries), as are
-- the delivery statuses after a message was sent. The tables leave room on each page for that.
ALTER TABLE inbox_events ADD COLUMN queue TEXT GENERATED ALWAYS AS (
    CASE WHEN status IN ('pending', 'processing', 'failed') THEN 'open'
         WHEN status = 'dead' THEN 'dead' END) STORED;
ALTER TABLE outbox ADD COLUMN queue TEXT GENERATED ALWAYS AS (
    CASE WHEN status IN ('pending', 'sending') THEN 'open'
         WHEN status = 'waiting' THEN 'waiting' END) STORED;
ALTER TABLE inbox_events SET (fillfactor = 50);
ALTER TABLE outbox SET (fillfactor = 50);

-- The claims: each conversation's (recipient's) oldest open row, and the open rows in id order.
DROP INDEX inbox_events_open_by_conversation;
DROP INDEX inbox_events_open;
CREATE INDEX inbox_events_open_by_conversation ON inbox_events (conversation_key, id) WHERE queue = 'open';
CREATE INDEX inbox_events_open ON inbox_events (id) WHERE queue = 'open';
DROP INDEX outbox_open_by_recipient;
DROP INDEX outbox_open;
CREATE INDEX outbox_open_by_recipient ON outbox (recipient, id) WHERE queue = 'open';
CREATE INDEX outbox_open ON outbox (id) WHERE queue = 'open';

-- The outbox is read by conversation only to release the messages waiting for the customer's next
-- message (the 24-hour window): index those alone, not every row. Operators list dead events: index
-- those alone (normally none).
DROP INDEX outbox_conversation;
CREATE INDEX outbox_waiting ON outbox (conversation_key) WHERE queue = 'waiting';
CREATE INDEX inbox_events_dead ON inbox_events (id) WHERE queue = 'dead';

-- The claims find each lane's head by walking the open queue in id order (`inbox_events_open`,
-- `outbox_open`) and keeping the lanes they have met; no statement reads the open rows of one
-- conversation or one recipient any more. These indexes only cost an entry for every event and every
-- message written.
DROP INDEX inbox_events_open_by_conversation;
DROP INDEX outbox_open_by_recipient;

-- Postgres drops its lane indexes here: its claims walk the open queue in id order and keep the lanes
-- they have met. SQLite's claims still look up the oldest open row of each candidate's lane
-- (`inbox_events_open_by_conversation`, `outbox_open_by_recipient`), so its indexes stay; this
-- migration only keeps the numbers of both folders in step.
SELECT 1;

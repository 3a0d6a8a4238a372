-- The operator's listings (`/api/messages`, `/api/webhooks`, the day view), one index per filter, so
-- that they stay fast on a long history. Customers' messages are the inbox events of kind `message`:
-- listed in time order, or those of one sender (the payload's `message.from`, WhatsApp's digits).
-- None of these columns changes after the insert, so the queue's claims stay HOT updates.
CREATE INDEX inbox_events_messages_by_time ON inbox_events (received_at, id)
    WHERE kind = 'message';
CREATE INDEX inbox_events_messages_by_sender ON inbox_events ((payload #>> '{message,from}'), received_at, id)
    WHERE kind = 'message';
-- The webhook log by provider (and outcome), newest first.
CREATE INDEX webhook_audit_by_provider ON webhook_audit (provider, outcome, received_at);
-- The day view lists a day's appointments whatever their status (cancelled ones too).
CREATE INDEX appointments_by_start ON appointments (starts_at);
-- No index on conversations.updated_at: every turn changes it, and an index naming it would cost
-- every turn's update its HOT path; the conversations page sorts the (far fewer) conversations.

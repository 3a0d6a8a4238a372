-- Customers' messages of every channel (WhatsApp, the generic channel, Chatwoot's channel mode) are
-- listed and searched alike: ingress writes who wrote (`message_from`, the number's digits) and what
-- (`message_text`, folded to lower case) beside the payload. Both are NULL for every other event.
ALTER TABLE inbox_events ADD COLUMN message_from TEXT, ADD COLUMN message_text TEXT;

-- The messages stored before: WhatsApp's and the generic channel's, read from their payloads (the text,
-- a choice's title or a caption, as ingress reads them now).
UPDATE inbox_events SET
    message_from = coalesce(payload #>> '{message,from}', 'user:' || (payload #>> '{message,from_user_id}')),
    message_text = lower(coalesce(payload #>> '{message,text,body}',
                                  payload #>> '{message,interactive,button_reply,title}',
                                  payload #>> '{message,interactive,list_reply,title}',
                                  payload #>> '{message,button,text}',
                                  payload #>> array['message', payload #>> '{message,type}', 'caption']))
WHERE kind = 'message' AND provider = 'whatsapp';
UPDATE inbox_events SET
    message_from = ltrim(payload ->> 'from', '+'),
    message_text = lower(payload ->> 'text')
WHERE kind = 'message' AND provider = 'custom';

-- The listings' indexes follow: in time order, by sender, and by a substring of the text, which a
-- B-tree cannot serve: a trigram index (`pg_trgm`, shipped with PostgreSQL's contrib and trusted since
-- PostgreSQL 13, so a database owner may create it), used by `message_text LIKE '%...%'`.
DROP INDEX inbox_events_messages_by_time;
DROP INDEX inbox_events_messages_by_sender;
CREATE INDEX inbox_events_messages_by_time ON inbox_events (received_at, id)
    WHERE message_from IS NOT NULL;
CREATE INDEX inbox_events_messages_by_sender ON inbox_events (message_from, received_at, id)
    WHERE message_from IS NOT NULL;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
-- The operator class is named with the schema the extension is in (public, or wherever it was
-- installed before), whatever the search path.
DO $$
BEGIN
    EXECUTE format(
        'CREATE INDEX inbox_events_messages_by_text ON inbox_events '
        'USING gin (message_text %I.gin_trgm_ops) WHERE message_from IS NOT NULL',
        (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_trgm'));
END
$$;

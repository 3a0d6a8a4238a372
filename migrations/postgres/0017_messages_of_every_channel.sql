-- Customers' messages of every channel (WhatsApp, the generic channel, Chatwoot's channel mode) are
-- listed and searched alike: ingress writes who wrote (`message_from`, the number's digits) and what
-- (`message_text`, folded to lower case) beside the payload. Both are NULL for every other event.
ALTER TABLE inbox_events ADD COLUMN message_from TEXT, ADD COLUMN message_text TEXT;

-- The messages stored before, read from their payloads (the text,
-- a choice's title or a caption, its first 500 characters, as ingress reads them now).
UPDATE inbox_events SET
    message_from = coalesce(payload #>> '{message,from}', 'user:' || (payload #>> '{message,from_user_id}')),
    message_text = left(lower(coalesce(payload #>> '{message,text,body}',
                                  payload #>> '{message,interactive,button_reply,title}',
                                  payload #>> '{message,interactive,list_reply,title}',
                                  payload #>> '{message,button,text}',
                                  payload #>> array['message', payload #>> '{message,type}', 'caption'])), 500)
WHERE kind = 'message' AND provider = 'whatsapp';
UPDATE inbox_events SET
    message_from = ltrim(payload ->> 'from', '+'),
    message_text = left(lower(payload ->> 'text'), 500)
WHERE kind = 'message' AND provider = 'custom';
-- Chatwoot's channel mode: the customer's words led to their conversation (`whatsapp:<business>:<phone>`).
UPDATE inbox_events SET
    message_from = ltrim(split_part(conversation_key, ':', 3), '+'),
    message_text = left(lower(payload ->> 'content'), 500)
WHERE provider = 'chatwoot' AND kind = 'staff' AND conversation_key LIKE 'whatsapp:%'
  AND payload ->> 'event' = 'message_created' AND payload ->> 'message_type' = 'incoming'
  AND coalesce(payload ->> 'private', 'false') <> 'true' AND btrim(coalesce(payload ->> 'content', '')) <> '';

-- The listings' indexes follow: in time order, and by sender. A substring of the text (`q`) is found
-- by reading the texts in an index of their own, which holds them beside the order of the listing:
-- an index-only scan, a fraction of the table's size, and a write no heavier than any B-tree's (a
-- trigram index, which would find it at once, costs every inbound webhook a tenth of the throughput).
-- Ingress keeps a text's first 500 characters (2,000 bytes at most), within a B-tree entry's limit.
DROP INDEX inbox_events_messages_by_time;
DROP INDEX inbox_events_messages_by_sender;
CREATE INDEX inbox_events_messages_by_time ON inbox_events (received_at, id)
    WHERE message_from IS NOT NULL;
CREATE INDEX inbox_events_messages_by_sender ON inbox_events (message_from, received_at, id)
    WHERE message_from IS NOT NULL;
CREATE INDEX inbox_events_messages_texts ON inbox_events (received_at, id) INCLUDE (message_text)
    WHERE message_from IS NOT NULL;

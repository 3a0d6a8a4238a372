-- Customers' messages of every channel (WhatsApp, the generic channel, Chatwoot's channel mode) are
-- listed and searched alike: ingress writes who wrote (`message_from`, the number's digits) and what
-- (`message_text`, folded to lower case) beside the payload. Both are NULL for every other event.
ALTER TABLE inbox_events ADD COLUMN message_from TEXT;
ALTER TABLE inbox_events ADD COLUMN message_text TEXT;

-- The messages stored before, read from their payloads (the text,
-- a choice's title or a caption, its first 500 characters, as ingress reads them now; SQLite's lower()
-- folds ASCII only).
UPDATE inbox_events SET
    message_from = coalesce(json_extract(payload, '$.message.from'),
                            'user:' || json_extract(payload, '$.message.from_user_id')),
    message_text = substr(lower(coalesce(json_extract(payload, '$.message.text.body'),
                                  json_extract(payload, '$.message.interactive.button_reply.title'),
                                  json_extract(payload, '$.message.interactive.list_reply.title'),
                                  json_extract(payload, '$.message.button.text'),
                                  json_extract(payload, '$.message.' || json_extract(payload, '$.message.type') || '.caption'))), 1, 500)
WHERE kind = 'message' AND provider = 'whatsapp';
UPDATE inbox_events SET
    message_from = ltrim(json_extract(payload, '$.from'), '+'),
    message_text = substr(lower(json_extract(payload, '$.text')), 1, 500)
WHERE kind = 'message' AND provider = 'custom';
-- Chatwoot's channel mode: the customer's words led to their conversation (`whatsapp:<business>:<phone>`).
UPDATE inbox_events SET
    message_from = ltrim(substr(conversation_key, 10 + instr(substr(conversation_key, 10), ':')), '+'),
    message_text = substr(lower(json_extract(payload, '$.content')), 1, 500)
WHERE provider = 'chatwoot' AND kind = 'staff' AND conversation_key LIKE 'whatsapp:%'
  AND json_extract(payload, '$.event') = 'message_created'
  AND json_extract(payload, '$.message_type') = 'incoming'
  AND coalesce(json_extract(payload, '$.private'), 0) = 0
  AND trim(coalesce(json_extract(payload, '$.content'), '')) <> '';

-- The listings' indexes follow: in time order, and by sender. A substring of the text (`q`) is found
-- by reading the texts in the table (SQLite's planner would not scan an index holding them instead).
DROP INDEX inbox_events_messages_by_time;
DROP INDEX inbox_events_messages_by_sender;
CREATE INDEX inbox_events_messages_by_time ON inbox_events (received_at, id)
    WHERE message_from IS NOT NULL;
CREATE INDEX inbox_events_messages_by_sender ON inbox_events (message_from, received_at, id)
    WHERE message_from IS NOT NULL;

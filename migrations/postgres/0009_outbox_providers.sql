-- The outbox carries every provider's effects, not only WhatsApp messages: a Checkout Session to
-- create, a session to expire, a refund (and later the staff inbox's calls). `provider` names who
-- the row is for, so that the dispatcher hands it to that provider's sender; the rows already
-- there are WhatsApp messages. A constant default: no table rewrite.
ALTER TABLE outbox ADD COLUMN provider TEXT NOT NULL DEFAULT 'whatsapp';

-- The Chatwoot conversation that mirrors each customer conversation (Chatwoot's display id, the one
-- its API paths take), remembered once created, and found again from Chatwoot's webhooks.
CREATE TABLE chatwoot_conversations (
    conversation_key TEXT PRIMARY KEY,
    business_id TEXT NOT NULL,
    chatwoot_conversation_id BIGINT NOT NULL,
    contact_id BIGINT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX chatwoot_conversations_by_chatwoot_id ON chatwoot_conversations (chatwoot_conversation_id);

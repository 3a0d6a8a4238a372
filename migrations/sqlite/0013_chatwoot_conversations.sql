-- Same table as migrations/postgres/0013.
CREATE TABLE chatwoot_conversations (
    conversation_key TEXT PRIMARY KEY,
    business_id TEXT NOT NULL,
    chatwoot_conversation_id INTEGER NOT NULL,
    contact_id INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX chatwoot_conversations_by_chatwoot_id ON chatwoot_conversations (chatwoot_conversation_id);

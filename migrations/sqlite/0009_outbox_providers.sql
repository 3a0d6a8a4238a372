-- Same column as migrations/postgres/0009.
ALTER TABLE outbox ADD COLUMN provider TEXT NOT NULL DEFAULT 'whatsapp';

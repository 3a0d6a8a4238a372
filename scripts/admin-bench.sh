#!/usr/bin/env bash
# p50 and p99 of GET /api/messages with each filter on a large stored history (docs/benchmarks.md).
#
#   scripts/admin-bench.sh postgres://postgres@127.0.0.1:5432/salonbot_admin_bench [MESSAGES] [REQUESTS]
#   scripts/admin-bench.sh sqlite:///tmp/salonbot-admin-bench.db [MESSAGES] [REQUESTS]
#
# A Postgres database must exist and be empty; a SQLite file must not exist yet (it is migrated and filled with MESSAGES customers' messages,
# 1,000,000 by default, from 10,000 customers, one every 7 s); the bot is served from
# target/release/salonbot when built, else target/debug/salonbot, on 127.0.0.1:18080, and each filter is asked
# REQUESTS times (200) one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
url="${1:?a Postgres URL of an empty database, or a SQLite URL of a file to create}"; messages="${2:-1000000}"; n="${3:-200}"
bin=target/release/salonbot; [ -x "$bin" ] || bin=target/debug/salonbot
token="bench-$(date +%s)-token"
DATABASE_URL="$url" "$bin" migrate >/dev/null 2>&1
if [[ "$url" == postgres* ]]; then
  psql "$url" -qc "
INSERT INTO inbox_events (provider, provider_event_id, business_id, conversation_key, kind, payload,
                          received_at, next_attempt_at, status, processed_at, message_from, message_text)
SELECT 'whatsapp', 'wamid.bench.' || i, '106540352242922',
       'whatsapp:106540352242922:+346' || lpad((i % 10000)::text, 8, '0'), 'message',
       jsonb_build_object(
         'metadata', jsonb_build_object('display_phone_number', '15550783881', 'phone_number_id', '106540352242922'),
         'contact', jsonb_build_object('profile', jsonb_build_object('name', 'Cliente ' || (i % 10000)),
                                       'wa_id', '346' || lpad((i % 10000)::text, 8, '0')),
         'message', jsonb_build_object('from', '346' || lpad((i % 10000)::text, 8, '0'), 'id', 'wamid.bench.' || i,
            'timestamp', (1760000000 + i * 7)::text, 'type', 'text',
            'text', jsonb_build_object('body', CASE WHEN i % 100 = 0 THEN 'Quiero un TINTE de raíz ' || i
                                                    ELSE 'hola, una cita para el ' || (i % 28 + 1) || ' por favor' END))),
       to_timestamp(1760000000 + i * 7), to_timestamp(1760000000 + i * 7), 'done', to_timestamp(1760000000 + i * 7),
       -- Who wrote and what, as ingress writes them beside each message.
       '346' || lpad((i % 10000)::text, 8, '0'),
       CASE WHEN i % 100 = 0 THEN 'quiero un tinte de raíz ' || i
            ELSE 'hola, una cita para el ' || (i % 28 + 1) || ' por favor' END
FROM generate_series(1, $messages) AS i;"
  psql "$url" -qc "VACUUM ANALYZE inbox_events"
else
  sqlite3 "${url#sqlite://}" "
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $messages),
m AS (SELECT i, '346' || substr('0000000' || (i % 10000), -8) AS phone,
             CASE WHEN i % 100 = 0 THEN 'Quiero un TINTE de raíz ' || i
                  ELSE 'hola, una cita para el ' || (i % 28 + 1) || ' por favor' END AS body,
             (1760000000 + i * 7) * 1000 AS at FROM n)
INSERT INTO inbox_events (provider, provider_event_id, business_id, conversation_key, kind, payload,
                          received_at, next_attempt_at, status, processed_at, message_from, message_text)
SELECT 'whatsapp', 'wamid.bench.' || i, '106540352242922', 'whatsapp:106540352242922:+' || phone, 'message',
       json_object(
         'metadata', json_object('display_phone_number', '15550783881', 'phone_number_id', '106540352242922'),
         'contact', json_object('profile', json_object('name', 'Cliente ' || (i % 10000)), 'wa_id', phone),
         'message', json_object('from', phone, 'id', 'wamid.bench.' || i, 'timestamp', CAST(at / 1000 AS TEXT),
                                'type', 'text', 'text', json_object('body', body))),
       at, at, 'done', at, phone, lower(body)
FROM m;
ANALYZE;"
fi
# The messages are old: a retention longer than their age keeps them while they are listed.
ADMIN_TOKEN="$token" DATABASE_URL="$url" LISTEN_ADDR=127.0.0.1:18080 WHATSAPP_APP_SECRET=bench QUEUE_RETENTION_DAYS=3650 \
  WHATSAPP_VERIFY_TOKEN=bench RUST_LOG=warn "$bin" serve >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 1 50); do curl -fs -o /dev/null http://127.0.0.1:18080/health/live && break; sleep 0.2; done
for q in "" "from=%2B34600001234" "since=2025-12-28T00:00:00Z" "since=2025-11-18T00:00:00Z" "q=tinte" "q=TINTE%20DE%20RA%C3%8DZ" \
         "from=%2B34600001234&q=tinte" "offset=500000"; do
  for _ in $(seq 1 "$n"); do
    curl -s -o /dev/null -w "%{time_total}\n" -H "Authorization: Bearer $token" \
      "http://127.0.0.1:18080/api/messages?$q"
  done | sort -n | awk -v q="${q:-(none)}" '{a[NR]=$1} END {
    printf "%-30s p50 %6.1f ms  p99 %6.1f ms\n", q, a[int(NR*0.5)]*1000, a[int(NR*0.99)]*1000 }'
done

#!/usr/bin/env bash
# The test command: makes sure PostgreSQL and Redis are reachable (starting locally installed servers
# when they are down), then runs the whole test suite against them.
#
#   scripts/test.sh            # everything
#   scripts/test.sh whatsapp   # only tests whose name contains "whatsapp"
#
# TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and TEST_REDIS_URL
# (default redis://127.0.0.1:6379) point the tests elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432: install it (apt-get install postgresql) or run 'docker compose up -d postgres' and set TEST_DATABASE_URL"; exit 1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
  redis_up || { echo "Redis is not reachable on 127.0.0.1:6379: install it (apt-get install redis-server) or run 'docker compose up -d redis' and set TEST_REDIS_URL"; exit 1; }
fi

# The database the tests use must exist (each test works in a schema of its own inside it).
db_name="${TEST_DATABASE_URL##*/}"; db_name="${db_name%%\?*}"
admin_url="${TEST_DATABASE_URL%/*}/postgres"
if ! psql "$TEST_DATABASE_URL" -Atqc 'select 1' >/dev/null 2>&1; then
  psql "$admin_url" -qc "CREATE DATABASE \"$db_name\"" >/dev/null
fi

cargo test --all-targets "$@"

#!/usr/bin/env bash
# tests/fixtures/services.sh starts PostgreSQL with fsync, synchronous_commit and full_page_writes on when
# OM_PG_DURABLE=1 (what loadtest/rate-run and loadtest/bench use) and off otherwise (the tests, ./om run).
set -euo pipefail
SERVICES=$1
DIR=$2
trap '"$SERVICES" stop "$DIR" >/dev/null 2>&1 || true' EXIT
settings() {
  # shellcheck disable=SC1091
  (. "$DIR/env"; psql -XtA "$OM_TEST_PG_URL" -c "SELECT string_agg(setting, ',' ORDER BY name) FROM pg_settings
     WHERE name IN ('fsync', 'full_page_writes', 'synchronous_commit')")
}
OM_PG_DURABLE=1 "$SERVICES" start "$DIR" >/dev/null 2>&1
got=$(settings)
[[ $got == on,on,on ]] || { echo "OM_PG_DURABLE=1: fsync, full_page_writes, synchronous_commit = $got" >&2; exit 1; }
"$SERVICES" stop "$DIR" >/dev/null 2>&1
"$SERVICES" start "$DIR" >/dev/null 2>&1
got=$(settings)
[[ $got == off,off,off ]] || { echo "default: fsync, full_page_writes, synchronous_commit = $got" >&2; exit 1; }
echo "durable: on,on,on; default: off,off,off"

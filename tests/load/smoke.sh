#!/usr/bin/env bash
# The load harness's smoke run (issue 6), part of the test command: correctness only, no speed assertion.
#
#   tests/load/smoke.sh STATE_DIR SERVER_BINARY LOAD_BINARY
#
# With the PostgreSQL and Redis of tests/fixtures/services.sh (STATE_DIR/env): a fresh database and an exclusive
# Redis database, a 2-shard server, `openmarket-load seed` (few units per product, so that the two hot products
# sell out), a 10-second open-loop order run with --hot 2 (answered once durable, then long-polled) and a short
# mixed run, then `openmarket-load audit`,
# which must pass; then one unit of stock is changed behind the ledger's back and the audit must fail.
set -euo pipefail
STATE=$1 SERVER=$2 LOAD=$3
# shellcheck disable=SC1091
source "$STATE/env"
WORK=$(mktemp -d "$STATE/load-smoke.XXXXXX")
SERVER_PID=
DB=load_smoke_$$
ADMIN_URL=$OM_TEST_PG_URL
DB_URL=${ADMIN_URL%/*}/$DB

cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "load smoke: $*" >&2; [[ -f $WORK/server.log ]] && grep -v "not connected" "$WORK/server.log" | tail -n 40 >&2; exit 1; }

# An exclusive Redis database, locked like the integration tests' (tests/support/test_env.cpp).
REDIS_DB=
for n in $(seq 1 15); do
    exec {lock}>"$STATE/redis-db-$n.lock"
    if flock -n "$lock"; then REDIS_DB=$n; break; fi
    exec {lock}>&-
done
[[ -n $REDIS_DB ]] || fail "no free Redis database"
REDIS_URL=${OM_TEST_REDIS_URL%/*}/$REDIS_DB
redis-cli -p "$OM_TEST_REDIS_PORT" -n "$REDIS_DB" flushdb >/dev/null

psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
"$SERVER" migrate --database-url "$DB_URL" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TARGET=http://127.0.0.1:$PORT
"$SERVER" --listen "127.0.0.1:$PORT" --shards 2 --database-url "$DB_URL" --redis-url "$REDIS_URL" \
    --access-log 0 --log-level warn >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$TARGET/readyz" || true) == 200 ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited during start-up"
    sleep 0.1
done

"$LOAD" seed --target "$TARGET" --buyers 20 --products 10 --stock 30 --out "$WORK/fixture.json" ||
    fail "seed failed"
"$LOAD" run --target "$TARGET" --fixture "$WORK/fixture.json" --scenario order --rate 50 --duration 10 \
    --hot 2 --connections 32 --prefer-wait 0 --json "$WORK/order.json" || fail "the order run failed"
"$LOAD" run --target "$TARGET" --fixture "$WORK/fixture.json" --scenario mixed --rate 50 --duration 3 \
    --connections 32 --quiet --json "$WORK/mixed.json" || fail "the mixed run failed"
python3 - "$WORK/order.json" "$WORK/mixed.json" <<'PY' || fail "a report shows errors"
import json, sys
order, mixed = (json.load(open(p)) for p in sys.argv[1:3])
for r in (order, mixed):
    assert r["errors"] == 0, f"{r['scenario']}: {r['errors']} errors: {r['by_status']}"
    assert r["requests"] == r["succeeded"] + r["refused"], r
# 500 orders for 300 units, 90 % of them for the 60 units of the two hot products: both outcomes must occur.
assert order["succeeded"] > 0 and order["refused"] > 0, order
assert order["succeeded"] <= 300, order
assert order["settled_by_status"].get("CONFIRMED", 0) == order["succeeded"], order
# Prefer: wait=0: every order answered once durable (202), its outcome learnt by long polls.
assert order["by_status"].get("202", 0) == order["succeeded"], order["by_status"]
print(f"load smoke: order run {order['succeeded']} bought, {order['refused']} refused; mixed run {mixed['succeeded']} ok")
PY

"$LOAD" audit --database-url "$DB_URL" --redis-url "$REDIS_URL" --wait 30 || fail "the audit found a violation"

# The audit must be able to fail: stock changed without a ledger row.
psql -q "$DB_URL" -c "UPDATE product.products SET stock = stock + 1 WHERE id = (SELECT id FROM product.products LIMIT 1)"
set +e
"$LOAD" audit --database-url "$DB_URL" --redis-url "$REDIS_URL" --wait 5 >"$WORK/broken.txt" 2>&1
status=$?
set -e
[[ $status == 1 ]] || { cat "$WORK/broken.txt"; fail "the audit passed a ledger that does not balance (exit $status)"; }
echo "load smoke: the audit caught the unrecorded stock change"

# Nor a ledger row without its record (these tables have no foreign keys since migration 0020).
psql -q "$DB_URL" -c "INSERT INTO orders.order_sellers (seller_id, order_id) VALUES (gen_random_uuid(), gen_random_uuid())"
set +e
"$LOAD" audit --database-url "$DB_URL" --redis-url "$REDIS_URL" --wait 5 >"$WORK/orphan.txt" 2>&1
status=$?
set -e
if [[ $status != 1 ]] || ! grep -q '^FAIL ledger rows have their records: 1 orders.order_sellers rows' "$WORK/orphan.txt"; then
  cat "$WORK/orphan.txt"
  fail "the audit passed a seller row of an order that does not exist (exit $status)"
fi
echo "load smoke: the audit caught the orphaned seller row"

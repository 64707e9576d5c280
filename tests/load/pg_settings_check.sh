#!/usr/bin/env bash
# tests/fixtures/services.sh starts PostgreSQL as loadtest/rate-run and loadtest/bench ask it to, and as the
# tests and ./om run do otherwise:
# - OM_PG_DURABLE=1: fsync, synchronous_commit and full_page_writes on; otherwise off;
# - OM_PG_HUGE_PAGES=1: huge_pages = try, with enough 2 MiB pages reserved for the shared buffers when the script
#   may raise vm.nr_hugepages (root), so that the postmaster maps its shared memory with them; otherwise off;
# - OM_PG_DURABLE=1 also has the kernel write dirty pages back from 16 MB on (vm.dirty_background_bytes, when the
#   script may lower it: root), so that writeback bursts do not hold the commits' WAL flushes.
set -euo pipefail
SERVICES=$1
DIR=$2
trap '"$SERVICES" stop "$DIR" >/dev/null 2>&1 || true' EXIT
settings() {
  # shellcheck disable=SC1091
  (. "$DIR/env"; psql -XtA "$OM_TEST_PG_URL" -c "SELECT string_agg(setting, ',' ORDER BY name) FROM pg_settings
     WHERE name IN ('fsync', 'full_page_writes', 'huge_pages', 'synchronous_commit')")
}
huge_kb() { "$SERVICES" pg-huge-kb "$DIR"; }

OM_PG_DURABLE=1 OM_PG_HUGE_PAGES=1 "$SERVICES" start "$DIR" >/dev/null 2>&1
got=$(settings)
[[ $got == on,on,try,on ]] ||
  { echo "OM_PG_DURABLE=1 OM_PG_HUGE_PAGES=1: fsync, full_page_writes, huge_pages, synchronous_commit = $got" >&2; exit 1; }
kb=$(huge_kb)
if [[ -w /proc/sys/vm/nr_hugepages ]]; then
  # 128 MB of shared buffers and the rest of the shared memory: ~150 MB on 2 MiB pages.
  ((kb >= 131072)) || { echo "huge pages reserved, but the postmaster maps only $kb kB with them" >&2; exit 1; }
fi
wb=$(cat /proc/sys/vm/dirty_background_bytes)
if [[ -w /proc/sys/vm/dirty_background_bytes ]]; then
  ((wb > 0 && wb <= 16777216)) ||
    { echo "durable: vm.dirty_background_bytes is $wb, not at most 16 MB" >&2; exit 1; }
fi
"$SERVICES" stop "$DIR" >/dev/null 2>&1
"$SERVICES" start "$DIR" >/dev/null 2>&1
got=$(settings)
[[ $got == off,off,off,off ]] ||
  { echo "default: fsync, full_page_writes, huge_pages, synchronous_commit = $got" >&2; exit 1; }
[[ $(huge_kb) == 0 ]] || { echo "default: the postmaster maps $(huge_kb) kB with huge pages" >&2; exit 1; }
echo "load runs: on,on,try,on (on huge pages: $kb kB; dirty writeback from $wb bytes); default: off,off,off,off"

#!/usr/bin/env bash
# The whole suite twice at once: on SQLite and on a throwaway PostgreSQL (tests/pg.py).
# Many tests wait on servers, crawl delays and the browser, so the two passes share two
# cores well (each alone: ~10 min; both at once: docs/database.md). Each pass writes
# its own log under .test-logs/; a line of progress every 30 s, then both logs in full.
# Exit status: non-zero if either pass failed.
#
#   bash scripts/test-passes.sh [PYTEST ARGS...]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LOGS=.test-logs
mkdir -p "$LOGS"
started=$(date +%s)

"$PY" -m pytest -q -p no:cacheprovider "$@" >"$LOGS/sqlite.log" 2>&1 &
sqlite_pid=$!
PORTAL_ARCHIVE_TEST_DB=postgres "$PY" -m pytest -q -p no:cacheprovider "$@" >"$LOGS/postgres.log" 2>&1 &
pg_pid=$!
trap 'kill $sqlite_pid $pg_pid 2>/dev/null; exit 130' INT TERM

progress() {  # the last "[ NN%]" pytest -q printed, or "starting"
    local p
    p=$(grep -o '\[ *[0-9]*%\]' "$1" 2>/dev/null | tail -n 1 | tr -d '[] ')
    echo "${p:-starting}"
}

while kill -0 "$sqlite_pid" 2>/dev/null || kill -0 "$pg_pid" 2>/dev/null; do
    for _ in $(seq 30); do
        sleep 1
        kill -0 "$sqlite_pid" 2>/dev/null || kill -0 "$pg_pid" 2>/dev/null || break
    done
    echo "tests, $(( $(date +%s) - started )) s: SQLite $(progress "$LOGS/sqlite.log"), PostgreSQL $(progress "$LOGS/postgres.log")"
done
wait "$sqlite_pid"; sqlite_rc=$?
wait "$pg_pid"; pg_rc=$?

for pass in sqlite postgres; do
    echo
    echo "=============================== the $pass pass ==============================="
    cat "$LOGS/$pass.log"
done
echo
echo "SQLite pass: exit $sqlite_rc; PostgreSQL pass: exit $pg_rc; $(( $(date +%s) - started )) s in all"
[ "$sqlite_rc" -eq 0 ] && [ "$pg_rc" -eq 0 ]

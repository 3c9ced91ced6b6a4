#!/usr/bin/env bash
# make test: the whole suite against MariaDB and Redis, with a real Celery worker over Redis.
#
# Without arguments the suite runs as three pytest processes side by side, each on its own test
# database, Redis databases and var dir: the families that mostly wait (on workers, live servers,
# browsers, restarts: tests/e2e, tests/bench, tests/fuzz, tests/security/test_slow_clients.py) in
# two groups of about equal time, everything else in the third. The waiting families leave the
# cores idle much of the time; side by side the whole suite takes about the longest of the three
# instead of their sum. Nothing is shared between them but the MariaDB and Redis servers
# (docs/testing.md, "CI"). With arguments (a file, -k, ...) it is one process, as before;
# TEST_ONE_PROCESS=1 makes the whole suite one process too.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${TEST_DATABASE_URL:-mysql://root@127.0.0.1:3306/gm_server_notify}"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
export CELERY_BROKER_URL="${TEST_CELERY_BROKER_URL:-redis://127.0.0.1:6379/14}"
export GM_VAR_DIR="${GM_VAR_DIR:-$PWD/var/test}"
export SMS_SERVICE_TOKENS="${SMS_SERVICE_TOKENS:-test-service-token}"
export SMS_CALLBACK_TOKEN="${SMS_CALLBACK_TOKEN:-test-callback-token}"
export GM_EMBEDDED_DEFAULTS="${GM_EMBEDDED_DEFAULTS:-1}"
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
if [ "$#" -gt 0 ] || [ -n "${TEST_ONE_PROCESS:-}" ]; then
  # --durations: the slowest tests in every run, to keep the suite within its time.
  exec .venv/bin/pytest --durations=15 "$@"
fi

# Two groups of about equal time (measured: var/junit-*.xml), each with its own test database,
# Redis databases (the bench harness keeps 12 and 13) and var dir.
WAITING_A=(tests/fuzz tests/e2e/test_single_pushes.py tests/e2e/test_chaos.py tests/e2e/test_make_run.py
  tests/security/test_slow_clients.py tests/e2e/test_docs_run.py)
WAITING_B=(tests/e2e tests/bench)
mkdir -p var
pids=()
start_waiting() {  # name, Redis cache db, Redis broker db, then pytest's arguments
  local name=$1 cache=$2 broker=$3
  shift 3
  setsid env \
    DATABASE_URL="${DATABASE_URL}_$name" \
    REDIS_URL="redis://127.0.0.1:6379/$cache" \
    CELERY_BROKER_URL="redis://127.0.0.1:6379/$broker" \
    GM_VAR_DIR="${GM_VAR_DIR}-$name" \
    .venv/bin/pytest --durations=15 --junitxml="var/junit-$name.xml" "$@" >"var/test-$name.log" 2>&1 &
  pids+=($!)
}
skip_a=()
for path in "${WAITING_A[@]}"; do skip_a+=("--ignore=$path"); done
start_waiting waiting_a "${TEST_WAITING_A_REDIS_DB:-11}" "${TEST_WAITING_A_BROKER_DB:-10}" "${WAITING_A[@]}"
start_waiting waiting_b "${TEST_WAITING_B_REDIS_DB:-9}" "${TEST_WAITING_B_BROKER_DB:-8}" "${skip_a[@]}" "${WAITING_B[@]}"
trap 'for pid in "${pids[@]}"; do kill -- -"$pid" 2>/dev/null || true; done' EXIT
trap 'exit 143' INT TERM  # so that the EXIT trap stops the waiting groups too

rest_status=0
ignores=()
for path in "${WAITING_A[@]}" "${WAITING_B[@]}"; do ignores+=("--ignore=$path"); done
.venv/bin/pytest --durations=15 --junitxml=var/junit-rest.xml "${ignores[@]}" || rest_status=$?
statuses=()
for index in "${!pids[@]}"; do
  status=0
  wait "${pids[$index]}" || status=$?
  statuses+=("$status")
done
trap - EXIT
all=0
for index in "${!pids[@]}"; do
  name=$([ "$index" -eq 0 ] && echo waiting_a || echo waiting_b)
  echo "=== $name, exit ${statuses[$index]}; the end of var/test-$name.log:"
  if [ "${statuses[$index]}" -ne 0 ]; then tail -n 300 "var/test-$name.log"; all=1; else tail -n 30 "var/test-$name.log"; fi
done
echo "=== make test: the rest exit $rest_status, waiting_a exit ${statuses[0]}, waiting_b exit ${statuses[1]}"
[ "$rest_status" -eq 0 ] && [ "$all" -eq 0 ]

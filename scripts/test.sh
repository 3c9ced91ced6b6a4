#!/usr/bin/env bash
# make test: the whole suite against MariaDB and Redis, with a real Celery worker over Redis.
#
# Without arguments the suite runs as two pytest processes side by side, each on its own test
# database, Redis databases and var dir: the families that mostly wait (on workers, live servers,
# browsers, restarts: tests/e2e, tests/bench, tests/fuzz, tests/security/test_slow_clients.py) in
# one, everything else in the other. The waiting family leaves a core idle most of the time; side by
# side the whole suite takes about the longer of the two instead of their sum. Nothing is shared
# between the two but the MariaDB and Redis servers (docs/testing.md, "CI"). With arguments (a file,
# -k, ...) it is one process, as before; TEST_ONE_PROCESS=1 makes the whole suite one process too.
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

WAITING=(tests/e2e tests/bench tests/fuzz tests/security/test_slow_clients.py)
mkdir -p var
waiting_log=var/test-waiting.log
# The waiting family's own database, Redis databases (the bench harness keeps 12 and 13) and var dir.
setsid env \
  DATABASE_URL="${TEST_WAITING_DATABASE_URL:-${DATABASE_URL}_waiting}" \
  REDIS_URL="${TEST_WAITING_REDIS_URL:-redis://127.0.0.1:6379/11}" \
  CELERY_BROKER_URL="${TEST_WAITING_CELERY_BROKER_URL:-redis://127.0.0.1:6379/10}" \
  GM_VAR_DIR="${GM_VAR_DIR}-waiting" \
  .venv/bin/pytest --durations=15 --junitxml=var/junit-waiting.xml "${WAITING[@]}" \
  >"$waiting_log" 2>&1 &
waiting_pid=$!
trap 'kill -- -"$waiting_pid" 2>/dev/null || true' EXIT
trap 'exit 143' INT TERM  # so that the EXIT trap stops the waiting family too

rest_status=0
ignores=()
for path in "${WAITING[@]}"; do ignores+=("--ignore=$path"); done
.venv/bin/pytest --durations=15 --junitxml=var/junit-rest.xml "${ignores[@]}" || rest_status=$?
waiting_status=0
wait "$waiting_pid" || waiting_status=$?
trap - EXIT
echo "=== the waiting family (${WAITING[*]}), exit $waiting_status; the end of $waiting_log:"
if [ "$waiting_status" -ne 0 ]; then tail -n 300 "$waiting_log"; else tail -n 40 "$waiting_log"; fi
echo "=== make test: the rest exit $rest_status, the waiting family exit $waiting_status"
[ "$rest_status" -eq 0 ] && [ "$waiting_status" -eq 0 ]

#!/usr/bin/env bash
# make test: the whole suite against MariaDB and Redis, with a real Celery worker over Redis.
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
# --durations: the slowest tests in every run, to keep the suite within its time.
exec .venv/bin/pytest --durations=15 "$@"

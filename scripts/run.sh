#!/usr/bin/env bash
# make run: migrate, load defaults, then run web (gunicorn), worker, beat and the provider
# simulator in the foreground under supervisord (scripts/supervisord.conf): a process that dies is
# restarted on its own; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export GM_VAR_DIR="${GM_VAR_DIR:-$PWD/var}"
mkdir -p "$GM_VAR_DIR"

export PORT="${PORT:-8000}"
export SIMULATOR_PORT="${SIMULATOR_PORT:-8100}"
export GM_WEB_PORT="$PORT"
export WORKER_CONCURRENCY="${WORKER_CONCURRENCY:-2}"

secret_file() {  # a random secret kept in var/ so restarts keep the same value
  local file="$GM_VAR_DIR/$1"
  if [ ! -s "$file" ]; then
    (umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$file")
  fi
  cat "$file"
}

if [ -z "${SMS_SERVICE_TOKENS:-}" ] && [ -z "${SMS_SERVICE_CLIENTS:-}" ]; then
  SMS_SERVICE_TOKENS="$(secret_file service_token)"
  export SMS_SERVICE_TOKENS
  generated_token=1
fi
if [ -z "${SMS_CALLBACK_TOKEN:-}" ]; then
  SMS_CALLBACK_TOKEN="$(secret_file callback_token)"
  export SMS_CALLBACK_TOKEN
fi

"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput --verbosity 0

echo "gm_server_notify: http://127.0.0.1:${PORT}/api/docs (simulator on 127.0.0.1:${SIMULATOR_PORT})"
echo "database: ${DATABASE_URL:-sqlite (var/gm_server_notify.sqlite3)}; broker: ${CELERY_BROKER_URL:-filesystem (var/broker)}"
if [ -n "${generated_token:-}" ]; then
  echo "service token for /sms/* (generated, kept in $GM_VAR_DIR/service_token):"
  echo "  Authorization: Bearer ${SMS_SERVICE_TOKENS}"
fi
# Every web and worker process writes its metrics here and /metrics adds them up; values of a
# previous run would be added in too, so the directory starts empty.
export PROMETHEUS_MULTIPROC_DIR="$GM_VAR_DIR/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
exec .venv/bin/supervisord --nodaemon --configuration scripts/supervisord.conf

#!/usr/bin/env bash
# make run: migrate, load defaults, then run nginx (on $PORT) in front of web (gunicorn, on a
# loopback port of its own) and intake (provider pushes), a worker per dispatch lane (priority,
# worker for transactional, bulk), the webhook worker, beat and the provider simulator in the
# foreground under supervisord (scripts/supervisord.conf): a process that dies is restarted on its
# own; Ctrl-C stops them all. docs/deploy.md describes the topology.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export GM_VAR_DIR="${GM_VAR_DIR:-$PWD/var}"
mkdir -p "$GM_VAR_DIR"

# A developer's machine: the settings may generate their secret key into var/ (production refuses
# to start without DJANGO_SECRET_KEY) and keep the deployment checks off (docs/configuration.md).
export GM_EMBEDDED_DEFAULTS="${GM_EMBEDDED_DEFAULTS:-1}"

NGINX_BIN="$(command -v nginx || true)"
if [ -z "$NGINX_BIN" ] && [ -x /usr/sbin/nginx ]; then NGINX_BIN=/usr/sbin/nginx; fi
if [ -z "$NGINX_BIN" ]; then
  echo "make run: nginx is not installed; 'bash scripts/ensure_nginx.sh' installs it (make run does)" >&2
  exit 1
fi
export NGINX_BIN

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# PORT is what make run publishes: nginx. gunicorn listens on a loopback port of its own behind it.
export PORT="${PORT:-8000}"
export GM_WEB_PORT="${GM_WEB_PORT:-$(free_port)}"
# Provider pushes have a gunicorn of their own behind nginx (docs/architecture.md, "Report intake").
export GM_INTAKE_PORT="${GM_INTAKE_PORT:-$(free_port)}"
export INTAKE_CONCURRENCY="${INTAKE_CONCURRENCY:-1}"
export SIMULATOR_PORT="${SIMULATOR_PORT:-8100}"
export SIMULATOR_CALLBACK_BASE="${SIMULATOR_CALLBACK_BASE:-http://127.0.0.1:$PORT}"
# Processes of each lane's worker (scripts/supervisord.conf says why 2): verify codes on priority,
# notices, order messages and reports on worker, marketing and large sends on bulk.
export PRIORITY_WORKER_CONCURRENCY="${PRIORITY_WORKER_CONCURRENCY:-2}"
export WORKER_CONCURRENCY="${WORKER_CONCURRENCY:-2}"
export BULK_WORKER_CONCURRENCY="${BULK_WORKER_CONCURRENCY:-2}"
export WEBHOOK_WORKER_CONCURRENCY="${WEBHOOK_WORKER_CONCURRENCY:-4}"
# Every request reaches gunicorn through nginx: the client's address is the last X-Forwarded-For entry.
export TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1}"  # nginx, on loopback: the client is the address it forwards

secret_file() {  # a random secret kept in var/ so restarts keep the same value
  local file="$GM_VAR_DIR/$1"
  if [ ! -s "$file" ]; then
    (umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$file")
  fi
  chmod 600 "$file"
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
# supervisorctl's password for supervisord's socket (scripts/supervisord.conf).
SUPERVISOR_PASSWORD="$(secret_file supervisor_password)"
export SUPERVISOR_PASSWORD

"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput --verbosity 0

echo "gm_server_notify: http://127.0.0.1:${PORT}/api/docs (nginx; gunicorn behind it on 127.0.0.1:${GM_WEB_PORT}, provider pushes on 127.0.0.1:${GM_INTAKE_PORT}; simulator on 127.0.0.1:${SIMULATOR_PORT})"
echo "database: ${DATABASE_URL:-sqlite (var/gm_server_notify.sqlite3)}; broker: ${CELERY_BROKER_URL:-filesystem (var/broker)}"
if [ -n "${generated_token:-}" ]; then
  # Never the token itself: logs are kept and shared; the file is readable by this user only.
  echo "service token for /sms/* (generated): in $GM_VAR_DIR/service_token (mode 0600); send it as"
  echo "  Authorization: Bearer \$(cat $GM_VAR_DIR/service_token)"
fi
# nginx's configuration, with every path it writes under $GM_VAR_DIR/nginx.
nginx_dir="$GM_VAR_DIR/nginx"
mkdir -p "$nginx_dir"
user_directive=""
# As root, nginx's workers would switch to www-data, which cannot reach a private var dir; they run
# as the user running make run, as every other process here does.
if [ "$(id -u)" -eq 0 ]; then user_directive="user root;"; fi
sed -e "s|@NGINX_DIR@|$nginx_dir|g" -e "s|@DEPLOY_DIR@|$PWD/deploy/nginx|g" -e "s|@PORT@|$PORT|g" \
  -e "s|@GM_WEB_PORT@|$GM_WEB_PORT|g" -e "s|@GM_INTAKE_PORT@|$GM_INTAKE_PORT|g" -e "s|@USER_DIRECTIVE@|$user_directive|g" \
  deploy/nginx/run.conf.template > "$nginx_dir/nginx.conf"
"$NGINX_BIN" -t -q -p "$nginx_dir/" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log"

# Every web and worker process writes its metrics here and /metrics adds them up; values of a
# previous run would be added in too, so the directory starts empty.
export PROMETHEUS_MULTIPROC_DIR="$GM_VAR_DIR/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
# One clock in every log line: UTC (docs/operations.md, "Logs"). The Python processes write it
# whatever their zone; nginx's and supervisord's timestamps follow TZ.
export TZ=UTC
supervisor_user=()
# As root, say so (as nginx's user directive above does), or supervisord warns that it did not
# drop privileges.
if [ "$(id -u)" -eq 0 ]; then supervisor_user=(--user root); fi
exec .venv/bin/supervisord --nodaemon --configuration scripts/supervisord.conf "${supervisor_user[@]}"

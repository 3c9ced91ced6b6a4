#!/usr/bin/env bash
# nginx, the buffering reverse proxy `make run` puts in front of gunicorn (docs/deploy.md): Debian's
# package, installed with apt-get when missing. `make run` and `make test` (scripts/ensure_services.sh)
# both call this, so a fresh machine needs nothing by hand.
set -euo pipefail

nginx_binary() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }; }

if [ -n "$(nginx_binary)" ]; then
  exit 0
fi
echo "ensure_nginx: installing Debian's nginx (the reverse proxy in front of gunicorn)"
if ! command -v apt-get >/dev/null; then
  echo "ensure_nginx: nginx is missing and apt-get is not available: install nginx by hand (docs/deploy.md)" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    SUDO=(sudo)
  else
    echo "ensure_nginx: nginx is missing; run 'apt-get install nginx' as root (docs/deploy.md)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# nginx-light would do; Debian's plain nginx is what bookworm and later ship as the default.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends nginx >/dev/null
# The package starts a system-wide nginx on port 80 where systemd runs; make run does not use it.
if [ -z "$(nginx_binary)" ]; then
  echo "ensure_nginx: nginx was installed but is not on PATH" >&2
  exit 1
fi

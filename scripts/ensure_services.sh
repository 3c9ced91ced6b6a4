#!/usr/bin/env bash
# Make sure the system pieces the test suite needs are here and running: the headers mysqlclient
# builds against, MariaDB, Redis and nginx, and the browser and promtool two tests use. Installs
# with apt-get and starts them only when missing, so it costs nothing on a machine that has them.
set -euo pipefail

have_port() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "ensure_services: apt-get is not available; install $* by hand" >&2
    return 1
  fi
  if [ -z "$apt_updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
dpkg -s libmariadb-dev >/dev/null 2>&1 || dpkg -s libmysqlclient-dev >/dev/null 2>&1 || missing+=(libmariadb-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
have_port 3306 || command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
have_port 6379 || command -v redis-server >/dev/null || missing+=(redis-server)
command -v wrk >/dev/null || missing+=(wrk)  # the benchmarks' load generator (and their smoke tests)

if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure_services: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

# nginx: the reverse proxy make run (and its tests) put in front of gunicorn.
bash "$(dirname "$0")/ensure_nginx.sh"

# The dashboard's browser test: Debian's chromium and its chromedriver. Not fatal: without a
# browser that one test skips and says why.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "ensure_services: installing chromium and chromium-driver for the browser test"
  apt_install chromium chromium-driver || echo "ensure_services: no browser could be installed; the browser test will skip"
fi

# Chinese text in the browser tests and screenshots (tenant names, signatures, templates): Debian's
# Noto CJK fonts, else WenQuanYi Zen Hei. Not fatal, like the browser: without them the CJK test fails
# and says which package to install.
if ! { command -v fc-list >/dev/null && fc-list :lang=zh family | grep -q .; }; then
  echo "ensure_services: installing CJK fonts for the browser tests"
  apt_install fonts-noto-cjk || apt_install fonts-wqy-zenhei || echo "ensure_services: no CJK font could be installed; Chinese text will draw as boxes"
fi

# The alert rules' test (tests/gm_server_notify/test_prometheus_rules.py): promtool, from Debian's prometheus
# package, without its recommends (exporters). Its postinst would start a Prometheus server where
# systemd runs; containers like this machine's forbid that (policy-rc.d). Not fatal: without
# promtool that test skips and says why.
if ! command -v promtool >/dev/null; then
  echo "ensure_services: installing prometheus (for promtool) for the alert rules' test"
  apt_install --no-install-recommends prometheus || echo "ensure_services: promtool could not be installed; the alert rules' test will skip"
fi

wait_for_port() {
  for _ in $(seq 1 60); do
    have_port "$1" && return 0
    sleep 0.5
  done
  echo "ensure_services: nothing answers on 127.0.0.1:$1" >&2
  return 1
}

if ! have_port 3306; then
  echo "ensure_services: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for_port 3306
fi
if ! have_port 6379; then
  echo "ensure_services: starting Redis"
  mkdir -p /var/lib/redis
  # Append-only file, fsync every second: the broker's queue survives a Redis restart.
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly yes --appendfsync everysec --dir /var/lib/redis
  wait_for_port 6379
fi

# root over TCP with an empty password, as this machine kind (and the tests) expect.
if ! mysql -h 127.0.0.1 -u root -e "SELECT 1" >/dev/null 2>&1; then
  echo "ensure_services: allowing root@127.0.0.1 with an empty password"
  mysql -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;"
fi

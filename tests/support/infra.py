"""Private MariaDB and Redis servers for tests that break them (the chaos test, a Redis restarted
mid-run): each on a spare loopback port with its data in a temporary folder, so stopping, killing
(SIGKILL, then a start on the same data: InnoDB's crash recovery, Redis's append-only file) or
restarting them never touches the machine's own services."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import MySQLdb
import redis
from django.test import override_settings

from bench.harness import free_port
from tests.support.waiting import scaled


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {scaled(timeout):.0f}s")


class _PrivateServer:
    """A server process of the test's own that can be stopped and started again."""

    process: subprocess.Popen | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self, down_seconds: float, *, crash: bool = False) -> tuple[float, float]:
        """Stop (with ``crash``: ``kill``), stay down ``down_seconds``, start again on the same
        data. Returns (went down, answers again) as ``time.monotonic()`` values."""
        if crash:
            self.kill()
        else:
            self.stop()
        down = time.monotonic()
        time.sleep(down_seconds)
        self.start()
        return down, time.monotonic()

    def kill(self) -> None:
        """SIGKILL: a crash. Nothing is flushed or closed; what the server had not yet written to
        disk is lost, as when its machine loses power or the OOM killer takes it."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=scaled(30))

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class PrivateMariaDB(_PrivateServer):
    """``mariadbd`` from the machine's MariaDB packages, on its own port and data folder."""

    def __init__(self, root: Path, database: str = "gm_chaos") -> None:
        self.root = root
        self.port = free_port()
        self.database = database
        self.datadir = root / "mariadb"
        self.process: subprocess.Popen | None = None
        binary = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.command = [
            binary,
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--user=root",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={root / 'mariadb.sock'}",
            f"--pid-file={root / 'mariadb.pid'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=128M",
            "--max-connections=300",
            f"--log-error={root / 'mariadb.err'}",
        ]

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{self.database}"

    def install(self) -> None:
        subprocess.run(
            [
                shutil.which("mariadb-install-db") or "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=scaled(60),
        )
        self.start()
        with self.connect(database=None) as conn:
            conn.cursor().execute(f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4")

    def connect(self, database: str | None = "") -> MySQLdb.Connection:
        name = self.database if database == "" else database
        kwargs = {"db": name} if name else {}
        return MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", charset="utf8mb4", **kwargs)

    def _answers(self) -> bool:
        try:
            self.connect(database=None).close()
        except MySQLdb.Error:
            return False
        return True

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        _wait(self._answers, 60, "private mariadbd")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), as a restart by an operator or a supervisor does."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=scaled(60))
        _wait(lambda: not _port_open(self.port), 30, "mariadbd port closed")


class PrivateRedis(_PrivateServer):
    """``redis-server`` with an append-only file (``appendfsync everysec``), as the project
    runs its broker, on its own port and folder. ``durable=False``: no append-only file either, so
    a restart comes back empty (every queued task and cached key lost)."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable
        self.port = free_port()
        self.dir = root / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.durable else "no",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait(self._answers, 30, "private redis-server")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # flushes the append-only file
            self.process.wait(timeout=scaled(30))


@contextmanager
def on_private_redis(server: PrivateRedis) -> Iterator[None]:
    """Point the test process at ``server`` while the block runs: the cache and the Redis scripts
    (``REDIS_URL``, db 1), the broker it publishes to and pings workers through (db 0), and so the
    live server and every worker started inside the block (``worker_environment`` reads these
    settings). Everything is pointed back on leaving the block."""
    from django.conf import settings

    from gm_server_notify.celery import app

    previous = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")
    # The machine's broker pools are put aside, open, and put back as they were: objects that
    # captured them (a control's mailbox, a producer) keep working after the block.
    pools = app._pool, app.amqp._producer_pool
    with override_settings(
        REDIS_URL=server.url(1),
        CACHES={"default": {**settings.CACHES["default"], "LOCATION": server.url(1)}},
        CELERY_BROKER_URL=server.url(0),
    ):
        app._pool, app.amqp._producer_pool = None, None
        _point_broker(app, server.url(0), server.url(0))
        try:
            yield
        finally:
            if app._pool is not None:
                app._pool.force_close_all()  # the private server's: it goes away with the block
            app._pool, app.amqp._producer_pool = pools
            _point_broker(app, *previous)


def _point_broker(app, url: str, environ: str | None) -> None:
    """The Celery app's broker URL (Celery reads ``CELERY_BROKER_URL`` from the environment
    before its own setting)."""
    app.conf.broker_url = url
    if environ is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = environ

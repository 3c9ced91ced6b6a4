"""The web process as make run starts it, for a test: gunicorn with ``gunicorn.conf.py`` (2
processes of 4 threads unless ``WEB_CONCURRENCY``/``WEB_THREADS`` say otherwise) on a free port,
its var dir (secret key, file cache, filesystem broker and, without ``DATABASE_URL``, the SQLite
database) under ``root``, and ``manage.py`` on the same settings. Stopped with its process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.harness import free_port, wait_for_http
from tests.support.waiting import scaled

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The suite's own backends, which the web must not inherit: it runs on what ``environment`` names,
# else on the embedded defaults.
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")


class Web:
    def __init__(self, root: Path, **environment: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = root
        self.var_dir = root / "var"
        self.env = {
            **{name: value for name, value in os.environ.items() if name not in NOT_INHERITED},
            "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings",
            "GM_EMBEDDED_DEFAULTS": "1",
            "GM_VAR_DIR": str(self.var_dir),
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "2",
            "WEB_THREADS": "4",
            **environment,
        }
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str, **env: str) -> None:
        subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=REPO,
            env={**self.env, **env},
            check=True,
            capture_output=True,
            timeout=scaled(120),
        )

    def start(self) -> None:
        log = (self.root / "web.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "gm_server_notify.wsgi:application",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_http(f"{self.url}/healthz", timeout=scaled(30))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=scaled(10))
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log(self) -> str:
        return (self.root / "web.log").read_text(errors="replace")[-4000:]

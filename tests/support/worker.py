"""A real Celery worker process for tests: same code, same broker, the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from gm_server_notify.celery import app as celery_app
from sms.sending import fairness
from tests.support.waiting import scaled, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO_ROOT / "test-output"
# A worker's environment for tests of recovery: its beat sweeps every second, publishes again what
# was left queued 2 s and decides what was left sending 4 s (sms.sending.sweeps).
FAST_SWEEPS = {"SMS_SWEEP_SECONDS": "1", "SMS_REQUEUE_AFTER_SECONDS": "2", "SMS_SENDING_STUCK_SECONDS": "4"}


def test_database_url() -> str:
    """A DATABASE_URL naming the database the test process is using right now."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.mysql":
        raise RuntimeError("worker tests need MySQL and a real broker: run them through `make test`")
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"mysql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


def worker_environment(**overrides: str) -> dict[str, str]:
    environment = os.environ.copy()
    environment.update(
        {
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
        }
    )
    environment.update(overrides)
    return environment


class WorkerProcess:
    """``celery worker`` as a child process; ``stop()`` is graceful, ``kill()`` is SIGKILL."""

    def __init__(
        self,
        *,
        concurrency: int = 2,
        queues: str | None = None,
        env: dict[str, str] | None = None,
        beat: bool = False,
    ) -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        OUTPUT_DIR.mkdir(exist_ok=True)
        self.log_path = OUTPUT_DIR / f"worker-{self.name.split('@')[0]}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gm_server_notify",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--hostname",
            self.name,
            "--without-gossip",
            "--without-mingle",
        ]
        if queues:
            command += ["--queues", queues]
        if beat:  # embedded beat: the periodic sweeps run too
            command += ["--beat", "--schedule", str(OUTPUT_DIR / f"beat-{self.name.split('@')[0]}")]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=worker_environment(**(env or {})),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once the worker answers a ping; fail after the scaled ``timeout``."""
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; see {self.log_path}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise TimeoutError(f"worker not ready after {scaled(timeout):.0f}s; see {self.log_path}")

    def tasks_taken(self) -> Counter[str]:
        """The tasks this worker has received so far, by name: those it started (celery inspect
        ``stats``' ``total``) and those it holds unstarted (``reserved``)."""
        inspect = celery_app.control.inspect([self.name], timeout=scaled(2))
        # Reserved first: a task started between the two answers is then counted twice, never
        # missed.
        reserved = (inspect.reserved() or {}).get(self.name, [])
        taken = Counter((inspect.stats() or {}).get(self.name, {}).get("total", {}))
        taken.update(request["name"] for request in reserved)
        return taken

    def tasks_in_hand(self) -> set[str]:
        """The names of the tasks this worker holds and has not finished (active or reserved)."""
        inspect = celery_app.control.inspect([self.name], timeout=scaled(2))
        held = [*(inspect.active() or {}).get(self.name, []), *(inspect.reserved() or {}).get(self.name, [])]
        return {request["name"] for request in held}

    def drain(self, queue: str = "default", timeout: float = 30.0) -> Counter[str]:
        """Publish a no-op task on ``queue`` behind everything published there so far and wait
        until this worker has started it; the tasks it has received by then (``tasks_taken``).
        A queue is first in, first out, so a task published on ``queue`` before this call and not
        counted here was never published: how a test proves that something did not happen."""
        marker = "celery.accumulate"  # Celery's built-in no-op: returns its argument
        before = self.tasks_taken()[marker]
        celery_app.send_task(marker, args=(0,), queue=queue)
        wait_until(
            lambda: self.tasks_taken()[marker] > before, timeout, f"{self.name} took the marker on {queue}"
        )
        return self.tasks_taken()

    def wait_for_runs(self, task: str, count: int, timeout: float = 30.0) -> None:
        """Wait until this worker has started ``task`` at least ``count`` times and holds none
        unfinished: every run counted has finished."""
        wait_until(
            lambda: self.tasks_taken()[task] >= count and task not in self.tasks_in_hand(),
            timeout,
            f"{self.name} ran {task} {count} times",
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker and its pool children die mid-task."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=scaled(10))

    def stop(self, timeout: float = 20.0) -> None:
        """A warm shutdown (SIGTERM), SIGKILL after the scaled ``timeout``."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=scaled(timeout))
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def purge_broker() -> Any:
    """Drop every message left in the configured queues by an earlier test, and the bulk lane's
    parked batches, whose record ids would name another test's records."""
    fairness.purge()
    return celery_app.control.purge()

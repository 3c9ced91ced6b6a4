"""``make run``'s script (scripts/run.sh) started for a test: free ports, a private var dir, the
embedded defaults (SQLite, the filesystem broker), stopped with its whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from tests.support.waiting import scaled

REPO_ROOT = Path(__file__).resolve().parents[2]
# Variables that would point the run at MySQL/Redis or fix the token: the tests want defaults.
NOT_INHERITED = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "SMS_SERVICE_TOKENS",
    "SMS_CALLBACK_TOKEN",
    # run.sh decides these itself (the suite runs on tests.settings).
    "DJANGO_SETTINGS_MODULE",
    "GM_EMBEDDED_DEFAULTS",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# nginx's answers while gunicorn is not (yet, or again) listening behind it.
PROXY_NOT_READY = {502, 504}


def wait_for(url: str, timeout: float, **kwargs) -> requests.Response:
    """The first answer ``url`` gives within the scaled ``timeout``: connection errors, timeouts
    and nginx's 502/504 (gunicorn still starting) are retried."""
    deadline = time.monotonic() + scaled(timeout)
    last_error: object = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=2, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            last_error = exc
        else:
            if response.status_code not in PROXY_NOT_READY:
                return response
            last_error = f"HTTP {response.status_code}"
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {scaled(timeout):.0f}s: {last_error}")


@dataclass
class MakeRun:
    process: subprocess.Popen
    port: int
    sim_port: int
    var_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def celery(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """``celery -A gm_server_notify *args`` on this run's broker (the filesystem broker under its
        var dir), as run.sh's processes see it."""
        return subprocess.run(
            [str(REPO_ROOT / ".venv/bin/celery"), "-A", "gm_server_notify", *args],
            cwd=REPO_ROOT,
            env={**self.env, "GM_EMBEDDED_DEFAULTS": "1"},
            capture_output=True,
            text=True,
            timeout=scaled(timeout),
        )


@contextmanager
def make_run(tmp_path: Path, **extra_env: str) -> Iterator[MakeRun]:
    port, sim_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    var_dir = tmp_path / "var"
    env.update(
        PORT=str(port),
        SIMULATOR_PORT=str(sim_port),
        GM_VAR_DIR=str(var_dir),
        WORKER_HEARTBEAT_SECONDS="2",
        **extra_env,
    )
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield MakeRun(process, port, sim_port, var_dir, log_path, env)
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stop a ``make run`` and everything under it: supervisord's children run in process groups
    of their own, so killing its group would leave them running. SIGTERM lets supervisord stop
    them; whatever is still alive after that is killed."""
    tree = descendants(process.pid)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=scaled(30))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for pid in tree + descendants(process.pid):
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), whatever its process group."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

"""What every benchmark shares: a real stack (gunicorn, a Celery worker, the simulator) on MySQL
and Redis in a database of its own, process memory readings, and the results file.

Benchmarks print figures and record them; they never fail on a time.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
RESULTS_DIR = REPO / "bench" / "results"
OUTPUT_DIR = REPO / "var" / "bench"

SERVICE_TOKEN = "bench-service-token"
CALLBACK_TOKEN = "bench-callback-token"
BENCH_DATABASE = os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/gm_bench")
BENCH_BROKER = os.environ.get("BENCH_CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_environment(web_port: int, sim_port: int, **extra: str) -> dict[str, str]:
    """The variables every process of a benchmark run shares."""
    sim = f"http://127.0.0.1:{sim_port}"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings",
        # A developer's run: a generated secret key, no HTTPS-only settings (README: Configuration).
        "GM_EMBEDDED_DEFAULTS": "1",
        "DATABASE_URL": BENCH_DATABASE,
        "CELERY_BROKER_URL": BENCH_BROKER,
        "REDIS_URL": BENCH_REDIS,
        "SMS_SERVICE_TOKENS": SERVICE_TOKEN,
        "SMS_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "GM_VAR_DIR": str(OUTPUT_DIR / "var"),
        "LOG_LEVEL": "WARNING",
        "SIMULATOR_PORT": str(sim_port),
        "SIMULATOR_CALLBACK_BASE": f"http://127.0.0.1:{web_port}",
        "TENCENT_SMS_ENDPOINT": sim,
        "GATEWAY_SMS_BASE_URL": sim,
        "FW199_BASE_URL": sim,
        "SJROOM_BASE_URL": sim,
        "PYTHONUNBUFFERED": "1",
    }
    environment.update(extra)
    return environment


BENCH_KEYS = (
    "DJANGO_SETTINGS_MODULE",
    "GM_EMBEDDED_DEFAULTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "SMS_SERVICE_TOKENS",
    "SMS_CALLBACK_TOKEN",
    "GM_VAR_DIR",
    "LOG_LEVEL",
)


def setup_django() -> None:
    """Configure Django in this process on the bench database (for seeding and checks)."""
    for key, value in base_environment(0, 0).items():
        if key in BENCH_KEYS:
            os.environ[key] = value
    import django

    django.setup()


def prepare_database() -> None:
    """Create the bench database if needed, migrate it, and empty the domain tables."""
    from urllib.parse import urlsplit

    name = urlsplit(BENCH_DATABASE).path.lstrip("/")
    subprocess.run(
        [
            "mysql",
            "-h",
            "127.0.0.1",
            "-u",
            "root",
            "-e",
            f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4",
        ],
        check=True,
    )
    env = base_environment(0, 0)
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True
    )


def truncate(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table in tables:
            cursor.execute(f"TRUNCATE TABLE {table}")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += _children(current)
    return tree


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) summed over a process and its children, in MB."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


@dataclass
class Stack:
    web_port: int
    sim_port: int
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Process:
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        log = OUTPUT_DIR / f"{name}.log"
        popen = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log)
        self.processes[name] = process
        return process

    def peak_rss(self, name: str) -> float:
        return peak_rss_mb(self.processes[name].popen.pid)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextmanager
def running_stack(
    *,
    worker: bool = True,
    simulator: bool = True,
    web_env: dict[str, str] | None = None,
    worker_concurrency: int = 2,
    web_settings: str = "gm_server_notify.settings",
    **env_extra: str,
) -> Iterator[Stack]:
    """gunicorn (the project's ``gunicorn.conf.py``), optionally a worker and the simulator."""
    stack = Stack(web_port=free_port(), sim_port=free_port())
    env = base_environment(stack.web_port, stack.sim_port, **env_extra)
    try:
        if simulator:
            stack.start(
                "simulator",
                [str(VENV_BIN / "python"), "-m", "providers.simulator", "--port", str(stack.sim_port)],
                env,
            )
            wait_for_http(f"{stack.sim_url}/_sim/health")
        web = {**env, "DJANGO_SETTINGS_MODULE": web_settings, **(web_env or {})}
        stack.start(
            "web",
            [
                str(VENV_BIN / "gunicorn"),
                "gm_server_notify.wsgi:application",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{stack.web_port}",
            ],
            web,
        )
        wait_for_http(f"{stack.url}/healthz")
        if worker:
            stack.start(
                "worker",
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "gm_server_notify",
                    "worker",
                    "--loglevel",
                    "WARNING",
                    "--concurrency",
                    str(worker_concurrency),
                    "--without-gossip",
                    "--without-mingle",
                ],
                env,
            )
            time.sleep(3)
        yield stack
    finally:
        stack.stop()


def machine() -> dict[str, Any]:
    memory_kb = int(
        next(
            line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
        ).split()[1]
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "uncommitted",
        "nproc": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


def record(name: str, result: dict[str, Any], *, smoke: bool) -> Path:
    """Print the figures and keep them in ``bench/results/<name>.json`` (smoke runs under var/)."""
    payload = {"benchmark": name, "smoke": smoke, **machine(), **result}
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    target_dir = OUTPUT_DIR if smoke else RESULTS_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{name}.json"
    target.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return target

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
import threading
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


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a smoke test's timeout, a CI job cancelled) unwinds the benchmark like Ctrl-C:
    every process it started is stopped on the way out, none left to steal the next run's tasks."""
    raise SystemExit(128 + signum)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
CALLBACK_TOKEN = "bench-callback-token"
BENCH_DATABASE = os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/gm_bench")
BENCH_BROKER = os.environ.get("BENCH_CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# RabbitMQ (``--broker rabbitmq``): a vhost of the benchmarks' own, created once with
# ``rabbitmqctl add_vhost gm_bench; rabbitmqctl set_permissions -p gm_bench guest '.*' '.*' '.*'``.
BENCH_AMQP = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/gm_bench")
BROKERS = ("redis", "rabbitmq")


def broker_url(kind: str = "redis") -> str:
    """The bench broker of ``kind``: Redis (``BENCH_CELERY_BROKER_URL``) or RabbitMQ (``BENCH_AMQP_URL``)."""
    if kind not in BROKERS:
        raise ValueError(f"broker must be one of {', '.join(BROKERS)}")
    return BENCH_AMQP if kind == "rabbitmq" else BENCH_BROKER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_environment(
    web_port: int, sim_port: int, *, broker: str | None = None, **extra: str
) -> dict[str, str]:
    """The variables every process of a benchmark run shares (``broker``: a broker URL, default
    the bench Redis broker)."""
    sim = f"http://127.0.0.1:{sim_port}"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings",
        # A developer's run: a generated secret key, no HTTPS-only settings (docs/configuration.md).
        "GM_EMBEDDED_DEFAULTS": "1",
        "DATABASE_URL": BENCH_DATABASE,
        "CELERY_BROKER_URL": broker or BENCH_BROKER,
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


def setup_django(broker: str | None = None) -> None:
    """Configure Django in this process on the bench database (for seeding and checks), its
    Celery app on ``broker`` (a URL; default the bench Redis broker)."""
    for key, value in base_environment(0, 0, broker=broker).items():
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


def forget_verify_limits() -> int:
    """Delete the verify-code limiter's per-mobile windows (``verify-limit:*``, ``sms.sending.limits``) from
    the bench Redis; returns how many. The benchmarks send verify-code templates to the same
    numbers run after run: without this a second run within a minute, or a sixth within an hour,
    finds its numbers refused (``LIMITED``, ``SMS_VERIFY_LIMITS`` 1/60s,5/1h,10/1d), measuring
    the limiter instead of the sending."""
    import redis

    client = redis.Redis.from_url(BENCH_REDIS)
    removed, keys = 0, []
    for key in client.scan_iter(match="verify-limit:*", count=10_000):
        keys.append(key)
        if len(keys) == 10_000:
            removed += client.unlink(*keys)
            keys = []
    if keys:
        removed += client.unlink(*keys)
    return removed


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


def _hwm_kb(pid: int) -> int | None:
    """A process's peak resident memory (``VmHWM``) in kB; None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) summed over a process and its children, in MB."""
    return round(sum(_hwm_kb(member) or 0 for member in process_tree(pid)) / 1024, 1)


def cpu_seconds(pid: int) -> float | None:
    """A process's user + system CPU time so far, in seconds; None once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Shared services whose CPU a benchmark counts beside its own processes (they share the two cores).
SERVICE_PROCESSES = {
    "mariadb": (b"mariadbd", b"mysqld"),
    "redis": (b"redis-server",),
    "rabbitmq": (b"beam.smp",),
}


def service_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of the machine's MariaDB, Redis and RabbitMQ processes (summed per
    service; a service that is not running is left out)."""
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The program's name, without its path or the arguments redis-server writes into it.
            command = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].split(b" ", 1)[0]
        except OSError:
            continue
        for service, names in SERVICE_PROCESSES.items():
            if any(command.endswith(name) for name in names):
                used = cpu_seconds(int(entry.name))
                if used is not None:
                    totals[service] = totals.get(service, 0.0) + used
    return totals


def peak_rss_by_process(pid: int) -> list[tuple[int, float]]:
    """``(pid, peak MB)`` of a process and of each of its children (VmHWM, as ``peak_rss_mb``):
    the root first, then its descendants in the order found."""
    found = []
    for member in process_tree(pid):
        kb = _hwm_kb(member)
        if kb is not None:
            found.append((member, round(kb / 1024, 1)))
    return found


class RssSampler:
    """Per-process peak RSS of some of a stack's process trees, read every ``interval`` seconds
    in a thread of its own, so a process that exits before the end (a recycled pool child, a
    restarted gunicorn worker) keeps its figure. VmHWM only grows, so the last reading of a
    process is its peak. Labels: ``<name> <root_role>`` for the root (``web master``, ``worker
    main``) and ``<name> <child_role> <n>`` for its children, numbered in the order seen. CPU time
    is read with each sample for every process tree of the stack, those without a role too (the
    simulator: a stand-in whose memory is not the service's), for ``cpu_report``."""

    def __init__(self, stack: Stack, roles: dict[str, tuple[str, str]], *, interval: float = 0.5) -> None:
        self.stack, self.roles, self.interval = stack, roles, interval
        self.peaks: dict[int, tuple[str, str, float]] = {}  # pid -> (stack name, label, MB)
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (stack name, CPU seconds at its last reading)
        self._cpu_before: dict[int, tuple[str, float]] = {}
        self._services_before: dict[str, float] = {}
        self._services_after: dict[str, float] = {}
        self._client_before = self._client_after = 0.0
        self._started = self._ended = 0.0
        self._children_seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> None:
        for name, (root_role, child_role) in self.roles.items():
            process = self.stack.processes.get(name)
            if process is None:
                continue
            root = process.popen.pid
            for pid, mb in peak_rss_by_process(root):
                known = self.peaks.get(pid)
                if known is None:
                    if pid == root:
                        label = f"{name} {root_role}"
                    else:
                        self._children_seen[name] = self._children_seen.get(name, 0) + 1
                        label = f"{name} {child_role} {self._children_seen[name]}"
                    known = (name, label, 0.0)
                self.peaks[pid] = (known[0], known[1], max(known[2], mb))
        for name, process in list(self.stack.processes.items()):
            for pid in process_tree(process.popen.pid):
                used = cpu_seconds(pid)
                if used is not None:
                    self.cpu[pid] = (name, used)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        # CPU is counted from here: what a process used while starting is not the run's.
        self._cpu_before = dict(self.cpu)
        self._services_before = service_cpu_seconds()
        self._client_before = sum(os.times()[:2])
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        self._ended = time.monotonic()
        self._services_after = service_cpu_seconds()
        self._client_after = sum(os.times()[:2])

    def cpu_report(self) -> dict[str, Any]:
        """CPU seconds used between entering and leaving, per stack process tree (``by_name``),
        per shared service (MariaDB, Redis, RabbitMQ) and by this client process, with the wall
        time and the machine's CPU seconds in that time (cores × wall): which component took the
        cores. A process that exited between readings counts up to its last reading; one started
        after entering (the mixed-load benchmark's read web) counts from its start."""
        by_name: dict[str, float] = {}
        for pid, (name, used) in self.cpu.items():
            before = self._cpu_before.get(pid, (name, 0.0))[1]
            by_name[name] = by_name.get(name, 0.0) + used - before
        by_name = {name: round(seconds, 2) for name, seconds in by_name.items()}
        services = {
            service: round(self._services_after.get(service, 0.0) - before, 2)
            for service, before in self._services_before.items()
        }
        wall = self._ended - self._started
        return {
            "by_name": by_name,
            "services": services,
            "client": round(self._client_after - self._client_before, 2),
            "wall_s": round(wall, 2),
            "available_s": round(wall * (os.cpu_count() or 1), 1),
        }

    def report(self) -> dict[str, Any]:
        """``processes``: every process's peak (name, label, pid, MB); ``by_name``: the sum per
        stack process tree; ``max_process_mb``: the largest single process."""
        processes = [
            {"process": label, "pid": pid, "peak_rss_mb": mb}
            for pid, (_name, label, mb) in self.peaks.items()
        ]
        by_name: dict[str, float] = {}
        for _pid, (name, _label, mb) in self.peaks.items():
            by_name[name] = round(by_name.get(name, 0.0) + mb, 1)
        return {
            "by_name": by_name,
            "processes": processes,
            "max_process_mb": max((row["peak_rss_mb"] for row in processes), default=0.0),
        }


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


def worker_names(nodes: int, prefix: str = "worker") -> list[str]:
    """The stack names of ``nodes`` worker nodes: ``worker`` alone, or ``worker1``, ``worker2`` …"""
    return [prefix] if nodes == 1 else [f"{prefix}{index}" for index in range(1, nodes + 1)]


def start_workers(
    stack: Stack,
    env: dict[str, str],
    *,
    nodes: int = 1,
    concurrency: int = 2,
    prefix: str = "worker",
    extra: tuple[str, ...] = (),
) -> list[str]:
    """Start ``nodes`` Celery worker processes of ``concurrency`` each, as separate nodes (each its
    own ``--hostname``, as two hosts would run them; one node keeps Celery's default name).
    Returns their stack names."""
    names = worker_names(nodes, prefix)
    for name in names:
        command = [
            str(VENV_BIN / "celery"),
            "-A",
            "gm_server_notify",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
        ]
        if nodes > 1:
            command += ["--hostname", f"{name}@%h"]
        stack.start(name, [*command, *extra], env)
    return names


def gunicorn_command(port: int) -> list[str]:
    """The project's gunicorn (``gunicorn.conf.py``) serving the service on loopback ``port``."""
    return [
        str(VENV_BIN / "gunicorn"),
        "gm_server_notify.wsgi:application",
        "--config",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
    ]


@contextmanager
def running_stack(
    *,
    worker: bool = True,
    simulator: bool = True,
    web_env: dict[str, str] | None = None,
    worker_concurrency: int = 2,
    worker_nodes: int = 1,
    web_settings: str = "gm_server_notify.settings",
    broker: str | None = None,
    push_batch: int = 1,
    **env_extra: str,
) -> Iterator[Stack]:
    """gunicorn (the project's ``gunicorn.conf.py``), optionally ``worker_nodes`` workers of
    ``worker_concurrency`` and the simulator (``providers.simulator``), on ``broker`` (a URL).
    The simulator pushes the gateway's reports ``push_batch`` to a request: 1 is seed 002's one
    object per request; more is a JSON array, a shortcut every result names (``push_batch``)."""
    stack = Stack(web_port=free_port(), sim_port=free_port())
    env = base_environment(stack.web_port, stack.sim_port, broker=broker, **env_extra)
    try:
        if simulator:
            command = [str(VENV_BIN / "python"), "-m", "providers.simulator", "--port", str(stack.sim_port)]
            stack.start("simulator", [*command, "--gateway-push-batch", str(push_batch)], env)
            wait_for_http(f"{stack.sim_url}/_sim/health")
        web = {**env, "DJANGO_SETTINGS_MODULE": web_settings, **(web_env or {})}
        stack.start("web", gunicorn_command(stack.web_port), web)
        wait_for_http(f"{stack.url}/healthz")
        if worker:
            start_workers(stack, env, nodes=worker_nodes, concurrency=worker_concurrency)
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
    changed = dirty_files()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "uncommitted",
        "dirty": bool(changed),
        "dirty_files": changed[:DIRTY_FILES_SHOWN],
        "nproc": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


DIRTY_FILES_SHOWN = 20


def dirty_files() -> list[str]:
    """The files of the tree that differ from its commit (changed, staged or new and not
    ignored), so that a result says whether it measured the commit it names; earlier results
    (``bench/results/``) are left out: writing them is what a run does."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", ".", ":(exclude)bench/results"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if status.returncode != 0:
        return ["(git status failed)"]
    return [line[3:] for line in status.stdout.splitlines() if line.strip()]


def simulator_usage(sim_url: str) -> dict[str, Any]:
    """The simulator's ``GET /_sim/usage``: its CPU seconds since its last reset, the status pushes
    it made and its gateway push batch."""
    return requests.get(f"{sim_url}/_sim/usage", timeout=10).json()


def record(name: str, result: dict[str, Any], *, smoke: bool) -> Path:
    """Print the figures and keep them in ``bench/results/<name>.json`` (smoke runs under var/),
    with the machine, the commit and whether the tree was dirty. ``name`` carries the run's
    configuration, so that a run never overwrites the figures of another."""
    payload = {"benchmark": name, "smoke": smoke, **machine(), **result}
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    target_dir = OUTPUT_DIR if smoke else RESULTS_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{name}.json"
    target.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return target

"""Benchmark 6: report intake. Seed 002's gateway pushes every delivery report in a request of its
own; this drives the push endpoint with such pushes and measures what it acknowledges, how fast,
and whether the workers apply every report once and keep pace.

    .venv/bin/python -m bench.intake                  # 50,000 pushes at 32 connections, then the floors
    .venv/bin/python -m bench.intake --smoke          # 2,000 pushes at 8 connections, no floors
    .venv/bin/python -m bench.intake --pushes 100000 --connections 64 --web-workers 3

The run:

- **Records.** ``--pushes`` submitted gateway send records are inserted straight into the
  database (multi-row INSERTs, ``sms.core.bulk.insert_rows``): provider ``gateway``, provider
  message id ``"<taskId>:<mobile>"`` (taskIds of 1,000 numbers, as dispatches are), state
  ``submitted``, spread over ``STATIONS`` stations whose day rows (``tbl_sms_daily_statistics``)
  count them as sent today, so applying a report books the station's day as it does in service.
- **Stack.** The harness's: gunicorn (``gunicorn.conf.py``, ``--web-workers`` × ``--web-threads``,
  no proxy), one Celery worker node of ``--worker-concurrency`` consuming every queue
  (``default``, the lanes' ``sms_priority``, ``sms_transactional`` and ``sms_bulk``, ``sms_reports``,
  ``sms_webhooks``), the provider simulator
  (only so that beat's report and uplink pulls find the gateway), and beat as deployed. Beat is
  needed: a push asks for a drain at most once a second (``sms.tasks.request_inbox_drain``), so
  the pushes stored after the last drain asked for by the run's last second would wait for the
  next push, which never comes; beat's drain (``SMS_INBOX_DRAIN_SECONDS``, 5 s) takes them.
  ``--no-beat`` shows that tail (the wait is bounded, and what is left is reported).
- **Pushes.** wrk (one thread, ``--connections``) runs ``bench/wrk/gateway_reports.lua``: each
  request posts ``{"sendId", "mobile", "times", "status": "DELIVRD"}`` for the next record to
  ``/providers/gateway/status?token=…``, and wrk stops once every record's push is answered (at
  most ``--max-seconds``). Requests sent while the last answers were on their way (at most one a
  connection) repeat the first records: a provider's resend, which must change nothing.
- **Apply.** The clock goes on until every record is delivered and the inbox is empty (at most
  ``--drain-timeout`` seconds after wrk). Once a second the inbox's rows and the delivered records
  are counted (the backlog). **Lag**: from wrk's end (its last acknowledged push, within
  milliseconds) to the last record's ``finished_at``.

Figures: pushes/s acknowledged (the records' pushes over the time from wrk's first request to the
answer that completed them), latency p50 / p90 / p99 / p99.9 (wrk), non-2xx answers and socket
errors; every record applied once (delivered = N, the stations' day rows counting N successes and
no failure, nothing kept as a pending or rejected report, the inbox empty); the lag, and the
backlog (the most rows the inbox held, also in seconds of pushes at the run's rate); CPU seconds
per component from wrk's start to the last record applied (web, worker, beat, simulator, MariaDB,
Redis, wrk, this client) and per push; the machine's load (load average, and the CPU the whole
machine used in the window, so the share of other work on the shared 2 cores shows). MariaDB and
Redis are shared with other clients, whose work their figures include; a service process that
started or stopped in the window is named in ``services_restarted`` and left out, and the
worker's lost broker connections are counted (``worker_broker_losses``). Floors, in the same run,
on the same gunicorn settings (``bench/intake_floor.py``): a bare Django view doing the push's one
insert into the inbox, and an empty Django view (Django's request path alone), ``--floor-seconds``
each at the same connections, with their gunicorn's and MariaDB's CPU per request.

Goals (reported, never raised): >= 10,000 pushes/s acknowledged, p99 < 50 ms, every report applied
once, the apply keeping pace: during the run (the backlog never more than ``PACE_LAG_S`` seconds of
pushes) and at its end (the lag within ``PACE_LAG_S``). The run exits 1 only when reports are not all
applied once (a correctness problem). Results: ``bench/results/intake<config>.json``, ``<config>``
naming what is not the default (``-n<pushes>``, ``-c<connections>``, ``-w<workers>x<threads>``,
``-wc<concurrency>``, ``-nobeat``); ``--smoke`` writes ``var/bench/intake.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import harness

DEFAULT_PUSHES = 50_000
DEFAULT_CONNECTIONS = 32
DEFAULT_WEB = (2, 4)  # gunicorn.conf.py's defaults: WEB_CONCURRENCY, WEB_THREADS
DEFAULT_WORKER_CONCURRENCY = 2
SMOKE_PUSHES = 2_000
SMOKE_CONNECTIONS = 8
STATIONS = 20
TASK_SIZE = 1_000  # numbers per taskId (a dispatch's size; the gateway takes up to 3,000)
MOBILE_PREFIX = "139"
PUSH_GOAL_PER_S = 10_000
P99_GOAL_MS = 50.0
# The drain is asked for at most once a second and runs 0.5 s after (``request_inbox_drain``): an
# apply that keeps pace holds at most about that much in the inbox, and delivers the last record
# within about that of the last push.
PACE_LAG_S = 2.0
SCRIPT = harness.REPO / "bench" / "wrk" / "gateway_reports.lua"
TABLES = (
    "tbl_sms_send_record",
    "tbl_sms_daily_statistics",
    "tbl_sms_push_inbox",
    "tbl_sms_pending_report",
    "tbl_sms_rejected_report",
    "tbl_sms_webhook_event",
)
FLOOR_BODY = {
    "sendId": "floor-task",
    "mobile": "13900000000",
    "times": "2026-12-04 12:00:00",
    "status": "DELIVRD",
}


def station_of(index: int) -> str:
    return f"I{index % STATIONS + 1:04d}"


def pair_of(index: int) -> tuple[str, str]:
    """The (taskId, mobile) of the ``index``-th record: 11-digit mainland numbers, all distinct."""
    return f"intake-{index // TASK_SIZE:06d}", f"{MOBILE_PREFIX}{index:08d}"


def seed_records(count: int) -> dict[str, Any]:
    """``count`` submitted gateway records, and their stations' day rows counting them as sent."""
    from django.db import transaction
    from django.utils import timezone

    from sms.core.bulk import db_datetime, insert_rows
    from sms.core.days import local_date
    from sms.models import DailyStatistics, SendRecord

    harness.truncate(*TABLES)
    now = timezone.now()
    stamp = db_datetime(now)
    fields = (
        "station_id",
        "receive_phone",
        "phone_e164",
        "business_type",
        "sms_content",
        "content",
        "segments",
        "state",
        "status",
        "remark",
        "provider",
        "provider_message_id",
        "provider_code",
        "dispatch_id",
        "attempts",
        "refunded",
        "created_at",
        "queued_at",
        "submitted_at",
        "updated_at",
    )

    def rows() -> Any:
        for index in range(count):
            task, mobile = pair_of(index)
            yield (
                station_of(index),
                mobile,
                f"+86{mobile}",
                0,
                "{}",
                "【去采购】您的订单已发货",
                1,
                "submitted",
                0,
                "",
                "gateway",
                f"{task}:{mobile}",
                "",
                task,
                1,
                False,
                stamp,
                stamp,
                stamp,
                stamp,
            )

    started = time.monotonic()
    with transaction.atomic():
        inserted = insert_rows(SendRecord, fields, rows(), batch_size=5_000)
        per_station: dict[str, int] = {}
        for index in range(count):
            per_station[station_of(index)] = per_station.get(station_of(index), 0) + 1
        DailyStatistics.objects.bulk_create(
            DailyStatistics(station_id=station, send_date=local_date(now), total_send_nums=total)
            for station, total in sorted(per_station.items())
        )
    return {
        "records": inserted,
        "stations": len(per_station),
        "seconds": round(time.monotonic() - started, 2),
    }


def write_pairs(count: int, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w") as handle:
        for index in range(count):
            task, mobile = pair_of(index)
            handle.write(f"{task} {mobile}\n")


def start_beat(stack: harness.Stack) -> None:
    """Beat as deployed (scripts/supervisord.conf): its drain is the safety net for the last pushes."""
    schedule = harness.OUTPUT_DIR / "intake-beat-schedule"
    for old in harness.OUTPUT_DIR.glob(f"{schedule.name}*"):
        old.unlink()
    command = [str(harness.VENV_BIN / "celery"), "-A", "gm_server_notify", "beat", "--loglevel", "WARNING"]
    stack.start(
        "beat",
        [*command, "--schedule", str(schedule)],
        harness.base_environment(stack.web_port, stack.sim_port),
    )
    # Started once its schedule file exists (after its imports), so its start is not on the clock.
    deadline = time.monotonic() + 60
    while not any(harness.OUTPUT_DIR.glob(f"{schedule.name}*")):
        if time.monotonic() > deadline:
            raise TimeoutError("beat did not start within 60 s")
        time.sleep(0.1)


def celery_app() -> Any:
    from gm_server_notify.celery import app

    return app


def wait_for_worker(timeout: float = 60.0) -> None:
    """Until the worker answers a ping, so its start is not on the clock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if celery_app().control.ping(timeout=0.5):
            return
    raise TimeoutError(f"no worker answered within {timeout}s")


def counts() -> tuple[int, int]:
    """(rows in the inbox, records delivered): the backlog and the progress."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM tbl_sms_push_inbox")
        inbox = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM tbl_sms_send_record WHERE state = 'delivered'")
        delivered = cursor.fetchone()[0]
    return inbox, delivered


class Backlog:
    """The inbox's rows and the delivered records, counted every ``interval`` seconds in a thread
    (on a database connection of its own) while wrk runs."""

    def __init__(self, started: float, interval: float = 1.0) -> None:
        self.started, self.interval = started, interval
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlog", daemon=True)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.interval):
                inbox, delivered = counts()
                self.samples.append((round(time.monotonic() - self.started, 1), inbox, delivered))
        finally:
            connection.close()

    def __enter__(self) -> Backlog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (``/proc/stat``: all but idle and
    iowait), every process of every user."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def service_cpu_by_pid() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each MariaDB, Redis and RabbitMQ process, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].split(b" ", 1)[0]
        except OSError:
            continue
        for service, names in harness.SERVICE_PROCESSES.items():
            used = harness.cpu_seconds(int(entry.name)) if command.endswith(names) else None
            if used is not None:
                found[int(entry.name)] = (service, used)
    return found


def service_cpu(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, Any]:
    """CPU per service between two readings, of the processes that ran throughout (the shared
    servers: a test's private server, or a server restarted meanwhile, would count its whole life
    or a negative figure), and which services had a process start or stop in between."""
    used: dict[str, float] = {}
    for pid, (service, seconds) in after.items():
        if pid in before:
            used[service] = used.get(service, 0.0) + seconds - before[pid][1]
    changed = sorted(
        {service for pid, (service, _) in {**before, **after}.items() if (pid in before) != (pid in after)}
    )
    return {"by_service": {name: round(value, 2) for name, value in used.items()}, "changed": changed}


def children_cpu_seconds() -> float:
    """User + system CPU of this process's waited-for children (wrk, once it has exited)."""
    times = os.times()
    return times[2] + times[3]


def read_report(path: Path) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        values[key] = float(value)
    return values


def run_wrk(url: str, *, pairs: Path, connections: int, max_seconds: int) -> dict[str, Any]:
    """wrk through ``gateway_reports.lua`` until every line of ``pairs`` is answered (then it is
    interrupted: its main thread would sleep out ``-d``) or ``max_seconds`` pass."""
    if not Path("/usr/bin/wrk").exists():
        raise SystemExit("wrk is not installed: apt-get install wrk")
    report, done = harness.OUTPUT_DIR / "intake-wrk.txt", harness.OUTPUT_DIR / "intake-wrk.done"
    report.unlink(missing_ok=True)
    done.unlink(missing_ok=True)
    beijing = dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)
    env = {
        "PATH": "/usr/bin:/bin",
        "WRK_PAIRS_FILE": str(pairs),
        "WRK_PATH": f"/providers/gateway/status?token={harness.CALLBACK_TOKEN}",
        "WRK_TIMES": beijing.strftime("%Y-%m-%d %H:%M:%S"),
        "WRK_REPORT": str(report),
        "WRK_DONE_FILE": str(done),
    }
    # One wrk thread: the load generator must not take a core from the two the service has.
    command = [
        "/usr/bin/wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max_seconds}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    log = harness.OUTPUT_DIR / "intake-wrk.log"
    with log.open("w") as output:
        wrk = subprocess.Popen(
            [*command, "-s", str(SCRIPT), url], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        while wrk.poll() is None and not done.exists():
            time.sleep(0.02)
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)
        wrk.wait(timeout=30)
    values = read_report(report)
    answered = int(values["requests"])
    complete = bool(values["completed"])
    # The rate is of the lines: those answered up to the answer that completed them (answers to
    # the repeats that came after are in ``answered``, not in the rate).
    lines = sum(1 for _ in pairs.open()) if complete else answered
    seconds = (values["completed"] if complete else time.time()) - values["first_sent"]
    return {
        "answered": answered,
        "sent": int(values["sent"]),
        "complete": complete,
        "seconds": round(seconds, 3),
        "pushes_per_s": round(lines / seconds, 1) if seconds > 0 else 0.0,
        "first_sent": values["first_sent"],
        "last_answered": values["completed"] or None,
        "p50_ms": round(values["p50_us"] / 1000, 2),
        "p90_ms": round(values["p90_us"] / 1000, 2),
        "p99_ms": round(values["p99_us"] / 1000, 2),
        "p99.9_ms": round(values["p99.9_us"] / 1000, 2),
        "max_ms": round(values["max_us"] / 1000, 2),
        "mean_ms": round(values["mean_us"] / 1000, 2),
        "non_2xx": int(values["bad"]),
        "socket_errors": int(values["socket_errors"]),
    }


def wait_applied(total: int, timeout: float) -> tuple[bool, float]:
    """Poll until ``total`` records are delivered and the inbox is empty, at most ``timeout``
    seconds; returns whether they were and when (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        inbox, delivered = counts()
        if delivered >= total and inbox == 0:
            return True, time.monotonic()
        if time.monotonic() > deadline:
            return False, time.monotonic()
        time.sleep(0.1)


def outcome(total: int) -> tuple[dict[str, Any], dt.datetime | None]:
    """What the database says after the run: states, the day rows, kept reports, the inbox, and
    the last record's ``finished_at``."""
    from django.db.models import Count, Max, Sum

    from sms.models import DailyStatistics, PendingReport, PushInbox, RejectedReport, SendRecord

    states = dict(SendRecord.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    daily = DailyStatistics.objects.aggregate(
        total=Sum("total_send_nums"), success=Sum("success_send_nums"), failed=Sum("send_failed_nums")
    )
    applied = {
        "states": states,
        "delivered": states.get("delivered", 0),
        "daily": {key: value or 0 for key, value in daily.items()},
        "pending_reports": PendingReport.objects.count(),
        "rejected_reports": RejectedReport.objects.count(),
        "inbox_left": PushInbox.objects.count(),
    }
    applied["exactly_once"] = (
        applied["delivered"] == total
        and sum(states.values()) == total
        and applied["daily"]["success"] == total
        and applied["daily"]["failed"] == 0
        and applied["pending_reports"] == 0
        and applied["rejected_reports"] == 0
        and applied["inbox_left"] == 0
    )
    last = SendRecord.objects.aggregate(last=Max("finished_at"))["last"]
    return applied, last


def per_push(cpu: dict[str, Any], wrk_cpu: float, pushes: int) -> dict[str, float]:
    """Milliseconds of CPU per acknowledged push, per component."""
    parts = {**cpu["by_name"], **cpu["services"], "wrk": wrk_cpu, "client": cpu["client"]}
    if not pushes:
        return {}
    result = {name: round(seconds * 1000 / pushes, 3) for name, seconds in parts.items()}
    result["total"] = round(sum(parts.values()) * 1000 / pushes, 3)
    return result


def intake_run(args: argparse.Namespace) -> dict[str, Any]:
    seeded = seed_records(args.pushes)
    pairs = harness.OUTPUT_DIR / "intake-pairs.txt"
    write_pairs(args.pushes, pairs)
    web_env = {"WEB_CONCURRENCY": str(args.web_workers), "WEB_THREADS": str(args.web_threads)}
    with harness.running_stack(
        worker=True, simulator=True, web_env=web_env, worker_concurrency=args.worker_concurrency
    ) as stack:
        if args.beat:
            start_beat(stack)
        wait_for_worker()
        celery_app().control.purge()
        roles = {"web": ("master", "worker"), "worker": ("main", "pool"), "beat": ("main", "child")}
        load_before = os.getloadavg()
        busy_before = machine_busy_seconds()
        services_before = service_cpu_by_pid()
        with harness.RssSampler(stack, roles) as rss:
            started = time.monotonic()
            wrk_cpu_before = children_cpu_seconds()
            with Backlog(started) as backlog:
                wrk = run_wrk(
                    f"{stack.url}/providers/gateway/status",
                    pairs=pairs,
                    connections=args.connections,
                    max_seconds=args.max_seconds,
                )
            wrk_ended = time.monotonic()
            wrk_cpu = children_cpu_seconds() - wrk_cpu_before
            inbox_at_wrk_end, delivered_at_wrk_end = counts()
            done, done_at = wait_applied(args.pushes, args.drain_timeout)
        busy = machine_busy_seconds() - busy_before
        services = service_cpu(services_before, service_cpu_by_pid())
        load_after = os.getloadavg()
        applied, last_finished = outcome(args.pushes)
        # A run the shared machine disturbed says so: the shared Redis restarted under the worker.
        worker_log = stack.processes["worker"].log.read_text(errors="replace")
        broker_losses = worker_log.count("Connection to broker lost")
    # The services by process (a restarted server would otherwise count a negative figure).
    cpu = {**rss.cpu_report(), "services": services["by_service"], "services_restarted": services["changed"]}
    ours = sum(cpu["by_name"].values()) + sum(cpu["services"].values()) + cpu["client"] + wrk_cpu
    # From the last acknowledged push to the last record's finished_at: both wall clocks of this machine.
    lag = last_finished.timestamp() - wrk["last_answered"] if done and wrk["last_answered"] else None
    max_inbox = max((inbox for _, inbox, _ in backlog.samples), default=inbox_at_wrk_end)
    return {
        "seeded": seeded,
        "wrk": wrk,
        "apply": {
            **applied,
            "all_applied": done,
            "lag_s": round(lag, 2) if lag is not None else None,
            "applied_after_wrk_s": round(done_at - wrk_ended, 2),
            "at_wrk_end": {"inbox": inbox_at_wrk_end, "delivered": delivered_at_wrk_end},
            "worker_broker_losses": broker_losses,
            "max_inbox": max_inbox,
            # The largest backlog in seconds of pushes at the run's rate: how far the apply fell behind.
            "max_inbox_s": round(max_inbox / wrk["pushes_per_s"], 2) if wrk["pushes_per_s"] else None,
            "backlog": [{"t_s": t, "inbox": inbox, "delivered": d} for t, inbox, d in backlog.samples],
        },
        "cpu_s": {**cpu, "wrk": round(wrk_cpu, 2)},
        "cpu_ms_per_push": per_push(cpu, wrk_cpu, wrk["answered"]),
        "machine": {
            "loadavg_before": [round(value, 2) for value in load_before],
            "loadavg_after": [round(value, 2) for value in load_after],
            "busy_cpu_s": round(busy, 1),
            # What the machine spent beyond the counted processes and services: other users' work.
            "other_cpu_s": round(busy - ours, 1),
        },
    }


def floor_run(args: argparse.Namespace) -> dict[str, Any]:
    """The floors on a fresh gunicorn of the same settings (``bench/intake_floor.py``)."""
    from bench.accept_sends import run_wrk as run_fixed_wrk

    web_env = {"WEB_CONCURRENCY": str(args.web_workers), "WEB_THREADS": str(args.web_threads)}
    floors = {}
    with harness.running_stack(
        worker=False, simulator=False, web_env=web_env, web_settings="bench.intake_floor"
    ) as stack:
        for name in ("push", "empty"):
            before = service_cpu_by_pid()
            with harness.RssSampler(stack, {"web": ("master", "worker")}) as rss:
                floor = run_fixed_wrk(
                    f"{stack.url}/floor/{name}",
                    FLOOR_BODY,
                    connections=args.connections,
                    seconds=args.floor_seconds,
                )
            services = service_cpu(before, service_cpu_by_pid())["by_service"]
            # CPU per request of the floor's gunicorn and of MariaDB (wrk's own is not counted here).
            parts = {
                "web": rss.cpu_report()["by_name"].get("web", 0.0),
                "mariadb": services.get("mariadb", 0.0),
            }
            requests = floor["requests"] or 1
            floor["cpu_ms_per_request"] = {
                key: round(value * 1000 / requests, 3) for key, value in parts.items()
            }
            floors[name] = floor
    harness.truncate("tbl_sms_push_inbox")
    return floors


def git_state() -> dict[str, Any]:
    """Whether the checkout differs from its commit, and where (the figures are of the tree as run)."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=normal"],
        cwd=harness.REPO,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    paths = [line[3:] for line in status if not line[3:].startswith(("var/", "bench/results/"))]
    return {"dirty": bool(paths), "dirty_paths": paths[:40]}


def suffix(args: argparse.Namespace) -> str:
    parts = []
    if args.pushes != DEFAULT_PUSHES:
        parts.append(f"n{args.pushes}")
    if args.connections != DEFAULT_CONNECTIONS:
        parts.append(f"c{args.connections}")
    if (args.web_workers, args.web_threads) != DEFAULT_WEB:
        parts.append(f"w{args.web_workers}x{args.web_threads}")
    if args.worker_concurrency != DEFAULT_WORKER_CONCURRENCY:
        parts.append(f"wc{args.worker_concurrency}")
    if not args.beat:
        parts.append("nobeat")
    return "".join(f"-{part}" for part in parts)


def goals(run: dict[str, Any]) -> dict[str, Any]:
    wrk, apply = run["wrk"], run["apply"]
    return {
        "pushes_per_s_at_least_10000": {
            "value": wrk["pushes_per_s"],
            "met": wrk["pushes_per_s"] >= PUSH_GOAL_PER_S,
        },
        "p99_under_50ms": {"value": wrk["p99_ms"], "met": wrk["p99_ms"] < P99_GOAL_MS},
        "every_report_applied_once": {"value": apply["delivered"], "met": apply["exactly_once"]},
        "apply_keeps_pace_during_run": {
            "value": apply["max_inbox_s"],
            "met": apply["max_inbox_s"] is not None and apply["max_inbox_s"] <= PACE_LAG_S,
        },
        "last_report_applied_within_2s": {
            "value": apply["lag_s"],
            "met": apply["lag_s"] is not None and apply["lag_s"] <= PACE_LAG_S,
        },
        "no_errors": {
            "value": wrk["non_2xx"] + wrk["socket_errors"],
            "met": wrk["non_2xx"] + wrk["socket_errors"] == 0,
        },
    }


def print_summary(result: dict[str, Any]) -> None:
    wrk, apply, config = result["wrk"], result["apply"], result["config"]
    web = config["web"]
    print(
        f"\nintake: {config['pushes']} pushes at {config['connections']} connections, "
        f"web {web['workers']}x{web['threads']}, worker concurrency {config['worker_concurrency']}"
    )
    print(
        f"  acknowledged {wrk['answered']} ({wrk['sent']} sent) in {wrk['seconds']} s: "
        f"{wrk['pushes_per_s']} pushes/s, p50 {wrk['p50_ms']} ms, p99 {wrk['p99_ms']} ms, "
        f"non-2xx {wrk['non_2xx']}, socket errors {wrk['socket_errors']}"
    )
    print(
        f"  applied: delivered {apply['delivered']}, day rows success {apply['daily']['success']}, "
        f"exactly once {apply['exactly_once']}, lag {apply['lag_s']} s, "
        f"inbox at wrk end {apply['at_wrk_end']['inbox']}, max inbox {apply['max_inbox']} "
        f"({apply['max_inbox_s']} s of pushes)"
    )
    print(f"  CPU ms per push: {result['cpu_ms_per_push']}")
    print(f"  machine: {result['machine']}")
    for name, floor in result.get("floors", {}).items():
        print(
            f"  floor {name}: {floor['requests_per_s']} req/s, p50 {floor['p50_ms']} ms, "
            f"p99 {floor['p99_ms']} ms, errors {floor['errors']}, "
            f"CPU ms/request {floor['cpu_ms_per_request']}"
        )
    for name, goal in result["goals"].items():
        print(f"  goal {name}: {goal['value']} {'met' if goal['met'] else 'NOT met'}")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_PUSHES} pushes at {SMOKE_CONNECTIONS} connections, no floors",
    )
    parser.add_argument("--pushes", type=int, default=DEFAULT_PUSHES, help="records, one push each")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS)
    parser.add_argument("--web-workers", type=int, default=DEFAULT_WEB[0], help="gunicorn WEB_CONCURRENCY")
    parser.add_argument("--web-threads", type=int, default=DEFAULT_WEB[1], help="gunicorn WEB_THREADS")
    parser.add_argument("--worker-concurrency", type=int, default=DEFAULT_WORKER_CONCURRENCY)
    parser.add_argument("--no-beat", dest="beat", action="store_false", help="without beat's drain")
    parser.add_argument("--max-seconds", type=int, default=300, help="wrk's bound")
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="seconds to wait after wrk")
    parser.add_argument("--floor-seconds", type=int, default=10, help="each floor's wrk; 0 skips them")
    args = parser.parse_args(argv)
    if args.smoke:
        args.pushes, args.connections, args.floor_seconds = SMOKE_PUSHES, SMOKE_CONNECTIONS, 0
        args.max_seconds, args.drain_timeout = 60, 30.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    harness.prepare_database()
    harness.setup_django()
    run = intake_run(args)
    result: dict[str, Any] = {
        "config": {
            "pushes": args.pushes,
            "connections": args.connections,
            "web": {"workers": args.web_workers, "threads": args.web_threads},
            "worker_concurrency": args.worker_concurrency,
            "beat": args.beat,
            "stations": STATIONS,
            "push": "one gateway report per request (seed 002), DELIVRD",
            "database": harness.BENCH_DATABASE.rsplit("/", 1)[-1],
            **git_state(),
        },
        **run,
    }
    if args.floor_seconds:
        result["floors"] = floor_run(args)
    result["goals"] = goals(run)
    name = "intake" if args.smoke else f"intake{suffix(args)}"
    harness.record(name, result, smoke=args.smoke)
    print_summary(result)
    return 0 if run["apply"]["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())

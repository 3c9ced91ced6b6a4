"""`make run`'s script on embedded defaults: SQLite, the filesystem broker, no servers but the nginx
in front of gunicorn."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.support.make_run import REPO_ROOT, MakeRun, alive, descendants, make_run
from tests.support.make_run import wait_for as _wait_for
from tests.support.waiting import scaled, wait_until

pytestmark = pytest.mark.make_run


@pytest.fixture
def running_service(tmp_path):
    with make_run(tmp_path) as run:
        yield run.process, run.port, run.sim_port, run.log_path


def test_make_run_serves_docs_runs_worker_survives_kill_9_and_stops_on_ctrl_c(running_service):
    process, port, sim_port, log_path = running_service
    docs = _wait_for(f"http://127.0.0.1:{port}/api/docs", timeout=90)
    assert docs.status_code == 200 and "swagger-ui" in docs.text

    # A token is generated and kept in the var dir, readable by its owner only; the log says where,
    # never the token itself.
    token_file = log_path.parent / "var" / "service_token"
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert str(token_file) in log_path.read_text()
    assert token not in log_path.read_text()
    # The station API is closed without it and open with it; the default combos are loaded.
    base = f"http://127.0.0.1:{port}"
    assert requests.get(f"{base}/sms/combo/get", timeout=5).json()["code"] == 1003
    combos = requests.get(
        f"{base}/sms/combo/get", headers={"Authorization": f"Bearer {token}"}, timeout=5
    ).json()
    assert combos["code"] == 0 and combos["data"][0]["name"] == "套餐包: 2000条"
    # Errors come back as JSON envelopes from gunicorn too, never an HTML page.
    assert requests.get(f"{base}/sms/anything", timeout=5).json()["code"] == 1004

    assert _wait_for(f"http://127.0.0.1:{sim_port}/_sim/health", timeout=30).json() == {"status": "ok"}

    # beat -> filesystem broker -> worker -> file cache: the heartbeat shows up in /healthz.
    deadline, age = time.monotonic() + 60, None
    while time.monotonic() < deadline and age is None:
        age = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["checks"][
            "worker_heartbeat_age_seconds"
        ]
        time.sleep(0.5)
    assert age is not None, log_path.read_text()[-3000:]

    # supervisord restarts a process killed with SIGKILL and leaves the others running.
    env = {**os.environ, "GM_VAR_DIR": str(log_path.parent / "var")}
    for name in PROGRAMS:
        before = _program_pids(env)
        os.kill(before[name], signal.SIGKILL)
        _wait_until(
            lambda name=name, before=before: _program_pids(env).get(name, before[name]) != before[name]
        )
        after = _program_pids(env)
        assert {other: pid for other, pid in after.items() if other != name} == {
            other: pid for other, pid in before.items() if other != name
        }, f"killing {name} touched the others"
        assert process.poll() is None, f"make run exited when {name} was killed"
    assert _wait_for(f"{base}/healthz", timeout=60).status_code == 200
    assert _wait_for(f"http://127.0.0.1:{sim_port}/_sim/health", timeout=30).json() == {"status": "ok"}
    since = time.time()
    _wait_until(lambda: _heartbeat_age(port) is not None and _heartbeat_age(port) < time.time() - since)

    # Ctrl-C (SIGINT to the foreground group) stops every process, its children included.
    tree = descendants(process.pid)
    assert len(tree) >= len(PROGRAMS)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=scaled(30)) is not None
    assert [pid for pid in tree if alive(pid)] == []


PROGRAMS = ("nginx", "web", "intake", "priority", "worker", "bulk", "webhooks", "beat", "simulator")


def _wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out")


def _program_pids(env: dict[str, str]) -> dict[str, int]:
    """What supervisorctl says: each RUNNING program's pid (by program name, without its group)."""
    password = (Path(env["GM_VAR_DIR"]) / "supervisor_password").read_text().strip()
    out = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/supervisorctl"), "-c", "scripts/supervisord.conf", "status"],
        cwd=REPO_ROOT,
        env={**env, "SUPERVISOR_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=scaled(30),
    ).stdout
    pids = {}
    for line in out.splitlines():
        match = re.match(r"(?:\S+:)?(\S+)\s+RUNNING\s+pid (\d+)", line)
        if match:
            pids[match.group(1)] = int(match.group(2))
    return pids


def _heartbeat_age(port: int) -> float | None:
    try:
        body = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
    except requests.RequestException:
        return None
    return body["checks"]["worker_heartbeat_age_seconds"]


# --- One idle make run, shared by the tests below in their order: it idles, sends two messages,
# is stopped with Ctrl-C, and its whole output is then read. -------------------------------------

# Every beat entry but the hourly purge, each run at least once on a worker: the idle period the
# warnings test waits for (the sweeps run every 2 s here, instead of every 15 s).
IDLE_TASKS = (
    "gm_server_notify.tasks.record_worker_heartbeat",
    "sms.sweep_pending_reports",
    "sms.sweep_stale_records",
    "sms.pull_reports",
    "sms.pull_uplinks",
    "sms.refresh_provider_balances",
    "sms.sweep_webhooks",
    "sms.release_scheduled",
)
WARNING_LINE = re.compile(
    r"\bWARN(ING)?\b|\bCRIT(ICAL)?\b|\bERROR\b|Warning\b|Traceback|\[(warn|error|crit|alert|emerg)\]"
)
# Python's warning, printed by Celery when it runs as root: true, and only there (make run as root
# is the developer's choice; nothing in the configuration can say it is meant).
ROOT_WARNING = re.compile(
    r"^\S*celery/platforms\.py:\d+: SecurityWarning: You're running the worker with superuser privileges"
    r".*?^  warnings\.warn\(SecurityWarning\(ROOT_DISCOURAGED\.format\($\n",
    re.MULTILINE | re.DOTALL,
)


@pytest.fixture(scope="module")
def idle_run(tmp_path_factory):
    with make_run(
        tmp_path_factory.mktemp("idle"), SMS_SWEEP_SECONDS="2", PROVIDER_BALANCE_REFRESH_SECONDS="2"
    ) as run:
        # nginx answers 502 (and logs an error) until gunicorn listens behind it: wait for that first,
        # for both gunicorns (web, and intake for provider pushes).
        wait_until(lambda: run.log().count("Listening at: ") >= 2, timeout=90, message="gunicorns listening")
        assert _wait_for(f"{run.base}/healthz", timeout=90).status_code == 200, run.log()[-3000:]
        yield run


def _output(run: MakeRun) -> str:
    """What make run printed, and nginx's error log (a file of its own)."""
    error_log = run.var_dir / "nginx" / "error.log"
    return run.log() + (error_log.read_text(errors="replace") if error_log.exists() else "")


def _json(line: str) -> dict | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _warnings(run: MakeRun) -> list[str]:
    """The output's lines at level WARNING or above, JSON or not."""
    output = _output(run)
    if os.geteuid() == 0:
        output = ROOT_WARNING.sub("", output)
    found = []
    for line in output.splitlines():
        parsed = _json(line)
        if parsed is not None and parsed.get("level") not in ("WARNING", "ERROR", "CRITICAL"):
            continue
        if parsed is not None or WARNING_LINE.search(line):
            found.append(line)
    return found


def _succeeded(log: str, task: str) -> bool:
    return re.search(rf'"Task {re.escape(task)}\[[0-9a-f-]+\] succeeded', log) is not None


def test_an_idle_make_run_logs_no_warning(idle_run):
    wait_until(
        lambda: all(_succeeded(idle_run.log(), task) for task in IDLE_TASKS),
        timeout=60,
        message="every beat task run once",
    )
    assert _warnings(idle_run) == []


def test_a_two_message_send_ends_delivered_with_no_lost_deadlock(idle_run):
    headers = {"Authorization": f"Bearer {(idle_run.var_dir / 'service_token').read_text().strip()}"}

    def call(method: str, path: str, **kwargs) -> dict:
        response = requests.request(method, f"{idle_run.base}{path}", headers=headers, timeout=60, **kwargs)
        return response.json()

    recharge = {"combo_id": 4, "station_id": "T7442", "recharge_nums": 10, "recharge_money": "1.00"}
    assert call("POST", "/sms/recharge_record/create", json={**recharge, "operator_name": "e2e"})["code"] == 0
    task_ids = []
    for phone in ("13100000001", "13100000002"):
        content = {"order_id": "PL0001", "sms_signature": "去采购"}
        body = {"station_id": "T7442", "receive_phone": phone, "business_type": 0, "sms_content": content}
        added = call("POST", "/sms/send/add", json=body)
        assert added["code"] == 0, added
        task_ids.append(added["data"]["task_id"])
    # Both started at once: two dispatch tasks, claimed by the worker's two processes together.
    with ThreadPoolExecutor(2) as pool:
        starts = list(
            pool.map(lambda task_id: call("POST", "/sms/send/start", json={"task_id": task_id}), task_ids)
        )
    assert [start["code"] for start in starts] == [0, 0]

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    query = {"station_id": "T7442", "start_date": today, "end_date": today}

    def statuses() -> dict[int, int]:
        rows = call("GET", "/sms/send_record/get", params=query)["data"]
        return {row["task_id"]: row["status"] for row in rows}

    wait_until(lambda: statuses() == dict.fromkeys(task_ids, 1), timeout=60, message="both delivered")
    assert "lost a deadlock" not in idle_run.log()
    assert _warnings(idle_run) == []


# Each Celery worker of make run (scripts/supervisord.conf): its node's name and the queues it consumes.
WORKER_QUEUES = {
    "priority": {"sms_priority"},
    "worker": {"default", "sms_transactional", "sms_reports"},
    "bulk": {"sms_bulk"},
    "webhooks": {"sms_webhooks"},
}


def _inspect(run: MakeRun, command: str) -> dict[str, Any]:
    """``celery inspect <command>``'s replies by worker (``priority``, ``worker`` …), once every
    worker of make run has replied."""
    host = socket.gethostname()
    replies: dict[str, Any] = {}

    def ask() -> bool:
        nodes = ",".join(f"{name}@{host}" for name in WORKER_QUEUES)
        done = run.celery("inspect", command, "--json", "--timeout", "10", "--destination", nodes)
        if done.returncode != 0:
            return False
        replies.clear()
        replies.update({node.split("@")[0]: reply for node, reply in json.loads(done.stdout).items()})
        return replies.keys() == WORKER_QUEUES.keys()

    wait_until(ask, timeout=60, message=f"every worker's reply to inspect {command}")
    return replies


def _dispatches_run(run: MakeRun) -> dict[str, int]:
    """How many dispatch tasks each worker has run since it started (its ``stats``)."""
    stats = _inspect(run, "stats")
    return {name: reply["total"].get("sms.dispatch_records", 0) for name, reply in stats.items()}


def _once_counted(run: MakeRun, worker: str, above: int) -> dict[str, int]:
    """Every worker's dispatch count, once ``worker``'s is above ``above``."""
    latest: dict[str, int] = {}

    def counted() -> bool:
        latest.update(_dispatches_run(run))
        return latest[worker] > above

    wait_until(counted, timeout=60, message=f"a dispatch counted by {worker}")
    return latest


def test_each_lane_has_its_worker_a_verify_code_goes_out_on_priority_an_order_message_on_transactional(
    idle_run,
):
    active = _inspect(idle_run, "active_queues")
    assert {name: {queue["name"] for queue in queues} for name, queues in active.items()} == WORKER_QUEUES

    headers = {"Authorization": f"Bearer {(idle_run.var_dir / 'service_token').read_text().strip()}"}

    def call(method: str, path: str, **kwargs) -> dict:
        response = requests.request(method, f"{idle_run.base}{path}", headers=headers, timeout=60, **kwargs)
        return response.json()

    station = "T7443"
    recharge = {"combo_id": 4, "station_id": station, "recharge_nums": 10, "recharge_money": "1.00"}
    assert call("POST", "/sms/recharge_record/create", json={**recharge, "operator_name": "e2e"})["code"] == 0

    def start(business_type: int, content: dict[str, str], phone: str) -> None:
        body = {
            "station_id": station,
            "receive_phone": phone,
            "business_type": business_type,
            "sms_content": content,
        }
        added = call("POST", "/sms/send/add", json=body)
        assert added["code"] == 0, added
        assert call("POST", "/sms/send/start", json={"task_id": added["data"]["task_id"]})["code"] == 0

    # A worker counts a task once it has started it (its ``stats``). The message started, the worker
    # of its lane counts its dispatch, and no other worker counted one meanwhile (a dispatch a sweep
    # republishes goes on its record's lane again): were it sent by another worker, the count awaited
    # would never move. Its delivery is not awaited: the report comes back through sms_reports,
    # whichever lane sent it.
    others = ("worker", "bulk", "webhooks")
    before = _dispatches_run(idle_run)
    start(2, {"verify_code": "112095", "sms_signature": "去采购"}, "13100000011")
    after_code = _once_counted(idle_run, "priority", above=before["priority"])
    assert {name: after_code[name] for name in others} == {name: before[name] for name in others}

    others = ("priority", "bulk", "webhooks")
    start(0, {"order_id": "PL0002", "sms_signature": "去采购"}, "13100000012")
    after_order = _once_counted(idle_run, "worker", above=after_code["worker"])
    assert {name: after_order[name] for name in others} == {name: after_code[name] for name in others}
    assert _warnings(idle_run) == []


def test_ctrl_c_ends_an_idle_make_run_within_10_seconds_with_no_sigkill(idle_run):
    process = idle_run.process
    assert process.poll() is None
    # Idle: the heartbeat written after the last test's work.
    since = time.time()
    wait_until(
        lambda: (age := _heartbeat_age(idle_run.port)) is not None and age < time.time() - since,
        message="a heartbeat",
    )
    tree = descendants(process.pid)
    assert len(tree) >= len(PROGRAMS)

    began = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=scaled(30))
    took = time.monotonic() - began
    print(f"make run stopped {took:.1f} s after Ctrl-C")

    assert [pid for pid in tree if alive(pid)] == []
    supervisord_log = (idle_run.var_dir / "supervisord.log").read_text()
    assert took < 10, f"{took:.1f} s; supervisord: {supervisord_log}"
    assert "SIGKILL" not in supervisord_log
    # At loglevel warn supervisord logs a stop only when the program did not exit by itself (killed
    # by a signal, as the simulator was by SIGTERM); clean exits are INFO.
    assert "stopped:" not in supervisord_log, supervisord_log + idle_run.log()[-4000:]


# A timestamp of any form: 2026-12-04 14:33:05, 2026-12-04T14:33:05, 2026/12/04 14:33:05,
# 04/Dec/2026:14:33:05.
TIMESTAMP = re.compile(
    r"\d{4}[-/]\d\d[-/]\d\d[ T]\d\d:\d\d(:\d\d([.,]\d+)?)?(Z|[+-]\d\d:?\d\d)?|\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d"
)
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")
# supervisord's own lines: its format is fixed (no zone); run.sh runs it in UTC.
SUPERVISORD_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d{3} (CRIT|ERRO|WARN|INFO|DEBG|TRAC|BLAT) "
)


def test_every_timestamp_of_the_run_is_iso_8601_utc_with_its_zone(idle_run):
    """The whole output (after the Ctrl-C above, when run in order): JSON lines, gunicorn's, the
    simulator's, nginx's access lines; one clock, UTC, written with its zone."""
    window = (idle_run.started - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1))
    checked = 0
    for line in idle_run.log().splitlines():
        if (parsed := _json(line)) is not None:
            stamps = [parsed["time"]]
        elif match := SUPERVISORD_LINE.match(line):
            stamp = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
            assert window[0] <= stamp <= window[1], f"supervisord's clock is not UTC: {line}"
            continue
        else:
            stamps = [match.group(0) for match in TIMESTAMP.finditer(line)]
        for stamp in stamps:
            assert ISO_UTC.fullmatch(stamp), line
            assert window[0] <= datetime.fromisoformat(stamp) <= window[1], line
            checked += 1
    assert checked > 100

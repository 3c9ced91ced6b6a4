"""`make run`'s script on embedded defaults: SQLite, the filesystem broker, no servers but the nginx
in front of gunicorn."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import time

import pytest
import requests

from tests.support.make_run import REPO_ROOT, alive, descendants, make_run
from tests.support.make_run import wait_for as _wait_for
from tests.support.waiting import scaled


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


PROGRAMS = ("nginx", "web", "worker", "webhooks", "beat", "simulator")


def _wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out")


def _program_pids(env: dict[str, str]) -> dict[str, int]:
    """What supervisorctl says: each RUNNING program's pid."""
    out = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/supervisorctl"), "-c", "scripts/supervisord.conf", "status"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    pids = {}
    for line in out.splitlines():
        match = re.match(r"(\S+)\s+RUNNING\s+pid (\d+)", line)
        if match:
            pids[match.group(1)] = int(match.group(2))
    return pids


def _heartbeat_age(port: int) -> float | None:
    try:
        body = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
    except requests.RequestException:
        return None
    return body["checks"]["worker_heartbeat_age_seconds"]

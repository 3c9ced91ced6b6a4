"""`make run`'s script on embedded defaults: SQLite, the filesystem broker, no servers at all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.waiting import scaled

REPO_ROOT = Path(__file__).resolve().parents[2]
# Variables that would point the run at MySQL/Redis or fix the token: the test wants defaults.
NOT_INHERITED = {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SMS_SERVICE_TOKENS", "SMS_CALLBACK_TOKEN"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float, **kwargs) -> requests.Response:
    deadline = time.monotonic() + scaled(timeout)
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=2, **kwargs)
        except requests.ConnectionError as exc:
            last_error = exc
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout}s: {last_error}")


@pytest.fixture
def running_service(tmp_path):
    port, sim_port = _free_port(), _free_port()
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(
        PORT=str(port),
        SIMULATOR_PORT=str(sim_port),
        GM_VAR_DIR=str(tmp_path / "var"),
        WORKER_HEARTBEAT_SECONDS="2",
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
        yield process, port, sim_port, log_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_make_run_serves_docs_runs_worker_and_stops_on_ctrl_c(running_service):
    process, port, sim_port, log_path = running_service
    docs = _wait_for(f"http://127.0.0.1:{port}/api/docs", timeout=90)
    assert docs.status_code == 200 and "swagger-ui" in docs.text

    # A token is generated, kept in the var dir and printed.
    token = re.search(r"Authorization: Bearer (\S+)", log_path.read_text()).group(1)
    assert token == (log_path.parent / "var" / "service_token").read_text().strip()
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

    # Ctrl-C (SIGINT to the foreground group) stops every process.
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=30) is not None
    leftovers = subprocess.run(
        ["pgrep", "-g", str(process.pid)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == []

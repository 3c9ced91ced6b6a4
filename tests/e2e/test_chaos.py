"""Chaos: the whole service on a MariaDB and a Redis of its own, with a fault injected mid-blast.

Web (gunicorn), a worker, beat and the simulator run as processes, as `make run` runs them, on a
private ``mariadbd`` and ``redis-server`` (tests/support/infra.py) so the test can restart or kill
them. A tenant sends two ``v1/message`` batches through the gateway simulator (slowed, reports
delayed); a few seconds after the sends are accepted one fault strikes:

- ``database``: MariaDB stops for ``CHAOS_DOWN_SECONDS`` (default 2) and starts again;
- ``broker``: Redis (broker and cache, append-only file) stops and starts again;
- ``worker``: the worker's main process is killed with SIGKILL and a new worker starts (as the
  supervisor does).

Then every record must be final within a bound after recovery, no number sent twice at the
simulator, the tenant's balance equal to its ledger, every report the simulator pushed
acknowledged and applied, and ``/healthz`` never a 500 (polled all along).

Sweeps are slowed to minutes for the database and broker faults, so what finishes the work there
is the intake queue, task retries and the durable broker, not a sweep. After a SIGKILL the batch
the worker had in hand is finished by the stuck-sending sweep (fast here), which makes it
``unknown`` without resending it (the gateway is not declared to refuse a repeated ``taskId``), and
the reports the simulator pushed for it decide it.

``make test`` runs each fault with ``CHAOS_RECIPIENTS`` = 400; ``make chaos`` with 20,000 and
prints the measured times (docs/performance.md records them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from bench.harness import free_port, wait_for_http
from tests.support.infra import PrivateMariaDB, PrivateRedis
from tests.support.waiting import scaled

pytestmark = pytest.mark.worker

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RECIPIENTS = int(os.environ.get("CHAOS_RECIPIENTS", "400"))
DOWN_SECONDS = float(os.environ.get("CHAOS_DOWN_SECONDS", "2"))
FAULT_AFTER_SECONDS = float(os.environ.get("CHAOS_FAULT_AFTER_SECONDS", "3"))
# Small runs use small gateway batches, so dispatches, outcome writes and report pushes are still
# in flight when the fault strikes (the test checks that they are); the big run is the issue's.
BIG = RECIPIENTS >= 10_000
BATCH_LIMIT = os.environ.get("CHAOS_BATCH_LIMIT", "3000" if BIG else "40")
LATENCY_MS, REPORT_DELAY_MS = (2000, 4000) if BIG else (1000, 2000)
# Every record final within this long after the service is whole again (the bound).
FINAL_WITHIN_SECONDS = float(os.environ.get("CHAOS_FINAL_WITHIN_SECONDS", "60"))
TOKEN, CALLBACK = "chaos-service-token", "chaos-callback-token"
TENANT, ROOT, PASSWORD = ("chaos-tenant", "chaos-root", "chaos-password-1")
RESULTS = REPO / "var" / "chaos"


@dataclass
class ChaosStack:
    root: Path
    db: PrivateMariaDB
    redis: PrivateRedis
    web_port: int = field(default_factory=free_port)
    sim_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def sim(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    def configure(self, **extra: str) -> None:
        sim = self.sim
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings",
            "DATABASE_URL": self.db.url,
            "CELERY_BROKER_URL": self.redis.url(0),
            "REDIS_URL": self.redis.url(1),
            "SMS_SERVICE_TOKENS": TOKEN,
            "SMS_CALLBACK_TOKEN": CALLBACK,
            "GM_VAR_DIR": str(self.root / "var"),
            "LOG_LEVEL": "WARNING",
            "SIMULATOR_PORT": str(self.sim_port),
            "SIMULATOR_CALLBACK_BASE": self.url,
            "GATEWAY_SMS_BASE_URL": sim,
            "TENCENT_SMS_ENDPOINT": sim,
            "FW199_BASE_URL": sim,
            "SJROOM_BASE_URL": sim,
            "SMS_TENANT_PROVIDER": "gateway",
            "GATEWAY_SMS_BATCH_LIMIT": BATCH_LIMIT,
            "PROVIDER_HTTP_TIMEOUT": "10",
            "WORKER_HEARTBEAT_SECONDS": "5",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def run(self, *args: str, **env: str) -> None:
        subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=REPO,
            env={**self.env, **env},
            check=True,
            timeout=scaled(120),
        )

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def start_worker(self) -> subprocess.Popen:
        return self.start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "gm_server_notify",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
            ],
        )

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=scaled(30))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def query(self, sql: str, *params: object) -> list[tuple]:
        with self.db.connect() as conn:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            return list(cursor.fetchall())


def _wait_http(url: str, timeout: float = 60) -> None:
    wait_for_http(url, timeout=scaled(timeout))


@pytest.fixture
def chaos(tmp_path) -> Iterator[ChaosStack]:
    db, cache = PrivateMariaDB(tmp_path), PrivateRedis(tmp_path)
    stack = ChaosStack(root=tmp_path, db=db, redis=cache)
    try:
        db.install()
        cache.start()
        yield stack
    finally:
        stack.stop()
        db.close()
        cache.close()


def _launch(stack: ChaosStack, **env: str) -> None:
    stack.configure(**env)
    stack.run("migrate", "--noinput", "-v0")
    stack.run("create_api_user", TENANT, API_USER_PASSWORD=PASSWORD)
    stack.run("create_api_user", ROOT, "--root", API_USER_PASSWORD=PASSWORD)
    stack.start(
        "simulator", [str(BIN / "python"), "-m", "providers.simulator", "--port", str(stack.sim_port)]
    )
    _wait_http(f"{stack.sim}/_sim/health")
    requests.post(
        f"{stack.sim}/_sim/config",
        json={"latency_ms": LATENCY_MS, "report_delay_ms": REPORT_DELAY_MS, "push": True},
        timeout=5,
    ).raise_for_status()
    stack.start(
        "web",
        [
            str(BIN / "gunicorn"),
            "gm_server_notify.wsgi:application",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{stack.web_port}",
        ],
    )
    _wait_http(f"{stack.url}/healthz")
    stack.start_worker()
    stack.start(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            "gm_server_notify",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(stack.root / "beat-schedule"),
        ],
    )


def _tenant_ready(stack: ChaosStack) -> tuple[int, int]:
    tenant, root = (TENANT, PASSWORD), (ROOT, PASSWORD)
    sign = requests.post(
        f"{stack.url}/v1/signature",
        auth=tenant,
        json={"signature": "去采购", "source": "营业执照"},
        timeout=60,
    ).json()["sign_id"]
    requests.post(
        f"{stack.url}/v2/signreview", auth=root, json={"sign_id": sign, "audit_status": "passed"}, timeout=60
    ).raise_for_status()
    temp = requests.post(
        f"{stack.url}/v1/template",
        auth=tenant,
        json={
            "name": "发货",
            "template": "您的订单{1}已发货。",
            "type": 2,
            "description": "x",
            "sign_id": sign,
        },
        timeout=60,
    ).json()["temp_id"]
    requests.post(
        f"{stack.url}/v2/tempreview", auth=root, json={"temp_id": temp, "audit_status": "passed"}, timeout=60
    ).raise_for_status()
    requests.post(
        f"{stack.url}/v2/charge", auth=root, json={"user": TENANT, "charge": RECIPIENTS}, timeout=60
    ).raise_for_status()
    return sign, temp


class HealthWatch(threading.Thread):
    """Polls /healthz until stopped; keeps every status it saw."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.statuses, self.done = url, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.statuses.append(requests.get(f"{self.url}/healthz", timeout=10).status_code)
            except requests.RequestException:
                self.statuses.append(0)  # no answer (e.g. gunicorn busy): not a 500
            time.sleep(0.2)


def _states(stack: ChaosStack) -> dict[str, int]:
    return dict(stack.query("SELECT state, COUNT(*) FROM tbl_sms_send_record GROUP BY state"))


@pytest.mark.parametrize("fault", ["database", "broker", "worker"])
def test_a_fault_mid_blast_loses_nothing_and_sends_nothing_twice(chaos, fault):
    stack = chaos
    slow_sweeps = {
        "SMS_SWEEP_SECONDS": "600",
        "SMS_REQUEUE_AFTER_SECONDS": "600",
        "SMS_SENDING_STUCK_SECONDS": "600",
    }
    # After a SIGKILL the claimed batch is the stuck-sending sweep's: make that sweep quick.
    # A batch claimed but never sent (the kill struck between the claim and the request) stays
    # unknown, no report will come: the settle deadline fails it, still billed (policy keep).
    kill_sweeps = {
        "SMS_SWEEP_SECONDS": "2",
        "SMS_REQUEUE_AFTER_SECONDS": "600",
        "SMS_SENDING_STUCK_SECONDS": "8",
        "SMS_UNKNOWN_SETTLE_SECONDS": "20",
    }
    _launch(stack, **(kill_sweeps if fault == "worker" else slow_sweeps))
    sign, temp = _tenant_ready(stack)
    watch = HealthWatch(stack.url)
    watch.start()
    half = RECIPIENTS // 2
    started = time.monotonic()
    for offset in (0, half):
        mobiles = [f"13{index:05d}1234" for index in range(offset, offset + half)]
        answer = requests.post(
            f"{stack.url}/v1/message",
            auth=(TENANT, PASSWORD),
            json={"sign_id": sign, "temp_id": temp, "mobiles": mobiles, "params": ["PL1"]},
            timeout=scaled(120),
        )
        assert answer.status_code == 200, answer.text
    accepted = time.monotonic()
    time.sleep(max(0.0, FAULT_AFTER_SECONDS - (accepted - started)))
    unfinished_at_fault = RECIPIENTS - sum(
        count for state, count in _states(stack).items() if state in ("delivered", "failed")
    )
    if fault == "database":
        _, recovered = stack.db.restart(DOWN_SECONDS)
    elif fault == "broker":
        _, recovered = stack.redis.restart(DOWN_SECONDS)
    else:
        os.kill(stack.processes["worker"].pid, signal.SIGKILL)
        stack.processes["worker"].wait(timeout=scaled(30))
        stack.start_worker()
        recovered = time.monotonic()

    deadline = recovered + scaled(FINAL_WITHIN_SECONDS)
    final = 0
    while time.monotonic() < deadline:
        states = _states(stack)
        final = states.get("delivered", 0) + states.get("failed", 0)
        if final == RECIPIENTS:
            break
        time.sleep(0.5)
    finished = time.monotonic()
    watch.done.set()
    watch.join(timeout=scaled(30))
    sim = requests.get(f"{stack.sim}/_sim/stats", timeout=10).json()["gateway"]
    result = {
        "fault": fault,
        "recipients": RECIPIENTS,
        "down_seconds": DOWN_SECONDS if fault != "worker" else 0,
        "accept_seconds": round(accepted - started, 1),
        "unfinished_at_fault": unfinished_at_fault,
        "final_after_recovery_seconds": round(finished - recovered, 1),
        "states": _states(stack),
        "simulator": sim,
        "healthz_statuses": sorted(set(watch.statuses)),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{fault}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))

    assert unfinished_at_fault > 0, "the fault struck after the work was done: it proves nothing"
    assert final == RECIPIENTS, f"{result}\n{stack.log('worker')}\n{stack.log('web')}"
    assert sim["duplicated_numbers"] == 0 and sim["distinct_numbers"] == sim["numbers"]
    if fault == "worker":
        # Every number the gateway took was delivered; only numbers it never received may have
        # failed (never resent: the gateway is not trusted to drop a repeated taskId).
        never_sent = RECIPIENTS - sim["numbers"]
        expected = {"delivered": sim["numbers"], "failed": never_sent}
        assert _states(stack) == {state: count for state, count in expected.items() if count}
    else:
        assert _states(stack) == {"delivered": RECIPIENTS}
        assert sim["numbers"] == RECIPIENTS
    assert sim["reports_pushed"] == sim["reports_acknowledged"] == sim["numbers"]
    (balance,) = stack.query("SELECT balance_nums FROM tbl_sms_tenant_account")[0]
    (ledger,) = stack.query("SELECT SUM(delta) FROM tbl_sms_balance_ledger WHERE tenant_id IS NOT NULL")[0]
    assert balance == ledger == 0
    assert 500 not in watch.statuses

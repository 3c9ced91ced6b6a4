"""Chaos: the whole service on a MariaDB and a Redis of its own, with a fault injected mid-blast.

Web (gunicorn), a worker, beat and the simulator run as processes, as `make run` runs them, on a
private ``mariadbd`` and ``redis-server`` (tests/support/infra.py) so the test can stop, kill and
restart them. A tenant sends two ``v1/message`` batches through the gateway simulator (slowed,
reports delayed); alongside, callers keep sending as the service's clients do all through the
fault: a station's messages (``/sms/send/add`` and ``send/start``, service token, Tencent), a
tenant's one-mobile ``v1/message`` and root's ``v2/charge`` (HTTP Basic), each with an
``Idempotency-Key`` and retried as the API documents (a 503 after its ``Retry-After``, no answer at
once, with the same key). A few seconds after the batches are accepted, once records are
``sending`` or ``submitted``, one fault strikes:

- ``mariadb-stop``: MariaDB shut down cleanly for ``CHAOS_DOWN_SECONDS`` (default 2), started again;
- ``mariadb-kill``: ``mariadbd`` killed with SIGKILL, started again on the same data folder after
  as long (InnoDB's crash recovery: what was committed stays, what was not is rolled back);
- ``redis-stop``: Redis (broker and cache, append-only file) shut down cleanly, started again;
- ``redis-kill``: ``redis-server`` (``appendonly yes``, ``appendfsync everysec``) killed with
  SIGKILL, started again on the same folder: up to its last second of writes may be gone;
- ``worker-kill``: the worker's main process killed with SIGKILL, a new worker started (as the
  supervisor does);
- ``pool-child-kill``: one pool process of the worker killed with SIGKILL while it runs a
  dispatch: the worker must replace it and go on.

Then every record must be final within a bound after recovery; no number sent twice at the
simulator; each account's balance equal to its ledger and to what was charged less what was
billed; every report the simulator pushed acknowledged and applied (the push inbox and the pending
reports empty); and no API answer of the run a 5xx, the polled ``/healthz`` included, except the
documented 503 (family body, ``Retry-After``) while the database is down (docs/testing.md).

Sweeps are slowed to minutes for the database and Redis faults, so what finishes the work there
is the intake queue, task retries and the durable broker, not a sweep. After a worker's SIGKILL the batch it had in hand is finished by the stuck-sending
sweep (fast here), which makes it ``unknown`` without resending it (the gateway is not declared to
refuse a repeated ``taskId``), and the reports the simulator pushed for it decide it; a bulk batch
whose turn died with the worker before its claim is published again by the re-dispatch sweep.

``make test`` runs each fault with ``CHAOS_RECIPIENTS`` = 400; ``make chaos`` with 20,000 and
prints the measured figures (docs/performance.md records them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from bench.harness import free_port, wait_for_http
from tests.support.infra import PrivateMariaDB, PrivateRedis
from tests.support.waiting import poll, scaled

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
# The callers' sends beside the blast: every provider request costs the simulator's latency, so a
# few dozen, paced to run through the fault.
CALLS = int(os.environ.get("CHAOS_CALLS", "24" if BIG else "12"))
CALL_PACE_SECONDS = 0.3
TOKEN, CALLBACK = "chaos-service-token", "chaos-callback-token"
TENANT, ROOT, PASSWORD = ("chaos-tenant", "chaos-root", "chaos-password-1")
STATION = "T7442"
RESULTS = REPO / "var" / "chaos"
FAULTS = ["mariadb-stop", "mariadb-kill", "redis-stop", "redis-kill", "worker-kill", "pool-child-kill"]
DATABASE_FAULTS = {"mariadb-stop", "mariadb-kill"}
WORKER_FAULTS = {"worker-kill", "pool-child-kill"}
# The documented answer while the database cannot be reached (docs/api-station.md, api-platform.md).
DATABASE_DOWN = {"station": 1098, "tenant": "ER:0098"}
DISPATCH_TASKS = ("sms.dispatch_records", "sms.dispatch_bulk_turn")
SLOW_SWEEPS = {
    "SMS_SWEEP_SECONDS": "600",
    "SMS_REQUEUE_AFTER_SECONDS": "600",
    "SMS_SENDING_STUCK_SECONDS": "600",
}
# After a SIGKILL of a worker the claimed batch is the stuck-sending sweep's: that sweep is quick.
# A batch claimed but never sent (the kill struck between the claim and the request) stays
# unknown, no report will come: the settle deadline fails it, still billed (policy keep). A bulk
# turn that had popped its batch from the lane when its worker died leaves the batch's records
# queued (sms/sending/fairness.py), and its own message comes back only after the broker's
# visibility timeout: the re-dispatch sweep publishes them again (60 s by default; 20 s here).
KILL_SWEEPS = {
    "SMS_SWEEP_SECONDS": "2",
    "SMS_REQUEUE_AFTER_SECONDS": "20",
    "SMS_SENDING_STUCK_SECONDS": "8",
    "SMS_UNKNOWN_SETTLE_SECONDS": "20",
}
SWEEPS = {
    "mariadb-stop": SLOW_SWEEPS,
    "mariadb-kill": SLOW_SWEEPS,
    "redis-stop": SLOW_SWEEPS,
    "redis-kill": SLOW_SWEEPS,
    "worker-kill": KILL_SWEEPS,
    "pool-child-kill": KILL_SWEEPS,
}


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
            # A keyed call the database fault cut short keeps its key "processing" (the release
            # could not reach the database either): its retries answer 409 until the claim is
            # this old and taken over. 60 s by default; the fault's subject is not that wait.
            "IDEMPOTENCY_LOCK_SECONDS": "10",
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

    def run_side_by_side(self, *commands: tuple[list[str], dict[str, str]]) -> None:
        """Independent ``manage.py`` commands at once: in a small run, setup is much of the time."""
        processes = [
            subprocess.Popen([str(BIN / "python"), "manage.py", *args], cwd=REPO, env={**self.env, **env})
            for args, env in commands
        ]
        for process in processes:
            assert process.wait(timeout=scaled(120)) == 0, process.args

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
    stack.start(
        "simulator", [str(BIN / "python"), "-m", "providers.simulator", "--port", str(stack.sim_port)]
    )
    stack.run("migrate", "--noinput", "-v0")
    stack.run_side_by_side(
        (["create_api_user", TENANT], {"API_USER_PASSWORD": PASSWORD}),
        (["create_api_user", ROOT, "--root"], {"API_USER_PASSWORD": PASSWORD}),
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


def _accounts_ready(stack: ChaosStack) -> tuple[int, int]:
    """The tenant's signature and template approved; its balance charged for the blast and its
    callers' sends, the station's recharged for its callers' sends."""
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
        f"{stack.url}/v2/charge",
        auth=root,
        json={"user": TENANT, "charge": RECIPIENTS + Callers.planned("tenant")},
        timeout=60,
    ).raise_for_status()
    recharged = requests.post(
        f"{stack.url}/sms/recharge_record/create",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={
            "combo_id": 4,
            "station_id": STATION,
            "recharge_nums": Callers.planned("station"),
            "recharge_money": "1.00",
            "operator_name": "chaos",
        },
        timeout=60,
    ).json()
    assert recharged["code"] == 0, recharged
    return sign, temp


@dataclass
class Answer:
    """One HTTP answer the service gave during the run (``status`` 0: none came)."""

    at: float
    call: str
    status: int
    retry_after: str | None = None
    code: object = None


class AnswerLog:
    """Every answer of the run, from every thread, in order."""

    def __init__(self) -> None:
        self.lock, self.answers = threading.Lock(), []

    def add(self, call: str, response: requests.Response | None) -> None:
        answer = Answer(time.monotonic(), call, 0)
        if response is not None:
            answer.status, answer.retry_after = response.status_code, response.headers.get("Retry-After")
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                answer.code = body.get("code", body.get("error")) if isinstance(body, dict) else None
        with self.lock:
            self.answers.append(answer)

    def not_ok(self) -> dict[str, int]:
        """How many answers of each call were not a 2xx, by status (0: no answer)."""
        with self.lock:
            counts = Counter(f"{a.call} {a.status}" for a in self.answers if not 200 <= a.status < 300)
        return dict(sorted(counts.items()))

    def server_errors(self) -> list[Answer]:
        with self.lock:
            return [answer for answer in self.answers if answer.status >= 500]


class HealthWatch(threading.Thread):
    """Polls /healthz until stopped, into the answer log."""

    def __init__(self, url: str, log: AnswerLog) -> None:
        super().__init__(daemon=True)
        self.url, self.log, self.done = url, log, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.log.add("healthz", requests.get(f"{self.url}/healthz", timeout=10))
            except requests.RequestException:
                self.log.add("healthz", None)  # no answer (e.g. gunicorn busy): not a 5xx
            self.done.wait(0.2)


class Callers(threading.Thread):
    """The service's clients during the blast: station sends, a tenant's one-mobile sends and
    root's charges, one every ``CALL_PACE_SECONDS``, each retried as the API documents until it is
    answered 2xx: after a 503's ``Retry-After``, at once when no answer came or the key is still
    held (409), always with the same ``Idempotency-Key``. A call answered anything else stops the
    callers (the test then fails on it)."""

    PLAN = ("station", "tenant", "station", "charge")

    def __init__(self, stack: ChaosStack, log: AnswerLog, sign: int, temp: int) -> None:
        super().__init__(daemon=True)
        self.stack, self.log, self.sign, self.temp = stack, log, sign, temp
        self.done = threading.Event()
        self.sent = {"station": 0, "tenant": 0, "charge": 0}
        self.refused: list[str] = []

    @staticmethod
    def planned(kind: str) -> int:
        return sum(1 for index in range(CALLS) if Callers.PLAN[index % len(Callers.PLAN)] == kind)

    def _call(self, name: str, method: str, path: str, **kwargs) -> dict | None:
        key = uuid.uuid4().hex
        headers = {**kwargs.pop("headers", {}), "Idempotency-Key": key}
        deadline = time.monotonic() + scaled(120)
        while time.monotonic() < deadline:
            try:
                response = requests.request(
                    method, f"{self.stack.url}{path}", headers=headers, timeout=30, **kwargs
                )
            except requests.RequestException:
                self.log.add(name, None)
                self.done.wait(0.5)
                continue
            self.log.add(name, response)
            if response.ok:
                return response.json()
            if response.status_code == 503 and response.headers.get("Retry-After"):
                self.done.wait(float(response.headers["Retry-After"]))
            elif response.status_code == 409:
                self.done.wait(0.5)
            else:
                self.refused.append(f"{name}: {response.status_code} {response.text[:300]}")
                return None
        self.refused.append(f"{name}: no 2xx within {scaled(120):.0f}s")
        return None

    def _station(self, index: int) -> bool:
        token = {"Authorization": f"Bearer {TOKEN}"}
        added = self._call(
            "station send/add",
            "POST",
            "/sms/send/add",
            headers=token,
            json={
                "station_id": STATION,
                "receive_phone": f"15{index:05d}5678",
                "business_type": 0,
                "sms_content": {"order_id": f"PL{index}", "sms_signature": "去采购"},
            },
        )
        if added is None or added.get("code") != 0:
            return False
        started = self._call(
            "station send/start",
            "POST",
            "/sms/send/start",
            headers=token,
            json={"task_id": added["data"]["task_id"]},
        )
        return started is not None and started.get("code") == 0

    def _tenant(self, index: int) -> bool:
        body = {
            "sign_id": self.sign,
            "temp_id": self.temp,
            "mobiles": [f"17{index:05d}4321"],
            "params": ["PL2"],
        }
        return self._call("v1/message", "POST", "/v1/message", auth=(TENANT, PASSWORD), json=body) is not None

    def _charge(self, index: int) -> bool:
        body = {"user": TENANT, "charge": 1}
        return self._call("v2/charge", "POST", "/v2/charge", auth=(ROOT, PASSWORD), json=body) is not None

    def run(self) -> None:
        calls: dict[str, Callable[[int], bool]] = {
            "station": self._station,
            "tenant": self._tenant,
            "charge": self._charge,
        }
        for index in range(CALLS):
            kind = self.PLAN[index % len(self.PLAN)]
            if not calls[kind](index):
                return
            self.sent[kind] += 1
            if self.done.wait(CALL_PACE_SECONDS):
                return


def _states(stack: ChaosStack) -> dict[str, int]:
    return dict(stack.query("SELECT state, COUNT(*) FROM tbl_sms_send_record GROUP BY state"))


def _in_flight(stack: ChaosStack) -> int:
    """Records a provider request is under way for or the provider took (awaiting its report)."""
    (count,) = stack.query(
        "SELECT COUNT(*) FROM tbl_sms_send_record WHERE state IN ('sending', 'submitted')"
    )[0]
    return int(count)


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (the worker's pool), from /proc."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


# Celery's control publishes through the app's default broker, which CELERY_BROKER_URL (the
# suite's) decides before any argument: the probe runs in a process of its own, on the stack's.
_INSPECT = (
    "import json; from celery import Celery; "
    "print(json.dumps(Celery('chaos-probe').control.inspect(timeout=1, limit=1).active() or {}))"
)


def _dispatching_child(stack: ChaosStack) -> int | None:
    """The pool process of the worker running a dispatch now (celery ``inspect active``)."""
    probe = subprocess.run(
        [str(BIN / "python"), "-c", _INSPECT],
        env={**os.environ, "CELERY_BROKER_URL": stack.redis.url(0)},
        capture_output=True,
        text=True,
        timeout=scaled(30),
        check=True,
    )
    for tasks in json.loads(probe.stdout).values():
        for task in tasks:
            if task.get("name") in DISPATCH_TASKS and task.get("worker_pid"):
                return int(task["worker_pid"])
    return None


def _dispatching_pool_process(stack: ChaosStack, pool: set[int]) -> int:
    """A pool process of the worker seen running a dispatch (waited for)."""
    seen: list[int] = []

    def holding_a_batch() -> bool:
        child = _dispatching_child(stack)
        if child is not None:
            seen.append(child)
        return child is not None

    assert poll(holding_a_batch, 20) and seen[-1] in pool, f"no pool process ran a dispatch: {pool}"
    return seen[-1]


def _strike(stack: ChaosStack, fault: str) -> tuple[float, float, dict]:
    """Inject ``fault``; returns (struck, recovered) as ``time.monotonic()`` values and what the
    fault showed: ``in_flight``, the records ``sending`` or ``submitted`` read just before it struck,
    and for a pool child the pool before and after."""
    worker = stack.processes["worker"]
    seen: dict = {}
    if fault in WORKER_FAULTS:
        # The kill must take a dispatch with it: strike while a pool process runs one.
        pool = _children(worker.pid)
        victim = _dispatching_pool_process(stack, pool)
    else:
        # Strike only while the service holds work between the provider and us.
        poll(lambda: _in_flight(stack) > 0, 10)
    seen["in_flight"] = _in_flight(stack)
    # Struck when the stop begins: a clean shutdown refuses connections while it runs.
    struck = time.monotonic()
    if fault in DATABASE_FAULTS:
        _, recovered = stack.db.restart(DOWN_SECONDS, crash=fault == "mariadb-kill")
    elif fault in ("redis-stop", "redis-kill"):
        _, recovered = stack.redis.restart(DOWN_SECONDS, crash=fault == "redis-kill")
    elif fault == "worker-kill":
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=scaled(30))
        stack.start_worker()
        recovered = time.monotonic()
    else:
        os.kill(victim, signal.SIGKILL)
        # The worker survives and forks a replacement: the pool is whole again.
        poll(lambda: len(_children(worker.pid) - {victim}) == len(pool), 30)
        recovered = time.monotonic()
        seen |= {"pool_before": sorted(pool), "killed": victim, "pool_after": sorted(_children(worker.pid))}
        assert worker.poll() is None, "the worker's main process died with its pool child"
        assert len(seen["pool_after"]) == len(pool) and victim not in seen["pool_after"], seen
    return struck, recovered, seen


def _account_books(stack: ChaosStack) -> dict[str, dict[str, int]]:
    """Each account's balance, the sum of its ledger, and its records not refunded."""
    (tenant_balance, tenant_id) = stack.query("SELECT balance_nums, id FROM tbl_sms_tenant_account")[0]
    (station_balance, station_id) = stack.query(
        "SELECT balance_nums, id FROM tbl_sms_statistics WHERE station_id = %s", STATION
    )[0]
    (tenant_ledger,) = stack.query(
        "SELECT COALESCE(SUM(delta), 0) FROM tbl_sms_balance_ledger WHERE tenant_id = %s", tenant_id
    )[0]
    (station_ledger,) = stack.query(
        "SELECT COALESCE(SUM(delta), 0) FROM tbl_sms_balance_ledger WHERE station_id = %s", station_id
    )[0]
    (tenant_billed,) = stack.query(
        "SELECT COUNT(*) FROM tbl_sms_send_record WHERE batch_id IS NOT NULL AND refunded = 0"
    )[0]
    (station_billed,) = stack.query(
        "SELECT COUNT(*) FROM tbl_sms_send_record WHERE batch_id IS NULL AND refunded = 0"
    )[0]
    return {
        "tenant": {"balance": tenant_balance, "ledger": int(tenant_ledger), "billed": tenant_billed},
        "station": {"balance": station_balance, "ledger": int(station_ledger), "billed": station_billed},
    }


def _reports_waiting(stack: ChaosStack) -> int:
    """Pushes stored but not applied yet, and reports that matched no record (yet)."""
    (inbox,) = stack.query("SELECT COUNT(*) FROM tbl_sms_push_inbox")[0]
    (pending,) = stack.query("SELECT COUNT(*) FROM tbl_sms_pending_report")[0]
    return int(inbox) + int(pending)


def _documented_database_down(answer: Answer, struck: float, recovered: float) -> bool:
    """The 503 the API documents while the database cannot be reached: the family's code with a
    ``Retry-After``, answered while it was down (or as the first request after, on a connection
    that broke with it)."""
    return (
        answer.status == 503
        and bool(answer.retry_after)
        and answer.code in DATABASE_DOWN.values()
        and struck <= answer.at <= recovered + scaled(10)
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_mid_blast_loses_nothing_and_sends_nothing_twice(chaos, fault):
    stack = chaos
    _launch(stack, **SWEEPS[fault])
    sign, temp = _accounts_ready(stack)
    log = AnswerLog()
    watch = HealthWatch(stack.url, log)
    watch.start()
    callers = Callers(stack, log, sign, temp)
    half = RECIPIENTS // 2
    started = time.monotonic()
    callers.start()
    for offset in (0, half):
        mobiles = [f"13{index:05d}1234" for index in range(offset, offset + half)]
        answer = requests.post(
            f"{stack.url}/v1/message",
            auth=(TENANT, PASSWORD),
            json={"sign_id": sign, "temp_id": temp, "mobiles": mobiles, "params": ["PL1"]},
            timeout=scaled(120),
        )
        log.add("v1/message blast", answer)
        assert answer.status_code == 200, answer.text
    accepted = time.monotonic()
    time.sleep(max(0.0, FAULT_AFTER_SECONDS - (accepted - started)))  # the blast under way
    struck, recovered, seen = _strike(stack, fault)
    in_flight_at_fault = seen.pop("in_flight")

    callers.join(timeout=scaled(180))
    total = RECIPIENTS + callers.sent["station"] + callers.sent["tenant"]

    def settled() -> bool:
        states = _states(stack)
        return states.get("delivered", 0) + states.get("failed", 0) == total and _reports_waiting(stack) == 0

    poll(settled, FINAL_WITHIN_SECONDS, interval=0.5)
    finished = time.monotonic()
    watch.done.set()
    watch.join(timeout=scaled(30))
    stats = requests.get(f"{stack.sim}/_sim/stats", timeout=10).json()
    sim = {
        key: sum(stats.get(provider, {}).get(key, 0) for provider in ("gateway", "tencent"))
        for key in (
            "numbers",
            "distinct_numbers",
            "duplicated_numbers",
            "reports_pushed",
            "reports_acknowledged",
        )
    }
    states = _states(stack)
    final = states.get("delivered", 0) + states.get("failed", 0)
    server_errors = log.server_errors()
    undocumented = [
        answer for answer in server_errors if not _documented_database_down(answer, struck, recovered)
    ]
    books = _account_books(stack)
    charged = RECIPIENTS + Callers.planned("tenant") + callers.sent["charge"]
    result = {
        "fault": fault,
        "recipients": RECIPIENTS,
        "caller_sends": {**callers.sent},
        "records": total,
        "down_seconds": DOWN_SECONDS if fault not in WORKER_FAULTS else 0,
        "accept_seconds": round(accepted - started, 1),
        "in_flight_at_fault": in_flight_at_fault,
        "recovery_seconds": round(recovered - struck, 1),
        "final_after_recovery_seconds": round(finished - recovered, 1),
        "states": states,
        "simulator": sim,
        "lost": total - final,
        "answers": len(log.answers),
        "answers_not_2xx": log.not_ok(),
        "server_errors": len(server_errors),
        "documented_503": len(server_errors) - len(undocumented),
        # Seconds after the strike (the database answered again at recovery_seconds).
        "documented_503_at": [round(a.at - struck, 1) for a in server_errors if a not in undocumented],
        "undocumented_5xx": [f"{a.call} {a.status} {a.code}" for a in undocumented],
        "books": books,
        **({"pool": seen} if seen else {}),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{fault}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))

    assert in_flight_at_fault > 0, "the fault struck with nothing sending or submitted: it proves nothing"
    assert not callers.refused, callers.refused
    assert callers.sent["station"] + callers.sent["tenant"] + callers.sent["charge"] == CALLS
    assert final == total, f"{result}\n{stack.log('worker')}\n{stack.log('web')}"
    assert _reports_waiting(stack) == 0, result
    assert sim["duplicated_numbers"] == 0 and sim["distinct_numbers"] == sim["numbers"], result
    if fault in WORKER_FAULTS:
        # Every number a provider took was delivered; only numbers none received may have failed
        # (never resent: the gateway is not trusted to drop a repeated taskId).
        expected = {"delivered": sim["numbers"], "failed": total - sim["numbers"]}
        assert states == {state: count for state, count in expected.items() if count}, result
    else:
        assert states == {"delivered": total} and sim["numbers"] == total, result
    # Every report pushed was acknowledged (stored), and applied: the inbox and pending are empty.
    assert sim["reports_pushed"] == sim["reports_acknowledged"] == sim["numbers"], result
    assert not undocumented, result
    if fault not in DATABASE_FAULTS:
        assert not server_errors, result
    tenant, station = books["tenant"], books["station"]
    assert tenant["balance"] == tenant["ledger"] == charged - tenant["billed"], result
    assert station["balance"] == station["ledger"] == Callers.planned("station") - station["billed"], result

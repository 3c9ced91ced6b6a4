"""Benchmark 7: lanes and fair turns (issue 31). A verify code must not wait behind a blast, nor a
second tenant's notice behind the first tenant's blast, and the lanes must not cost the blast its
throughput.

    .venv/bin/python -m bench.lanes                    # a 150,000-recipient blast (about 12 minutes)
    .venv/bin/python -m bench.lanes --blast 1000000    # the issue's size
    .venv/bin/python -m bench.lanes --smoke            # tiny sizes, for the test suite

The stack is ``make run``'s shape on the harness: gunicorn for the APIs, a second gunicorn for the
provider pushes (the intake, where nginx sends ``/providers/`` and ``/sms/callback``; the simulator
pushes there), beat, the simulator answering every provider request after ``--latency-ms`` (1 s, a
slow real gateway, as the issue measured) and pushing each report ``REPORT_DELAY_MS`` later, one
report a request (seed 002; ``--push-batch N``: arrays), and the workers in one of two shapes:

- **lanes**: a worker per lane, as ``make run`` starts them: ``sms_priority`` (``--priority``, 2
  processes), ``sms_bulk`` (``--bulk``, 2), and one for ``default``, ``sms_transactional`` and
  ``sms_reports`` (``--rest``, 2), which here takes ``sms_webhooks`` too (``make run`` gives it a
  worker of its own; no webhook is sent here);
- **before**: one worker consuming every queue with the same total concurrency (6), the shape
  before the lanes' workers: any process takes whatever comes next.

The runs, in order:

1. lanes, idle: ``--codes`` station verify codes (business type 2: Tencent, the priority lane),
   ``--code-clients`` at a time, each client sending its next code once the last was handed over
   (a closed loop as wide as the priority lane: the codes never queue behind each other); then
   ``--notices`` messages of a second tenant, one at a time: a 10-number notice (the
   transactional lane) and a 150-number message (over ``SMS_BULK_LANE_THRESHOLD``: the bulk lane,
   where it takes its turn beside a blast's batches).
2. lanes, a single-report push storm: wrk posting ``--storm`` gateway reports at
   ``--storm-connections`` to the intake, one report a request (``bench.intake``'s storm, on
   records seeded as submitted), while the codes run as in 1 until wrk ends.
3. lanes, a blast: the first tenant's ``--blast`` recipients as ``v1/message`` calls of 10,000
   (``bench.bulk_send``'s client); once the first call is accepted the codes and the second
   tenant's messages run as in 1, until every record of the blast has been handed to the provider.
4. before (``--before-concurrency``: another total), the same blast with the same codes and
   messages beside it.

After each blast has been handed over the run waits until every record of it is final (its
reports applied; ``--no-final`` does not), as ``bench.bulk_send`` does.

A code's latency is from just before its ``send/start`` to its record's ``submitted_at``, written
when the provider answered its request: it includes the simulator's ``--latency-ms`` (the
simulator keeps no time of receipt); ``pipeline`` is the part from the record's ``queued_at``
(written in ``send/start``'s transaction), without the web's time. A message's is from just before
its ``v1/message`` to the last of its records' ``submitted_at``. Both clocks are this machine's.
The blast's throughput is its recipients over the time from its first call to its last record's
``submitted_at`` (handed to the provider: what the lanes can change) and to its last record final
(its reports, one a request, applied: what ``bench.bulk_send`` reports).

Goals (reported, never raised): codes' p99 during the blast and during the storm within 0.5 s of
the idle p99; the second tenant's 10-number notice's p99 during the blast within 2 s of idle; the
blast's throughput with lanes at least 95 % of the before shape's, to final and to hand-off. The
run exits 1 only when a number reached the simulator twice, a code or message was never handed
over, or a blast's records did not all become final (correctness problems).

Results: ``bench/results/lanes-r<blast>.json`` (the blast's size always named), then what is not
the default (``-latency<N>ms``, ``-codes<N>``, ``-cc<N>``, ``-notices<N>``, ``-storm<N>``,
``-sc<N>``, ``-lanes<P>x<B>x<R>``, ``-push<N>``, ``-batch<N>``, ``-nobefore`` or ``-before<N>``,
``-nofinal``); ``--smoke`` writes ``var/bench/lanes.json``. Logs:
``var/bench/lanes-{lanes,before}-<process>.log``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import requests

from bench import bulk_send, harness, intake

DEFAULT_BLAST = 150_000
DEFAULT_CODES = 200
DEFAULT_CODE_CLIENTS = 2
DEFAULT_NOTICES = 20
DEFAULT_LATENCY_MS = 1000
DEFAULT_STORM = 50_000
DEFAULT_STORM_CONNECTIONS = 32
DEFAULT_LANES = (2, 2, 2)  # priority, bulk, the rest
DEFAULT_PUSH_BATCH = 1
REPORT_DELAY_MS = 200.0
INTAKE_WORKERS = 2  # make run's INTAKE_CONCURRENCY
NOTICE_SIZE = 10
BULK_MESSAGE_SIZE = 150  # over SMS_BULK_LANE_THRESHOLD (100): the bulk lane, by the second tenant
SMOKE = {"blast": 3_000, "codes": 10, "notices": 2, "storm": 500, "latency_ms": 200, "batch_limit": 500}

STATION = "L0001"
SECOND_USER, SECOND_PASSWORD = "bench_lanes_b", "bench-lanes-password-1"
NOTICE_TEMPLATE = "您的订单{1}已发货。"
CODE_CONTENT = {"verify_code": "1234", "sms_signature": "去采购"}
REST_QUEUES = "default,sms_transactional,sms_reports,sms_webhooks"
ALL_QUEUES = "default,sms_priority,sms_transactional,sms_bulk,sms_reports,sms_webhooks"
POLL_S = 0.05  # a client waits this long between looks at its last code or message
HANDOVER_TIMEOUT_S = 300.0  # a code or message not handed over within this is counted lost
FINAL = ("delivered", "failed")
EXTRA_TABLES = ("tbl_sms_statistics", "tbl_sms_recharge_record", "tbl_idempotency_key")


@dataclass(frozen=True)
class Config:
    """What a run measures and on what (recorded with its figures)."""

    blast: int = DEFAULT_BLAST
    codes: int = DEFAULT_CODES
    code_clients: int = DEFAULT_CODE_CLIENTS
    notices: int = DEFAULT_NOTICES
    latency_ms: int = DEFAULT_LATENCY_MS
    storm: int = DEFAULT_STORM
    storm_connections: int = DEFAULT_STORM_CONNECTIONS
    priority: int = DEFAULT_LANES[0]
    bulk: int = DEFAULT_LANES[1]
    rest: int = DEFAULT_LANES[2]
    push_batch: int = DEFAULT_PUSH_BATCH
    batch_limit: int | None = None  # the gateway's numbers per request; None: its setting (3,000)
    before: bool = True
    before_concurrency: int | None = None  # None: the lanes' total
    final: bool = True  # wait for every record of the blast to be final

    @property
    def total_concurrency(self) -> int:
        return self.priority + self.bulk + self.rest

    @property
    def before_processes(self) -> int:
        return self.before_concurrency or self.total_concurrency

    def suffix(self) -> str:
        """The results file's name after ``lanes``: the blast's size, then every other option that
        is not the default."""
        parts = [f"r{self.blast}"]
        if self.latency_ms != DEFAULT_LATENCY_MS:
            parts.append(f"latency{self.latency_ms}ms")
        if self.codes != DEFAULT_CODES:
            parts.append(f"codes{self.codes}")
        if self.code_clients != DEFAULT_CODE_CLIENTS:
            parts.append(f"cc{self.code_clients}")
        if self.notices != DEFAULT_NOTICES:
            parts.append(f"notices{self.notices}")
        if self.storm != DEFAULT_STORM:
            parts.append(f"storm{self.storm}")
        if self.storm_connections != DEFAULT_STORM_CONNECTIONS:
            parts.append(f"sc{self.storm_connections}")
        if (self.priority, self.bulk, self.rest) != DEFAULT_LANES:
            parts.append(f"lanes{self.priority}x{self.bulk}x{self.rest}")
        if self.push_batch != DEFAULT_PUSH_BATCH:
            parts.append(f"push{self.push_batch}")
        if self.batch_limit is not None:
            parts.append(f"batch{self.batch_limit}")
        if not self.before:
            parts.append("nobefore")
        elif self.before_concurrency is not None and self.before_concurrency != self.total_concurrency:
            parts.append(f"before{self.before_concurrency}")
        if not self.final:
            parts.append("nofinal")
        return "".join(f"-{part}" for part in parts)

    def describe(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "push_shape": bulk_send.push_shape(self.push_batch),
            "report_delay_ms": REPORT_DELAY_MS,
            "intake_workers": INTAKE_WORKERS,
            "notice_size": NOTICE_SIZE,
            "bulk_message_size": BULK_MESSAGE_SIZE,
            "shapes": {
                "lanes": {
                    "sms_priority": self.priority,
                    "sms_bulk": self.bulk,
                    REST_QUEUES: self.rest,
                },
                "before": {ALL_QUEUES: self.before_processes},
            },
        }


# --- numbers: each kind its own range, so the simulator's counts tell them apart ----------------


class Numbers:
    """Distinct mainland numbers of one kind (``prefix`` and seven digits, ending in 3: none of
    the simulator's fault suffixes), handed out in order across threads."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.next, self.lock = prefix, 0, threading.Lock()

    def take(self, count: int = 1) -> list[str]:
        with self.lock:
            start, self.next = self.next, self.next + count
        return [f"{self.prefix}{index:07d}3" for index in range(start, start + count)]


# --- seeding ---------------------------------------------------------------------------------------


@dataclass
class Seeded:
    sign_id: int  # the blasting tenant's (bench_bulk)
    temp_id: int
    second_sign_id: int
    second_temp_id: int
    storm: dict[str, Any]


def seed(config: Config, *, storm: int) -> Seeded:
    """Empty the tables; the blasting tenant (``bench.bulk_send``'s), a second tenant, the station
    the codes are sent for, and ``storm`` submitted gateway records for the storm's reports."""
    from django.contrib.auth import get_user_model

    from signatures import services as signature_services
    from sms.station_api.services import recharge_station
    from sms.tenant_api.services import charge_tenant
    from templates_mgmt import services as template_services

    _user, sign_id, temp_id = bulk_send.seed(balance=config.blast)
    stormed = intake.seed_records(storm)  # empties the records, the day rows, the inbox
    harness.truncate(*EXTRA_TABLES)
    second, _ = get_user_model().objects.get_or_create(username=SECOND_USER)
    second.set_password(SECOND_PASSWORD)
    second.is_active = True
    second.save()
    sign = signature_services.create_signature(owner=second, signature="去采购", source="营业执照")
    sign = signature_services.review_signature(sign_id=sign.pk, audit_status="passed")
    template = template_services.create_template(
        owner=second,
        name="发货通知",
        template=NOTICE_TEMPLATE,
        template_type=2,
        description="lanes benchmark",
        sign_id=sign.pk,
    )
    template = template_services.review_template(temp_id=template.pk, audit_status="passed")
    charge_tenant(username=SECOND_USER, charge=4 * config.notices * (NOTICE_SIZE + BULK_MESSAGE_SIZE) + 1)
    codes = 4 * config.codes + 1
    recharge_station(
        station_id=STATION,
        combo_id=4,  # the custom combo
        recharge_nums=codes,
        recharge_money=Decimal(codes) / 10,
        operator_name="bench",
    )
    return Seeded(sign_id, temp_id, sign.pk, template.pk, stormed)


# --- the stack -------------------------------------------------------------------------------------


@dataclass
class LaneStack:
    stack: harness.Stack
    intake_url: str
    workers: list[str]
    shape: str


def environment(stack: harness.Stack, config: Config) -> dict[str, str]:
    extra = {"GATEWAY_SMS_BATCH_LIMIT": str(config.batch_limit)} if config.batch_limit else {}
    return harness.base_environment(stack.web_port, stack.sim_port, **extra)


def start_workers(stack: harness.Stack, env: dict[str, str], config: Config, shape: str) -> list[str]:
    """The shape's worker nodes, each with a name of its own; returns their stack names."""
    if shape == "lanes":
        nodes = [
            ("priority", "sms_priority", config.priority),
            ("bulk", "sms_bulk", config.bulk),
            ("rest", REST_QUEUES, config.rest),
        ]
    else:
        nodes = [("worker", ALL_QUEUES, config.before_processes)]
    for name, queues, concurrency in nodes:
        harness.start_workers(
            stack,
            env,
            concurrency=concurrency,
            prefix=name,
            extra=("--queues", queues, "--hostname", f"{name}@%h"),
        )
    return [name for name, _, _ in nodes]


def configure_simulator(stack: harness.Stack, config: Config, intake_url: str) -> None:
    """Forget what the simulator received; its latency, report delay and push batch; its pushes to
    the intake (as nginx routes them under make run)."""
    requests.post(f"{stack.sim_url}/_sim/reset", timeout=10).raise_for_status()
    token = harness.CALLBACK_TOKEN
    settings = {
        "latency_ms": config.latency_ms,
        "report_delay_ms": REPORT_DELAY_MS,
        "gateway_push_batch": config.push_batch,
        "push": True,
        "push_targets": {
            "tencent": {"status": f"{intake_url}/sms/callback?token={token}"},
            "gateway": {"status": f"{intake_url}/providers/gateway/status?token={token}"},
        },
    }
    requests.post(f"{stack.sim_url}/_sim/config", json=settings, timeout=10).raise_for_status()


@contextmanager
def lane_stack(config: Config, shape: str) -> Iterator[LaneStack]:
    with harness.running_stack(
        worker=False,
        simulator=True,
        push_batch=config.push_batch,
        **({"GATEWAY_SMS_BATCH_LIMIT": str(config.batch_limit)} if config.batch_limit else {}),
    ) as stack:
        env = environment(stack, config)
        port = harness.free_port()
        stack.start("intake", [*harness.gunicorn_command(port), "--workers", str(INTAKE_WORKERS)], env)
        intake_url = f"http://127.0.0.1:{port}"
        harness.wait_for_http(f"{intake_url}/healthz")
        workers = start_workers(stack, env, config, shape)
        bulk_send.start_beat(stack, harness.BENCH_BROKER)
        bulk_send.wait_for_workers(len(workers))
        configure_simulator(stack, config, intake_url)
        try:
            yield LaneStack(stack, intake_url, workers, shape)
        finally:
            stack.stop()
            bulk_send.keep_logs(stack, f"lanes-{shape}")


def rss_roles(workers: list[str]) -> dict[str, tuple[str, str]]:
    return {
        "web": ("master", "worker"),
        "intake": ("master", "worker"),
        **{name: ("main", "pool") for name in workers},
        "beat": ("main", "child"),
    }


# --- the clients -----------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, Any]:
    """n, p50, p99 (nearest rank), max and mean, in seconds."""
    if not values:
        return {"n": 0, "p50_s": None, "p99_s": None, "max_s": None, "mean_s": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 3)

    return {
        "n": len(ordered),
        "p50_s": rank(0.50),
        "p99_s": rank(0.99),
        "max_s": round(ordered[-1], 3),
        "mean_s": round(sum(ordered) / len(ordered), 3),
    }


def handed_over(record_ids: list[int]) -> bool:
    """Whether every record has had its provider's answer (``submitted_at``), or is final."""
    from sms.models import SendRecord

    return not (
        SendRecord.objects.filter(pk__in=record_ids, submitted_at__isnull=True)
        .exclude(state__in=FINAL)
        .exists()
    )


def wait_handed_over(record_ids: list[int]) -> bool:
    deadline = time.monotonic() + HANDOVER_TIMEOUT_S
    while not handed_over(record_ids):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


class Load:
    """Client threads that send until ``stop`` is set or their count is reached; each keeps
    ``(record ids, the time before its request)`` of what it sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[int], float]] = []
        self.lost = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, clients: int, loop: Callable[[], None]) -> Load:
        def run() -> None:
            from django.db import connection

            try:
                loop()
            except Exception as exc:  # noqa: BLE001 - a client reports what broke; the run goes on
                with self.lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            finally:
                connection.close()

        self.threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> None:
        """Until every client has sent its count (or stopped)."""
        for thread in self.threads:
            thread.join(timeout=None)

    def finish(self) -> None:
        self.stop.set()
        self.join()

    def timings(self) -> dict[str, Any]:
        return timings(self.sent)


def timings(sent: list[tuple[list[int], float]]) -> dict[str, Any]:
    """The percentiles of the seconds from each request to the last ``submitted_at`` of its
    records (the headline), and of the pipeline's part alone (``pipeline``: from the records'
    ``queued_at``, written in the request's transaction, so the web's time is left out)."""
    from django.db.models import Max, Min

    from sms.models import SendRecord

    latency, pipeline = [], []
    for ids, began in sent:
        times = SendRecord.objects.filter(pk__in=ids).aggregate(
            last=Max("submitted_at"), queued=Min("queued_at")
        )
        if times["last"] is not None:
            latency.append(times["last"].timestamp() - began)
            if times["queued"] is not None:
                pipeline.append((times["last"] - times["queued"]).total_seconds())
    return {**percentiles(latency), "pipeline": percentiles(pipeline)}


class Codes(Load):
    """Station verify codes, ``clients`` at a time, each client's next sent once its last one was
    handed over; at most ``count``."""

    def __init__(self, url: str, numbers: Numbers, count: int, clients: int) -> None:
        super().__init__()
        self.url, self.numbers, self.count = url, numbers, count
        self.taken = 0
        self.start(clients, self._loop)

    def _claim(self) -> bool:
        with self.lock:
            if self.stop.is_set() or self.taken >= self.count:
                return False
            self.taken += 1
            return True

    def _loop(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {harness.SERVICE_TOKEN}"
        while self._claim():
            [phone] = self.numbers.take()
            body = {
                "station_id": STATION,
                "receive_phone": phone,
                "business_type": 2,
                "sms_content": CODE_CONTENT,
            }
            added = session.post(f"{self.url}/sms/send/add", json=body, timeout=60).json()
            if added.get("code") != 0:
                raise RuntimeError(f"send/add answered {added}")
            task_id = added["data"]["task_id"]
            began = time.time()
            started = session.post(f"{self.url}/sms/send/start", json={"task_id": task_id}, timeout=60).json()
            if started.get("code") != 0:
                raise RuntimeError(f"send/start answered {started}")
            with self.lock:
                self.sent.append(([task_id], began))
            if not wait_handed_over([task_id]):
                with self.lock:
                    self.lost += 1


class Messages(Load):
    """The second tenant's messages, one at a time, alternating a 10-number notice (the
    transactional lane) and a 150-number message (the bulk lane); ``count`` of each at most."""

    KINDS = {"notice10": NOTICE_SIZE, f"bulk{BULK_MESSAGE_SIZE}": BULK_MESSAGE_SIZE}

    def __init__(self, url: str, seeded: Seeded, numbers: Numbers, count: int) -> None:
        super().__init__()
        self.url, self.seeded, self.numbers, self.count = url, seeded, numbers, count
        self.by_kind: dict[str, list[tuple[list[int], float]]] = {kind: [] for kind in self.KINDS}
        self.start(1, self._loop)

    def _loop(self) -> None:
        from sms.models import SendRecord

        session = requests.Session()
        session.auth = (SECOND_USER, SECOND_PASSWORD)
        for _ in range(self.count):
            for kind, size in self.KINDS.items():
                if self.stop.is_set():
                    return
                body = {
                    "sign_id": self.seeded.second_sign_id,
                    "temp_id": self.seeded.second_temp_id,
                    "mobiles": self.numbers.take(size),
                    "params": ["PL7"],
                }
                began = time.time()
                answer = session.post(f"{self.url}/v1/message", json=body, timeout=60)
                if answer.status_code != 200:
                    raise RuntimeError(f"v1/message answered {answer.status_code}: {answer.text[:300]}")
                ids = list(
                    SendRecord.objects.filter(batch__uuid=answer.json()["uuid"]).values_list("id", flat=True)
                )
                with self.lock:
                    self.sent.append((ids, began))
                    self.by_kind[kind].append((ids, began))
                if not wait_handed_over(ids):
                    with self.lock:
                        self.lost += 1

    def figures(self) -> dict[str, Any]:
        return {kind: timings(sent) for kind, sent in self.by_kind.items()}


def code_figures(codes: Codes) -> dict[str, Any]:
    return {**codes.timings(), "lost": codes.lost, "errors": codes.errors}


def message_figures(messages: Messages) -> dict[str, Any]:
    return {**messages.figures(), "lost": messages.lost, "errors": messages.errors}


# --- the phases ------------------------------------------------------------------------------------


class Machine:
    """The load average and the whole machine's busy CPU over a phase: the two cores may be shared
    with other work, whose share shows as ``other_cpu_s`` beside the stack's own."""

    def __init__(self, rss: harness.RssSampler) -> None:
        self.rss = rss

    def __enter__(self) -> Machine:
        self.load_before = os.getloadavg()
        self.busy_before = intake.machine_busy_seconds()
        self.rss.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.rss.__exit__(*exc)
        self.busy = intake.machine_busy_seconds() - self.busy_before
        self.load_after = os.getloadavg()

    def report(self) -> dict[str, Any]:
        cpu = self.rss.cpu_report()
        ours = sum(cpu["by_name"].values()) + sum(cpu["services"].values()) + cpu["client"]
        return {
            "cpu_s": cpu,
            "loadavg_before": [round(value, 2) for value in self.load_before],
            "loadavg_after": [round(value, 2) for value in self.load_after],
            "busy_cpu_s": round(self.busy, 1),
            "other_cpu_s": round(self.busy - ours, 1),
        }


def measured(ls: LaneStack) -> Machine:
    return Machine(harness.RssSampler(ls.stack, rss_roles(ls.workers)))


def idle_phase(ls: LaneStack, config: Config, seeded: Seeded, numbers: dict[str, Numbers]) -> dict[str, Any]:
    print(f"  idle: {config.codes} codes, then {config.notices} messages of each kind", flush=True)
    with measured(ls) as machine:
        codes = Codes(ls.stack.url, numbers["codes"], config.codes, config.code_clients)
        codes.join()
    with measured(ls) as message_machine:
        messages = Messages(ls.stack.url, seeded, numbers["messages"], config.notices)
        messages.join()
    return {
        "codes": code_figures(codes),
        "messages": message_figures(messages),
        "machine": machine.report(),
        "messages_machine": message_machine.report(),
    }


def storm_phase(ls: LaneStack, config: Config, seeded: Seeded, numbers: dict[str, Numbers]) -> dict[str, Any]:
    print(f"  storm: {config.storm:,} single-report pushes, codes beside them", flush=True)
    pairs = harness.OUTPUT_DIR / "lanes-storm-pairs.txt"
    intake.write_pairs(config.storm, pairs)
    wrk: dict[str, Any] = {}

    def push() -> None:
        wrk.update(
            intake.run_wrk(
                f"{ls.intake_url}/providers/gateway/status",
                pairs=pairs,
                connections=config.storm_connections,
                max_seconds=600,
            )
        )

    with measured(ls) as machine:
        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        codes = Codes(ls.stack.url, numbers["codes"], config.codes, config.code_clients)
        pusher.join()
        codes.finish()
    applied, applied_s = storm_applied(config.storm)
    return {
        "wrk": wrk,
        "storm_applied": applied,
        "storm_applied_after_wrk_s": applied_s,
        "codes": code_figures(codes),
        "machine": machine.report(),
    }


def storm_applied(total: int, timeout: float = 300.0) -> tuple[bool, float]:
    """Whether the storm's records were all delivered (the inbox drained) within ``timeout``."""
    from sms.models import SendRecord

    began = time.monotonic()
    storm = SendRecord.objects.filter(station_id__startswith="I", provider="gateway")
    while storm.filter(state="delivered").count() < total:
        if time.monotonic() - began > timeout:
            return False, round(time.monotonic() - began, 2)
        time.sleep(0.5)
    return True, round(time.monotonic() - began, 2)


def blast_phase(ls: LaneStack, config: Config, seeded: Seeded, numbers: dict[str, Numbers]) -> dict[str, Any]:
    """The blast's calls from one client; the codes and the second tenant's messages from its first
    answer until every record of the blast has been handed to the provider."""
    from django.db.models import Max

    from sms.models import SendRecord

    print(f"  blast ({ls.shape}): {config.blast:,} recipients, codes and messages beside it", flush=True)
    plan = bulk_send.call_plan(config.blast, bulk_send.default_calls(config.blast))
    first_accepted = threading.Event()
    posted: dict[str, Any] = {}

    def post() -> None:
        try:
            posted["calls"] = bulk_send.post_calls(
                ls.stack.url,
                plan,
                threads=1,
                sign_id=seeded.sign_id,
                temp_id=seeded.temp_id,
                on_accepted=lambda _uuid: first_accepted.set(),
            )
        except Exception as exc:  # noqa: BLE001 - raised again in the main thread
            posted["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            first_accepted.set()

    with measured(ls) as machine:
        began, began_monotonic = time.time(), time.monotonic()
        poster = threading.Thread(target=post, daemon=True)
        poster.start()
        first_accepted.wait()
        codes = Codes(ls.stack.url, numbers["codes"], config.codes, config.code_clients)
        messages = Messages(ls.stack.url, seeded, numbers["messages"], config.notices)
        poster.join()
        if "error" in posted:
            codes.finish()
            messages.finish()
            raise RuntimeError(posted["error"])
        accepted_s = time.monotonic() - began_monotonic
        batch_ids = bulk_send.batch_ids_of(posted["calls"].uuids)
        blast = SendRecord.objects.filter(batch_id__in=batch_ids)
        unsent = blast.filter(state__in=bulk_send.UNSENT)
        deadline = time.monotonic() + bulk_send.deadline_for(config.blast)
        while unsent.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        drained = not unsent.exists()
        codes.finish()
        messages.finish()
        states = bulk_send.state_counts(batch_ids)
        progress = (
            bulk_send.wait_until_final(
                batch_ids, config.blast, began_monotonic, bulk_send.deadline_for(config.blast)
            )
            if config.final
            else None
        )
        final_s = time.monotonic() - began_monotonic
    last = blast.aggregate(last=Max("submitted_at"))["last"]
    handoff_s = (last.timestamp() - began) if last is not None else None
    complete = progress is not None and progress["complete"]
    return {
        "shape": ls.shape,
        "recipients": config.blast,
        "calls": len(plan),
        "accepted_s": round(accepted_s, 2),
        "handed_over": drained,
        "handoff_s": round(handoff_s, 2) if handoff_s else None,
        "recipients_per_s": round(config.blast / handoff_s, 1) if handoff_s else None,
        "states_at_handoff": states,
        "final_at_handoff": sum(states.get(state, 0) for state in FINAL),
        "final": progress,
        "final_s": round(final_s, 2) if complete else None,
        "final_recipients_per_s": round(config.blast / final_s, 1) if complete else None,
        "states": bulk_send.state_counts(batch_ids),
        "codes": code_figures(codes),
        "messages": message_figures(messages),
        "machine": machine.report(),
    }


def simulator_counts(ls: LaneStack) -> dict[str, Any]:
    stats = requests.get(f"{ls.stack.sim_url}/_sim/stats", timeout=10).json()
    return {
        provider: {
            key: stats[provider][key]
            for key in ("requests", "numbers", "distinct_numbers", "duplicated_numbers")
        }
        for provider in sorted(stats)
    }


def lanes_run(config: Config) -> dict[str, Any]:
    seeded = seed(config, storm=config.storm)
    numbers = {"codes": Numbers("150"), "messages": Numbers("170")}
    with lane_stack(config, "lanes") as ls:
        idle = idle_phase(ls, config, seeded, numbers)
        storm = storm_phase(ls, config, seeded, numbers)
        blast = blast_phase(ls, config, seeded, numbers)
        simulator = simulator_counts(ls)
    return {
        "seeded_storm": seeded.storm,
        "idle": idle,
        "storm": storm,
        "blast": blast,
        "simulator": simulator,
    }


def before_run(config: Config) -> dict[str, Any]:
    seeded = seed(config, storm=0)
    numbers = {"codes": Numbers("151"), "messages": Numbers("171")}
    with lane_stack(config, "before") as ls:
        blast = blast_phase(ls, config, seeded, numbers)
        simulator = simulator_counts(ls)
    return {"blast": blast, "simulator": simulator}


# --- figures ---------------------------------------------------------------------------------------


def within(value: float | None, reference: float | None, margin: float) -> bool:
    return value is not None and reference is not None and value <= reference + margin


def goals_of(result: dict[str, Any]) -> dict[str, Any]:
    lanes = result["lanes"]
    idle_codes = lanes["idle"]["codes"]["p99_s"]
    idle_notice = lanes["idle"]["messages"]["notice10"]["p99_s"]
    goals = {}
    for phase in ("blast", "storm"):
        p99 = lanes[phase]["codes"]["p99_s"]
        goals[f"codes p99 during the {phase}"] = bulk_send.goal(
            p99, f"<= idle p99 {idle_codes} + 0.5 s", lambda p99=p99: within(p99, idle_codes, 0.5)
        )
    notice = lanes["blast"]["messages"]["notice10"]["p99_s"]
    goals["second tenant's notice p99 during the blast"] = bulk_send.goal(
        notice, f"<= idle p99 {idle_notice} + 2 s", lambda: within(notice, idle_notice, 2.0)
    )
    before = result.get("before")
    if before is not None:
        for label, key in (("to final", "final_recipients_per_s"), ("to hand-off", "recipients_per_s")):
            ours, theirs = lanes["blast"][key], before["blast"][key]
            ratio = round(ours / theirs, 3) if ours and theirs else None
            goals[f"blast throughput {label}, lanes / before"] = bulk_send.goal(
                ratio, ">= 0.95", lambda ratio=ratio: ratio is not None and ratio >= 0.95
            )
    return goals


def correctness(result: dict[str, Any], config: Config) -> list[str]:
    """What went wrong that is not a time: a number sent twice, a code or message lost or refused,
    a blast not handed over."""
    problems = []
    for run_name in ("lanes", "before"):
        run = result.get(run_name)
        if run is None:
            continue
        for provider, counts in run["simulator"].items():
            if counts["duplicated_numbers"]:
                problems.append(
                    f"{run_name}: {counts['duplicated_numbers']} number(s) sent twice to {provider}"
                )
        if not run["blast"]["handed_over"]:
            problems.append(f"{run_name}: the blast was not all handed to the provider")
        if config.final and not (run["blast"]["final"] or {}).get("complete"):
            problems.append(f"{run_name}: the blast's records were not all final: {run['blast']['states']}")
        phases = [run["blast"]] + ([run["idle"], run["storm"]] if run_name == "lanes" else [])
        for phase in phases:
            for load in ("codes", "messages"):
                figures = phase.get(load)
                if figures and (figures["lost"] or figures["errors"]):
                    problems.append(f"{run_name}: {load}: {figures['lost']} lost, errors {figures['errors']}")
    return problems


def row(figures: dict[str, Any]) -> str:
    text = (
        f"n {figures['n']:>4}  p50 {figures['p50_s']!s:>6} s  p99 {figures['p99_s']!s:>6} s"
        f"  max {figures['max_s']!s:>6} s"
    )
    pipeline = figures.get("pipeline")
    if pipeline:
        text += f"  (from queued_at: p50 {pipeline['p50_s']} s, p99 {pipeline['p99_s']} s)"
    return text


def print_result(result: dict[str, Any]) -> None:
    lanes, before = result["lanes"], result.get("before")
    print()
    print(
        "  configuration: "
        + ", ".join(f"{k} {v}" for k, v in result["configuration"].items() if k != "shapes")
    )
    print("\n  verify code, send/start to submitted_at (includes the simulator's latency):")
    for label, phase in (
        ("idle", lanes["idle"]),
        ("push storm", lanes["storm"]),
        ("blast, lanes", lanes["blast"]),
    ):
        print(f"    {label:<16} {row(phase['codes'])}")
    if before is not None:
        print(f"    {'blast, before':<16} {row(before['blast']['codes'])}")
    print("\n  second tenant's messages, v1/message to the last submitted_at:")
    for kind in Messages.KINDS:
        print(f"    {kind + ' idle':<24} {row(lanes['idle']['messages'][kind])}")
        print(f"    {kind + ' blast, lanes':<24} {row(lanes['blast']['messages'][kind])}")
        if before is not None:
            print(f"    {kind + ' blast, before':<24} {row(before['blast']['messages'][kind])}")
    print("\n  blast handed to the provider:")
    for name, run in (("lanes", lanes), ("before", before)):
        if run is not None:
            blast = run["blast"]
            print(
                f"    {name:<7} {blast['recipients']:,} in {blast['handoff_s']} s"
                f" = {blast['recipients_per_s']}/s (accepted after {blast['accepted_s']} s);"
                f" final after {blast['final_s']} s = {blast['final_recipients_per_s']}/s"
            )
    storm = lanes["storm"]["wrk"]
    print(
        f"\n  storm: {storm.get('answered')} pushes at {storm.get('pushes_per_s')}/s,"
        f" p99 {storm.get('p99_ms')} ms; applied {lanes['storm']['storm_applied']}"
    )
    print()
    bulk_send.print_goals(result["goals"])
    print()


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blast", type=int, default=None, help=f"the blast's recipients ({DEFAULT_BLAST:,})")
    parser.add_argument("--codes", type=int, default=None, help=f"verify codes per phase ({DEFAULT_CODES})")
    parser.add_argument("--code-clients", type=int, default=DEFAULT_CODE_CLIENTS, help="codes at a time (2)")
    parser.add_argument(
        "--notices", type=int, default=None, help=f"messages of each kind ({DEFAULT_NOTICES})"
    )
    parser.add_argument(
        "--latency-ms", type=int, default=None, help=f"the simulator's answer time ({DEFAULT_LATENCY_MS})"
    )
    parser.add_argument("--storm", type=int, default=None, help=f"single-report pushes ({DEFAULT_STORM:,})")
    parser.add_argument("--storm-connections", type=int, default=DEFAULT_STORM_CONNECTIONS)
    parser.add_argument("--priority", type=int, default=DEFAULT_LANES[0], help="sms_priority processes (2)")
    parser.add_argument("--bulk", type=int, default=DEFAULT_LANES[1], help="sms_bulk processes (2)")
    parser.add_argument("--rest", type=int, default=DEFAULT_LANES[2], help="the other queues' processes (2)")
    parser.add_argument(
        "--push-batch",
        type=int,
        default=DEFAULT_PUSH_BATCH,
        help="gateway reports per simulator push: 1, seed 002's (default); N > 1: arrays, a shortcut",
    )
    parser.add_argument("--batch-limit", type=int, default=None, help="the gateway's numbers per request")
    parser.add_argument("--no-before", action="store_true", help="leave out the before shape's run")
    parser.add_argument(
        "--before-concurrency", type=int, default=None, help="the before shape's processes (the lanes' total)"
    )
    parser.add_argument(
        "--no-final", action="store_true", help="stop at hand-off: no wait for the blast's reports"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args(argv)
    if not 1 <= args.push_batch <= 3000:
        parser.error("--push-batch must be between 1 and 3,000")
    if min(args.priority, args.bulk, args.rest, args.code_clients, args.storm_connections) < 1:
        parser.error("concurrencies, clients and connections must be at least 1")
    return args


def config_of(args: argparse.Namespace) -> Config:
    smoke = SMOKE if args.smoke else {}

    def pick(name: str, default: Any) -> Any:
        value = getattr(args, name)
        return value if value is not None else smoke.get(name, default)

    config = Config(
        blast=pick("blast", DEFAULT_BLAST),
        codes=pick("codes", DEFAULT_CODES),
        code_clients=args.code_clients,
        notices=pick("notices", DEFAULT_NOTICES),
        latency_ms=pick("latency_ms", DEFAULT_LATENCY_MS),
        storm=pick("storm", DEFAULT_STORM),
        storm_connections=args.storm_connections,
        priority=args.priority,
        bulk=args.bulk,
        rest=args.rest,
        push_batch=args.push_batch,
        batch_limit=pick("batch_limit", None),
        before=not args.no_before,
        before_concurrency=args.before_concurrency,
        final=not args.no_final,
    )
    if not 0 < config.blast <= bulk_send.MAX_RECIPIENTS:
        raise SystemExit("--blast must be between 1 and 1,000,000")
    return config


def results_name(args: argparse.Namespace) -> str:
    return "lanes" if args.smoke else "lanes" + config_of(args).suffix()


def shortcuts(config: Config) -> list[str]:
    named = [
        "the simulator (the stand-in provider) shares the two cores with the service",
        "a code's time ends at submitted_at, when the provider answered"
        " (the simulator keeps no time of receipt)",
    ]
    if config.push_batch != 1:
        named.append(f"gateway reports pushed {config.push_batch} to a request; seed 002 pushes each alone")
    if config.batch_limit is not None:
        named.append(f"the gateway takes {config.batch_limit} numbers a request (its setting: 3,000)")
    return named


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    config = config_of(args)
    harness.prepare_database()
    harness.setup_django()
    bulk_send.purge_broker()
    from sms.sending import fairness

    fairness.purge()
    print(f"lanes benchmark: {config.describe()}", flush=True)
    result: dict[str, Any] = {"configuration": config.describe(), "shortcuts": shortcuts(config)}
    result["lanes"] = lanes_run(config)
    if config.before:
        bulk_send.purge_broker()
        fairness.purge()
        result["before"] = before_run(config)
    result["goals"] = goals_of(result)
    result["problems"] = correctness(result, config)
    harness.record(results_name(args), result, smoke=args.smoke)
    print_result(result)
    if result["problems"]:
        print("\n".join(result["problems"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark 2: bulk sending end to end.

100,000 recipients as ten ``POST /v1/message`` calls of 10,000 (sent one after the other by one
client, unless ``--threads``), through the domestic gateway adapter and the simulator
(``providers.simulator``), which pushes its delivery reports to the web process (its default 200 ms
report delay, unless ``--report-delay-ms``), each report in a request of its own as seed 002's
gateway does (``--push-batch N``: JSON arrays of up to N, the shortcut earlier figures were
measured with; ``make bench-bulk`` runs both, the single push being the headline). Timed from
just before the first request until every record is final (``delivered`` or ``failed``). The stack
is the harness's (gunicorn, a worker of concurrency 2, the simulator) plus the beat, as deployed
(scripts/supervisord.conf): its sweeps finish what the pipeline leaves to them (reports that
overtook their record, records left queued), so a run measures that tail too (``--no-beat``
leaves it out).

Baseline in the same run: the same per-recipient work as a Notify-shaped pipeline, one Celery
task per message (``bench/baseline_tasks.py``: the product's claim, provider request and outcome
write on a batch of one; reports applied by the web process as they arrive), on as many worker
nodes of the same concurrency. It runs **without a beat**: its clock starts when its worker
starts consuming the tasks, published beforehand to a queue of its own, and stops when every
record is final. When records stop short of final (nothing left to send, every report pushed
and answered, no progress for ``STALL_SECONDS``) the run says which and why
(``baseline.unfinished``), runs the pending-report sweep once by hand to show it is what they
wait for, and exits 1. What was harness overhead in the former baseline (19 recipients/s) and
is gone: the simulator's 40 ms per answer (Nagle) and its four report pushers (both fixed in
the simulator itself), the rate-limit call per task, publishing inside the clock, one task in
hand per pool process (``BASELINE_PREFETCH``), and a database connection per task (the baseline
worker runs ``bench.baseline_settings``), and the broadcast that starts its consumers waiting out
its whole reply timeout on the clock. What is left is per-recipient work: 13 to 16 ms of CPU per
recipient (measured on two busy cores: 5.7 to 7 in the worker, for the claim, the request, the
outcome and Celery's own handling; 3.8 to 4.8 in the web process, one report push per message;
1.8 to 2.3 in MariaDB; 1.7 to 2.3 in the simulator), so 100 to 125 recipients/s on two cores.

Without a beat (``--no-beat``) a run must still finish: reports that overtook their record are
found by the worker's and the report handler's looks after their commits. Before issue 16 those
looks skipped kept reports the other held (and a look of 999 ids locked every kept report of the
provider), so some runs stopped short and, with the beat, the last 1 % waited for its sweep. A run
that stops short reports its records (``unfinished``: their states, how many have a pending
report) and runs the sweep once by hand.

    .venv/bin/python -m bench.bulk_send                      # 100,000 recipients, baseline 2,000
    .venv/bin/python -m bench.bulk_send --smoke              # 500 recipients in 2 calls, baseline 200
    .venv/bin/python -m bench.bulk_send --sizes 10000,100000,1000000   # the project at each size
    .venv/bin/python -m bench.bulk_send --broker rabbitmq    # RabbitMQ (BENCH_AMQP_URL) for Redis
    .venv/bin/python -m bench.bulk_send --nodes 2            # two worker nodes of concurrency 2
    .venv/bin/python -m bench.bulk_send --threads 2          # two client threads posting the calls
    .venv/bin/python -m bench.bulk_send --push-batch 100     # reports pushed 100 to a request

``--sizes`` runs the project once per size, each on freshly emptied tables and a fresh stack
(calls of 10,000 mobiles, so 1,000,000 is 100 calls), and the baseline once. Neither the client
nor the polling holds anything that grows with the size: each call's numbers are made when it is
posted, and the polling reads bounded counts (``wait_until_final``). RabbitMQ needs a vhost of
the benchmarks' own (``rabbitmqctl add_vhost gm_bench; rabbitmqctl set_permissions -p gm_bench
guest '.*' '.*' '.*'``; Celery declares its queues durable).

Figures: recipients/s, elapsed, when every call was accepted, every record answered by the
provider and 99 % final; peak RSS (VmHWM) of every process (gunicorn master and each worker,
each worker node's main process and each pool child, the beat) and the sums per process tree;
what the simulator received, the pushes it made and its CPU per push (``/_sim/usage``); the
service's CPU per recipient (web, worker, beat, MariaDB, Redis). Goals: >= 5,000 recipients/s,
>= 20 x the baseline, every process < 300 MB, exactly the recipients sent arriving at the
simulator, none twice. A goal not met is reported, never raised; the run fails only when records
do not all become final (a correctness problem). Results: ``bench/results/bulk_send<config>.json``
(one size) or ``bulk_send_sizes<config>.json`` (``--sizes``), ``<config>`` naming what is not the
default (``-rabbitmq``, ``-nodes2``, ``-c4``, ``-threads2``, ``-nobeat``, ``-push100``, ``-r3000``
for another size, ``-calls5``, ``-baseline0``, ``-delay50ms``, ``-sizes10000_100000`` for sizes
other than ``make bench-scale``'s), so a run never overwrites another configuration's figures;
each records ``push_batch``, its ``shortcuts``, its commit and whether the tree was ``dirty``.
``--smoke`` writes under var/bench/. Each run's logs are kept as
``var/bench/bulk_send-{project,baseline}-<process>.log``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Protocol
from unittest import mock

import requests

from bench import harness

USERNAME = "bench_bulk"
PASSWORD = "bench-bulk-password-1"
SIGNATURE = "去采购"
TEMPLATE = "您的订单{1}已发货。"
PARAMS = ["PL2026"]
PROVIDER = "gateway"
CONCURRENCY = 2
POLL_SECONDS = 0.2
PROGRESS_SECONDS = 10.0
STALL_SECONDS = 10.0
MAX_PER_CALL = 10_000
MAX_RECIPIENTS = 1_000_000  # the numbers below are distinct up to here
BASELINE_QUEUE = "bench_baseline"
BASELINE_SETTINGS = "bench.baseline_settings"
# Tasks each baseline pool process has in hand (the product's setting is 1, right for tasks of
# 3,000 records): with one, a process that finished waits for its main process to ack the task to
# the broker and fetch the next (py-spy: the pool processes idle 18 % of the time; 8 gave 5 to 10 %
# more recipients/s).
BASELINE_PREFETCH = 8
RSS_GOAL_MB = 300
TABLES = (
    "tbl_sms_send_record",
    "tbl_sms_message_batch",
    "tbl_sms_pending_report",
    "tbl_sms_balance_ledger",
    "tbl_sms_tenant_account",
    "tbl_template",
    "tbl_signature",
)
FINAL = ("delivered", "failed")
UNSENT = ("created", "scheduled", "queued", "sending")  # not yet answered by the provider
NOT_FINAL = (*UNSENT, "submitted", "unknown")


@dataclass(frozen=True)
class Layout:
    """The configuration a run's figures come from (recorded with them)."""

    broker: str = "redis"
    nodes: int = 1
    concurrency: int = CONCURRENCY
    client_threads: int = 1
    beat: bool = True
    # Gateway reports per simulator push: 1 is seed 002 (the headline); 100 the former shortcut.
    push_batch: int = 1

    @property
    def broker_url(self) -> str:
        return harness.broker_url(self.broker)

    def suffix(self) -> str:
        """What a results file adds to its name for this configuration ("" for the default)."""
        parts = []
        if self.broker != "redis":
            parts.append(self.broker)
        if self.nodes != 1:
            parts.append(f"nodes{self.nodes}")
        if self.concurrency != CONCURRENCY:
            parts.append(f"c{self.concurrency}")
        if self.client_threads != 1:
            parts.append(f"threads{self.client_threads}")
        if not self.beat:
            parts.append("nobeat")
        if self.push_batch != 1:
            parts.append(f"push{self.push_batch}")
        return "".join(f"-{part}" for part in parts)

    def describe(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "broker_url": self.broker_url.split("@")[-1],
            "worker_processes": self.nodes * self.concurrency,
            "push_shape": push_shape(self.push_batch),
        }


def push_shape(push_batch: int) -> str:
    """How the simulator pushed the gateway's reports, in words (a result names its shortcuts)."""
    if push_batch == 1:
        return "one report per request, a JSON object (seed 002)"
    return f"JSON arrays of up to {push_batch} reports per request (a shortcut: seed 002 pushes one)"


# --- numbers ---------------------------------------------------------------------------------------


def project_numbers(start: int, count: int) -> list[str]:
    """``13xxxxxx123``: distinct valid mainland mobiles (indexes below 1,000,000); ending in 123
    they never carry one of the simulator's fault suffixes (0004, 0005, 0500, 0408)."""
    return [f"13{index:06d}123" for index in range(start, start + count)]


def baseline_numbers(start: int, count: int) -> list[str]:
    """``18xxxxxx123``: distinct from the project run's numbers, equally fault-free."""
    return [f"18{index:06d}123" for index in range(start, start + count)]


def call_plan(total: int, calls: int) -> list[tuple[int, int]]:
    """``(first index, count)`` of each call: ``total`` numbers in ``calls`` nearly equal parts."""
    size = -(-total // calls)
    return [(start, min(size, total - start)) for start in range(0, total, size)]


def default_calls(total: int) -> int:
    """Calls of at most 10,000 mobiles (100,000 → 10, 1,000,000 → 100)."""
    return math.ceil(total / MAX_PER_CALL)


# --- seeding ---------------------------------------------------------------------------------------


def seed(balance: int) -> tuple[Any, int, int]:
    """Empty the tables, forget the numbers' verify-code windows, and create the tenant (a Django
    user with a password), a passed signature and template, and its balance."""
    from django.contrib.auth import get_user_model

    from signatures import services as signature_services
    from sms.tenant_api.services import charge_tenant
    from templates_mgmt import services as template_services

    harness.truncate(*TABLES)
    harness.forget_verify_limits()
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    user.set_password(PASSWORD)
    user.is_active = True
    user.save()
    sign = signature_services.create_signature(owner=user, signature=SIGNATURE, source="营业执照")
    sign = signature_services.review_signature(sign_id=sign.pk, audit_status="passed")
    template = template_services.create_template(
        owner=user,
        name="发货通知",
        template=TEMPLATE,
        template_type=2,  # a notice: bulk sends are notices (verify codes have per-mobile limits)
        description="bulk benchmark",
        sign_id=sign.pk,
    )
    template = template_services.review_template(temp_id=template.pk, audit_status="passed")
    charge_tenant(username=USERNAME, charge=balance)
    return user, sign.pk, template.pk


# --- the stack -------------------------------------------------------------------------------------


def celery_app() -> Any:
    from gm_server_notify.celery import app

    return app


def purge_broker() -> None:
    """Drop tasks an interrupted earlier run may have left on the bench broker."""
    from kombu import Queue

    app = celery_app()
    app.control.purge()
    with app.connection_for_write() as connection:
        queue = Queue(BASELINE_QUEUE)(connection.default_channel)
        queue.declare()
        queue.purge()


def wait_for_workers(nodes: int = 1, timeout: float = 60.0) -> None:
    """Until ``nodes`` workers answer a ping (so the clock does not include their start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(celery_app().control.ping(timeout=0.5) or []) >= nodes:
            return
    raise TimeoutError(f"fewer than {nodes} worker(s) answered within {timeout}s")


def start_beat(stack: harness.Stack, broker: str) -> None:
    """The beat, as deployed (scripts/supervisord.conf): its sweeps apply reports that overtook
    their record."""
    schedule = harness.OUTPUT_DIR / "bulk_send-beat-schedule"
    for old in harness.OUTPUT_DIR.glob(f"{schedule.name}*"):
        old.unlink()
    command = [str(harness.VENV_BIN / "celery"), "-A", "gm_server_notify", "beat"]
    command += ["--loglevel", "WARNING", "--schedule", str(schedule)]
    stack.start("beat", command, harness.base_environment(stack.web_port, stack.sim_port, broker=broker))


def rss_roles(workers: list[str]) -> dict[str, tuple[str, str]]:
    """What the sampler calls each tree's root and children: gunicorn's master and workers, a
    Celery node's main process and pool children."""
    return {
        "web": ("master", "worker"),
        **{name: ("main", "pool") for name in workers},
        "beat": ("main", "child"),
    }


def keep_logs(stack: harness.Stack, run: str) -> None:
    """The next stack writes the same log names: keep this run's under its own names."""
    for name, process in stack.processes.items():
        if process.log.exists():
            process.log.replace(harness.OUTPUT_DIR / f"bulk_send-{run}-{name}.log")


def simulator_stats(stack: harness.Stack) -> dict[str, Any]:
    """What the simulator received and pushed since its reset, and what it cost: its own CPU
    seconds (``/_sim/usage``: the whole process, answering the sends included) per push."""
    stats = requests.get(f"{stack.sim_url}/_sim/stats", timeout=10).json().get(PROVIDER, {})
    usage = harness.simulator_usage(stack.sim_url)
    return {
        "requests": stats.get("requests", 0),
        "numbers": stats.get("numbers", 0),
        "distinct": stats.get("distinct_numbers", 0),
        "duplicated": stats.get("duplicated_numbers", 0),
        "reports_pushed": stats.get("reports_pushed", 0),
        "reports_acknowledged": stats.get("reports_acknowledged", 0),
        "status_pushes": usage.get("by_provider", {}).get(PROVIDER, {}).get("status_pushes", 0),
        "push_batch": usage.get("gateway_push_batch"),
        "cpu_s": usage.get("cpu_seconds"),
        "cpu_ms_per_push": usage.get("cpu_ms_per_push"),
    }


def reports_settled(stack: harness.Stack) -> Callable[[], bool]:
    """Whether the simulator has pushed a report for every number it took and the web process
    acknowledged each (stored: applied, or kept as pending)."""

    def settled() -> bool:
        stats = simulator_stats(stack)
        return (
            stats["reports_pushed"] >= stats["numbers"] and stats["reports_acknowledged"] >= stats["numbers"]
        )

    return settled


def reset_simulator(stack: harness.Stack, report_delay_ms: float | None, push_batch: int) -> None:
    """Forget what the simulator received (and the CPU it used so far); optionally change its
    report delay (default 200 ms); set its gateway push batch, and check it took it."""
    requests.post(f"{stack.sim_url}/_sim/reset", timeout=10).raise_for_status()
    settings: dict[str, Any] = {"gateway_push_batch": push_batch}
    if report_delay_ms is not None:
        settings["report_delay_ms"] = report_delay_ms
    requests.post(f"{stack.sim_url}/_sim/config", json=settings, timeout=10).raise_for_status()
    taken = harness.simulator_usage(stack.sim_url).get("gateway_push_batch")
    if taken != push_batch:
        raise RuntimeError(f"the simulator pushes {taken} reports a request, not {push_batch}")


def exactly_once(simulator: dict[str, int], total: int) -> bool:
    """Exactly the recipients sent arrived at the simulator, none twice."""
    return simulator["numbers"] == simulator["distinct"] == total and simulator["duplicated"] == 0


# --- waiting for the records -----------------------------------------------------------------------


def state_counts(batch_ids: list[int]) -> dict[str, int]:
    from django.db.models import Count

    from sms.models import SendRecord

    rows = (
        SendRecord.objects.filter(batch_id__in=batch_ids).values("state").annotate(n=Count("id")).order_by()
    )
    return {row["state"]: row["n"] for row in rows}


def wait_until_final(
    batch_ids: list[int],
    total: int,
    started: float,
    deadline_s: float,
    *,
    stalled: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Poll every 0.2 s until the ``total`` records of ``batch_ids`` are final (or the deadline).

    Also notes when every record had the provider's answer (``sent_s``), when 99 % were final
    (``t99_s``) and the most reports ever kept waiting for their record
    (``tbl_sms_pending_report``). Each poll reads a bounded amount whatever the size: whether
    an unsent record exists, and the records not final counted up to 1 % + 1 of ``total`` (the
    ``(batch, state)`` index), so neither the client nor MariaDB does more per poll at a million.
    With ``stalled`` (no beat to finish anything), it stops early when nothing is left to send,
    the count has not moved for ``STALL_SECONDS`` and ``stalled()`` says nothing more will come;
    ``complete`` is then false."""
    from sms.models import PendingReport, SendRecord

    records = SendRecord.objects.filter(batch_id__in=batch_ids)
    unsent = records.filter(state__in=UNSENT)
    not_final = records.filter(state__in=NOT_FINAL)
    one_percent = total // 100
    deadline = time.monotonic() + deadline_s
    progress: dict[str, Any] = {
        "complete": False,
        "sent_s": None,
        "t99_s": None,
        "max_pending_reports": 0,
        "stalled": False,
    }
    last_left, last_change, next_print = -1, time.monotonic(), time.monotonic() + PROGRESS_SECONDS
    while True:
        left = not_final[: one_percent + 1].count()
        now = time.monotonic()
        if progress["sent_s"] is None and not unsent.exists():
            progress["sent_s"] = round(now - started, 2)
        progress["max_pending_reports"] = max(progress["max_pending_reports"], PendingReport.objects.count())
        if progress["t99_s"] is None and left <= one_percent:
            progress["t99_s"] = round(now - started, 2)
        if left == 0:
            progress["complete"] = True
            return progress
        if left != last_left:
            last_left, last_change = left, now
        elif (
            stalled is not None
            and progress["sent_s"] is not None
            and now - last_change > STALL_SECONDS
            and stalled()
        ):
            progress["stalled"] = True
            return progress
        if now > deadline:
            return progress
        if now > next_print:
            shown = f"{left:,}" if left <= one_percent else f"more than {one_percent:,}"
            print(f"  {now - started:.0f} s: {shown} of {total:,} not final yet", flush=True)
            next_print = now + PROGRESS_SECONDS
        time.sleep(POLL_SECONDS)


def diagnose_unfinished(batch_ids: list[int]) -> dict[str, Any]:
    """What the records left short of final are waiting for: their states, and how many of them
    have a delivery report stored as pending (it overtook the outcome write and was never applied
    after it: only the beat's pending-report sweep would apply it)."""
    from django.db.models import Count

    from sms.models import PendingReport, SendRecord

    left = SendRecord.objects.filter(batch_id__in=batch_ids, state__in=NOT_FINAL)
    by_state = {row["state"]: row["n"] for row in left.values("state").annotate(n=Count("id")).order_by()}
    message_ids = list(
        left.exclude(provider_message_id=None).values_list("provider_message_id", flat=True)[:1000]
    )
    pending = PendingReport.objects.filter(provider=PROVIDER, provider_message_id__in=message_ids)
    sample = [
        {
            "record_id": row["id"],
            "state": row["state"],
            "provider_message_id": row["provider_message_id"],
            "submitted_at": row["submitted_at"].isoformat() if row["submitted_at"] else None,
        }
        for row in left.values("id", "state", "provider_message_id", "submitted_at").order_by("id")[:10]
    ]
    return {
        "by_state": by_state,
        "with_a_pending_report": pending.count(),
        "pending_reports_total": PendingReport.objects.count(),
        "sample": sample,
    }


def finish_by_sweep(batch_ids: list[int]) -> dict[str, Any]:
    """Run the beat's pending-report sweep once in this process and say how many records that
    finished (the proof that they were waiting for it)."""
    from sms.delivery import reports

    applied = reports.sweep_pending_reports(max_age=timedelta(days=7))
    left = state_counts(batch_ids)
    return {"applied_by_one_sweep": applied, "not_final_after": sum(left.get(s, 0) for s in NOT_FINAL)}


def settle(batch_ids: list[int], progress: dict[str, Any]) -> tuple[dict[str, int], dict[str, Any] | None]:
    """The records' states as the run left them, and for a run that did not finish, what they
    were waiting for; a stalled run (no beat) then gets the pending-report sweep once by hand."""
    states = state_counts(batch_ids)
    if progress["complete"]:
        return states, None
    unfinished = diagnose_unfinished(batch_ids)
    if progress["stalled"]:
        unfinished.update(finish_by_sweep(batch_ids))
    left = sum(unfinished["by_state"].values())
    print(
        f"  {left:,} record(s) not final: {unfinished['by_state']}; {unfinished['with_a_pending_report']:,}"
        f" (of the first 1,000) have their delivery report stored as pending and never applied",
        flush=True,
    )
    return states, unfinished


def deadline_for(total: int) -> float:
    """Generous: far beyond any plausible run; only a stuck record reaches it."""
    return 120 + total / 100


# --- posting the calls -----------------------------------------------------------------------------


class Companion(Protocol):
    """Load that runs beside a project run (``bench.mixed_load``): told when the clock starts,
    when each call is accepted (its batch's uuid) and when every record is final."""

    def started(self, stack: harness.Stack) -> None: ...

    def accepted(self, uuid: str) -> None: ...

    def finished(self) -> None: ...


@dataclass
class Calls:
    uuids: list[str]
    latencies: list[float]


def post_calls(
    url: str,
    plan: list[tuple[int, int]],
    *,
    threads: int,
    sign_id: int,
    temp_id: int,
    on_accepted: Callable[[str], None] | None = None,
) -> Calls:
    """Post the plan's ``v1/message`` calls (``threads`` at a time, each thread with its own
    session), each call's numbers made just before it is posted."""
    local = threading.local()
    calls = Calls(uuids=[], latencies=[])
    lock = threading.Lock()

    def post(part: tuple[int, int]) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.auth = (USERNAME, PASSWORD)
        mobiles = project_numbers(*part)
        began = time.monotonic()
        answer = session.post(
            f"{url}/v1/message",
            json={"sign_id": sign_id, "temp_id": temp_id, "mobiles": mobiles, "params": PARAMS},
            timeout=300,
        )
        took = time.monotonic() - began
        if answer.status_code != 200:
            raise RuntimeError(f"v1/message answered {answer.status_code}: {answer.text[:300]}")
        uuid = answer.json()["uuid"]
        with lock:
            calls.latencies.append(took)
            calls.uuids.append(uuid)
        if on_accepted is not None:
            on_accepted(uuid)

    if threads <= 1:
        for part in plan:
            post(part)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(post, plan))
    return calls


def batch_ids_of(uuids: list[str]) -> list[int]:
    from sms.models import MessageBatch

    return sorted(MessageBatch.objects.filter(uuid__in=uuids).values_list("id", flat=True))


def client_peak_rss_mb() -> float:
    """This benchmark process's own peak RSS (it must not grow with the size)."""
    return harness.peak_rss_by_process(os.getpid())[0][1]


# --- the two runs ----------------------------------------------------------------------------------


def project_run(
    total: int,
    calls: int,
    layout: Layout,
    *,
    report_delay_ms: float | None,
    logs: str = "project",
    companion: Companion | None = None,
    after_seed: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Seed (then ``after_seed``), start the stack, post the calls and wait until every record
    is final."""
    plan = call_plan(total, calls)
    _user, sign_id, temp_id = seed(balance=total)
    if after_seed is not None:
        after_seed()
    with harness.running_stack(
        worker=True,
        simulator=True,
        worker_concurrency=layout.concurrency,
        worker_nodes=layout.nodes,
        broker=layout.broker_url,
        push_batch=layout.push_batch,
    ) as stack:
        workers = harness.worker_names(layout.nodes)
        if layout.beat:
            start_beat(stack, layout.broker_url)
        wait_for_workers(layout.nodes)
        reset_simulator(stack, report_delay_ms, layout.push_batch)
        with harness.RssSampler(stack, rss_roles(workers)) as rss:
            if companion is not None:
                companion.started(stack)
            started = time.monotonic()
            posted = post_calls(
                stack.url,
                plan,
                threads=layout.client_threads,
                sign_id=sign_id,
                temp_id=temp_id,
                on_accepted=companion.accepted if companion is not None else None,
            )
            accepted_s = time.monotonic() - started
            batch_ids = batch_ids_of(posted.uuids)
            progress = wait_until_final(
                batch_ids,
                total,
                started,
                deadline_for(total),
                stalled=None if layout.beat else reports_settled(stack),
            )
            elapsed = time.monotonic() - started
            if companion is not None:
                companion.finished()
        simulator = simulator_stats(stack)
        states, unfinished = settle(batch_ids, progress)
    keep_logs(stack, logs)
    memory = rss.report()
    latencies = posted.latencies
    cpu = rss.cpu_report()
    return {
        "recipients": total,
        "calls": len(plan),
        "elapsed_s": round(elapsed, 2),
        "accepted_s": round(accepted_s, 2),
        "recipients_per_s": round(total / elapsed, 1),
        "call_s": {"mean": round(sum(latencies) / len(latencies), 2), "max": round(max(latencies), 2)},
        **progress,
        "states": states,
        "unfinished": unfinished,
        "peak_rss_mb": {
            "web": memory["by_name"].get("web", 0.0),
            "worker": round(sum(memory["by_name"].get(name, 0.0) for name in workers), 1),
            **{f"{name}_node": memory["by_name"].get(name, 0.0) for name in workers if len(workers) > 1},
            "beat": memory["by_name"].get("beat", 0.0),
            "max_process": memory["max_process_mb"],
            "processes": memory["processes"],
        },
        "client_peak_rss_mb": client_peak_rss_mb(),
        "cpu_s": cpu,
        "service_cpu_ms_per_recipient": service_cpu_ms_per_recipient(cpu, workers, total, layout.broker),
        "simulator": simulator,
        "exactly_once": exactly_once(simulator, total),
    }


def service_cpu_ms_per_recipient(cpu: dict[str, Any], workers: list[str], total: int, broker: str) -> float:
    """The service's CPU per recipient: web, worker nodes, beat, MariaDB, Redis and RabbitMQ when
    it is the broker (not the simulator, the stand-in provider, nor the client)."""
    ours = sum(cpu["by_name"].get(name, 0.0) for name in ("web", "beat", *workers))
    shared = ("mariadb", "redis", "rabbitmq") if broker == "rabbitmq" else ("mariadb", "redis")
    services = sum(cpu["services"].get(name, 0.0) for name in shared)
    return round((ours + services) * 1000 / total, 3)


def create_baseline_records(user: Any, sign_id: int, temp_id: int, count: int) -> tuple[list[int], list[int]]:
    """Queued records written exactly as ``v1/message`` writes them, but not published: their
    ids and their batches' ids."""
    from sms.models import SendRecord
    from sms.tenant_api import services as tenant_services
    from sms.tenant_api.services import send_tenant_message

    batches = []
    with mock.patch.object(tenant_services, "queue_batch_for_dispatch", lambda batch_id: None):
        for start, size in call_plan(count, default_calls(count)):
            batches.append(
                send_tenant_message(
                    owner=user,
                    sign_id=sign_id,
                    temp_id=temp_id,
                    mobiles=baseline_numbers(start, size),
                    params=PARAMS,
                ).pk
            )
    ids = list(SendRecord.objects.filter(batch_id__in=batches).order_by("id").values_list("id", flat=True))
    return ids, batches


def publish_baseline(ids: list[int]) -> float:
    """One ``bench.send_one`` task per record on the baseline's own queue (no worker consumes it
    yet); returns the seconds it took."""
    app = celery_app()
    began = time.monotonic()
    with app.producer_or_acquire() as producer:
        for record_id in ids:
            app.send_task("bench.send_one", args=[record_id], queue=BASELINE_QUEUE, producer=producer)
    return time.monotonic() - began


def baseline_run(count: int, layout: Layout, *, report_delay_ms: float | None) -> dict[str, Any]:
    """The one-task-per-recipient baseline, without a beat (see the module's docstring)."""
    user, sign_id, temp_id = seed(balance=count)
    ids, batch_ids = create_baseline_records(user, sign_id, temp_id, count)
    with harness.running_stack(
        worker=False, simulator=True, broker=layout.broker_url, push_batch=layout.push_batch
    ) as stack:
        env = harness.base_environment(
            stack.web_port, stack.sim_port, broker=layout.broker_url, DJANGO_SETTINGS_MODULE=BASELINE_SETTINGS
        )
        workers = harness.start_workers(
            stack,
            env,
            nodes=layout.nodes,
            concurrency=layout.concurrency,
            prefix="baseline_worker",
            extra=("--include", "bench.baseline_tasks", "--prefetch-multiplier", str(BASELINE_PREFETCH)),
        )
        wait_for_workers(layout.nodes)
        reset_simulator(stack, report_delay_ms, layout.push_batch)
        published_s = publish_baseline(ids)
        with harness.RssSampler(stack, rss_roles(workers)) as rss:
            started = time.monotonic()
            # limit: return as soon as every node has answered (a broadcast otherwise waits out
            # its whole timeout, which would be on the clock).
            consuming = celery_app().control.add_consumer(
                BASELINE_QUEUE, reply=True, timeout=5, limit=layout.nodes
            )
            if len(consuming or []) < layout.nodes:
                raise RuntimeError(f"baseline workers did not all consume {BASELINE_QUEUE}: {consuming}")
            progress = wait_until_final(
                batch_ids, len(ids), started, deadline_for(len(ids)), stalled=reports_settled(stack)
            )
            elapsed = time.monotonic() - started
        simulator = simulator_stats(stack)
        states, unfinished = settle(batch_ids, progress)
    keep_logs(stack, "baseline")
    memory = rss.report()
    return {
        "recipients": len(ids),
        "elapsed_s": round(elapsed, 2),
        "published_s_before_clock": round(published_s, 2),
        "recipients_per_s": round(len(ids) / elapsed, 1),
        **progress,
        "states": states,
        "unfinished": unfinished,
        "beat": False,
        "worker_peak_rss_mb": round(sum(memory["by_name"].get(name, 0.0) for name in workers), 1),
        "max_process_rss_mb": memory["max_process_mb"],
        "processes": memory["processes"],
        "simulator": simulator,
        "exactly_once": exactly_once(simulator, len(ids)),
    }


# --- report ----------------------------------------------------------------------------------------


def goal(value: Any, target: str, met: Callable[[], bool]) -> dict[str, Any]:
    return {"value": value, "target": target, "met": bool(met())}


def goals_of(run: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    rate, total = run["recipients_per_s"], run["recipients"]
    biggest = run["peak_rss_mb"]["max_process"]
    goals = {
        "recipients_per_s": goal(rate, ">= 5000", lambda: rate >= 5000),
        "max_process_rss_mb": goal(biggest, f"< {RSS_GOAL_MB}", lambda: biggest < RSS_GOAL_MB),
        "simulator_numbers": goal(
            run["simulator"]["numbers"],
            f"== {total} distinct, 0 duplicated",
            lambda: run["exactly_once"],
        ),
    }
    if baseline is not None:
        ratio = ratio_of(run, baseline)
        goals["ratio"] = goal(ratio, ">= 20", lambda: ratio >= 20)
    return goals


def ratio_of(run: dict[str, Any], baseline: dict[str, Any]) -> float:
    return (
        round(run["recipients_per_s"] / baseline["recipients_per_s"], 1)
        if baseline["recipients_per_s"]
        else 0.0
    )


def print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def print_processes(title: str, processes: list[dict[str, Any]]) -> None:
    print(f"\n  {title}: " + ", ".join(f"{row['process']} {row['peak_rss_mb']}" for row in processes))


def baseline_rows(baseline: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        (
            "baseline",
            f"{baseline['recipients']:,} in {baseline['elapsed_s']} s"
            f" (all answered after {baseline['sent_s']} s, 99 % final after {baseline['t99_s']} s; no beat)",
        ),
        ("baseline recipients/s", f"{baseline['recipients_per_s']:,}"),
        (
            "baseline peak RSS worker",
            f"{baseline['worker_peak_rss_mb']} MB (largest process {baseline['max_process_rss_mb']} MB)",
        ),
        (
            "baseline simulator numbers",
            "{numbers:,} ({distinct:,} distinct, {duplicated} duplicated)".format(**baseline["simulator"]),
        ),
    ]
    if baseline["unfinished"]:
        rows.append(("baseline NOT final", str(baseline["unfinished"])))
    return rows


def print_result(result: dict[str, Any]) -> None:
    baseline = result.get("baseline")
    rss = result["peak_rss_mb"]
    rows = [
        ("configuration", ", ".join(f"{key} {value}" for key, value in result["configuration"].items())),
        ("recipients", f"{result['total']:,} in {result['calls']} calls"),
        ("elapsed", f"{result['elapsed_s']} s (all accepted after {result['accepted_s']} s)"),
        ("all answered by provider", f"{result['sent_s']} s"),
        ("99 % final after", f"{result['t99_s']} s"),
        ("reports kept waiting", f"{result['max_pending_reports']:,} at most"),
        ("recipients/s", f"{result['recipients_per_s']:,}"),
        (
            "service CPU per recipient",
            f"{result['service_cpu_ms_per_recipient']} ms (web, worker, beat, MariaDB, Redis)",
        ),
        (
            "simulator",
            "{status_pushes:,} pushes for {reports_pushed:,} reports, {cpu_ms_per_push} ms CPU a push".format(
                **result["simulator"]
            ),
        ),
    ]
    if baseline is not None:
        rows += [*baseline_rows(baseline), ("ratio", f"{result['ratio']} x")]
    rows += [
        ("peak RSS web (sum)", f"{rss['web']} MB"),
        ("peak RSS worker (sum)", f"{rss['worker']} MB"),
        ("largest process", f"{rss['max_process']} MB"),
        (
            "simulator numbers",
            "{numbers:,} ({distinct:,} distinct, {duplicated} duplicated)".format(**result["simulator"]),
        ),
        ("records final", f"{result['final']:,} of {result['total']:,}"),
    ]
    print_rows(rows)
    print_processes("peak RSS per process, MB", rss["processes"])
    print_cpu(result.get("cpu_s"))
    print()
    print_goals(result["goals"])
    print()


def print_cpu(cpu: dict[str, Any] | None) -> None:
    """The run's CPU seconds per component, of the cores × wall seconds there were."""
    if not cpu:
        return
    parts = {**cpu["by_name"], **cpu["services"], "client": cpu["client"]}
    ranked = sorted(parts.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{name} {seconds}" for name, seconds in ranked)
    print(f"\n  CPU s in {cpu['wall_s']} s ({cpu['available_s']} available): {shown}")


def print_goals(goals: dict[str, Any], prefix: str = "") -> None:
    for name, item in goals.items():
        mark = "met" if item["met"] else "NOT met"
        print(f"  {prefix}[{mark}] {name}: {item['value']} (goal {item['target']})")


def size_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per size: the figures the issue asks for, every process's peak RSS by name."""
    return [
        {
            "recipients": run["recipients"],
            "calls": run["calls"],
            "recipients_per_s": run["recipients_per_s"],
            "ratio": run.get("ratio"),
            "elapsed_s": run["elapsed_s"],
            "accepted_s": run["accepted_s"],
            "sent_s": run["sent_s"],
            "t99_s": run["t99_s"],
            "complete": run["complete"],
            "peak_rss_mb": {
                "web_sum": run["peak_rss_mb"]["web"],
                "worker_sum": run["peak_rss_mb"]["worker"],
                "max_process": run["peak_rss_mb"]["max_process"],
                **{row["process"]: row["peak_rss_mb"] for row in run["peak_rss_mb"]["processes"]},
            },
            "client_peak_rss_mb": run["client_peak_rss_mb"],
            "simulator": {key: run["simulator"][key] for key in ("numbers", "distinct", "duplicated")},
            "exactly_once": run["exactly_once"],
        }
        for run in runs
    ]


def print_sizes(result: dict[str, Any]) -> None:
    print()
    print("  configuration: " + ", ".join(f"{key} {value}" for key, value in result["configuration"].items()))
    print(
        f"  {'size':>9}  {'calls':>5}  {'rcpt/s':>8}  {'ratio':>6}  {'elapsed':>8}  {'accepted':>8}  "
        f"{'sent':>7}  {'t99':>7}  {'web MB':>7}  {'worker MB':>9}  {'max proc':>8}  exactly once"
    )
    for row in result["table"]:
        rss = row["peak_rss_mb"]
        print(
            f"  {row['recipients']:>9,}  {row['calls']:>5}  {row['recipients_per_s']:>8,}  "
            f"{row['ratio']!s:>6}  {row['elapsed_s']:>8}  {row['accepted_s']:>8}  "
            f"{row['sent_s']!s:>7}  {row['t99_s']!s:>7}  "
            f"{rss['web_sum']:>7}  {rss['worker_sum']:>9}  {rss['max_process']:>8}  {row['exactly_once']}"
        )
    for row in result["sizes"]:
        print_processes(f"{row['recipients']:,}: peak RSS per process, MB", row["peak_rss_mb"]["processes"])
    if result.get("baseline"):
        print_rows(baseline_rows(result["baseline"]))
    print()
    for row in result["sizes"]:
        print_goals(row["goals"], prefix=f"{row['recipients']:>9,} ")
    print()


# --- main ------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError("--sizes needs at least one size")
    return sizes


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=None, help="default 100,000 (smoke 500)")
    parser.add_argument(
        "--sizes", type=parse_sizes, default=None, help="comma-separated sizes: the project run at each"
    )
    parser.add_argument(
        "--calls", type=int, default=None, help="v1/message calls; default size / 10,000 (smoke 2)"
    )
    parser.add_argument(
        "--baseline", type=int, default=None, help="baseline recipients; default 2,000 (0: none)"
    )
    parser.add_argument("--threads", type=int, default=1, help="client threads posting the calls (1)")
    parser.add_argument(
        "--broker", choices=harness.BROKERS, default="redis", help="the Celery broker (redis)"
    )
    parser.add_argument("--nodes", type=int, default=1, help="worker nodes (separate Celery processes; 1)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="pool processes per node (2)")
    parser.add_argument("--no-beat", action="store_true", help="the project run without the beat")
    parser.add_argument(
        "--report-delay-ms", type=float, default=None, help="the simulator's report delay (its default: 200)"
    )
    parser.add_argument(
        "--push-batch",
        type=int,
        default=1,
        help="gateway reports per simulator push: 1, seed 002's one object a request (default); "
        "N > 1: JSON arrays of up to N, a shortcut",
    )
    parser.add_argument("--smoke", action="store_true", help="500 recipients in 2 calls, baseline 200")
    args = parser.parse_args(argv)
    if not 1 <= args.push_batch <= 3000:
        parser.error("--push-batch must be between 1 and 3,000")
    if args.sizes is None:
        args.sizes = [args.recipients or default_recipients(args.smoke)]
        args.sized = False
    else:
        args.sized = True
        if args.recipients is not None or args.calls is not None:
            parser.error("--sizes makes its own calls of 10,000: leave out --recipients and --calls")
    if args.baseline is None:
        args.baseline = default_baseline(args.smoke)
    if not all(0 < size <= MAX_RECIPIENTS for size in args.sizes) or not 0 <= args.baseline <= MAX_RECIPIENTS:
        parser.error("sizes and --baseline must be between 1 and 1,000,000")
    if args.calls is None:
        args.calls = 2 if args.smoke and not args.sized else None
    if args.calls is not None and -(-args.sizes[0] // args.calls) > MAX_PER_CALL:
        parser.error(f"a call carries at most {MAX_PER_CALL:,} mobiles: use more --calls")
    if args.nodes < 1 or args.concurrency < 1 or args.threads < 1:
        parser.error("--nodes, --concurrency and --threads must be at least 1")
    return args


# The smoke run's size (make test runs it): each of its reports is an HTTP request of its own.
SMOKE_RECIPIENTS = 500


def default_recipients(smoke: bool) -> int:
    return SMOKE_RECIPIENTS if smoke else 100_000


def default_baseline(smoke: bool) -> int:
    return 200 if smoke else 2_000


SCALE_SIZES = [10_000, 100_000, 1_000_000]  # make bench-scale's


def run_suffix(args: argparse.Namespace) -> str:
    """What a results file adds to its name for the run's sizes, calls, baseline and report delay
    when they are not the defaults (the layout's part is ``Layout.suffix``): a run at another
    size never overwrites the figures of the default one."""
    parts = []
    if args.sized:
        if args.sizes != SCALE_SIZES:
            parts.append("sizes" + "_".join(str(size) for size in args.sizes))
    else:
        if args.sizes[0] != default_recipients(args.smoke):
            parts.append(f"r{args.sizes[0]}")
        if args.calls is not None and args.calls != (2 if args.smoke else default_calls(args.sizes[0])):
            parts.append(f"calls{args.calls}")
    if args.baseline != default_baseline(args.smoke):
        parts.append(f"baseline{args.baseline}")
    if args.report_delay_ms is not None and args.report_delay_ms != 200:
        parts.append(f"delay{args.report_delay_ms:g}ms")
    return "".join(f"-{part}" for part in parts)


def layout_of(args: argparse.Namespace) -> Layout:
    return Layout(
        broker=args.broker,
        nodes=args.nodes,
        concurrency=args.concurrency,
        client_threads=args.threads,
        beat=not args.no_beat,
        push_batch=args.push_batch,
    )


def results_name(args: argparse.Namespace) -> str:
    """``bulk_send`` or ``bulk_send_sizes``, then every option that is not the default."""
    base = "bulk_send_sizes" if args.sized else "bulk_send"
    return base + layout_of(args).suffix() + run_suffix(args)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    layout = layout_of(args)
    harness.prepare_database()
    harness.setup_django(broker=layout.broker_url)
    purge_broker()

    delay = args.report_delay_ms
    runs = []
    for size in args.sizes:
        calls = args.calls or default_calls(size)
        print(f"project run: {size:,} recipients in {calls} calls ({layout.describe()})", flush=True)
        logs = f"project-{size}" if args.sized else "project"
        runs.append(project_run(size, calls, layout, report_delay_ms=delay, logs=logs))
    baseline = None
    if args.baseline:
        print(f"baseline: {args.baseline:,} recipients, one task each", flush=True)
        baseline = baseline_run(args.baseline, layout, report_delay_ms=delay)
    for run in runs:
        run["goals"] = goals_of(run, baseline)
        if baseline is not None:
            run["ratio"] = ratio_of(run, baseline)
    common = {
        "configuration": layout.describe(),
        "push_batch": layout.push_batch,
        "shortcuts": shortcuts(layout),
        "simulator_report_delay_ms": 200.0 if delay is None else delay,
        "simulator_pushers": harness_pushers(),
    }
    if args.sized:
        result = {**common, "table": size_table(runs), "sizes": runs, "baseline": baseline}
        harness.record(results_name(args), result, smoke=args.smoke)
        print_sizes(result)
    else:
        result = {**common, "client_threads": layout.client_threads, **flat(runs[0], baseline)}
        harness.record(results_name(args), result, smoke=args.smoke)
        print_result(result)
    complete = all(run["complete"] for run in runs) and (baseline is None or baseline["complete"])
    if not complete:
        print(
            "records were still not final at the end: see 'unfinished' and var/bench/*.log", file=sys.stderr
        )
        return 1
    return 0


def shortcuts(layout: Layout) -> list[str]:
    """What this run does that production would not, as its results say."""
    named = ["the simulator (the stand-in provider) shares the two cores with the service"]
    if layout.push_batch != 1:
        named.append(f"gateway reports pushed {layout.push_batch} to a request; seed 002 pushes each alone")
    return named


def harness_pushers() -> int:
    """The simulator's report pushers (threads, started as needed)."""
    from providers.simulator.core import SimState

    return SimState().pusher._max_workers


def flat(run: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    """One size's result in the shape ``bulk_send.json`` has always had (the smoke test reads it)."""
    return {
        "total": run["recipients"],
        "calls": run["calls"],
        **{key: value for key, value in run.items() if key not in ("recipients", "calls")},
        "final": sum(run["states"].get(state, 0) for state in FINAL),
        "baseline": baseline,
    }


if __name__ == "__main__":
    sys.exit(main())

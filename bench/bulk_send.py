"""Benchmark 2: bulk sending end to end.

100,000 recipients as ten ``POST /v1/message`` calls of 10,000 (sent one after the other by one
client, unless ``--threads``), through the domestic gateway adapter and the simulator, which
pushes its delivery reports to the web process (its default 200 ms report delay, unless
``--report-delay-ms``). Timed from just before the first request until every record is final
(``delivered`` or ``failed``), read from the database every 0.2 s. The stack is the harness's
(gunicorn, a worker of concurrency 2, the simulator) plus the beat, as deployed
(scripts/supervisord.conf): its sweeps finish what the pipeline leaves to them (reports that
overtook their record, records left queued), so a run measures that tail too.

Baseline in the same run: the same work as one Celery task per recipient
(``bench/baseline_tasks.py``: the pipeline's own claim/send/record steps on a batch of one), on a
worker of the same concurrency (plus the beat), timed from the first publish until its records
are final.

    .venv/bin/python -m bench.bulk_send            # 100,000 recipients, baseline 2,000
    .venv/bin/python -m bench.bulk_send --smoke    # 2,000 recipients in 2 calls, baseline 200

Figures: recipients/s, peak RSS of the web and worker process trees, what the simulator
received, and where the time went (all accepted, all answered by the provider, 99 % final).
Goals: >= 5,000 recipients/s, >= 20 x the baseline, worker RSS < 300 MB, exactly one message per
number at the simulator. A goal not met is reported, never raised; the run fails only when
records do not all become final within a generous deadline (a correctness problem). Each run's
logs are kept as ``var/bench/bulk_send-{project,baseline}-<process>.log``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
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
MAX_PER_CALL = 10_000
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
UNSENT = ("created", "queued", "sending")  # not yet answered by the provider


# --- numbers ---------------------------------------------------------------------------------------


def project_numbers(count: int) -> list[str]:
    """``13xxxxxx123``: distinct valid mainland mobiles; ending in 123 they never carry one of the
    simulator's fault suffixes (0004, 0005, 0500, 0408)."""
    return [f"13{index:06d}123" for index in range(count)]


def baseline_numbers(count: int) -> list[str]:
    """``18xxxxxx123``: distinct from the project run's numbers, equally fault-free."""
    return [f"18{index:06d}123" for index in range(count)]


def chunks(items: Sequence[str], parts: int) -> list[list[str]]:
    size = -(-len(items) // parts)
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


# --- seeding ---------------------------------------------------------------------------------------


def seed(balance: int) -> tuple[Any, int, int]:
    """The tenant (a Django user with a password), a passed signature and template, and its balance."""
    from django.contrib.auth import get_user_model

    from signatures import services as signature_services
    from sms.tenant_services import charge_tenant
    from templates_mgmt import services as template_services

    harness.truncate(*TABLES)
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
    celery_app().control.purge()


def wait_for_worker(timeout: float = 60.0) -> None:
    """Until a worker answers a ping (so the clock does not include its start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if celery_app().control.ping(timeout=0.5):
            return
    raise TimeoutError(f"no worker answered within {timeout}s")


def worker_command(*extra: str) -> list[str]:
    """The harness's worker command (same concurrency and options), plus ``extra``."""
    return [
        str(harness.VENV_BIN / "celery"),
        "-A",
        "gm_server_notify",
        "worker",
        "--loglevel",
        "WARNING",
        "--concurrency",
        str(CONCURRENCY),
        "--without-gossip",
        "--without-mingle",
        *extra,
    ]


def start_beat(stack: harness.Stack) -> None:
    """The beat, as deployed (scripts/supervisord.conf): its sweeps apply reports that overtook
    their record."""
    schedule = harness.OUTPUT_DIR / "bulk_send-beat-schedule"
    for old in harness.OUTPUT_DIR.glob(f"{schedule.name}*"):
        old.unlink()
    command = [str(harness.VENV_BIN / "celery"), "-A", "gm_server_notify", "beat"]
    command += ["--loglevel", "WARNING", "--schedule", str(schedule)]
    stack.start("beat", command, harness.base_environment(stack.web_port, stack.sim_port))


def keep_logs(stack: harness.Stack, run: str) -> None:
    """The next stack writes the same log names: keep this run's under its own names."""
    for name, process in stack.processes.items():
        if process.log.exists():
            process.log.replace(harness.OUTPUT_DIR / f"bulk_send-{run}-{name}.log")


def simulator_stats(stack: harness.Stack) -> dict[str, int]:
    stats = requests.get(f"{stack.sim_url}/_sim/stats", timeout=10).json().get(PROVIDER, {})
    return {
        "requests": stats.get("requests", 0),
        "numbers": stats.get("numbers", 0),
        "distinct": stats.get("distinct_numbers", 0),
        "duplicated": stats.get("duplicated_numbers", 0),
    }


def reset_simulator(stack: harness.Stack, report_delay_ms: float | None) -> None:
    """Forget what the simulator received; optionally change its report delay (default 200 ms)."""
    requests.post(f"{stack.sim_url}/_sim/reset", timeout=10).raise_for_status()
    if report_delay_ms is not None:
        answer = requests.post(
            f"{stack.sim_url}/_sim/config", json={"report_delay_ms": report_delay_ms}, timeout=10
        )
        answer.raise_for_status()


# --- waiting for the records -----------------------------------------------------------------------


def state_counts(**scope: Any) -> dict[str, int]:
    from django.db.models import Count

    from sms.models import SendRecord

    rows = SendRecord.objects.filter(**scope).values("state").annotate(n=Count("id")).order_by()
    return {row["state"]: row["n"] for row in rows}


def wait_until_final(total: int, deadline_s: float, started: float, **scope: Any) -> dict[str, Any]:
    """Poll every 0.2 s until ``total`` records of ``scope`` are final (or the deadline passes).

    Also notes when every record had the provider's answer (``sent_s``), when 99 % were final,
    and the most reports ever kept waiting for their record (``tbl_sms_pending_report``): the
    tail that only the beat's sweep can finish."""
    from sms.models import PendingReport, SendRecord

    final = SendRecord.objects.filter(state__in=FINAL, **scope)
    unsent = SendRecord.objects.filter(state__in=UNSENT, **scope)
    deadline = time.monotonic() + deadline_s
    progress: dict[str, Any] = {"complete": False, "sent_s": None, "t99_s": None, "max_pending_reports": 0}
    while True:
        done = final.count()
        if progress["sent_s"] is None and not unsent.exists():
            progress["sent_s"] = round(time.monotonic() - started, 2)
        pending = PendingReport.objects.count()
        progress["max_pending_reports"] = max(progress["max_pending_reports"], pending)
        if progress["t99_s"] is None and done >= 0.99 * total:
            progress["t99_s"] = round(time.monotonic() - started, 2)
        if done >= total:
            progress["complete"] = True
            return progress
        if time.monotonic() > deadline:
            return progress
        time.sleep(POLL_SECONDS)


def deadline_for(total: int) -> float:
    """Generous: far beyond any plausible run; only a stuck record reaches it."""
    return 120 + total / 100


# --- the two runs ----------------------------------------------------------------------------------


def project_run(
    total: int, calls: int, threads: int, sign_id: int, temp_id: int, report_delay_ms: float | None
) -> dict[str, Any]:
    parts = chunks(project_numbers(total), calls)
    with harness.running_stack(worker=True, simulator=True, worker_concurrency=CONCURRENCY) as stack:
        start_beat(stack)
        wait_for_worker()
        reset_simulator(stack, report_delay_ms)
        session = requests.Session()
        session.auth = (USERNAME, PASSWORD)
        latencies: list[float] = []

        def post(mobiles: list[str]) -> None:
            began = time.monotonic()
            answer = session.post(
                f"{stack.url}/v1/message",
                json={"sign_id": sign_id, "temp_id": temp_id, "mobiles": mobiles, "params": PARAMS},
                timeout=300,
            )
            latencies.append(time.monotonic() - began)
            if answer.status_code != 200:
                raise RuntimeError(f"v1/message answered {answer.status_code}: {answer.text[:300]}")

        started = time.monotonic()
        if threads <= 1:
            for part in parts:
                post(part)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(post, parts))
        accepted_s = time.monotonic() - started
        progress = wait_until_final(total, deadline_for(total), started)
        elapsed = time.monotonic() - started
        rss = {"web": stack.peak_rss("web"), "worker": stack.peak_rss("worker")}
        simulator = simulator_stats(stack)
    keep_logs(stack, "project")
    return {
        "elapsed_s": round(elapsed, 2),
        "accepted_s": round(accepted_s, 2),
        "call_s": {
            "mean": round(sum(latencies) / len(latencies), 2),
            "max": round(max(latencies), 2),
        },
        **progress,
        "states": state_counts(),
        "peak_rss_mb": rss,
        "simulator": simulator,
    }


def create_baseline_records(user: Any, sign_id: int, temp_id: int, count: int) -> list[int]:
    """Queued records written exactly as ``v1/message`` writes them, but not published."""
    from sms import tenant_services
    from sms.models import SendRecord
    from sms.tenant_services import send_tenant_message

    numbers = baseline_numbers(count)
    batches = []
    with mock.patch.object(tenant_services, "queue_batch_for_dispatch", lambda batch_id: None):
        for start in range(0, count, MAX_PER_CALL):
            mobiles = numbers[start : start + MAX_PER_CALL]
            batches.append(
                send_tenant_message(
                    owner=user, sign_id=sign_id, temp_id=temp_id, mobiles=mobiles, params=PARAMS
                ).pk
            )
    return list(SendRecord.objects.filter(batch_id__in=batches).order_by("id").values_list("id", flat=True))


def baseline_run(
    user: Any, sign_id: int, temp_id: int, count: int, report_delay_ms: float | None
) -> dict[str, Any]:
    ids = create_baseline_records(user, sign_id, temp_id, count)
    scope = {"pk__gte": ids[0], "pk__lte": ids[-1]}
    with harness.running_stack(worker=False, simulator=True) as stack:
        env = harness.base_environment(stack.web_port, stack.sim_port)
        stack.start("baseline_worker", worker_command("--include", "bench.baseline_tasks"), env)
        start_beat(stack)
        wait_for_worker()
        reset_simulator(stack, report_delay_ms)
        app = celery_app()
        started = time.monotonic()
        with app.producer_or_acquire() as producer:
            for record_id in ids:
                app.send_task("bench.send_one", args=[record_id], queue="sms_dispatch", producer=producer)
        published_s = time.monotonic() - started
        progress = wait_until_final(len(ids), deadline_for(len(ids)), started, **scope)
        elapsed = time.monotonic() - started
        rss = stack.peak_rss("baseline_worker")
        simulator = simulator_stats(stack)
    keep_logs(stack, "baseline")
    return {
        "recipients": len(ids),
        "elapsed_s": round(elapsed, 2),
        "published_s": round(published_s, 2),
        "recipients_per_s": round(len(ids) / elapsed, 1),
        **progress,
        "states": state_counts(**scope),
        "worker_peak_rss_mb": rss,
        "simulator": simulator,
    }


# --- report ----------------------------------------------------------------------------------------


def goal(value: Any, target: str, met: Callable[[], bool]) -> dict[str, Any]:
    return {"value": value, "target": target, "met": bool(met())}


def print_table(result: dict[str, Any]) -> None:
    baseline = result["baseline"]
    rows = [
        ("recipients", f"{result['total']:,} in {result['calls']} calls"),
        ("elapsed", f"{result['elapsed_s']} s (all accepted after {result['accepted_s']} s)"),
        ("all answered by provider", f"{result['sent_s']} s"),
        ("99 % final after", f"{result['t99_s']} s"),
        ("reports kept waiting", f"{result['max_pending_reports']:,} at most"),
        ("recipients/s", f"{result['recipients_per_s']:,}"),
        (
            "baseline",
            f"{baseline['recipients']:,} in {baseline['elapsed_s']} s"
            f" (all answered after {baseline['sent_s']} s)",
        ),
        ("baseline recipients/s", f"{baseline['recipients_per_s']:,}"),
        ("ratio", f"{result['ratio']} x"),
        ("peak RSS web", f"{result['peak_rss_mb']['web']} MB"),
        ("peak RSS worker", f"{result['peak_rss_mb']['worker']} MB"),
        (
            "simulator numbers",
            "{numbers:,} ({distinct:,} distinct, {duplicated} duplicated)".format(**result["simulator"]),
        ),
        ("records final", f"{result['final']:,} of {result['total']:,}"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print()
    for name, item in result["goals"].items():
        print(f"  [{'met' if item['met'] else 'NOT met'}] {name}: {item['value']} (goal {item['target']})")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=None, help="default 100,000 (smoke 2,000)")
    parser.add_argument("--calls", type=int, default=None, help="v1/message calls; default 10 (smoke 2)")
    parser.add_argument("--baseline", type=int, default=None, help="baseline recipients; default 2,000")
    parser.add_argument("--threads", type=int, default=1, help="client threads posting the calls (1)")
    parser.add_argument(
        "--report-delay-ms", type=float, default=None, help="the simulator's report delay (its default: 200)"
    )
    parser.add_argument("--smoke", action="store_true", help="2,000 recipients in 2 calls, baseline 200")
    args = parser.parse_args(argv)
    total = args.recipients or (2_000 if args.smoke else 100_000)
    calls = args.calls or (2 if args.smoke else 10)
    baseline_count = args.baseline or (200 if args.smoke else 2_000)
    if not 0 < total <= 1_000_000 or not 0 < baseline_count <= 1_000_000:
        parser.error("--recipients and --baseline must be between 1 and 1,000,000")
    if -(-total // calls) > MAX_PER_CALL:
        parser.error(f"a call carries at most {MAX_PER_CALL:,} mobiles: use more --calls")

    harness.prepare_database()
    harness.setup_django()
    purge_broker()
    user, sign_id, temp_id = seed(balance=total + baseline_count)

    delay = args.report_delay_ms
    project = project_run(total, calls, args.threads, sign_id, temp_id, delay)
    baseline = baseline_run(user, sign_id, temp_id, baseline_count, delay)

    recipients_per_s = round(total / project["elapsed_s"], 1)
    ratio = round(recipients_per_s / baseline["recipients_per_s"], 1)
    simulator = project["simulator"]
    final = sum(project["states"].get(state, 0) for state in FINAL)
    result = {
        "total": total,
        "calls": calls,
        "client_threads": args.threads,
        "simulator_report_delay_ms": 200.0 if delay is None else delay,
        "elapsed_s": project["elapsed_s"],
        "accepted_s": project["accepted_s"],
        "sent_s": project["sent_s"],
        "t99_s": project["t99_s"],
        "max_pending_reports": project["max_pending_reports"],
        "call_s": project["call_s"],
        "recipients_per_s": recipients_per_s,
        "final": final,
        "states": project["states"],
        "baseline": baseline,
        "ratio": ratio,
        "peak_rss_mb": project["peak_rss_mb"],
        "simulator": {key: simulator[key] for key in ("numbers", "distinct", "duplicated", "requests")},
        "goals": {
            "recipients_per_s": goal(recipients_per_s, ">= 5000", lambda: recipients_per_s >= 5000),
            "ratio": goal(ratio, ">= 20", lambda: ratio >= 20),
            "worker_rss_mb": goal(
                project["peak_rss_mb"]["worker"], "< 300", lambda: project["peak_rss_mb"]["worker"] < 300
            ),
            "simulator_numbers": goal(
                simulator["numbers"],
                f"== {total}, 0 duplicated",
                lambda: simulator["numbers"] == total and simulator["duplicated"] == 0,
            ),
        },
    }
    harness.record("bulk_send", result, smoke=args.smoke)
    print_table(result)
    if not (project["complete"] and baseline["complete"]):
        print("records were still not final at the deadline: see var/bench/*.log", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

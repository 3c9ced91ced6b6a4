"""Benchmark 2b: the bulk path's phases, one at a time, in this process (what the profile of
``docs/performance.md`` section 2 measures).

Accepting a 10,000-mobile ``v1/message`` (``send_tenant_message``: phone checks, the records'
INSERTs, the dispatch's publishing, mocked), then for one 3,000-record gateway batch: the claim,
the provider request (the simulator, in a thread of this process), the outcome write, and 30
pushed reports of 100 applied as the web process applies them (``apply_delivery_reports``).
Each phase runs ``--repeat`` times (fresh records each time) and reports the median wall time,
this process's CPU time and MariaDB's CPU time (``/proc``, 10 ms ticks) per phase and per
record. No HTTP, no worker, no broker: the cost of our code and its SQL alone.

    .venv/bin/python -m bench.phases               # 5 repeats
    .venv/bin/python -m bench.phases --repeat 1    # quick
    .venv/bin/python -m bench.phases --profile     # and a pyinstrument tree per phase
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

from bench import harness

ACCEPT_MOBILES = 10_000
BATCH = 3_000
PUSH_SIZE = 100


def mysql_cpu_seconds() -> float:
    """MariaDB's user + system CPU so far (0 when it is not a local process)."""
    return harness.service_cpu_seconds().get("mariadb", 0.0)


def measure(run: Callable[[], Any], profile: bool) -> dict[str, float]:
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    mysql, cpu, wall = mysql_cpu_seconds(), time.process_time(), time.perf_counter()
    run()
    figures = {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "mysql_cpu_s": mysql_cpu_seconds() - mysql,
    }
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("SMS_VERIFY_LIMITS", "")
    harness.prepare_database()
    harness.setup_django()

    from django.conf import settings

    from bench import bulk_send
    from providers.base import DeliveryReport, ReportStatus
    from providers.simulator.server import SimulatorServer
    from sms.delivery import reports
    from sms.sending import pipeline
    from sms.tenant_api import services as tenant_services

    server = SimulatorServer("127.0.0.1", 0)
    server.state.config.push = False
    server.state.config.report_delay_ms = 0
    server.start_in_thread()
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["gateway"]["base_url"] = server.url
    settings.SMS_PROVIDERS = providers
    user, sign_id, temp_id = bulk_send.seed(balance=(args.repeat + 1) * ACCEPT_MOBILES * 2)

    numbers = iter(bulk_send.project_numbers((args.repeat + 1) * ACCEPT_MOBILES * 2))
    results: dict[str, list[dict[str, float]]] = {}

    def accept() -> list[list[int]]:
        published: list[list[int]] = []
        mobiles = [next(numbers) for _ in range(ACCEPT_MOBILES)]
        with mock.patch(
            "sms.sending.pipeline.publish_dispatch",
            side_effect=lambda ids, *rest, **options: published.append(ids),
        ):
            figures = measure(
                lambda: tenant_services.send_tenant_message(
                    owner=user, sign_id=sign_id, temp_id=temp_id, mobiles=mobiles, params=bulk_send.PARAMS
                ),
                args.profile,
            )
        results.setdefault(f"accept {ACCEPT_MOBILES:,} mobiles", []).append(figures)
        return published

    def one_batch(ids: list[int]) -> None:
        claimed = []
        results.setdefault(f"claim {BATCH:,}", []).append(
            measure(
                lambda: claimed.append(pipeline.claim_dispatch(record_ids=ids, provider="gateway")),
                args.profile,
            )
        )
        batch = claimed[0]
        outcomes: list[Any] = []
        results.setdefault(f"provider request {BATCH:,} (simulator)", []).append(
            measure(lambda: outcomes.extend(pipeline.send_dispatch(batch)), args.profile)
        )
        results.setdefault(f"record outcomes {BATCH:,}", []).append(
            measure(
                lambda: pipeline.record_outcomes(
                    provider="gateway", dispatch_id=batch.dispatch_id, outcomes=outcomes
                ),
                args.profile,
            )
        )
        pushed = [
            DeliveryReport(
                provider="gateway",
                provider_message_id=outcome.provider_message_id,
                status=ReportStatus.DELIVERED,
                code="DELIVRD",
            )
            for outcome in outcomes
        ]

        def apply_pushes() -> None:
            for start in range(0, len(pushed), PUSH_SIZE):
                reports.apply_delivery_reports(provider="gateway", reports=pushed[start : start + PUSH_SIZE])

        results.setdefault(f"reports {BATCH:,} in pushes of {PUSH_SIZE}", []).append(
            measure(apply_pushes, args.profile)
        )

    accept()  # warm up: imports, connections, caches
    for _ in range(args.repeat):
        one_batch(next(chunk for chunk in accept() if len(chunk) == BATCH))
    server.shutdown()

    table = {}
    for phase, runs in results.items():
        records = ACCEPT_MOBILES if phase.startswith("accept") else BATCH
        medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        table[phase] = {
            **{key: round(value, 3) for key, value in medians.items()},
            "us_per_record": {key: round(value / records * 1e6, 1) for key, value in medians.items()},
            "runs": len(runs),
        }
    harness.record("phases", {"phases": table}, smoke=args.repeat < 3)
    print()
    for phase, row in table.items():
        per = row["us_per_record"]
        print(
            f"  {phase:<34} wall {row['wall_s']:6.3f} s  cpu {row['cpu_s']:6.3f} s"
            f"  mysql {row['mysql_cpu_s']:5.2f} s  | per record (µs): wall {per['wall_s']:6.1f},"
            f" cpu {per['cpu_s']:6.1f}, mysql {per['mysql_cpu_s']:6.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

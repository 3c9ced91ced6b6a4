"""Benchmark: retention at scale (issue 27). Loads station send records with
``bench.statistics_scale``'s seeder (5,000,000 records, 1,000 stations over 120 days by default: a
quarter younger than a 30-day retention; 93 % delivered, 5 % failed, 2 % left ``submitted``, i.e.
still moving and so skipped), then runs ``sms.privacy.services.erase_expired`` to the end, in this
process, while a probe thread plays the sending path on a connection of its own:

- ``insert``: one new send record (what ``send/add`` writes);
- ``update_recent``: a young record still moving (a worker's or a report's update);
- ``update_old_moving``: one of the old ``submitted`` records inside the range retention walks
  (a late report), the row retention is most likely to stand in the way of.

Each probe operation is its own transaction, timed; the same probe runs for a while before
retention as a baseline. Then a second retention run (the cursor and the held rows: what every
later beat costs) and ``erase_mobile`` of one number (a dry run and a real one: the text columns
are searched without an index).

    BENCH_DATABASE_URL=mysql://root@127.0.0.1:3306/gm_priv_bench .venv/bin/python -m bench.retention
    .venv/bin/python -m bench.retention --smoke     # 20,000 records
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import threading
import time
from typing import Any

from bench import harness
from bench.statistics_scale import SEED, load_stations

TABLES = (
    "tbl_sms_send_record",
    "tbl_sms_daily_statistics",
    "tbl_sms_statistics",
    "tbl_sms_retention_cursor",
)
BASELINE_SECONDS = 10.0


def _ms(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def _summary(samples: dict[str, list[float]]) -> dict[str, Any]:
    return {
        name: {
            "operations": len(times),
            "p50_ms": _ms(times, 0.5),
            "p99_ms": _ms(times, 0.99),
            "max_ms": _ms(times, 1.0),
            "mean_ms": round(statistics.fmean(times) * 1000, 2) if times else 0.0,
        }
        for name, times in samples.items()
    }


class Probe(threading.Thread):
    """The sending path's writes, one transaction each, timed, until stopped."""

    def __init__(self, *, recent_id: int, old_moving_ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.recent_id = recent_id
        self.old_moving_ids = old_moving_ids
        self.stop = threading.Event()
        self.samples: dict[str, list[float]] = {"insert": [], "update_recent": [], "update_old_moving": []}
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connection, transaction
        from django.utils import timezone

        from sms.models import RecordState, SendRecord

        rng = random.Random(1)
        try:
            while not self.stop.is_set():
                started = time.perf_counter()
                with transaction.atomic():
                    SendRecord.objects.create(
                        station_id="T0001",
                        receive_phone="13100000000",
                        phone_e164="+8613100000000",
                        content="【去采购报价单】probe",
                        segments=1,
                        state=RecordState.CREATED,
                    )
                self.samples["insert"].append(time.perf_counter() - started)
                started = time.perf_counter()
                with transaction.atomic():
                    SendRecord.objects.filter(pk=self.recent_id).update(updated_at=timezone.now())
                self.samples["update_recent"].append(time.perf_counter() - started)
                started = time.perf_counter()
                with transaction.atomic():
                    SendRecord.objects.filter(pk=rng.choice(self.old_moving_ids)).update(
                        updated_at=timezone.now()
                    )
                self.samples["update_old_moving"].append(time.perf_counter() - started)
                time.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
        finally:
            connection.close()


def probed(run: Any, *, recent_id: int, old_moving_ids: list[int]) -> tuple[Any, dict[str, Any], float]:
    probe = Probe(recent_id=recent_id, old_moving_ids=old_moving_ids)
    probe.start()
    started = time.perf_counter()
    try:
        outcome = run()
    finally:
        elapsed = time.perf_counter() - started
        probe.stop.set()
        probe.join(timeout=30)
    if probe.error is not None:
        raise probe.error
    return outcome, _summary(probe.samples), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--stations", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--retention-days", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--smoke", action="store_true", help="20,000 records, 20 stations")
    args = parser.parse_args()
    if args.smoke:
        args.records, args.stations = 20_000, 20

    harness.prepare_database()
    harness.setup_django()
    from django.core.cache import cache
    from django.db import connection

    from sms.models import RecordState, SendRecord
    from sms.privacy import services

    harness.truncate(*TABLES)
    cache.delete(services.LOCK_KEY)
    now_us = int(time.time() * 1_000_000)
    loaded = load_stations(
        records=args.records, stations=args.stations, days=args.days, rng=random.Random(SEED), now_us=now_us
    )
    print(f"loaded {loaded.records:,} records in {loaded.seconds:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE tbl_sms_send_record")
        cursor.fetchall()
    from django.utils import timezone

    cutoff = timezone.now() - dt.timedelta(days=args.retention_days)
    old = SendRecord.objects.filter(created_at__lt=cutoff)
    expected = old.filter(state__in=[RecordState.DELIVERED, RecordState.FAILED]).count()
    old_moving_ids = list(old.filter(state=RecordState.SUBMITTED).values_list("pk", flat=True)[:5000])
    recent_id = (
        SendRecord.objects.filter(state=RecordState.SUBMITTED).order_by("-pk").values_list("pk", flat=True)[0]
    )
    sample_phone = (
        SendRecord.objects.filter(created_at__gte=cutoff)
        .order_by("-pk")
        .values_list("phone_e164", flat=True)[0]
    )

    _, baseline, _ = probed(
        lambda: time.sleep(BASELINE_SECONDS), recent_id=recent_id, old_moving_ids=old_moving_ids
    )
    first, during, seconds = probed(
        lambda: services.erase_expired(
            retention_days=args.retention_days, batch_size=args.batch_size, max_seconds=24 * 3600
        ),
        recent_id=recent_id,
        old_moving_ids=old_moving_ids,
    )
    erased = first.erased["tbl_sms_send_record"]
    print(f"first run: {erased:,} records erased in {seconds:.1f} s", flush=True)
    second_started = time.perf_counter()
    second = services.erase_expired(
        retention_days=args.retention_days, batch_size=args.batch_size, max_seconds=24 * 3600
    )
    second_seconds = time.perf_counter() - second_started
    left = SendRecord.objects.filter(
        created_at__lt=cutoff, state__in=[RecordState.DELIVERED, RecordState.FAILED]
    )
    left = left.exclude(phone_e164="").count()
    started = time.perf_counter()
    dry = services.erase_mobile(number=sample_phone, dry_run=True)
    dry_seconds = time.perf_counter() - started
    started = time.perf_counter()
    real = services.erase_mobile(number=sample_phone, dry_run=False)
    real_seconds = time.perf_counter() - started

    harness.record(
        "retention",
        {
            "parameters": {
                "records": args.records,
                "stations": args.stations,
                "days": args.days,
                "retention_days": args.retention_days,
                "batch_size": args.batch_size,
                "seed": SEED,
                "database": "MariaDB, READ COMMITTED",
            },
            "load": {"records": loaded.records, "seconds": round(loaded.seconds, 1)},
            "first_run": {
                "expected_final_records_older_than_retention": expected,
                "erased": first.erased,
                "held": first.held,
                "seconds": round(seconds, 1),
                "records_per_s": round(erased / seconds) if seconds else None,
                "batches": first.batches,
                "longest_batch_ms": round(first.longest_batch_seconds * 1000, 1),
            },
            "second_run": {
                "erased": second.total,
                "held": second.held,
                "batches": second.batches,
                "seconds": round(second_seconds, 2),
            },
            "final_records_older_than_retention_left_unerased": left,
            "probe_baseline": baseline,
            "probe_during_first_run": during,
            "erase_mobile": {
                "dry_run_seconds": round(dry_seconds, 2),
                "real_seconds": round(real_seconds, 2),
                "rows_touched": real.touched,
                "dry_run_counted": dry.touched,
            },
        },
        smoke=args.smoke,
    )


if __name__ == "__main__":
    main()

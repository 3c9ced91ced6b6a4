"""Concurrent writers of one station: each in its own thread and database connection, released
together by a barrier, against MySQL (the database whose locks are being tested)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from sms import selectors, services
from sms.models import RecordState, SendRecord

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
DAYS = 6


def _added_records(recharge, count: int) -> list[SendRecord]:
    recharge("T7442", count)
    return [
        services.create_station_send(
            station_id="T7442",
            receive_phone=f"131{index:04d}1234",
            business_type=2,
            sms_content={"verify_code": "1234", "sms_signature": "去采购"},
        )
        for index in range(count)
    ]


def _start_together(task_ids: list[int]) -> list[BaseException | None]:
    """Start every record at the same instant; what each start raised (None: it succeeded)."""
    barrier = threading.Barrier(len(task_ids))

    def start(task_id: int) -> BaseException | None:
        try:
            barrier.wait(timeout=60)
            services.start_station_send(task_id=task_id)
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever a start raised
            return exc
        finally:
            connection.close()
        return None

    with ThreadPoolExecutor(max_workers=len(task_ids)) as pool:
        return list(pool.map(start, task_ids))


@pytest.mark.skipif(connection.vendor != "mysql", reason="row locks and deadlocks are MySQL's")
def test_concurrent_starts_of_one_station_on_a_new_day_all_succeed(recharge):
    """The first starts of a day race to create the station's statistics row. An
    update-then-insert took a shared lock on the duplicate key and deadlocked (MySQL 1213) when
    two of them upgraded it: the API answered 500 and those records never started."""
    records = _added_records(recharge, THREADS * DAYS)
    today = timezone.localdate()
    with mock.patch("sms.pipeline.publish_dispatch"):
        for day in range(DAYS):
            group = records[day * THREADS : (day + 1) * THREADS]
            # Each round is a day with no statistics row yet: the racing insert happens every time.
            SendRecord.objects.filter(pk__in=[r.pk for r in group]).update(
                created_at=timezone.now() - timedelta(days=day + 1)
            )
            errors = _start_together([record.pk for record in group])
            assert errors == [None] * THREADS
    assert SendRecord.objects.filter(state=RecordState.QUEUED).count() == THREADS * DAYS
    rows = selectors.daily_send_statistics(
        station_id="T7442", start_date=today - timedelta(days=DAYS), end_date=today
    )
    assert [row["total_send_nums"] for row in rows] == [THREADS] * DAYS + [0]

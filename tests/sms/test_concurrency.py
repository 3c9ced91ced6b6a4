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

from sms.models import RecordState, SendRecord
from sms.station_api import selectors, services
from tests.support.backends import needs_mysql
from tests.support.waiting import scaled

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
            barrier.wait(timeout=scaled(60))
            services.start_station_send(task_id=task_id)
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever a start raised
            return exc
        finally:
            connection.close()
        return None

    with ThreadPoolExecutor(max_workers=len(task_ids)) as pool:
        return list(pool.map(start, task_ids))


@needs_mysql("row locks and deadlocks are MySQL's")
def test_concurrent_starts_of_one_station_on_a_new_day_all_succeed(recharge):
    """The first starts of a day race to create the station's statistics row. An
    update-then-insert took a shared lock on the duplicate key and deadlocked (MySQL 1213) when
    two of them upgraded it: the API answered 500 and those records never started."""
    records = _added_records(recharge, THREADS * DAYS)
    today = timezone.localdate()
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
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


def _waiting_for_kept_reports(holder_id: int) -> bool:
    """Whether a connection other than ``holder_id`` is in a locking read of the kept reports
    (waiting for the holder's lock: nothing else keeps such a read running)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE id NOT IN (%s, CONNECTION_ID())"
            " AND info LIKE %s",
            [holder_id, "%tbl_sms_pending_report%FOR UPDATE%"],
        )
        return cursor.fetchone()[0] > 0


@needs_mysql("row locks are MySQL's")
def test_a_kept_report_held_by_the_other_sides_look_is_applied_by_the_worker_not_left_to_the_sweep(recharge):
    """The report handler keeps a report that overtook the worker's commit, and looks once more
    for its record after its own commit, with the kept row locked. If the worker commits the id
    and looks for kept reports during that look, skipping the locked row leaves the report to
    the sweep (seconds later: the bulk benchmark's 1 % tail); waiting for it applies it now."""
    from providers.base import OutcomeStatus, SendOutcome
    from sms.models import PendingReport
    from sms.sending import pipeline

    record = _added_records(recharge, 1)[0]
    SendRecord.objects.filter(pk=record.pk).update(state=RecordState.QUEUED)
    batch = pipeline.claim_dispatch(record_ids=[record.pk], provider="gateway")
    message_id = f"{batch.dispatch_id}:{record.receive_phone}"
    PendingReport.objects.create(
        provider="gateway", provider_message_id=message_id, delivered=True, code="DELIVRD", phone=""
    )
    looking, release = threading.Event(), threading.Event()
    holder_id: list[int] = []

    def the_handlers_look() -> None:
        """Holds the kept report locked, as the handler's look does while it finds no record."""
        from django.db import transaction

        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT CONNECTION_ID()")
                    holder_id.append(cursor.fetchone()[0])
                list(PendingReport.objects.select_for_update().filter(provider_message_id=message_id))
                looking.set()
                release.wait(timeout=scaled(120))
        finally:
            connection.close()

    holder = threading.Thread(target=the_handlers_look)
    holder.start()
    assert looking.wait(timeout=scaled(60))

    def release_once_the_worker_waits() -> None:
        try:
            deadline = timezone.now() + timedelta(seconds=30)
            while timezone.now() < deadline and not _waiting_for_kept_reports(holder_id[0]):
                threading.Event().wait(0.05)
        finally:
            release.set()
            connection.close()

    releaser = threading.Thread(target=release_once_the_worker_waits)
    releaser.start()
    outcome = SendOutcome(record.pk, OutcomeStatus.ACCEPTED, provider_message_id=message_id)
    pipeline.record_outcomes(provider="gateway", dispatch_id=batch.dispatch_id, outcomes=[outcome])
    releaser.join(timeout=scaled(60))
    holder.join(timeout=scaled(60))
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED
    assert not PendingReport.objects.exists()

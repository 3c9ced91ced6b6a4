"""The push inbox: a push is stored with one insert and acknowledged; a worker's drain applies
thousands of stored pushes together, and applying a push twice changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sms import tasks
from sms.delivery import intake
from sms.models import DailyStatistics, PushInbox, RecordState, SendRecord
from tests.support.factories import send_record

pytestmark = pytest.mark.django_db

GATEWAY_URL = "/providers/gateway/status?token=test-callback-token"


def _gateway_report(task: str, mobile: str, status: str = "DELIVRD") -> dict:
    return {"sendId": task, "mobile": mobile, "status": status, "times": "2026-11-25 10:00:00"}


def _push(api_client, body: object) -> int:
    return api_client.post(GATEWAY_URL, data=json.dumps(body), content_type="application/json").status_code


def _gateway_records(count: int) -> list[SendRecord]:
    return [
        send_record(
            receive_phone=f"131{index:08d}", provider="gateway", provider_message_id=f"t1:131{index:08d}"
        )
        for index in range(count)
    ]


def test_a_push_is_acknowledged_once_stored_and_applied_by_the_drain(api_client):
    [record] = _gateway_records(1)
    assert _push(api_client, _gateway_report("t1", record.receive_phone)) == 200
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED  # stored, not applied in the request
    assert PushInbox.objects.count() == 1
    result = intake.drain_inbox()
    assert (result.pushes, result.reports, result.dropped) == (1, 1, 0)
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED
    assert not PushInbox.objects.exists()


def test_a_malformed_push_is_refused_and_nothing_is_stored(api_client):
    assert _push(api_client, {"sendId": "t1"}) == 400
    assert not PushInbox.objects.exists()


def test_a_drain_applies_hundreds_of_single_pushes_in_a_handful_of_statements(api_client):
    records = _gateway_records(300)
    for record in records:
        assert _push(api_client, _gateway_report("t1", record.receive_phone)) == 200
    with CaptureQueriesContext(connection) as queries:
        result = intake.drain_inbox()
    assert (result.pushes, result.reports) == (300, 300)
    assert SendRecord.objects.filter(state=RecordState.DELIVERED).count() == 300
    # Set-based: the statements do not grow with the pushes (one per push would be 300+).
    assert len(queries) < 40, [query["sql"][:80] for query in queries]
    day = DailyStatistics.objects.get(station_id="T7442")
    assert day.success_send_nums == 300


def test_the_first_final_report_decides_across_pushes_drained_together(api_client):
    [record] = _gateway_records(1)
    _push(api_client, _gateway_report("t1", record.receive_phone, "DELIVRD"))
    _push(api_client, _gateway_report("t1", record.receive_phone, "UNDELIV"))
    intake.drain_inbox()
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED
    assert DailyStatistics.objects.get(station_id="T7442").send_failed_nums == 0


def test_a_drain_that_died_before_its_delete_is_taken_over_and_changes_nothing_twice(api_client):
    [record] = _gateway_records(1)
    _push(api_client, _gateway_report("t1", record.receive_phone))
    intake.drain_inbox()
    # The same push again, claimed by a drain that died before deleting it, long ago.
    _push(api_client, _gateway_report("t1", record.receive_phone))
    PushInbox.objects.update(claim="dead-drain", claimed_at=timezone.now() - intake.CLAIM_TIMEOUT * 2)
    result = intake.drain_inbox()
    assert result.pushes == 1 and not PushInbox.objects.exists()
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED
    assert DailyStatistics.objects.get(station_id="T7442").success_send_nums == 1


def test_a_chunk_whose_apply_fails_is_given_back_for_the_retry(api_client):
    [record] = _gateway_records(1)
    _push(api_client, _gateway_report("t1", record.receive_phone))
    with mock.patch.object(intake, "apply_push", side_effect=RuntimeError("apply failed")):
        with pytest.raises(RuntimeError):
            intake.drain_inbox()
    assert PushInbox.objects.get().claim == ""
    assert intake.drain_inbox().pushes == 1
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED


def test_a_push_claimed_by_a_live_drain_is_left_to_it(api_client):
    [record] = _gateway_records(1)
    _push(api_client, _gateway_report("t1", record.receive_phone))
    PushInbox.objects.update(claim="live-drain", claimed_at=timezone.now() - dt.timedelta(seconds=5))
    assert intake.drain_inbox().pushes == 0
    assert PushInbox.objects.count() == 1


def test_pushes_ask_for_a_drain_at_most_once_a_second(api_client, monkeypatch):
    records = _gateway_records(5)
    tasks.cache.delete(tasks.DRAIN_REQUEST_KEY)
    monkeypatch.setattr(tasks, "_last_request", 0.0)
    with mock.patch.object(tasks.drain_push_inbox, "apply_async") as publish:
        for record in records:
            assert _push(api_client, _gateway_report("t1", record.receive_phone)) == 200
    assert publish.call_count == 1


def test_a_drain_that_applied_pushes_asks_for_one_more_so_the_last_never_wait_for_beat(api_client):
    [record] = _gateway_records(1)
    _push(api_client, _gateway_report("t1", record.receive_phone))
    with mock.patch.object(tasks.drain_push_inbox, "apply_async") as publish:
        assert tasks.drain_push_inbox() == 1
        assert publish.call_args.kwargs["countdown"] == tasks.DRAIN_REQUEST_SECONDS
        publish.reset_mock()
        assert tasks.drain_push_inbox() == 0
    assert not publish.called  # an empty inbox asks for nothing more


def test_a_cache_that_is_down_does_not_fail_the_push(api_client, monkeypatch):
    monkeypatch.setattr(tasks, "_last_request", 0.0)
    [record] = _gateway_records(1)
    with mock.patch.object(tasks.cache, "add", side_effect=ConnectionError("cache down")):
        assert _push(api_client, _gateway_report("t1", record.receive_phone)) == 200
    assert PushInbox.objects.count() == 1

"""Surviving the infrastructure: pushes taken while the database is down, over real HTTP and a
real worker."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import requests
from django.db import OperationalError

from sms.models import RecordState, SendRecord
from tests.e2e.conftest import CALLBACK_TOKEN, wait_until
from tests.support.factories import send_record

pytestmark = pytest.mark.worker


def _submitted(count: int) -> list[SendRecord]:
    return [
        send_record(
            receive_phone=f"1310000{index:04d}",
            provider="gateway",
            provider_message_id=f"task-1:1310000{index:04d}",
        )
        for index in range(count)
    ]


def test_reports_pushed_while_the_web_cannot_reach_the_database_are_applied_by_a_worker(stack):
    """The gateway pushes each report once: a push the web could not write is queued, and a
    worker (which reaches the database) applies it. Nothing is answered 5xx, nothing is lost."""
    stack.worker()
    records = _submitted(20)
    url = f"{stack.url}/providers/gateway/status?token={CALLBACK_TOKEN}"
    down = OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' (111)")
    with mock.patch("sms.delivery.intake.store_push", side_effect=down):  # the web process only
        for record in records:
            report = {"sendId": "task-1", "mobile": record.receive_phone, "status": "DELIVRD"}
            answer = requests.post(url, data=json.dumps(report), timeout=60)
            assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    wait_until(
        lambda: SendRecord.objects.filter(state=RecordState.DELIVERED).count() == 20,
        timeout=60,
        message="every queued report applied by the worker",
    )

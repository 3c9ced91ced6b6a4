"""A provider push is acknowledged only once it is stored: applied, or queued while the database
is unreachable; when nothing can store it the provider is told to push again."""

from __future__ import annotations

import base64
import json
from unittest import mock

import celery.app.task
import kombu.exceptions
import pytest
from celery.exceptions import Retry
from django.db import OperationalError

from providers.base import OutcomeStatus, SendOutcome
from sms import tasks
from sms.core import metrics
from sms.models import Lane, RecordState
from sms.sending import pipeline
from tests.support.factories import send_record

pytestmark = pytest.mark.django_db

GATEWAY_URL = "/providers/gateway/status?token=test-callback-token"
TENCENT_URL = "/sms/callback?token=test-callback-token"
DB_DOWN = OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' (111)")
TENCENT_REPORT = [{"sid": "sid-1", "report_status": "SUCCESS", "mobile": "13100000001", "errmsg": "DELIVRD"}]
GATEWAY_REPORT = {
    "sendId": "t1",
    "mobile": "13100000001",
    "status": "DELIVRD",
    "times": "2026-11-25 10:00:00",
}


def _pushes(outcome: str, provider: str = "gateway") -> float:
    return metrics.PROVIDER_PUSHES.labels(provider, "status", outcome)._value.get()


def _post(client, url: str, payload) -> object:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


def test_a_push_the_database_cannot_take_is_queued_and_acknowledged(api_client):
    queued_before = _pushes("queued")
    with (
        mock.patch("sms.delivery.intake.store_push", side_effect=DB_DOWN),
        mock.patch.object(tasks.apply_provider_push, "apply_async") as publish,
    ):
        response = _post(api_client, GATEWAY_URL, GATEWAY_REPORT)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    provider, kind, body, content_type = publish.call_args.args[0]
    assert (provider, kind, content_type) == ("gateway", "status", "application/json")
    assert json.loads(base64.b64decode(body)) == GATEWAY_REPORT
    assert _pushes("queued") - queued_before == 1


def test_a_push_nothing_can_store_asks_the_provider_to_push_again(api_client):
    refused_before = _pushes("refused", "tencent")
    with (
        mock.patch("sms.delivery.intake.store_push", side_effect=DB_DOWN),
        mock.patch.object(
            tasks.apply_provider_push, "apply_async", side_effect=kombu.exceptions.OperationalError("down")
        ),
    ):
        station = _post(api_client, TENCENT_URL, TENCENT_REPORT)
        gateway = _post(api_client, GATEWAY_URL, GATEWAY_REPORT)
    assert station.status_code == 503 and station.json()["code"] == 1098
    assert gateway.status_code == 503 and "push again" in gateway.json()["error"]
    assert _pushes("refused", "tencent") - refused_before == 1


def test_a_queued_push_is_applied_by_the_task(api_client):
    record = send_record(
        receive_phone="13100000001", provider="gateway", provider_message_id="t1:13100000001"
    )
    body = base64.b64encode(json.dumps(GATEWAY_REPORT).encode()).decode()
    tasks.apply_provider_push.apply(args=("gateway", "status", body, "application/json"))
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED


def _retry_raises():
    return mock.patch.object(celery.app.task.Task, "retry", autospec=True, side_effect=Retry())


def test_a_queued_push_is_retried_while_the_database_is_down():
    body = base64.b64encode(json.dumps(GATEWAY_REPORT).encode()).decode()
    retries_before = metrics.TASK_RETRIES.labels("sms.apply_provider_push", "Retry")._value.get()
    with mock.patch("sms.delivery.intake.apply_push", side_effect=DB_DOWN), _retry_raises() as retry:
        result = tasks.apply_provider_push.apply(args=("gateway", "status", body, "application/json"))
    assert result.state == "RETRY" and retry.call_args.kwargs["countdown"] >= 0
    assert metrics.TASK_RETRIES.labels("sms.apply_provider_push", "Retry")._value.get() - retries_before == 1


def test_a_queued_push_gives_up_after_its_retries(settings):
    settings.SMS_PUSH_APPLY_MAX_RETRIES = 3
    body = base64.b64encode(json.dumps(GATEWAY_REPORT).encode()).decode()
    with mock.patch("sms.delivery.intake.apply_push", side_effect=DB_DOWN), _retry_raises() as retry:
        result = tasks.apply_provider_push.apply(
            args=("gateway", "status", body, "application/json"), retries=3
        )
    assert result.state == "FAILURE" and not retry.called


def test_a_dispatch_is_retried_when_the_database_is_down():
    with mock.patch.object(pipeline, "dispatch", side_effect=DB_DOWN), _retry_raises() as retry:
        result = tasks.dispatch_records.apply(args=([1, 2], "gateway", [], None))
    assert result.state == "RETRY"
    assert retry.call_args.kwargs["kwargs"] == {"infra_attempt": 1, "lane": Lane.TRANSACTIONAL}
    assert retry.call_args.kwargs["queue"] == "sms_transactional"  # the retry stays on its lane


def test_infrastructure_retries_are_not_counted_as_provider_attempts():
    with mock.patch.object(pipeline, "dispatch", return_value=pipeline.DispatchResult(sent=2)) as dispatch:
        tasks.dispatch_records.apply(
            args=([1, 2], "gateway", [], None), kwargs={"infra_attempt": 2}, retries=3
        )
    assert dispatch.call_args.kwargs["attempt"] == 1


def test_a_providers_answer_is_written_again_while_the_database_is_down(settings):
    settings.SMS_OUTCOME_RETRY_SECONDS = 60
    outcomes = [SendOutcome(1, OutcomeStatus.ACCEPTED, provider_message_id="m1")]
    retries_before = metrics.OUTCOME_WRITE_RETRIES.labels("gateway")._value.get()
    with (
        mock.patch.object(pipeline, "record_outcomes", side_effect=[DB_DOWN, DB_DOWN, 1]) as record,
        mock.patch.object(pipeline.time, "sleep"),
    ):
        assert pipeline.record_outcomes_durably(provider="gateway", dispatch_id="d1", outcomes=outcomes) == 1
    assert record.call_count == 3
    assert metrics.OUTCOME_WRITE_RETRIES.labels("gateway")._value.get() - retries_before == 2

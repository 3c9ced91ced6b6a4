"""Delivery reports that cannot be forged cheaply (issue 19, findings 6 and 8): a secret per
provider, a report applied only when its provider and number fit the record, strict JSON bodies,
and each item of a batch taken on its own."""

from __future__ import annotations

import json

import pytest

from sms.core import metrics
from sms.models import PendingReport, RecordState, RejectedReport, SendRecord
from tests.support.factories import send_record
from tests.support.pushes import apply_stored_pushes

pytestmark = pytest.mark.django_db

TENCENT = "/sms/callback?token={token}"
GATEWAY = "/providers/gateway/status?token={token}"


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.SMS_CALLBACK_TOKEN = "shared-secret"
    settings.SMS_CALLBACK_TOKENS = {"tencent": "tencent-secret", "gateway": "gateway-secret"}


def _record(provider: str, message_id: str, phone: str = "13112341234") -> SendRecord:
    return send_record(provider=provider, provider_message_id=message_id, receive_phone=phone)


def _tencent(sid: str, mobile: str, status: str = "FAIL") -> dict:
    return {"sid": sid, "mobile": mobile, "nationcode": "86", "report_status": status, "errmsg": "MK:0001"}


def _post(client, url: str, body) -> object:
    data = body if isinstance(body, bytes) else json.dumps(body)
    response = client.post(url, data=data, content_type="application/json")
    apply_stored_pushes()
    return response


def test_a_report_naming_another_number_is_kept_apart_and_never_applied(
    api_client, django_capture_on_commit_callbacks
):
    record = _record("tencent", "sid-1")
    before = metrics.REPORTS_REJECTED.labels("tencent", "wrong_number")._value.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            api_client, TENCENT.format(token="tencent-secret"), [_tencent("sid-1", "13999999999")]
        )
    assert response.status_code == 200  # the provider is answered; the report changes nothing
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED
    rejected = RejectedReport.objects.get()
    assert (rejected.record_id, rejected.reason, rejected.reported_phone) == (
        record.pk,
        "wrong_number",
        "139****9999",
    )
    assert metrics.REPORTS_REJECTED.labels("tencent", "wrong_number")._value.get() - before == 1


@pytest.mark.parametrize("mobile", ["13112341234", "+8613112341234", "131****1234", ""])
def test_a_report_naming_the_records_number_in_any_form_is_applied(api_client, mobile):
    record = _record("tencent", "sid-1")
    _post(api_client, TENCENT.format(token="tencent-secret"), [_tencent("sid-1", mobile, "SUCCESS")])
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED


def test_a_report_for_another_providers_record_is_not_applied(api_client):
    """The gateway's message ids are ``taskId:mobile``; a gateway push naming a Tencent record's id
    does not find it (ids are looked up per provider), and is kept as pending, never applied."""
    record = _record("tencent", "t1:13112341234")
    report = {"sendId": "t1", "mobile": "13112341234", "status": "UNDELIV"}
    assert _post(api_client, GATEWAY.format(token="gateway-secret"), report).status_code == 200
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED
    assert PendingReport.objects.count() == 1


def test_a_kept_report_is_checked_against_the_number_when_it_is_applied(api_client):
    """A report that came before its record's id was saved is checked when it is applied."""
    _post(api_client, TENCENT.format(token="tencent-secret"), [_tencent("sid-9", "13999999999")])
    assert PendingReport.objects.get().phone == "13999999999"
    record = _record("tencent", "sid-9")
    from sms.delivery.reports import apply_pending_reports

    assert apply_pending_reports(provider="tencent") == 0
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED
    assert RejectedReport.objects.get().reason == "wrong_number"


def test_one_providers_secret_does_not_open_anothers_route(api_client):
    record = _record("tencent", "sid-1")
    response = _post(api_client, TENCENT.format(token="gateway-secret"), [_tencent("sid-1", "13112341234")])
    assert response.status_code == 401
    assert _post(api_client, TENCENT.format(token="shared-secret"), []).status_code == 401
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED


def test_the_secret_may_come_in_a_header(api_client):
    record = _record("gateway", "t1:13112341234")
    response = api_client.post(
        "/providers/gateway/status",
        data=json.dumps({"sendId": "t1", "mobile": "13112341234", "status": "DELIVRD"}),
        content_type="application/json",
        HTTP_X_CALLBACK_TOKEN="gateway-secret",
    )
    assert response.status_code == 200
    apply_stored_pushes()
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED


def test_a_provider_without_its_own_secret_uses_the_shared_one(api_client, settings):
    settings.SMS_CALLBACK_TOKENS = {}
    record = _record("gateway", "t1:13112341234")
    report = {"sendId": "t1", "mobile": "13112341234", "status": "DELIVRD"}
    assert _post(api_client, GATEWAY.format(token="shared-secret"), report).status_code == 200
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED


@pytest.mark.parametrize(
    "body",
    [
        b'[{"sid": "sid-1", "report_status": "SUCCESS", "mobile": NaN}]',
        b'[{"sid": Infinity}]',
        b"[" * 100_000,
    ],
)
def test_a_body_that_is_not_strict_json_is_a_400(api_client, body):
    response = _post(api_client, TENCENT.format(token="tencent-secret"), body)
    assert response.status_code == 400 and response.json()["code"] == 1002


def test_an_uplink_with_a_lone_surrogate_is_a_400_not_a_500(api_client):
    body = b'{"mobile": "13112341234", "content": "\\ud800 hi"}'
    response = _post(api_client, "/providers/gateway/uplink?token=gateway-secret", body)
    assert response.status_code == 400


def test_one_malformed_item_does_not_cost_the_batch_its_other_items(api_client):
    first, second = _record("tencent", "sid-1"), _record("tencent", "sid-2", "13112345678")
    batch = [_tencent("sid-1", "13112341234", "SUCCESS"), {"no": "sid"}, _tencent("sid-2", "13112345678")]
    assert _post(api_client, TENCENT.format(token="tencent-secret"), batch).status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (RecordState.DELIVERED, RecordState.FAILED)

"""POST /sms/callback: Tencent Cloud's status-report push."""

import json

import pytest
from django.utils import timezone

from sms.models import DailyStatistics, RecordState, SendRecord
from tests.support.pushes import apply_stored_pushes

pytestmark = pytest.mark.django_db

URL = "/sms/callback?token=test-callback-token"


def _submitted(serial: str, station_id: str = "T7442") -> SendRecord:
    record = SendRecord.objects.create(
        station_id=station_id,
        receive_phone="13112341234",
        phone_e164="+8613112341234",
        business_type=0,
        content="【去采购】x",
        segments=1,
        state=RecordState.SUBMITTED,
        provider="tencent",
        provider_message_id=serial,
    )
    DailyStatistics.objects.update_or_create(
        station_id=station_id, send_date=timezone.localdate(), defaults={"total_send_nums": 2}
    )
    return record


def _report(
    sid: str, status: str = "SUCCESS", errmsg: str = "DELIVRD", description: str = "用户短信送达成功"
) -> dict:
    return {
        "user_receive_time": "2015-10-17 08:03:04",
        "nationcode": "86",
        "mobile": "13112341234",
        "report_status": status,
        "errmsg": errmsg,
        "description": description,
        "sid": sid,
    }


def _post(client, payload, url=URL):
    response = client.post(url, data=json.dumps(payload), content_type="application/json")
    apply_stored_pushes()
    return response


def test_reports_finish_records_and_count_statistics(api_client):
    delivered, failed = _submitted("sid-1"), _submitted("sid-2")
    response = _post(api_client, [_report("sid-1"), _report("sid-2", "FAIL", "MK:0001", "空号")])
    assert response.status_code == 200
    assert response.json() == {"code": 0, "msg": "ok", "data": None, "result": 0, "errmsg": "OK"}
    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert (delivered.state, delivered.status, delivered.remark) == (RecordState.DELIVERED, 1, "")
    assert (failed.state, failed.status, failed.remark) == (RecordState.FAILED, 2, "MK:0001: 空号")
    day = DailyStatistics.objects.get(station_id="T7442")
    assert (day.success_send_nums, day.send_failed_nums) == (1, 1)


def test_repeated_and_contradicting_reports_change_nothing(api_client):
    record = _submitted("sid-1")
    for _ in range(3):
        _post(api_client, [_report("sid-1")])
    _post(api_client, [_report("sid-1", "FAIL", "LATE")])
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED
    day = DailyStatistics.objects.get(station_id="T7442")
    assert (day.success_send_nums, day.send_failed_nums) == (1, 0)


def test_unknown_sid_is_acknowledged_and_changes_nothing(api_client):
    record = _submitted("sid-1")
    body = _post(api_client, [_report("nobody")]).json()
    assert body["code"] == 0 and body["result"] == 0
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED


@pytest.mark.parametrize("url", ["/sms/callback", "/sms/callback?token=wrong"])
def test_callback_without_the_token_is_refused(api_client, url):
    record = _submitted("sid-1")
    response = _post(api_client, [_report("sid-1")], url=url)
    assert response.status_code == 401 and response.json()["code"] == 1003
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED


def test_callback_is_closed_when_no_token_is_configured(api_client, settings):
    settings.SMS_CALLBACK_TOKEN = ""
    assert _post(api_client, [], url="/sms/callback?token=").status_code == 401


@pytest.mark.parametrize("body", ["{not json", '"text"', '[{"sid": "x"}]', "[1, 2]"])
def test_malformed_body_is_answered_without_500(api_client, body):
    response = api_client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] != 0

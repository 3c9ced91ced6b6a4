"""GET /sms/send_record/get."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sms.models import RecordState, SendRecord, SendStatus

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _record(
    station_id="T7442",
    *,
    business_type=0,
    status=SendStatus.SUCCESS,
    phone="13112341234",
    name=None,
    days_ago=0,
    remark="",
):
    state = {
        SendStatus.SENDING: RecordState.SUBMITTED,
        SendStatus.SUCCESS: RecordState.DELIVERED,
        SendStatus.FAILED: RecordState.FAILED,
    }[status]
    record = SendRecord.objects.create(
        station_id=station_id,
        receive_phone=phone,
        phone_e164=f"+86{phone}",
        business_type=business_type,
        content="【去采购】x",
        segments=1,
        state=state,
        status=status,
        receive_name=name,
        remark=remark,
    )
    if days_ago:
        record.created_at = timezone.now() - timedelta(days=days_ago)
        record.save(update_fields=["created_at"])
    return record


def _get(client, **params):
    query = {
        "station_id": "T7442",
        "start_date": (TODAY - timedelta(days=30)).isoformat(),
        "end_date": TODAY.isoformat(),
        **params,
    }
    body = client.get("/sms/send_record/get", query).json()
    assert body["code"] == 0, body
    return body


def test_row_has_the_seed_fields(station_client):
    record = _record(
        business_type=2, status=SendStatus.FAILED, remark="MBBLACK: blacklisted", phone="18617140030"
    )
    row = _get(station_client, business_type=2)["data"][0]
    assert row == {
        "task_id": record.pk,
        "business_type": 2,
        "receive_name": None,
        "receive_phone": "18617140030",
        "remark": "MBBLACK: blacklisted",
        "restaurant_id": None,
        "send_time": timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M:%S"),
        "status": 2,
    }


def test_defaults_list_order_types_with_success_or_failure_only(station_client):
    wanted = [_record(business_type=0).pk, _record(business_type=1, status=SendStatus.FAILED).pk]
    _record(business_type=2)  # registration: only when asked for
    _record(business_type=0, status=SendStatus.SENDING)  # still sending: only when asked for
    _record("T9999", business_type=0)  # another station
    _record(business_type=0, days_ago=40)  # outside the range
    assert sorted(row["task_id"] for row in _get(station_client)["data"]) == sorted(wanted)


def test_filters_by_type_and_status(station_client):
    registration = _record(business_type=2).pk
    sending = _record(business_type=0, status=SendStatus.SENDING).pk
    assert [row["task_id"] for row in _get(station_client, business_type=2)["data"]] == [registration]
    assert [row["task_id"] for row in _get(station_client, status=0)["data"]] == [sending]


def test_search_text_matches_phone_or_receiver_name(station_client):
    by_phone = _record(phone="18617140030").pk
    by_name = _record(phone="13112341234", name="张三餐厅").pk
    assert [row["task_id"] for row in _get(station_client, search_text="8617140")["data"]] == [by_phone]
    assert [row["task_id"] for row in _get(station_client, search_text="张三")["data"]] == [by_name]


@pytest.mark.parametrize("params", [{"business_type": 3}, {"status": 9}, {"limit": 500}, {"start_date": ""}])
def test_bad_filters_are_rejected(station_client, params):
    query = {"station_id": "T7442", "start_date": "2019-04-28", "end_date": "2019-05-28", **params}
    assert station_client.get("/sms/send_record/get", query).json()["code"] == 1002


def test_pages_three_pages_both_ways(station_client):
    ids = [_record().pk for _ in range(25)]
    for reverse, expected in ((False, list(reversed(ids))), (True, ids)):
        seen, sizes, extra = [], [], {"limit": 10, "reverse": str(reverse).lower()}
        while True:
            body = _get(station_client, **extra)
            sizes.append(len(body["data"]))
            seen += [row["task_id"] for row in body["data"]]
            if not body["pagination"]["more"]:
                break
            extra["page_obj"] = body["pagination"]["page_obj"]
        assert sizes == [10, 10, 5] and seen == expected

"""POST /sms/send/add and /sms/send/start."""

from unittest import mock

import pytest

from sms.core.content import count_segments
from sms.models import BalanceLedger, DailyStatistics, RecordState, SendRecord, Station
from tests.sms.conftest import seed_send_request

pytestmark = pytest.mark.django_db


def _balance(station_id: str = "T7442") -> int:
    return Station.objects.get(station_id=station_id).balance_nums


def test_seed_example_adds_a_record_and_reserves_its_segments(station_client, recharge):
    recharge("T7442", 10)
    response = station_client.post("/sms/send/add", seed_send_request(), format="json")
    body = response.json()
    assert (response.status_code, body["code"], body["msg"]) == (200, 0, "ok")
    record = SendRecord.objects.get(pk=body["data"]["task_id"])
    assert record.station_id == "T7442" and record.receive_phone == "13112341234"
    assert record.phone_e164 == "+8613112341234"
    assert record.content.startswith("【去采购报价单】") and "112095" in record.content
    assert record.state == RecordState.CREATED and record.status == 0
    assert _balance() == 10 - record.segments
    assert (
        BalanceLedger.objects.filter(reason="reserve", ref=str(record.pk), delta=-record.segments).count()
        == 1
    )


def test_order_message_renders_order_id(station_client, recharge, add_record):
    recharge()
    record = add_record(
        business_type=0, sms_content={"order_id": "PL123456", "sms_signature": "去采购"}, restaurant_id=7
    )
    assert "PL123456" in record.content and record.content.startswith("【去采购】")
    assert record.restaurant_id == 7


def test_long_message_bills_every_segment(station_client, recharge, add_record):
    recharge("T7442", 10)
    record = add_record(business_type=0, sms_content={"order_id": "X" * 64, "sms_signature": "去采购"})
    assert len(record.content) > 70
    assert record.segments == count_segments(record.content) == 2
    assert _balance() == 8


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"business_type": 5}, "business_type"),
        ({"business_type": "x"}, "business_type"),
        ({"sms_content": {"sms_signature": "[s]"}}, "verify_code"),
        ({"business_type": 0}, "order_id"),
        ({"sms_content": None}, "sms_content"),
        ({"receive_phone": "12345"}, "receive_phone"),
        ({"receive_phone": "+1 555"}, "receive_phone"),
        ({"receive_phone": ""}, "receive_phone"),
        ({"station_id": ""}, "station_id"),
        ({"restaurant_id": "abc"}, "restaurant_id"),
    ],
)
def test_bad_send_is_rejected_naming_the_field_and_writes_nothing(station_client, recharge, overrides, field):
    recharge("T7442", 10)
    response = station_client.post("/sms/send/add", seed_send_request(**overrides), format="json")
    body = response.json()
    assert body["code"] == 1002 and body["data"] is None
    assert field in body["msg"]
    assert SendRecord.objects.count() == 0
    assert _balance() == 10


def test_missing_required_fields_are_named(station_client, recharge):
    body = station_client.post("/sms/send/add", {}, format="json").json()
    assert body["code"] == 1002
    for field in ("station_id", "receive_phone", "business_type"):
        assert field in body["msg"]


def test_station_without_balance_is_refused(station_client, db):
    body = station_client.post("/sms/send/add", seed_send_request(), format="json").json()
    assert body["code"] == 1006 and "recharge" in body["msg"]
    assert SendRecord.objects.count() == 0


def test_balance_of_three_accepts_exactly_three_of_four_sends(station_client, recharge):
    recharge("T7442", 3)
    codes = [
        station_client.post("/sms/send/add", seed_send_request(), format="json").json()["code"]
        for _ in range(4)
    ]
    assert codes == [0, 0, 0, 1006]
    assert SendRecord.objects.count() == 3
    assert _balance() == 0


def test_international_number_with_prefix_is_accepted(station_client, recharge, add_record):
    recharge()
    record = add_record(receive_phone="+447911123456")
    assert record.phone_e164 == "+447911123456"


# --- send/start --------------------------------------------------------------------------------


def test_start_queues_the_record_and_publishes_one_dispatch(
    station_client, recharge, add_record, django_capture_on_commit_callbacks
):
    recharge()
    record = add_record()
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        body = station_client.post("/sms/send/start", {"task_id": record.pk}, format="json").json()
    assert body == {"code": 0, "msg": "ok", "data": None}
    delay.assert_called_once_with([record.pk], "tencent", [], None, lane=record.lane, sender="station:T7442")
    record.refresh_from_db()
    assert record.state == RecordState.QUEUED and record.queued_at is not None
    assert DailyStatistics.objects.get(station_id="T7442").total_send_nums == 1


def test_start_twice_sends_once(station_client, recharge, add_record, django_capture_on_commit_callbacks):
    recharge()
    record = add_record()
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = station_client.post("/sms/send/start", {"task_id": record.pk}, format="json").json()
        second = station_client.post("/sms/send/start", {"task_id": record.pk}, format="json").json()
    assert first["code"] == second["code"] == 0
    assert delay.call_count == 1
    assert DailyStatistics.objects.get(station_id="T7442").total_send_nums == 1


def test_start_of_unknown_task_is_an_error(station_client, db):
    response = station_client.post("/sms/send/start", {"task_id": 999999}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == 1004 and "999999" in response.json()["msg"]


@pytest.mark.parametrize("body", [{}, {"task_id": "abc"}, {"task_id": 0}])
def test_start_with_bad_task_id_is_a_parameter_error(station_client, db, body):
    assert station_client.post("/sms/send/start", body, format="json").json()["code"] == 1002


def test_start_is_published_only_after_commit(
    station_client, recharge, add_record, django_capture_on_commit_callbacks
):
    recharge()
    record = add_record()
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as delay,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        station_client.post("/sms/send/start", {"task_id": record.pk}, format="json")
        assert delay.call_count == 0
    assert len(callbacks) == 1

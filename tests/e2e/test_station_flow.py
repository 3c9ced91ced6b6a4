"""A station's messages from send/add to their final state, over real HTTP with a real worker."""

import pytest
from django.utils import timezone

from sms.models import FINAL_STATES, SendRecord
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.worker


def _add(stack, phone: str) -> int:
    body = stack.station(
        "POST",
        "/sms/send/add",
        json={
            "station_id": "T7442",
            "receive_phone": phone,
            "business_type": 2,
            "sms_content": {"verify_code": "112095", "sms_signature": "[去采购报价单]"},
        },
    )
    assert body["code"] == 0, body
    return body["data"]["task_id"]


def test_station_sends_end_delivered_or_failed_with_balance_and_statistics_exact(stack):
    stack.worker()
    recharge = stack.station(
        "POST",
        "/sms/recharge_record/create",
        json={
            "combo_id": 4,
            "station_id": "T7442",
            "recharge_nums": 10,
            "recharge_money": "1.00",
            "operator_name": "e2e",
        },
    )
    assert recharge["code"] == 0
    delivered, undelivered, refused = (
        _add(stack, phone) for phone in ("13100000001", "13100000004", "13100000005")
    )
    for task_id in (
        delivered,
        undelivered,
        refused,
        delivered,
    ):  # the second start of `delivered` sends nothing
        assert stack.station("POST", "/sms/send/start", json={"task_id": task_id})["code"] == 0

    wait_until(
        lambda: SendRecord.objects.filter(state__in=FINAL_STATES).count() == 3, message="records final"
    )
    records = {record.pk: record for record in SendRecord.objects.all()}
    assert (records[delivered].status, records[undelivered].status, records[refused].status) == (1, 2, 2)
    assert records[refused].remark.startswith("FailedOperation.PhoneNumberInBlacklist")
    assert records[undelivered].remark.startswith("MK:0001")

    # Reserved 3, refunded the one Tencent refused at submit; the undelivered one was billed.
    assert stack.station("GET", "/sms/balance/get", params={"station_id": "T7442"})["data"] == {
        "sms_balance": 8
    }
    today = timezone.localdate().isoformat()
    [day] = stack.station(
        "GET", "/sms/data_center/get", params={"station_id": "T7442", "start_date": today, "end_date": today}
    )["data"]
    assert (day["total_send_nums"], day["success_send_nums"], day["send_failed_nums"]) == (3, 1, 2)
    listed = stack.station(
        "GET",
        "/sms/send_record/get",
        params={"station_id": "T7442", "start_date": today, "end_date": today, "business_type": 2},
    )
    assert sorted(row["task_id"] for row in listed["data"]) == sorted([delivered, undelivered, refused])

    stats = stack.simulator.stats()["tencent"]
    assert (stats["numbers"], stats["duplicated_numbers"]) == (3, 0)

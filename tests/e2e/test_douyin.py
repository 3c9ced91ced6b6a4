"""Douyin shop orders through fw199 (seed 003), end to end: the station API over HTTP, a real
worker, and the simulator checking seed 003's rules (a request the seed does not allow is refused
there, so a delivered message proves the adapter spoke the seed)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from sms.models import FINAL_STATES, SendRecord
from tests.e2e.conftest import DOUYIN_TEMPLATES, wait_until
from tests.providers.test_fw199 import SEED_CIPHERTEXT

pytestmark = pytest.mark.worker

DOUYIN_ORDER = "5001789329480019707"


def test_an_order_id_send_and_a_ciphertext_send_are_delivered_via_fw199_with_named_params(douyin_stack):
    stack = douyin_stack
    stack.worker(env={"FW199_TEMPLATES": json.dumps(DOUYIN_TEMPLATES)})
    stack.recharge(10)
    by_order = stack.station_send(
        receive_phone="13100000001",
        business_type=0,
        sms_content={
            "order_id": "PL0001",
            "sms_signature": "[去采购]",
            "douyin_order_id": DOUYIN_ORDER,
            "express_company": "顺丰",
            "express_number": "sf3813741222",
        },
    )
    by_ciphertext = stack.station_send(
        receive_phone=SEED_CIPHERTEXT,
        business_type=1,
        sms_content={"order_id": "PL0002", "sms_signature": "去采购"},
    )

    wait_until(
        lambda: SendRecord.objects.filter(state__in=FINAL_STATES).count() == 2, message="records final"
    )
    records = {record.pk: record for record in SendRecord.objects.all()}
    for task_id in (by_order, by_ciphertext):
        record = records[task_id]
        assert (record.provider, record.state, record.status) == ("fw199", "delivered", 1), record.remark
        assert record.provider_message_id

    received = stack.simulator.state.extra["fw199"]["messages"]
    assert sorted(
        (m["biz_type"], m["address"], m["template_id"], m["sms_sign"], m["template_param"]) for m in received
    ) == [
        (0, SEED_CIPHERTEXT, "ST_00000001", "去采购", {"order_id": "PL0002"}),
        (1, DOUYIN_ORDER, "ST_72dd4e2c", "去采购", {"name": "顺丰", "number": "sf3813741222"}),
    ]
    stats = stack.simulator.stats()
    assert (stats["fw199"]["numbers"], stats["fw199"]["refused_requests"]) == (2, 0)
    assert "tencent" not in stats and "gateway" not in stats

    # No receipts (final on accept): billed once each, counted as success, listed as given.
    assert stack.station("GET", "/sms/balance/get", params={"station_id": "T7442"})["data"] == {
        "sms_balance": 8
    }
    today = timezone.localdate().isoformat()
    [day] = stack.station(
        "GET", "/sms/data_center/get", params={"station_id": "T7442", "start_date": today, "end_date": today}
    )["data"]
    assert (day["total_send_nums"], day["success_send_nums"], day["send_failed_nums"]) == (2, 2, 0)
    listed = stack.station(
        "GET", "/sms/send_record/get", params={"station_id": "T7442", "start_date": today, "end_date": today}
    )["data"]
    assert {row["task_id"]: (row["receive_phone"], row["status"]) for row in listed} == {
        by_order: ("13100000001", 1),
        by_ciphertext: (SEED_CIPHERTEXT, 1),
    }


def test_a_douyin_send_fails_with_its_reason_when_fw199_stays_down_and_reaches_no_other_provider(
    douyin_stack,
):
    stack = douyin_stack
    stack.simulator.configure(down=["fw199"])
    stack.worker(env={"FW199_TEMPLATES": json.dumps(DOUYIN_TEMPLATES), "SMS_PROVIDER_MAX_RETRIES": "1"})
    stack.recharge(10)
    task_id = stack.station_send(
        receive_phone=SEED_CIPHERTEXT,
        business_type=1,
        sms_content={"order_id": "PL0002", "sms_signature": "去采购"},
    )
    wait_until(lambda: SendRecord.objects.filter(pk=task_id, status=2).exists(), message="failed")
    record = SendRecord.objects.get(pk=task_id)
    assert record.remark.startswith("Unavailable: no provider available (last: fw199")
    assert record.remark.endswith("a Douyin order message has no failover: no other provider can address it)")
    assert record.refunded
    assert stack.station("GET", "/sms/balance/get", params={"station_id": "T7442"})["data"] == {
        "sms_balance": 10
    }
    assert set(stack.simulator.stats()) <= {"fw199"}

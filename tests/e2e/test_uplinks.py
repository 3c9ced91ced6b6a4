"""Uplinks end to end: the live service, a real worker with its beat pulling the gateway's
``/api/v1/mo``, and the simulator pushing the same replies twice. Each reply is one row, listed to
the station (``/sms/uplink/get``) or tenant (``v1/uplink``) whose message it answers."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from sms.models import PushInbox, RecordState, SendRecord, Uplink
from tests.e2e.conftest import CALLBACK_TOKEN, wait_until
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.worker

STATION_PHONE = "13100000011"
TENANT_PHONE = "13100000022"


def _basic(user) -> dict[str, str]:
    token = base64.b64encode(f"{user.username}:{TEST_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _station_send(stack) -> int:
    stack.recharge(10)
    return stack.station_send(
        receive_phone=STATION_PHONE,
        business_type=0,
        sms_content={"order_id": "PL2026", "sms_signature": "去采购"},
    )


def _tenant_send(stack, tenant, root_user) -> str:
    sign = make_signature(tenant, signature="客服中心")
    template = make_template(tenant, sign, template="您的订单{1}已发货，回复1确认。", template_type=2)
    charge = requests.post(
        f"{stack.url}/v2/charge",
        json={"user": tenant.username, "charge": 5},
        headers=_basic(root_user),
        timeout=60,
    )
    assert charge.status_code == 200, charge.text
    answer = requests.post(
        f"{stack.url}/v1/message",
        headers=_basic(tenant),
        timeout=60,
        json={"sign_id": sign.pk, "temp_id": template.pk, "mobiles": [TENANT_PHONE], "params": ["PL2026"]},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["uuid"]


def test_a_gateway_uplink_pushed_twice_and_pulled_once_is_one_row_listed_to_its_sender(
    stack, tenant, other_tenant, root_user
):
    worker = stack.worker(beat=True, env={"SMS_SWEEP_SECONDS": "1", "SMS_PULL_UPLINK_PROVIDERS": "gateway"})
    task_id = _station_send(stack)
    batch_uuid = _tenant_send(stack, tenant, root_user)
    wait_until(
        lambda: SendRecord.objects.filter(state=RecordState.DELIVERED).count() == 2, message="both delivered"
    )

    # The gateway pushes each reply twice (a repeated push) and also serves it on /api/v1/mo,
    # which beat pulls every second.
    stack.simulator.state.config.push_targets["gateway"]["uplink"] = (
        f"{stack.url}/providers/gateway/uplink?token={CALLBACK_TOKEN}"
    )
    sent_at = int(time.time())
    for mobile, text in ((STATION_PHONE, "已收到，谢谢"), (TENANT_PHONE, "1")):
        answer = stack.simulator.inject_uplink(
            provider="gateway", mobile=mobile, text=text, time=sent_at, repeat=2, hold=True
        )
        assert answer == {"status": "pushed", "acknowledged": 2, "held": True}
    wait_until(lambda: stack.simulator.state.held_uplinks["gateway"] == [], message="beat pulled /api/v1/mo")
    wait_until(lambda: Uplink.objects.count() == 2, message="two uplinks stored")
    # Two more pulls, each started after both rows were stored, have run to their end and every
    # push is applied: they found nothing new and changed nothing.
    worker.wait_for_runs("sms.pull_uplinks", worker.tasks_taken()["sms.pull_uplinks"] + 2)
    wait_until(lambda: not PushInbox.objects.exists(), message="every push applied")
    assert Uplink.objects.count() == 2

    station = stack.station("GET", "/sms/uplink/get", params={"station_id": "T7442"})
    assert station["code"] == 0, station
    assert [(item["mobile"], item["content"], item["task_id"]) for item in station["data"]] == [
        (STATION_PHONE, "已收到，谢谢", task_id)
    ]
    assert stack.station("GET", "/sms/uplink/get", params={"station_id": "T0001"})["data"] == []

    mine = requests.get(f"{stack.url}/v1/uplink", headers=_basic(tenant), timeout=60)
    assert mine.status_code == 200, mine.text
    assert mine.json() == {
        "items": [
            {"mobile": TENANT_PHONE, "text": "1", "sign": "", "received_at": sent_at, "uuid": batch_uuid}
        ],
        "total": 1,
        "page": 1,
        "page_size": 20,
    }
    theirs = requests.get(f"{stack.url}/v1/uplink", headers=_basic(other_tenant), timeout=60)
    assert (theirs.status_code, theirs.json()["total"]) == (200, 0)

"""Seed 002's gateway pushes every delivery report in a request of its own (one object, once, never
retried): 5,000 recipients, each report pushed singly to the real service, every one delivered
exactly once and the books straight."""

from __future__ import annotations

import base64
from collections import Counter

import pytest
import requests
from django.db.models import Sum
from django.utils import timezone

from sms.models import (
    BalanceLedger,
    DailyStatistics,
    PushInbox,
    RecordState,
    SendRecord,
    Station,
    TenantAccount,
)
from tests.e2e.conftest import wait_until
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.worker

TENANT_RECIPIENTS = 4_800
STATION_RECIPIENTS = 200


def _basic(user) -> dict[str, str]:
    token = base64.b64encode(f"{user.username}:{TEST_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_five_thousand_recipients_pushed_one_report_a_request_are_delivered_once_and_the_books_agree(
    stack, tenant, root_user, settings
):
    stack.simulator.configure(gateway_push_batch=1)  # seed 002 (the default): one report per push
    # Station sends go to the gateway too (the web routes them at send/start, the worker sends).
    settings.SMS_STATION_PROVIDER = "gateway"
    stack.worker(concurrency=2, beat=True, env={"SMS_STATION_PROVIDER": "gateway"})

    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    charge = requests.post(
        f"{stack.url}/v2/charge",
        json={"user": tenant.username, "charge": TENANT_RECIPIENTS},
        headers=_basic(root_user),
        timeout=30,
    )
    assert charge.json()["balance"] == TENANT_RECIPIENTS
    # Every number ends in 1234: none of the simulator's fault suffixes (0004, 0005, 0500, 0408).
    mobiles = [f"132{index:04d}1234" for index in range(TENANT_RECIPIENTS)]
    answer = requests.post(
        f"{stack.url}/v1/message",
        headers=_basic(tenant),
        timeout=60,
        json={"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["PL2026"]},
    )
    assert answer.status_code == 200, answer.text

    stack.recharge(STATION_RECIPIENTS)
    for index in range(STATION_RECIPIENTS):
        stack.station_send(
            receive_phone=f"133{index:04d}1234",
            business_type=0,
            sms_content={"order_id": f"PL{index}", "sms_signature": "去采购"},
        )

    total = TENANT_RECIPIENTS + STATION_RECIPIENTS
    wait_until(
        lambda: SendRecord.objects.filter(state=RecordState.DELIVERED).count() == total,
        timeout=240,
        message=f"{total} delivered",
    )
    wait_until(lambda: not PushInbox.objects.exists(), timeout=60, message="the inbox drained")

    # Every report came in a request of its own, and every number was sent once.
    gateway = requests.get(f"{stack.simulator.url}/_sim/usage", timeout=10).json()["by_provider"]["gateway"]
    assert gateway == {"status_pushes": total, "reports_pushed": total}
    stats = stack.simulator.stats()["gateway"]
    assert (stats["numbers"], stats["distinct_numbers"], stats["duplicated_numbers"]) == (total, total, 0)
    assert Counter(SendRecord.objects.values_list("state", flat=True)) == {RecordState.DELIVERED: total}

    # The books: each balance is its ledger, and nothing was billed twice.
    account = TenantAccount.objects.get(user=tenant)
    station = Station.objects.get(station_id="T7442")
    assert account.balance_nums == 0 and station.balance_nums == 0
    assert BalanceLedger.objects.filter(tenant=account).aggregate(s=Sum("delta"))["s"] == account.balance_nums
    assert (
        BalanceLedger.objects.filter(station=station).aggregate(s=Sum("delta"))["s"] == station.balance_nums
    )

    # The daily aggregate the statistics read equals a recount of the station's records.
    today = timezone.localdate()
    day = DailyStatistics.objects.get(station_id="T7442", send_date=today)
    records = SendRecord.objects.filter(station_id="T7442")
    assert (day.total_send_nums, day.success_send_nums, day.send_failed_nums) == (
        records.count(),
        records.filter(state=RecordState.DELIVERED).count(),
        records.filter(state=RecordState.FAILED).count(),
    )

"""Stress: many callers at once against the live service, a real worker and reports flowing.

200 ``send/add`` + ``send/start`` pairs across three stations (one of them hot: most of the
traffic) and 20 ``v1/message`` calls, all concurrent. Zero 5xx; every accepted record final; every
balance equal to its ledger; the daily statistics equal to a recount from the send records.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db.models import Sum
from django.utils import timezone

from sms.models import (
    FINAL_STATES,
    BalanceLedger,
    DailyStatistics,
    RecordState,
    SendRecord,
    Station,
    TenantAccount,
)
from tests.conftest import SERVICE_TOKEN
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

STATION_SENDS = 200
TENANT_CALLS = 20
MOBILES_PER_CALL = 25
STATIONS = ["HOT", "T2", "T3"]


def _station(stack, index: int) -> list[int]:
    """One station send: add then start. Returns the HTTP statuses it got."""
    station = STATIONS[0] if index % 5 else STATIONS[1 + (index // 5) % 2]  # 80 % to the hot one
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    added = requests.post(
        f"{stack.url}/sms/send/add",
        headers=headers,
        timeout=120,
        json={
            "station_id": station,
            "receive_phone": f"1320{index:03d}1234",
            "business_type": index % 3,
            "sms_content": {"order_id": f"PL{index}", "verify_code": "1234", "sms_signature": "去采购"},
        },
    )
    statuses = [added.status_code]
    if added.status_code == 200 and added.json()["code"] == 0:
        started = requests.post(
            f"{stack.url}/sms/send/start",
            headers=headers,
            timeout=120,
            json={"task_id": added.json()["data"]["task_id"]},
        )
        statuses.append(started.status_code)
    return statuses


def _tenant(stack, tenant, sign, template, index: int) -> list[int]:
    mobiles = [f"133{index:04d}{n:04d}" for n in range(MOBILES_PER_CALL)]
    answer = requests.post(
        f"{stack.url}/v1/message",
        auth=(tenant.username, TEST_PASSWORD),
        timeout=120,
        json={"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["PL2026"]},
    )
    return [answer.status_code]


def test_concurrent_station_and_tenant_sends_keep_every_book_straight(stack, recharge, tenant):
    stack.worker(concurrency=2)
    for station in STATIONS:
        recharge(station, 1000)
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    from sms.tenant_api.services import charge_tenant

    charge_tenant(username=tenant.username, charge=TENANT_CALLS * MOBILES_PER_CALL)

    with ThreadPoolExecutor(max_workers=24) as pool:
        jobs = [pool.submit(_station, stack, index) for index in range(STATION_SENDS)]
        jobs += [pool.submit(_tenant, stack, tenant, sign, template, index) for index in range(TENANT_CALLS)]
        statuses = Counter(status for job in jobs for status in job.result())
    assert not [status for status in statuses if status >= 500], statuses
    assert statuses == {200: 2 * STATION_SENDS + TENANT_CALLS}, statuses

    expected = STATION_SENDS + TENANT_CALLS * MOBILES_PER_CALL
    wait_until(
        lambda: SendRecord.objects.filter(state__in=FINAL_STATES).count() == expected,
        timeout=180,
        message=f"{expected} records final",
    )
    for station in Station.objects.all():
        ledger = BalanceLedger.objects.filter(station=station).aggregate(total=Sum("delta"))["total"]
        assert station.balance_nums == ledger, station.station_id
    account = TenantAccount.objects.get(user=tenant)
    assert account.balance_nums == BalanceLedger.objects.filter(tenant=account).aggregate(t=Sum("delta"))["t"]

    recount: dict[tuple[str, object], Counter[str]] = {}
    for record in SendRecord.objects.filter(station_id__isnull=False).exclude(state=RecordState.CREATED):
        counts = recount.setdefault((record.station_id, timezone.localdate(record.created_at)), Counter())
        counts["total"] += 1
        counts["success"] += record.state == RecordState.DELIVERED
        counts["failed"] += record.state == RecordState.FAILED
    booked = {
        (row.station_id, row.send_date): Counter(
            total=row.total_send_nums, success=row.success_send_nums, failed=row.send_failed_nums
        )
        for row in DailyStatistics.objects.all()
    }
    assert booked == recount

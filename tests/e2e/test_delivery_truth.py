"""Billing and delivery truth end to end: the live service, a real worker with its beat, MySQL,
Redis and the simulator over loopback (docs/delivery-truth.md)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum

from sms.models import BalanceLedger, DailyStatistics, LedgerReason, RecordState, SendRecord, Station
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.worker

# Tencent's registered text for template 1003 is longer than our SMS_STATION_TEMPLATES["2"]:
# 75 characters with the signature, 2 parts, where our local text counts 1.
LONG_TEMPLATE = (
    "您的验证码为{1}，5分钟内有效，请勿泄露给他人。如非本人操作，请忽略本短信，"
    "并及时修改您的账户密码以保障安全。客服电话请见官方网站。"
)


def _send(stack, phone: str) -> int:
    return stack.station_send(
        receive_phone=phone, business_type=2, sms_content={"verify_code": "112095", "sms_signature": "去采购"}
    )


def test_the_ledger_ends_equal_to_what_the_provider_billed(stack, client):
    stack.simulator.configure(templates={"1003": LONG_TEMPLATE})
    stack.worker()
    stack.recharge(20)
    task_ids = [_send(stack, phone) for phone in ("13100000001", "13100000002", "13100000003")]
    wait_until(
        lambda: SendRecord.objects.filter(state=RecordState.DELIVERED).count() == 3, message="3 delivered"
    )
    billed = stack.simulator.stats()["tencent"]["parts_billed"]
    assert billed == 6  # 2 parts each, by Tencent's count of its own template
    spent = -(
        BalanceLedger.objects.filter(station__station_id="T7442")
        .exclude(reason=LedgerReason.RECHARGE)
        .aggregate(total=Sum("delta"))["total"]
    )
    assert spent == billed
    assert Station.objects.get(station_id="T7442").balance_nums == 20 - billed
    assert set(SendRecord.objects.values_list("segments", "billed_parts")) == {(1, 2)}

    client.force_login(get_user_model().objects.create_user("ops", password="x", is_staff=True))
    [row] = client.get("/dashboard/reconciliation").context["providers"]
    assert (row.provider, row.our_parts, row.their_parts, row.difference, row.booked) == (
        "tencent",
        3,
        6,
        3,
        -3,
    )
    assert sorted(item.record_id for item in row.differences) == sorted(task_ids)


def test_a_lost_report_shows_unknown_until_the_scheduled_pull_decides_it(stack, station_client):
    # Tencent's push reaches nobody (our callback unreachable): the report is lost to the push and
    # stays for Tencent's PullSmsSendStatus, which is pulled only to reconcile unknown records.
    stack.simulator.state.config.push_targets["tencent"] = {"status": "http://127.0.0.1:9/sms/callback"}
    stack.worker(
        beat=True,
        env={
            "SMS_SWEEP_SECONDS": "1",
            "SMS_REPORT_DEADLINE_SECONDS": "1",
            "SMS_PULL_REPORT_PROVIDERS": "",
        },
    )
    stack.recharge(10)
    stack.simulator.configure(down=["tencent.PullSmsSendStatus"])  # its pull API unreachable a while
    task_id = _send(stack, "13100000001")
    wait_until(
        lambda: SendRecord.objects.filter(pk=task_id, state=RecordState.UNKNOWN).exists(), message="unknown"
    )
    record = SendRecord.objects.get(pk=task_id)
    assert (record.status, record.refunded) == (0, False)
    day = DailyStatistics.objects.get(station_id="T7442")
    assert (day.total_send_nums, day.success_send_nums, day.send_failed_nums) == (1, 0, 0)

    stack.simulator.configure(down=[])
    wait_until(
        lambda: SendRecord.objects.filter(pk=task_id, state=RecordState.DELIVERED).exists(), message="pulled"
    )
    day.refresh_from_db()
    assert (day.total_send_nums, day.success_send_nums, day.send_failed_nums) == (1, 1, 0)
    assert Station.objects.get(station_id="T7442").balance_nums == 9
    # More sweeps and pulls change nothing: counted once.
    wait_until(lambda: stack.simulator.state.held_reports["tencent"] == [], message="pulled empty")
    day.refresh_from_db()
    assert day.success_send_nums == 1

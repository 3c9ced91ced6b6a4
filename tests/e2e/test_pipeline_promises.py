"""The sending pipeline's promises, each shown with a real worker process, MySQL, Redis and the
simulator over loopback: nothing lost, nothing sent twice, nothing billed twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
from django.db.models import Min, Sum
from django.utils import timezone

from sms.models import BalanceLedger, PushInbox, RecordState, SendRecord, Station, TenantAccount
from tests.e2e.conftest import wait_until
from tests.support.books import all_final, ledger_matches_balance
from tests.support.infra import PrivateRedis, on_private_redis
from tests.support.platform import tenant_ready
from tests.support.worker import FAST_SWEEPS

pytestmark = pytest.mark.worker


def _mobiles(count: int, start: int = 0) -> list[str]:
    # Every number ends in 1234: none of the simulator's fault suffixes.
    return [f"13{index:05d}1234" for index in range(start, start + count)]


def test_provider_errors_for_a_while_then_recovery_delivers_each_number_once(stack, tenant):
    stack.simulator.configure(fail_next=3)
    stack.worker(env={"SMS_PROVIDER_MAX_RETRIES": "6"})
    sign, template = tenant_ready(tenant, charge=100)
    stack.tenant_send(tenant, sign, template, _mobiles(50))
    wait_until(all_final(50), timeout=60, message="50 final")
    assert SendRecord.objects.filter(state=RecordState.DELIVERED).count() == 50
    stats = stack.simulator.stats()["gateway"]
    assert (stats["numbers"], stats["duplicated_numbers"], stats["requests"]) == (50, 0, 1)
    assert stack.simulator.state.config.fail_next == 0  # the three failures were really served
    assert TenantAccount.objects.get(user=tenant).balance_nums == 50


def test_default_provider_down_fails_over_to_the_next_and_delivers(stack, recharge):
    stack.simulator.configure(down=["tencent"])
    stack.worker(env={"SMS_PROVIDER_MAX_RETRIES": "2"})
    recharge("T7442", 5)
    for phone in ("13100001234", "13100011234"):
        body = stack.station(
            "POST",
            "/sms/send/add",
            json={
                "station_id": "T7442",
                "receive_phone": phone,
                "business_type": 0,
                "sms_content": {"order_id": "PL1", "sms_signature": "去采购"},
            },
        )
        assert (
            stack.station("POST", "/sms/send/start", json={"task_id": body["data"]["task_id"]})["code"] == 0
        )
    wait_until(all_final(2), timeout=60, message="2 final")
    assert set(SendRecord.objects.values_list("state", "provider")) == {(RecordState.DELIVERED, "gateway")}
    assert "tencent" not in stack.simulator.stats() or stack.simulator.stats()["tencent"]["numbers"] == 0
    assert stack.simulator.stats()["gateway"]["numbers"] == 2


def test_worker_killed_mid_batch_every_record_ends_final_and_none_twice(stack, tenant):
    stack.simulator.configure(latency_ms=3000)  # the worker sits in the provider request
    stack.push_reports_in_arrays()  # speed: 5,000 single pushes take over a minute on the live test server
    worker = stack.worker(env=FAST_SWEEPS)
    sign, template = tenant_ready(tenant, charge=6000)
    stack.tenant_send(tenant, sign, template, _mobiles(5000))
    wait_until(
        lambda: SendRecord.objects.filter(state=RecordState.SENDING).count() == 5000,
        timeout=30,
        message="in flight",
    )
    time.sleep(0.5)
    worker.kill()
    stack.simulator.configure(latency_ms=0)
    stack.worker(beat=True, env=FAST_SWEEPS)

    wait_until(all_final(5000), timeout=120, message="5000 final after the crash")
    assert SendRecord.objects.filter(state=RecordState.DELIVERED).count() == 5000
    stats = stack.simulator.stats()["gateway"]
    assert (stats["numbers"], stats["distinct_numbers"], stats["duplicated_numbers"]) == (5000, 5000, 0)
    account = TenantAccount.objects.get(user=tenant)
    accepted = SendRecord.objects.filter(state=RecordState.DELIVERED).aggregate(n=Sum("segments"))["n"]
    assert account.balance_nums == 6000 - accepted == 1000
    assert ledger_matches_balance({"tenant": account})


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    """A Redis of the test's own (no persistence: a restart comes back empty) serving the test
    process, its live server and the workers it starts, as cache and broker: the machine's Redis
    is never stopped. Requested before ``stack``, so its workers stop before it does."""
    server = PrivateRedis(tmp_path, durable=False)
    server.start()
    try:
        with on_private_redis(server):
            yield server
    finally:
        server.close()


def test_redis_restarted_during_a_run_loses_no_message(private_redis, stack, tenant):
    stack.simulator.configure(latency_ms=500)
    stack.worker(beat=True, env=FAST_SWEEPS)
    sign, template = tenant_ready(tenant, charge=1000)
    stack.tenant_send(tenant, sign, template, _mobiles(300))
    try:
        private_redis.stop()  # nothing persisted: the queued tasks and the cache are lost
        # Accepted while the broker is away: committed as queued, published later by the sweep.
        stack.tenant_send(tenant, sign, template, _mobiles(300, start=300))
    finally:
        private_redis.start()
    stack.simulator.configure(latency_ms=0)
    wait_until(all_final(600), timeout=120, message="600 final after the restart")
    assert SendRecord.objects.filter(state=RecordState.DELIVERED).count() == 600
    stats = stack.simulator.stats()["gateway"]
    assert (stats["distinct_numbers"], stats["duplicated_numbers"]) == (600, 0)


def test_fifty_concurrent_sends_against_a_balance_of_twenty(stack, recharge):
    stack.worker()
    recharge("T7442", 20)
    codes: list[int] = []
    start_codes: list[int] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        body = stack.station(
            "POST",
            "/sms/send/add",
            json={
                "station_id": "T7442",
                "receive_phone": f"1310{index:03d}1234",
                "business_type": 2,
                "sms_content": {"verify_code": "1234", "sms_signature": "去采购"},
            },
        )
        with lock:
            codes.append(body["code"])
        if body["code"] == 0:
            started = stack.station("POST", "/sms/send/start", json={"task_id": body["data"]["task_id"]})
            with lock:
                start_codes.append(started["code"])

    threads = [threading.Thread(target=send, args=(index,)) for index in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [0] * 20 + [1006] * 30
    assert start_codes == [0] * 20  # every start answered (a deadlock here was an HTTP 500)
    station = Station.objects.get(station_id="T7442")
    assert station.balance_nums == 0
    assert BalanceLedger.objects.filter(station=station).aggregate(low=Min("balance_after"))["low"] >= 0
    assert ledger_matches_balance({"station": station})
    wait_until(all_final(20), timeout=180, message="20 delivered")
    assert stack.simulator.stats()["tencent"]["numbers"] == 20


def test_same_report_pushed_three_times_and_out_of_order_keeps_counts_exact(stack, recharge):
    stack.simulator.state.config.push = False  # reports held: this test pushes them itself
    stack.worker()
    recharge("T7442", 5)
    task_ids = []
    for phone in ("13100001234", "13100011234"):
        body = stack.station(
            "POST",
            "/sms/send/add",
            json={
                "station_id": "T7442",
                "receive_phone": phone,
                "business_type": 2,
                "sms_content": {"verify_code": "1234", "sms_signature": "去采购"},
            },
        )
        task_ids.append(body["data"]["task_id"])
        stack.station("POST", "/sms/send/start", json={"task_id": body["data"]["task_id"]})
    wait_until(
        lambda: SendRecord.objects.filter(state=RecordState.SUBMITTED).count() == 2,
        timeout=30,
        message="submitted",
    )
    first, second = (SendRecord.objects.get(pk=task_id) for task_id in task_ids)

    def report(record, status):
        return {
            "user_receive_time": "2026-11-23 10:00:00",
            "nationcode": "86",
            "mobile": record.receive_phone,
            "report_status": status,
            "errmsg": "DELIVRD" if status == "SUCCESS" else "MK:0001",
            "description": "",
            "sid": record.provider_message_id,
        }

    url = f"{stack.url}/sms/callback?token=test-callback-token"
    # The first record's success three times; the second's failure, then a contradicting late
    # success, then the failure again.
    for payload in (
        [report(first, "SUCCESS")],
        [report(second, "FAIL"), report(first, "SUCCESS")],
        [report(second, "SUCCESS")],
        [report(first, "SUCCESS"), report(second, "FAIL")],
    ):
        assert requests.post(url, json=payload, timeout=10).json()["result"] == 0
    # Acknowledged once stored; the worker applies them a moment later.
    wait_until(
        lambda: not SendRecord.objects.filter(pk__in=task_ids, state=RecordState.SUBMITTED).exists(),
        timeout=30,
        message="the pushes applied",
    )
    wait_until(lambda: not PushInbox.objects.exists(), timeout=30, message="the inbox drained")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (RecordState.DELIVERED, RecordState.FAILED)
    today = timezone.localdate().isoformat()
    [day] = stack.station(
        "GET", "/sms/data_center/get", params={"station_id": "T7442", "start_date": today, "end_date": today}
    )["data"]
    assert (day["total_send_nums"], day["success_send_nums"], day["send_failed_nums"]) == (2, 1, 1)
    assert (
        stack.station("GET", "/sms/balance/get", params={"station_id": "T7442"})["data"]["sms_balance"] == 3
    )

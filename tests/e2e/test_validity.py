"""Validity periods end to end (issue 26): a verify code behind a stalled provider expires instead
of arriving late, over real HTTP, a real worker with beat, MySQL, Redis and the simulator."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.utils import timezone

from sms.models import RecordState, SendRecord, SendStatus, Station, TenantAccount
from sms.sending import validity
from sms.tenant_api.services import charge_tenant
from tests.e2e.conftest import wait_until
from tests.support.books import ledger_matches_balance
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template
from tests.support.receiver import running_receiver

pytestmark = pytest.mark.worker

EXPIRED_REASON = f"{validity.EXPIRED_CODE}: {validity.EXPIRED_DESCRIPTION}"
# Beat's sweeps every second; webhooks pushed at once, to the receiver on loopback.
BEAT_ENV = {
    "SMS_SWEEP_SECONDS": "1",
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOK_RETRY_SCHEDULE": "0.2s,0.2s",
    "WEBHOOK_TIMEOUT": "1",
}


def _received(stack, provider: str, mobile: str) -> int:
    """How many times ``provider`` accepted a message to the mainland ``mobile`` (the simulator's
    count, in whichever form the provider takes numbers)."""
    with stack.simulator.state.lock:
        return sum(
            count
            for number, count in stack.simulator.state.received[provider].items()
            if number.endswith(mobile)
        )


def test_a_verify_code_behind_a_stalled_provider_expires_refunded_reported_and_is_never_sent_late(
    stack, tenant, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the live server: the receiver is on loopback
    sign = make_signature(tenant)
    template = make_template(tenant, sign)  # a verify code (type 1): the priority lane
    auth = (tenant.username, TEST_PASSWORD)
    charge_tenant(username=tenant.username, charge=10)
    # The gateway (the tenant provider; free text has no other) refuses every request: the worker
    # retries every second at most, far more often than the validity, and never runs out.
    stack.simulator.configure(down=["gateway"])
    worker = stack.worker(beat=True, env={**BEAT_ENV, "SMS_PROVIDER_MAX_RETRIES": "1000"})
    with running_receiver() as receiver:
        answer = requests.put(f"{stack.url}/v1/callback", json={"url": receiver.url}, auth=auth, timeout=60)
        assert answer.status_code == 200, answer.text
        body = {"sign_id": sign.pk, "temp_id": template.pk, "params": ["112095", "5"]}
        sent = requests.post(
            f"{stack.url}/v1/message",
            json={**body, "mobiles": ["13112341234"], "validity_seconds": validity.MIN_SECONDS},
            auth=auth,
            timeout=60,
        )
        assert sent.status_code == 200, sent.text
        batch_uuid = sent.json()["uuid"]
        record = SendRecord.objects.get(batch__uuid=batch_uuid)
        assert TenantAccount.objects.get(user=tenant).balance_nums == 9  # reserved

        # Retried while valid: attempts the provider refused.
        wait_until(lambda: SendRecord.objects.get(pk=record.pk).attempts >= 2, timeout=30, message="retried")
        wait_until(
            lambda: SendRecord.objects.get(pk=record.pk).state == RecordState.FAILED,
            timeout=60,
            message="expired",
        )
        record.refresh_from_db()
        assert (record.status, record.provider_code, record.remark, record.refunded) == (
            SendStatus.FAILED,
            validity.EXPIRED_CODE,
            EXPIRED_REASON,
            True,
        )
        # Not before its validity was over, and promptly after.
        assert record.finished_at - record.created_at >= dt.timedelta(seconds=validity.MIN_SECONDS)
        assert record.finished_at - record.expires_at < dt.timedelta(seconds=30)
        account = TenantAccount.objects.get(user=tenant)
        assert account.balance_nums == 10 and ledger_matches_balance({"tenant": account})
        progress = requests.get(f"{stack.url}/v1/message", params={"uuid": batch_uuid}, auth=auth, timeout=60)
        assert progress.json()["items"] == [
            {"mobile": "13112341234", "state": "failed", "reason": EXPIRED_REASON}
        ]
        wait_until(lambda: len(receiver.events) >= 1, timeout=30, message="the webhook event pushed")
        (event,) = receiver.events
        assert (event["uuid"], event["status"], event["code"], event["description"]) == (
            batch_uuid,
            "failed",
            validity.EXPIRED_CODE,
            EXPIRED_REASON,
        )
        assert _received(stack, "gateway", "13112341234") == 0

        # The provider recovers: a new verify code goes out; the expired one never does.
        stack.simulator.configure(down=[])
        fresh = requests.post(
            f"{stack.url}/v1/message", json={**body, "mobiles": ["13112345678"]}, auth=auth, timeout=60
        )
        assert fresh.status_code == 200, fresh.text
        wait_until(
            lambda: _received(stack, "gateway", "13112345678") == 1, timeout=60, message="the new code sent"
        )
        # Whatever retry of the expired one was still due has run, and sweeps have run since.
        runs = worker.tasks_taken()["sms.sweep_stale_records"]
        wait_until(
            lambda: "sms.dispatch_records" not in worker.tasks_in_hand(),
            timeout=30,
            message="no dispatch left",
        )
        worker.wait_for_runs("sms.sweep_stale_records", runs + 2)
        assert _received(stack, "gateway", "13112341234") == 0
        assert SendRecord.objects.get(pk=record.pk).state == RecordState.FAILED
        assert len(receiver.events) >= 1 and receiver.events[0]["event_id"] == event["event_id"]


def test_a_station_verify_code_expires_by_the_default_validity_while_its_retry_is_far_off(stack, settings):
    # The web process sets the validity at send/start: a short default for the test.
    settings.SMS_STATION_VERIFY_VALIDITY_SECONDS = 3
    stack.recharge(5)
    stack.simulator.configure(down=["tencent"])  # the station provider
    # Backoff far beyond the validity: after the first refusal the retry is due in up to 10 minutes
    # (full jitter), and the re-dispatch sweep waits as long: the validity sweep ends the record.
    worker = stack.worker(
        beat=True,
        env={
            **BEAT_ENV,
            "SMS_RETRY_BASE_SECONDS": "600",
            "SMS_RETRY_MAX_SECONDS": "600",
            "SMS_REQUEUE_AFTER_SECONDS": "600",  # nor the re-dispatch sweep
        },
    )
    task_id = stack.station_send(
        receive_phone="13112341234",
        business_type=2,
        sms_content={"verify_code": "112095", "sms_signature": "去采购"},
    )
    record = SendRecord.objects.get(pk=task_id)
    assert record.expires_at - record.queued_at == dt.timedelta(seconds=3)
    wait_until(lambda: SendRecord.objects.get(pk=task_id).attempts >= 1, timeout=30, message="tried once")
    wait_until(
        lambda: SendRecord.objects.get(pk=task_id).state == RecordState.FAILED, timeout=60, message="expired"
    )
    record.refresh_from_db()
    assert (record.provider_code, record.remark, record.refunded) == (
        validity.EXPIRED_CODE,
        EXPIRED_REASON,
        True,
    )
    # Within seconds of its validity: the sweep's doing (the retry is due in up to 10 minutes).
    assert record.finished_at - record.expires_at < dt.timedelta(seconds=30)
    assert Station.objects.get(station_id="T7442").balance_nums == 5
    today = timezone.localdate().isoformat()
    listed = stack.station(
        "GET",
        "/sms/send_record/get",
        params={"station_id": "T7442", "start_date": today, "end_date": today, "business_type": 2},
    )
    assert [(row["task_id"], row["status"], row["remark"]) for row in listed["data"]] == [
        (task_id, 2, EXPIRED_REASON)
    ]
    # The provider recovers: sweeps run on, nothing goes out late.
    stack.simulator.configure(down=[])
    runs = worker.tasks_taken()["sms.sweep_stale_records"]
    worker.wait_for_runs("sms.sweep_stale_records", runs + 2)
    assert _received(stack, "tencent", "13112341234") == 0
    assert _received(stack, "gateway", "13112341234") == 0
    assert SendRecord.objects.get(pk=task_id).state == RecordState.FAILED

"""Lanes and fair turns (issue 31), end to end: the live service over HTTP, a real Celery worker
per lane as ``make run`` starts them (``sms_priority``; ``sms_bulk``; ``default``,
``sms_transactional`` and ``sms_reports``, here with the beat), MySQL, Redis, and the simulator
made slow (every provider request answered after ``LATENCY_MS``), so a blast's batches really
queue.

The gateway takes ``BATCH_LIMIT`` numbers a request here (the web process splits a message into
batches of its limit, the workers send them): a blast of ``BLAST`` numbers is 30 batches, which
the bulk worker's two processes drain in about 15 s of provider time. Who went first is read from
the database: each record's ``submitted_at`` is written when the provider answered its request.
"""

from __future__ import annotations

import base64
import copy

import pytest
import requests
from django.db.models import Max

from sms.models import Lane, RecordState, SendRecord, Station, TenantAccount
from sms.sending import fairness, lanes
from sms.tenant_api import services as tenant_services
from tests.e2e.conftest import wait_until
from tests.support.books import all_final, ledger_matches_balance
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.worker

LATENCY_MS = 1000
BATCH_LIMIT = 100
BLAST = 3000  # 30 gateway batches of BATCH_LIMIT
LANE_ENV = {"GATEWAY_SMS_BATCH_LIMIT": str(BATCH_LIMIT)}
STATION = "T7442"


def _basic(user) -> dict[str, str]:
    token = base64.b64encode(f"{user.username}:{TEST_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _mobiles(count: int, start: int = 0) -> list[str]:
    # Every number ends in 1234: none of the simulator's fault suffixes (0004, 0005, 0500, 0408).
    return [f"13{index:05d}1234" for index in range(start, start + count)]


def _lane_workers(stack, *, priority: bool = True, bulk: bool = True, reports_env: dict | None = None):
    """A worker per lane: ``sms_priority``, ``sms_bulk``, and one for the other queues with the beat."""
    workers = {}
    if priority:
        workers["priority"] = stack.worker(queues="sms_priority", concurrency=2, env=LANE_ENV)
    if bulk:
        workers["bulk"] = stack.worker(queues="sms_bulk", concurrency=2, env=LANE_ENV)
    workers["rest"] = stack.worker(
        queues="default,sms_transactional,sms_reports",
        concurrency=2,
        beat=True,
        env={**LANE_ENV, **(reports_env or {})},
    )
    return workers


def _small_gateway_batches(settings) -> None:
    """The web process (the live server, in this process) splits messages at the same limit as
    the workers."""
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["gateway"]["batch_limit"] = BATCH_LIMIT
    settings.SMS_PROVIDERS = providers


class Tenant:
    """A tenant with a passed signature, templates and a balance, sending over HTTP."""

    def __init__(self, stack, user, charge: int) -> None:
        self.stack, self.user = stack, user
        sign = make_signature(user)
        self.sign_id = sign.pk
        self.templates = {
            "notice": make_template(user, sign, template="您的订单{1}已发货。", template_type=2).pk,
            "verify": make_template(
                user, sign, template="您的验证码为{1}，{2}分钟内有效。", template_type=1
            ).pk,
        }
        tenant_services.charge_tenant(username=user.username, charge=charge)

    def send(self, kind: str, mobiles: list[str], params: list[str]) -> str:
        answer = requests.post(
            f"{self.stack.url}/v1/message",
            headers=_basic(self.user),
            timeout=120,
            json={
                "sign_id": self.sign_id,
                "temp_id": self.templates[kind],
                "mobiles": mobiles,
                "params": params,
            },
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["uuid"]

    def records(self, batch_uuid: str):
        return SendRecord.objects.filter(batch__uuid=batch_uuid)

    @property
    def sender(self) -> str:
        return lanes.tenant_sender(TenantAccount.objects.get(user=self.user).pk)


def _last_submitted(records):
    return records.aggregate(last=Max("submitted_at"))["last"]


def _blast_is_waiting(tenant: Tenant, batch_uuid: str, at_least: int) -> None:
    """The proof needs a blast still queued: at least ``at_least`` of its batches waiting their
    turn, and records not yet handed to the provider."""
    waiting = fairness.waiting().get(tenant.sender, 0)
    unsent = tenant.records(batch_uuid).filter(state__in=[RecordState.QUEUED, RecordState.SENDING]).count()
    assert waiting >= at_least and unsent >= at_least * BATCH_LIMIT, (
        f"the blast had drained ({waiting} batches parked, {unsent} records unsent): it proves nothing"
    )


def test_a_verify_code_sent_after_a_blast_is_queued_is_delivered_before_the_blast_s_last_batch(
    stack, tenant, settings
):
    _small_gateway_batches(settings)
    stack.simulator.configure(latency_ms=LATENCY_MS)
    stack.push_reports_in_arrays()  # speed: the blast's 3,000 reports in 30 pushes
    _lane_workers(stack)
    stack.recharge(10)
    sender = Tenant(stack, tenant, charge=BLAST + 10)

    blast = sender.send("notice", _mobiles(BLAST), ["PL1"])
    _blast_is_waiting(sender, blast, at_least=10)
    # The station's registration code and the tenant's own verify template, after its blast.
    station_code = stack.station_send(
        receive_phone="15900001234",
        business_type=2,
        sms_content={"verify_code": "112095", "sms_signature": "去采购"},
    )
    tenant_code = sender.send("verify", ["15900011234"], ["2468", "5"])

    codes = SendRecord.objects.filter(pk=station_code) | sender.records(tenant_code)
    wait_until(
        lambda: codes.filter(state=RecordState.DELIVERED).count() == 2, timeout=60, message="codes delivered"
    )
    wait_until(all_final(BLAST + 2), timeout=120, message="the blast final")

    blast_records = sender.records(blast)
    assert set(blast_records.values_list("lane", flat=True)) == {Lane.BULK}
    assert set(codes.values_list("lane", flat=True)) == {Lane.PRIORITY}
    last_batch = _last_submitted(blast_records)
    for code in codes:
        # Sent after the whole blast was accepted, delivered (its report applied) before the
        # provider had answered the blast's last batch.
        assert code.created_at > max(blast_records.values_list("created_at", flat=True))
        assert code.finished_at < last_batch, (code.pk, code.finished_at, last_batch)
    assert set(blast_records.values_list("state", flat=True)) == {RecordState.DELIVERED}
    stats = stack.simulator.stats()
    assert (stats["gateway"]["numbers"], stats["gateway"]["duplicated_numbers"]) == (BLAST + 1, 0)
    assert stats["gateway"]["requests"] == BLAST // BATCH_LIMIT + 1
    assert (stats["tencent"]["numbers"], stats["tencent"]["duplicated_numbers"]) == (1, 0)


@pytest.mark.parametrize("lane", [Lane.TRANSACTIONAL, Lane.BULK], ids=["transactional", "bulk"])
def test_a_second_tenant_s_notice_overtakes_the_first_tenant_s_blast(
    stack, tenant, other_tenant, settings, lane
):
    """``transactional``: the notice of 10 numbers takes a lane the blast never uses. ``bulk``: the
    bulk lane's threshold lowered to 5 (in the web process, where the lane is decided), so the
    notice waits in the same lane as the blast, and overtakes it by the fair turns of
    ``sms.sending.fairness``: its one batch is taken by the first or second turn after it is
    parked, whatever the depth of the blast's list."""
    _small_gateway_batches(settings)
    if lane == Lane.BULK:
        settings.SMS_BULK_LANE_THRESHOLD = 5
    stack.simulator.configure(latency_ms=LATENCY_MS)
    stack.push_reports_in_arrays()
    _lane_workers(stack, priority=False)
    first = Tenant(stack, tenant, charge=BLAST)
    second = Tenant(stack, other_tenant, charge=10)

    blast = first.send("notice", _mobiles(BLAST), ["PL1"])
    _blast_is_waiting(first, blast, at_least=10)
    notice = second.send("notice", _mobiles(10, start=50_000), ["PL2"])

    wait_until(
        lambda: second.records(notice).filter(state=RecordState.DELIVERED).count() == 10,
        timeout=60,
        message="the second tenant's notice delivered",
    )
    wait_until(all_final(BLAST + 10), timeout=120, message="the blast final")

    notices, blast_records = second.records(notice), first.records(blast)
    assert set(notices.values_list("lane", flat=True)) == {lane}
    assert set(blast_records.values_list("lane", flat=True)) == {Lane.BULK}
    # Every number of the notice was answered by the provider before the blast's last batch, and
    # a good part of the blast went out after it.
    notice_done = _last_submitted(notices)
    assert notice_done < _last_submitted(blast_records)
    after = blast_records.filter(submitted_at__gt=notice_done).count()
    assert after >= BLAST // 3, f"only {after} of the blast's records went out after the notice"
    assert SendRecord.objects.exclude(state=RecordState.DELIVERED).count() == 0
    stats = stack.simulator.stats()["gateway"]
    assert (stats["numbers"], stats["distinct_numbers"], stats["duplicated_numbers"]) == (
        BLAST + 10,
        BLAST + 10,
        0,
    )
    for account in TenantAccount.objects.all():
        assert account.balance_nums == 0 and ledger_matches_balance({"tenant": account})


# The sweeps quick: records left queued (the killed worker's prefetched tasks) are published again
# after 2 s, records left sending (its provider request) are decided after 4 s; an unknown record
# no report decides is settled (failed, kept billed) after 15 s; the killed worker's unacknowledged
# messages are restored after 5 s.
FAST_SWEEPS = {
    "SMS_SWEEP_SECONDS": "1",
    "SMS_REQUEUE_AFTER_SECONDS": "2",
    "SMS_SENDING_STUCK_SECONDS": "4",
    "SMS_UNKNOWN_SETTLE_SECONDS": "15",
    "SMS_UNKNOWN_POLICY": "keep",
}
RESTORE_SOON = {"CELERY_VISIBILITY_TIMEOUT": "5"}
CODES_BEFORE, CODES_AFTER = 20, 10


def test_killing_the_priority_worker_mid_run_loses_nothing(stack):
    """Tencent does not drop a repeated request, so a code whose request was in flight when its
    worker died is never sent again: it becomes ``unknown`` (the stuck-sending sweep) and the
    provider's report, kept until then, decides it by its number. A code the provider never saw
    stays unknown until the settle deadline and fails there, billed (``keep``)."""
    stack.simulator.configure(latency_ms=LATENCY_MS // 2)
    workers = _lane_workers(stack, bulk=False, reports_env=FAST_SWEEPS)
    stack.recharge(CODES_BEFORE + CODES_AFTER)
    phones = [f"159{index:04d}1234" for index in range(CODES_BEFORE + CODES_AFTER)]

    def send(phone: str) -> int:
        return stack.station_send(
            receive_phone=phone,
            business_type=2,
            sms_content={"verify_code": "1234", "sms_signature": "去采购"},
        )

    ids = [send(phone) for phone in phones[:CODES_BEFORE]]
    in_flight: list[int] = []

    def mid_run() -> bool:
        in_flight[:] = SendRecord.objects.filter(state=RecordState.SENDING).values_list("id", flat=True)
        return bool(in_flight) and SendRecord.objects.filter(state=RecordState.QUEUED).count() >= 5

    wait_until(mid_run, timeout=30, message="codes in flight and codes waiting")
    workers["priority"].kill()
    # Codes sent while no priority worker runs wait in its queue.
    ids += [send(phone) for phone in phones[CODES_BEFORE:]]
    stack.worker(queues="sms_priority", concurrency=2, env={**LANE_ENV, **RESTORE_SOON})

    wait_until(all_final(len(ids)), timeout=90, message="every code final after the kill")
    records = {record.pk: record for record in SendRecord.objects.filter(pk__in=ids)}
    assert {record.lane for record in records.values()} == {Lane.PRIORITY}
    received = stack.simulator.state.received["tencent"]
    assert max(received.values()) == 1, "a code was sent twice"
    for record in records.values():
        if received[record.phone_e164]:
            assert record.state == RecordState.DELIVERED, (record.pk, record.state, record.remark)
        else:  # the worker died before its request left: settled at the deadline, kept billed
            assert (record.state, record.provider_code) == (RecordState.FAILED, "NoReport"), record.pk
    # The kill struck a request in flight: its codes went through unknown, not a second send.
    assert any(records[pk].unknown_at is not None for pk in in_flight), in_flight
    station = Station.objects.get(station_id=STATION)
    billed = sum(record.segments for record in records.values() if not record.refunded)
    assert station.balance_nums == len(ids) - billed
    assert ledger_matches_balance({"station": station})

"""Held tenant batches (issue 15): send_at, marketing outside its hours, their release by beat,
and DELETE v1/message, which cancels what has not been handed to a provider."""

from __future__ import annotations

import datetime as dt
import uuid
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from sms.models import BalanceLedger, LedgerReason, MessageBatch, RecordState, SendRecord, TenantAccount
from sms.sending import pipeline, scheduling, suspension
from tests.support.platform import make_signature, make_template
from tests.support.simulator import running_simulator

pytestmark = pytest.mark.django_db

CHINA = ZoneInfo("Asia/Shanghai")
MOBILES = [f"1310000{index:04d}" for index in range(10)]


def china(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, second, tzinfo=CHINA)


@pytest.fixture
def ready(tenant, basic_client, root_user):
    sign = make_signature(tenant)
    templates = {
        3: make_template(tenant, sign, template="双十二{1}，回T退订", template_type=3),
        2: make_template(tenant, sign, template="您的订单{1}已发货", template_type=2),
        1: make_template(tenant, sign),
    }
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 100}, format="json")
    return sign, templates


@pytest.fixture
def send(ready, basic_client, tenant, django_capture_on_commit_callbacks):
    """``send(template_type, send_at=…)``: POST v1/message; answers (response, published ids)."""
    sign, templates = ready

    def post(template_type: int = 3, *, send_at: int | None = None, mobiles=MOBILES):
        params = ["112095", "5"] if template_type == 1 else ["PL1"]
        body = {
            "sign_id": sign.pk,
            "temp_id": templates[template_type].pk,
            "mobiles": mobiles,
            "params": params,
        }
        if send_at is not None:
            body["send_at"] = send_at
        with (
            mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = basic_client(tenant).post("/v1/message", body, format="json")
        return response, [record_id for call in publish.call_args_list for record_id in call.args[0]]

    return post


@pytest.fixture
def release(django_capture_on_commit_callbacks):
    """``release()``: beat's release sweep; answers the record ids it published."""

    def run() -> list[int]:
        with (
            mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
            django_capture_on_commit_callbacks(execute=True),
        ):
            scheduling.release_due()
        return [record_id for call in publish.call_args_list for record_id in call.args[0]]

    return run


def _states(batch_uuid: str) -> set[str]:
    return set(SendRecord.objects.filter(batch__uuid=batch_uuid).values_list("state", flat=True))


def _balance_equals_ledger(tenant) -> bool:
    account = TenantAccount.objects.get(user=tenant)
    return account.balance_nums == sum(
        BalanceLedger.objects.filter(tenant=account).values_list("delta", flat=True)
    )


# --- send_at ----------------------------------------------------------------------------------


def test_a_scheduled_batch_is_billed_now_held_shown_queued_and_released_on_time(
    release, send, basic_client, tenant, business_clock
):
    business_clock.set_now(china(2, 10, 0))
    response, published = send(2, send_at=int(china(2, 15, 30).timestamp()))
    assert response.status_code == 200, response.json()
    batch_uuid = response.json()["uuid"]
    assert published == [] and _states(batch_uuid) == {RecordState.SCHEDULED}
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 90}
    counts = basic_client(tenant).get("/v1/message", {"uuid": batch_uuid}).json()["counts"]
    assert counts["queued"] == 10

    business_clock.set_now(china(2, 15, 29, 59))
    assert release() == []
    business_clock.set_now(china(2, 15, 30))
    assert len(release()) == 10
    assert _states(batch_uuid) == {RecordState.QUEUED}
    assert MessageBatch.objects.get(uuid=batch_uuid).release_at is None
    assert release() == []  # released once


@pytest.mark.parametrize(
    "send_at", [lambda now: now - dt.timedelta(minutes=5), lambda now: now + dt.timedelta(days=30, seconds=5)]
)
def test_a_send_at_in_the_past_or_beyond_30_days_is_er0004_and_writes_nothing(send, business_clock, send_at):
    business_clock.set_now(china(2, 10, 0))
    response, _ = send(2, send_at=int(send_at(china(2, 10, 0)).timestamp()))
    assert (response.status_code, response.json()["error"]) == (400, "ER:0004")
    assert "send_at" in response.json()["message"]
    assert not SendRecord.objects.exists()
    assert not BalanceLedger.objects.filter(reason=LedgerReason.RESERVE).exists()


def test_a_send_at_of_now_goes_at_once(send, business_clock):
    business_clock.set_now(china(2, 10, 0))
    response, published = send(2, send_at=int(china(2, 10, 0).timestamp()))
    assert response.status_code == 200 and len(published) == 10


# --- marketing hours --------------------------------------------------------------------------


def test_marketing_accepted_at_ten_at_night_is_held_until_eight(release, send, business_clock):
    business_clock.set_now(china(2, 22, 0))
    response, published = send(3)
    batch_uuid = response.json()["uuid"]
    assert published == [] and _states(batch_uuid) == {RecordState.SCHEDULED}
    assert MessageBatch.objects.get(uuid=batch_uuid).release_at == china(3, 8, 0)
    business_clock.set_now(china(3, 7, 59, 59))
    assert release() == []
    business_clock.set_now(china(3, 8, 0, 10))
    assert len(release()) == 10


@pytest.mark.parametrize("template_type", [1, 2])
def test_verify_codes_and_notices_are_never_held_for_the_hours(send, business_clock, template_type):
    business_clock.set_now(china(2, 23, 30))
    response, published = send(template_type, mobiles=MOBILES[:1])
    assert response.status_code == 200, response.json()
    assert len(published) == 1


def test_a_marketing_send_at_after_closing_waits_for_the_next_opening(send, business_clock):
    business_clock.set_now(china(2, 10, 0))
    response, _ = send(3, send_at=int(china(2, 21, 30).timestamp()))
    assert MessageBatch.objects.get(uuid=response.json()["uuid"]).release_at == china(3, 8, 0)


def test_a_release_that_finds_the_hours_closed_holds_the_batch_again(release, send, business_clock):
    business_clock.set_now(china(2, 10, 0))
    response, _ = send(3, send_at=int(china(2, 20, 59).timestamp()))
    business_clock.set_now(china(2, 21, 1))  # beat came late
    assert release() == []
    assert MessageBatch.objects.get(uuid=response.json()["uuid"]).release_at == china(3, 8, 0)


def test_a_number_that_opts_out_while_the_batch_is_held_is_not_sent_and_is_refunded(
    release, send, basic_client, tenant, business_clock
):
    business_clock.set_now(china(2, 22, 0))
    response, _ = send(3)
    batch_uuid = response.json()["uuid"]
    basic_client(tenant).post("/v1/blocklist", {"mobiles": [MOBILES[0]]}, format="json")
    business_clock.set_now(china(3, 8, 0))
    assert len(release()) == 9
    opted = SendRecord.objects.get(batch__uuid=batch_uuid, receive_phone=MOBILES[0])
    assert (opted.state, opted.provider_code, opted.refunded) == (RecordState.FAILED, "OPTED_OUT", True)
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 91}
    assert _balance_equals_ledger(tenant)


def test_a_dispatch_after_closing_holds_marketing_back_and_sends_nothing(send, settings, business_clock):
    business_clock.set_now(china(2, 20, 59, 50))
    response, published = send(3)
    assert len(published) == 10
    business_clock.set_now(china(2, 21, 0, 5))  # a backlog: the worker gets to it after closing
    with running_simulator(settings) as simulator:
        result = pipeline.dispatch(record_ids=published, provider="gateway", attempt=0, tried=[])
        assert simulator.stats() == {}
    assert result.sent == 0
    batch = MessageBatch.objects.get(uuid=response.json()["uuid"])
    assert _states(str(batch.uuid)) == {RecordState.SCHEDULED}
    assert batch.release_at == china(3, 8, 0)
    assert set(SendRecord.objects.filter(batch=batch).values_list("attempts", flat=True)) == {0}


# --- DELETE v1/message ------------------------------------------------------------------------


def test_cancelling_a_held_batch_refunds_it_once_and_nothing_is_released(
    release, send, basic_client, tenant, business_clock
):
    business_clock.set_now(china(2, 22, 0))
    response, _ = send(3)
    batch_uuid = response.json()["uuid"]
    answer = basic_client(tenant).delete(f"/v1/message?uuid={batch_uuid}")
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"uuid": batch_uuid, "cancelled": 10, "already_cancelled": 0, "already_gone": 0}
    records = SendRecord.objects.filter(batch__uuid=batch_uuid)
    assert {(r.state, r.provider_code, r.refunded) for r in records} == {
        (RecordState.FAILED, "CANCELLED", True)
    }
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 100}
    again = basic_client(tenant).delete(f"/v1/message?uuid={batch_uuid}").json()
    assert (again["cancelled"], again["already_cancelled"]) == (0, 10)
    assert BalanceLedger.objects.filter(reason=LedgerReason.REFUND).count() == 10
    assert _balance_equals_ledger(tenant)
    business_clock.set_now(china(3, 8, 0))
    assert release() == []


def test_cancelling_half_way_refunds_exactly_the_unsent_part(send, basic_client, tenant, business_clock):
    business_clock.set_now(china(2, 10, 0))
    response, _ = send(2)
    batch_uuid = response.json()["uuid"]
    ids = list(SendRecord.objects.filter(batch__uuid=batch_uuid).order_by("id").values_list("id", flat=True))
    # A worker took the first four: one is in flight, three the provider accepted.
    SendRecord.objects.filter(pk=ids[0]).update(state=RecordState.SENDING, provider="gateway")
    SendRecord.objects.filter(pk__in=ids[1:4]).update(state=RecordState.SUBMITTED, provider="gateway")
    answer = basic_client(tenant).delete("/v1/message", QUERY_STRING=f"uuid={batch_uuid}").json()
    assert (answer["cancelled"], answer["already_gone"]) == (6, 4)
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 96}
    assert set(SendRecord.objects.filter(pk__in=ids[:4]).values_list("state", flat=True)) == {
        RecordState.SENDING,
        RecordState.SUBMITTED,
    }
    assert _balance_equals_ledger(tenant)


def test_cancelling_a_batch_that_is_not_yours_is_er0004(send, basic_client, other_tenant, business_clock):
    business_clock.set_now(china(2, 22, 0))
    response, _ = send(3)
    for batch_uuid in (response.json()["uuid"], str(uuid.uuid4())):
        answer = basic_client(other_tenant).delete(f"/v1/message?uuid={batch_uuid}")
        assert (answer.status_code, answer.json()["error"]) == (400, "ER:0004")
    assert _states(response.json()["uuid"]) == {RecordState.SCHEDULED}


def test_suspending_a_tenant_fails_and_refunds_its_held_records(send, tenant, basic_client, business_clock):
    business_clock.set_now(china(2, 22, 0))
    send(3)
    account = TenantAccount.objects.get(user=tenant)
    assert suspension.suspend_tenant(account_id=account.pk, reason="complaints") == 10
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 100}
    assert not SendRecord.objects.filter(state=RecordState.SCHEDULED).exists()

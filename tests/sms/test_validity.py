"""Validity periods (issue 26): ``validity_seconds`` of v1/message, the station verify code's
default, and the rule that a record not handed to a provider within its validity fails ``EXPIRED``
and is refunded, on every path that hands records to a provider and in the sweep."""

from __future__ import annotations

import datetime as dt
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers.base import OutcomeStatus, ProviderUnavailable, SendOutcome
from sms import tasks
from sms.models import (
    BalanceLedger,
    DailyStatistics,
    Lane,
    LedgerReason,
    MessageBatch,
    RecordState,
    SendRecord,
    SendStatus,
    Station,
    TenantAccount,
    WebhookEndpoint,
    WebhookEvent,
)
from sms.sending import lanes, pipeline, scheduling, sweeps, validity
from sms.station_api import services as station_services
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

CHINA = ZoneInfo("Asia/Shanghai")
MOBILES = ["13100001234", "13100011234", "13100021234"]
EXPIRED_REASON = f"{validity.EXPIRED_CODE}: {validity.EXPIRED_DESCRIPTION}"


def _past(seconds: int = 1) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def ready(tenant, basic_client, root_user):
    """A tenant with a passed signature, a verify-code and a marketing template, 100 messages and a
    v1/callback (so that its final records get webhook events)."""
    sign = make_signature(tenant)
    templates = {
        1: make_template(tenant, sign),
        3: make_template(tenant, sign, template="双十二{1}，回T退订", template_type=3),
    }
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 100}, format="json")
    WebhookEndpoint.objects.create(
        tenant=TenantAccount.objects.get(user=tenant), url="https://hooks.example.com/sms", secret="s" * 64
    )
    return sign, templates


@pytest.fixture
def send(ready, basic_client, tenant, django_capture_on_commit_callbacks):
    """``send(validity_seconds=…, template_type=1, **more)``: POST v1/message (dispatch not
    published); answers the response."""
    sign, templates = ready

    def post(template_type: int = 1, mobiles=MOBILES, **fields):
        params = ["112095", "5"] if template_type == 1 else ["PL1"]
        body = {
            "sign_id": sign.pk,
            "temp_id": templates[template_type].pk,
            "mobiles": mobiles,
            "params": params,
        }
        body.update(fields)
        with (
            mock.patch("sms.sending.pipeline.publish_dispatch"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            return basic_client(tenant).post("/v1/message", body, format="json")

    return post


@pytest.fixture
def started(recharge):
    """``started(count, business_type=2)``: station records added and started (queued, their
    dispatch not published)."""
    recharge("T7442", 10)

    def make(count: int = 1, *, business_type: int = 2) -> list[SendRecord]:
        records = []
        for index in range(count):
            record = station_services.create_station_send(
                station_id="T7442",
                receive_phone=f"1310000{index:02d}34",
                business_type=business_type,
                sms_content={"verify_code": "1234", "order_id": "PL1", "sms_signature": "去采购"},
            )
            with mock.patch("sms.station_api.services.queue_for_dispatch"):
                records.append(station_services.start_station_send(task_id=record.pk))
        return records

    return make


def _expire(records) -> None:
    SendRecord.objects.filter(pk__in=[record.pk for record in records]).update(expires_at=_past())


class Provider:
    """The adapter every dispatch gets: counts what it was handed; accepts, or is unavailable."""

    def __init__(self, *, unavailable: bool = False) -> None:
        self.unavailable = unavailable
        self.handed: list[int] = []
        self.adapter = mock.Mock()
        self.adapter.send.side_effect = self._send

    def _send(self, messages, *, dispatch_id):
        self.handed += [message.record_id for message in messages]
        if self.unavailable:
            raise ProviderUnavailable("HTTP 503")
        return [
            SendOutcome(
                message.record_id, OutcomeStatus.ACCEPTED, provider_message_id=f"m{message.record_id}"
            )
            for message in messages
        ]


@pytest.fixture
def provider(django_capture_on_commit_callbacks):
    """Every dispatch in the block goes to one fake adapter (no rate limit, publishes captured)."""
    fake = Provider()
    with (
        mock.patch.object(pipeline.ratelimit, "reserve", return_value=(True, 0.0)),
        mock.patch.object(pipeline, "get_adapter", return_value=fake.adapter),
    ):
        yield fake


def _expired_and_refunded(record: SendRecord) -> bool:
    record.refresh_from_db()
    refunds = BalanceLedger.objects.filter(reason=LedgerReason.REFUND, ref=str(record.pk)).count()
    return (record.state, record.status, record.provider_code, record.remark, record.refunded, refunds) == (
        RecordState.FAILED,
        SendStatus.FAILED,
        validity.EXPIRED_CODE,
        EXPIRED_REASON,
        True,
        1,
    )


# --- v1/message's validity_seconds ------------------------------------------------------------


def test_a_tenant_message_with_a_validity_expires_that_long_after_it_was_accepted(send):
    before = timezone.now()
    response = send(validity_seconds=120)
    after = timezone.now()
    assert response.status_code == 200, response.json()
    expiries = set(SendRecord.objects.values_list("expires_at", flat=True))
    assert len(expiries) == 1
    (expires_at,) = expiries
    assert before + dt.timedelta(seconds=120) <= expires_at <= after + dt.timedelta(seconds=120)


@pytest.mark.parametrize("fields", [{}, {"validity_seconds": None}])
def test_a_tenant_message_without_a_validity_never_expires(send, fields):
    assert send(**fields).status_code == 200
    assert set(SendRecord.objects.values_list("expires_at", flat=True)) == {None}


@pytest.mark.parametrize("seconds", [validity.MIN_SECONDS, validity.MAX_SECONDS])
def test_the_validity_range_is_inclusive(send, seconds):
    assert send(validity_seconds=seconds).status_code == 200


@pytest.mark.parametrize(
    "value", [9, 0, -600, 172_801, 10**12, "ten", "", 600.5, True, [600], {"seconds": 600}]
)
def test_a_validity_out_of_range_or_ill_typed_is_er0004_and_writes_nothing(send, basic_client, tenant, value):
    response = send(validity_seconds=value)
    assert (response.status_code, response.json()["error"]) == (400, "ER:0004"), response.json()
    assert "validity_seconds" in response.json()["message"]
    assert not MessageBatch.objects.exists() and not SendRecord.objects.exists()
    assert not BalanceLedger.objects.filter(reason=LedgerReason.RESERVE).exists()
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 100}


def test_the_refusal_names_the_field_and_its_range(send):
    assert send(validity_seconds=9).json() == {
        "error": "ER:0004",
        "message": "prams fail: validity_seconds: Ensure this value is greater than or equal to 10.",
    }
    assert send(validity_seconds=172_801).json()["message"] == (
        "prams fail: validity_seconds: Ensure this value is less than or equal to 172800."
    )


def test_the_service_refuses_a_validity_out_of_range_before_writing(ready, tenant):
    from gm_server_notify.errors import InvalidInput
    from sms.tenant_api.services import send_tenant_message

    sign, templates = ready
    with pytest.raises(InvalidInput, match="validity_seconds"):
        send_tenant_message(
            owner=tenant,
            sign_id=sign.pk,
            temp_id=templates[1].pk,
            mobiles=MOBILES,
            params=["112095", "5"],
            validity_seconds=5,
        )
    assert not SendRecord.objects.exists()


def test_a_scheduled_message_expires_its_validity_after_its_send_at(send, business_clock):
    business_clock.set_now(dt.datetime(2026, 12, 2, 10, 0, tzinfo=CHINA))
    before = timezone.now()
    response = send(
        send_at=int(dt.datetime(2026, 12, 2, 11, 0, tzinfo=CHINA).timestamp()), validity_seconds=300
    )
    assert response.status_code == 200, response.json()
    (expires_at,) = set(SendRecord.objects.values_list("expires_at", flat=True))
    # The send_at is an hour ahead on the business clock: on the system clock, an hour from now.
    expected = before + dt.timedelta(hours=1, seconds=300)
    assert abs((expires_at - expected).total_seconds()) < 5


def test_marketing_held_for_its_hours_expires_its_validity_after_the_opening(send, business_clock):
    business_clock.set_now(dt.datetime(2026, 12, 2, 22, 0, tzinfo=CHINA))  # closed until 08:00
    before = timezone.now()
    response = send(template_type=3, validity_seconds=3600)
    assert response.status_code == 200, response.json()
    (expires_at,) = set(SendRecord.objects.values_list("expires_at", flat=True))
    expected = before + dt.timedelta(hours=10, seconds=3600)
    assert abs((expires_at - expected).total_seconds()) < 5


def test_a_mobile_refused_at_once_has_no_validity(send, settings):
    settings.SMS_VERIFY_LIMITS = "1/1h"
    assert send(mobiles=MOBILES[:1], validity_seconds=60).status_code == 200
    assert send(mobiles=MOBILES[:1], validity_seconds=60).status_code == 200  # over the limit: LIMITED
    sent, limited = SendRecord.objects.order_by("id")
    assert (sent.provider_code, sent.expires_at is not None) == ("", True)
    assert (limited.provider_code, limited.expires_at) == ("LIMITED", None)


def test_the_schema_documents_validity_seconds_with_its_range():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    field = schema["components"]["schemas"]["MessageRequestRequest"]["properties"]["validity_seconds"]
    assert (field["type"], field["minimum"], field["maximum"], field["nullable"]) == (
        "integer",
        validity.MIN_SECONDS,
        validity.MAX_SECONDS,
        True,
    )
    assert "EXPIRED" in field["description"]


# --- the station verify code's default ----------------------------------------------------------


def test_a_station_verify_code_expires_the_setting_after_its_start(started, settings):
    settings.SMS_STATION_VERIFY_VALIDITY_SECONDS = 600
    (record,) = started()
    record.refresh_from_db()
    assert record.expires_at - record.queued_at == dt.timedelta(seconds=600)


def test_a_station_verify_code_added_but_not_started_has_no_validity_yet(recharge, add_record):
    recharge()
    assert add_record().expires_at is None


@pytest.mark.parametrize(("business_type", "setting"), [(0, 600), (1, 600), (2, 0)])
def test_station_orders_and_a_setting_of_zero_have_no_validity(started, settings, business_type, setting):
    settings.SMS_STATION_VERIFY_VALIDITY_SECONDS = setting
    (record,) = started(business_type=business_type)
    record.refresh_from_db()
    assert record.expires_at is None


# --- the dispatch: never handed to a provider late ---------------------------------------------


def test_a_dispatch_fails_its_expired_records_refunded_and_sends_the_rest(started, provider):
    records = started(3)
    _expire(records[:2])
    result = pipeline.dispatch(record_ids=[r.pk for r in records], provider="tencent", attempt=0, tried=[])
    assert provider.handed == [records[2].pk]
    assert result.sent == 1
    assert all(_expired_and_refunded(record) for record in records[:2])
    assert SendRecord.objects.get(pk=records[2].pk).state == RecordState.SUBMITTED
    assert Station.objects.get(station_id="T7442").balance_nums == 9  # only the sent one is billed
    # Started records count in the day's statistics: the expired two as failed.
    assert DailyStatistics.objects.get(station_id="T7442").send_failed_nums == 2


def test_a_dispatch_of_only_expired_records_makes_no_provider_request(started, provider):
    records = started(2)
    _expire(records)
    result = pipeline.dispatch(record_ids=[r.pk for r in records], provider="tencent", attempt=0, tried=[])
    assert provider.handed == [] and provider.adapter.send.call_count == 0
    assert (result.sent, result.retry_in, result.failed_over_to) == (0, None, None)
    assert all(_expired_and_refunded(record) for record in records)


def test_expiring_a_batch_is_one_update_of_its_records(started, provider):
    records = started(5)
    _expire(records)
    with CaptureQueriesContext(connection) as captured:
        pipeline.dispatch(record_ids=[r.pk for r in records], provider="tencent", attempt=0, tried=[])
    table = SendRecord._meta.db_table
    updates = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE") and table in q["sql"]
    ]
    # The claim's update, then the outcome's: one each for the five, not one per record.
    assert len(updates) == 2, updates
    assert all(_expired_and_refunded(record) for record in records)


def test_a_record_that_expires_while_its_provider_is_unavailable_fails_at_the_retry(started, provider):
    (record,) = started()
    provider.unavailable = True
    first = pipeline.dispatch(record_ids=[record.pk], provider="tencent", attempt=0, tried=[])
    assert first.retry_in is not None and provider.handed == [record.pk]
    assert SendRecord.objects.get(pk=record.pk).state == RecordState.QUEUED
    _expire([record])
    provider.unavailable = False  # back: too late for this record
    retry = pipeline.dispatch(record_ids=[record.pk], provider="tencent", attempt=1, tried=[])
    assert retry.retry_in is None and provider.handed == [record.pk]  # not handed again
    assert _expired_and_refunded(record)


def test_a_record_failed_over_after_its_validity_is_not_handed_to_the_next_provider(
    started, provider, django_capture_on_commit_callbacks
):
    (record,) = started()
    provider.unavailable = True
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = pipeline.dispatch(record_ids=[record.pk], provider="tencent", attempt=99, tried=[])
    assert result.failed_over_to == "gateway"
    (ids, fallback, tried, _), _ = publish.call_args
    _expire([record])
    pipeline.dispatch(record_ids=ids, provider=fallback, attempt=0, tried=tried)
    assert provider.handed == [record.pk]  # only the first provider's attempt
    assert _expired_and_refunded(record)


def test_the_redispatch_sweep_publishes_nothing_expired_and_its_dispatch_sends_nothing_late(
    started, provider, django_capture_on_commit_callbacks
):
    records = started(2)
    SendRecord.objects.update(updated_at=_past(600))  # their task was lost
    _expire(records[:1])
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        swept = tasks.sweep_stale_records()
    assert (swept["expired"], swept["requeued"]) == (1, 1)
    assert _expired_and_refunded(records[0])
    (ids, provider_name, *_), _ = publish.call_args
    assert ids == [records[1].pk]
    # A dispatch the sweep published before the record expired (or a late duplicate) claims it
    # and expires it: never handed over.
    _expire(records[1:])
    pipeline.dispatch(record_ids=[r.pk for r in records], provider=provider_name, attempt=0, tried=[])
    assert provider.handed == []
    assert _expired_and_refunded(records[1])


def test_a_bulk_lane_turn_does_not_hand_over_an_expired_batch(parking, started, provider):
    records = started(2, business_type=0)
    _expire(records)
    SendRecord.objects.update(lane=Lane.BULK)
    payload = {
        "record_ids": [r.pk for r in records],
        "provider": "tencent",
        "tried": [],
        "resume_dispatch_id": None,
    }
    parking.park(sender=lanes.station_sender("T7442"), payload=payload)
    assert tasks.dispatch_bulk_turn() == 0
    assert provider.handed == []
    assert all(_expired_and_refunded(record) for record in records)


def test_a_resumed_dispatch_is_not_expired_its_provider_may_have_it(started, provider):
    (record,) = started()
    claimed = pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    _expire([record])
    with mock.patch.object(pipeline, "resends_safely", return_value=True):
        pipeline.dispatch(
            record_ids=[record.pk],
            provider="tencent",
            attempt=1,
            tried=[],
            resume_dispatch_id=claimed.dispatch_id,
        )
    assert provider.handed == [record.pk]
    assert SendRecord.objects.get(pk=record.pk).state == RecordState.SUBMITTED


def test_a_tenant_record_that_expires_gets_its_webhook_event_and_shows_failed_expired(
    send, provider, basic_client, tenant
):
    response = send(mobiles=MOBILES[:2], validity_seconds=60)
    batch_uuid = response.json()["uuid"]
    records = list(SendRecord.objects.order_by("id"))
    _expire(records)
    pipeline.dispatch(record_ids=[r.pk for r in records], provider="gateway", attempt=0, tried=[])
    assert provider.handed == []
    assert set(WebhookEvent.objects.values_list("record_id", flat=True)) == {r.pk for r in records}
    progress = basic_client(tenant).get("/v1/message", {"uuid": batch_uuid}).json()
    assert progress["counts"]["failed"] == 2
    assert {(item["state"], item["reason"]) for item in progress["items"]} == {("failed", EXPIRED_REASON)}
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 100}


def test_the_station_record_list_shows_an_expired_verify_code_failed_with_its_reason(
    started, provider, station_client
):
    (record,) = started()
    _expire([record])
    pipeline.dispatch(record_ids=[record.pk], provider="tencent", attempt=0, tried=[])
    today = timezone.localdate().isoformat()
    query = {"station_id": "T7442", "start_date": today, "end_date": today, "business_type": 2}
    body = station_client.get("/sms/send_record/get", query).json()
    assert [(row["task_id"], row["status"], row["remark"]) for row in body["data"]] == [
        (record.pk, SendStatus.FAILED, EXPIRED_REASON)
    ]


# --- the sweep: no dispatch comes ---------------------------------------------------------------


def test_the_sweep_expires_waiting_records_past_their_validity_and_nothing_else(started):
    records = started(7)
    waiting, scheduled, fresh, no_validity, sending, submitted, unknown = records
    SendRecord.objects.filter(pk=scheduled.pk).update(state=RecordState.SCHEDULED)
    SendRecord.objects.filter(pk=no_validity.pk).update(expires_at=None)
    SendRecord.objects.filter(pk=sending.pk).update(state=RecordState.SENDING)
    SendRecord.objects.filter(pk=submitted.pk).update(state=RecordState.SUBMITTED)
    SendRecord.objects.filter(pk=unknown.pk).update(state=RecordState.UNKNOWN)
    _expire([waiting, scheduled, sending, submitted, unknown])
    assert sweeps.expire_overdue() == 2
    assert _expired_and_refunded(waiting) and _expired_and_refunded(scheduled)
    states = dict(SendRecord.objects.values_list("pk", "state"))
    assert [states[r.pk] for r in (fresh, no_validity, sending, submitted, unknown)] == [
        RecordState.QUEUED,
        RecordState.QUEUED,
        RecordState.SENDING,  # a provider request may be in flight: its report decides
        RecordState.SUBMITTED,
        RecordState.UNKNOWN,
    ]
    assert sweeps.expire_overdue() == 0  # once: no second refund
    assert BalanceLedger.objects.filter(reason=LedgerReason.REFUND).count() == 2
    assert Station.objects.get(station_id="T7442").balance_nums == 10 - 7 + 2


def test_the_sweep_expires_a_batch_in_one_update_of_its_records(started):
    records = started(6)
    _expire(records)
    with CaptureQueriesContext(connection) as captured:
        assert sweeps.expire_overdue() == 6
    table = SendRecord._meta.db_table
    updates = [q for q in captured.captured_queries if q["sql"].startswith("UPDATE") and table in q["sql"]]
    assert len(updates) == 1, [q["sql"] for q in updates]


def test_a_held_marketing_batch_whose_validity_passed_is_expired_by_the_sweep_not_released(
    send, business_clock, django_capture_on_commit_callbacks
):
    business_clock.set_now(dt.datetime(2026, 12, 2, 22, 0, tzinfo=CHINA))
    batch_uuid = send(template_type=3, validity_seconds=3600).json()["uuid"]
    assert set(SendRecord.objects.values_list("state", flat=True)) == {RecordState.SCHEDULED}
    _expire(SendRecord.objects.all())  # e.g. held again past its validity
    assert sweeps.expire_overdue() == 3
    business_clock.set_now(dt.datetime(2026, 12, 3, 8, 0, tzinfo=CHINA))
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert scheduling.release_due() == 0
    publish.assert_not_called()
    assert set(SendRecord.objects.filter(batch__uuid=batch_uuid).values_list("provider_code", flat=True)) == {
        validity.EXPIRED_CODE
    }

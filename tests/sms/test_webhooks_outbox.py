"""The webhook outbox: every path that makes a tenant record final writes its event in the same
transaction, once; nothing else does."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers.base import DeliveryReport, OutcomeStatus, ReportStatus, SendOutcome
from sms.delivery import reports
from sms.models import (
    MessageBatch,
    RecordState,
    SendRecord,
    TenantAccount,
    WebhookEvent,
    WebhookEventState,
)
from sms.sending import pipeline, suspension, sweeps
from sms.tenant_api import services as tenant_services
from sms.webhooks import services as webhooks
from tests.support.platform import make_signature, make_template

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def sender(tenant, settings):
    """``sender(mobiles)``: a tenant with a callback URL sends a message; answers its records."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=10000)
    webhooks.set_callback(owner=tenant, url=HOOK)

    def send(mobiles: list[str], **kwargs) -> list[SendRecord]:
        batch = tenant_services.send_tenant_message(
            owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=mobiles, params=["A1"], **kwargs
        )
        return list(SendRecord.objects.filter(batch=batch).order_by("id"))

    return send


def _claim(records: list[SendRecord], provider: str = "gateway") -> pipeline.Dispatch:
    return pipeline.claim_dispatch(record_ids=[r.pk for r in records], provider=provider)


def _accept(records: list[SendRecord], provider: str = "gateway") -> None:
    batch = _claim(records, provider)
    pipeline.record_outcomes(
        provider=provider,
        dispatch_id=batch.dispatch_id,
        outcomes=[SendOutcome(r.pk, OutcomeStatus.ACCEPTED, provider_message_id=f"m{r.pk}") for r in records],
    )


def _events() -> dict[int, WebhookEvent]:
    return {event.record_id: event for event in WebhookEvent.objects.all()}


def test_a_refused_record_gets_a_failed_event_and_an_accepted_one_none_yet(sender):
    first, second = sender(["13112341234", "13112345678"])
    batch = _claim([first, second])
    pipeline.record_outcomes(
        provider="gateway",
        dispatch_id=batch.dispatch_id,
        outcomes=[
            SendOutcome(first.pk, OutcomeStatus.ACCEPTED, provider_message_id="m1"),
            SendOutcome(second.pk, OutcomeStatus.FAILED, code="BLACK", description="blacklisted"),
        ],
    )
    events = _events()
    assert list(events) == [second.pk]
    event = events[second.pk]
    assert (event.url, event.state, event.from_batch) == (HOOK, WebhookEventState.PENDING, False)
    assert event.tenant_id == TenantAccount.objects.get(user=second.batch.tenant.user).pk


def test_a_provider_whose_acceptance_is_final_gets_a_delivered_event(sender):
    (record,) = sender(["13112341234"])
    _accept([record], provider="fw199")
    assert SendRecord.objects.get(pk=record.pk).state == RecordState.DELIVERED
    assert list(_events()) == [record.pk]


def test_fail_records_writes_the_events_of_the_records_it_fails(sender):
    records = sender(["13112341234", "13112345678"])
    _claim(records)
    assert pipeline.fail_records(records=records, remark="no provider", code="NoRoute") == 2
    assert set(_events()) == {r.pk for r in records}


def test_reports_write_one_event_per_record_however_often_they_come(sender):
    records = sender(["13112341234", "13112340004"])
    _accept(records)
    assert _events() == {}  # submitted is not final
    first = [
        DeliveryReport(
            provider="gateway",
            provider_message_id=f"m{r.pk}",
            status=ReportStatus.FAILED if r.receive_phone.endswith("0004") else ReportStatus.DELIVERED,
            phone=r.receive_phone,
            code="UNDELIV" if r.receive_phone.endswith("0004") else "DELIVRD",
        )
        for r in records
    ]
    assert reports.apply_delivery_reports(provider="gateway", reports=first).applied == 2
    assert reports.apply_delivery_reports(provider="gateway", reports=first).applied == 0  # repeated
    assert set(_events()) == {r.pk for r in records}
    assert WebhookEvent.objects.count() == 2


def test_a_late_report_matched_by_number_to_an_uncertain_record_writes_its_event(sender):
    (record,) = sender(["13112341234"])
    batch = _claim([record])
    pipeline.mark_unknown(records=[record], dispatch_id=batch.dispatch_id, remark="uncertain")
    assert _events() == {}  # unknown is not final
    report = DeliveryReport(
        provider="gateway", provider_message_id="late-1", status=ReportStatus.DELIVERED, phone="13112341234"
    )
    assert reports.apply_delivery_reports(provider="gateway", reports=[report]).applied == 1
    assert list(_events()) == [record.pk]


def test_the_settle_deadline_writes_the_events_of_the_records_it_fails(sender):
    (record,) = sender(["13112341234"])
    _accept([record])
    SendRecord.objects.filter(pk=record.pk).update(submitted_at=timezone.now() - timedelta(days=4))
    assert sweeps.expire_unreported(older_than=timedelta(days=3)) == 1
    assert _events() == {}
    SendRecord.objects.filter(pk=record.pk).update(unknown_at=timezone.now() - timedelta(days=8))
    assert sweeps.settle_unknown(older_than=timedelta(days=7), policy="keep") == 1
    assert list(_events()) == [record.pk]


def test_a_suspension_writes_the_events_of_the_queued_records_it_fails(sender, tenant):
    records = sender(["13112341234", "13112345678"])
    account = TenantAccount.objects.get(user=tenant)
    assert suspension.suspend_tenant(account_id=account.pk, reason="unpaid") == 2
    assert set(_events()) == {r.pk for r in records}


def test_a_verify_code_over_its_limit_is_failed_at_once_with_its_event(tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.SMS_VERIFY_LIMITS = "1/60s"
    sign = make_signature(tenant)
    template = make_template(tenant, sign)  # a verification code
    tenant_services.charge_tenant(username=tenant.username, charge=10)
    webhooks.set_callback(owner=tenant, url=HOOK)

    def send():
        return tenant_services.send_tenant_message(
            owner=tenant,
            sign_id=sign.pk,
            temp_id=template.pk,
            mobiles=["13112341234"],
            params=["112095", "5"],
        )

    send()
    second = send()
    limited = SendRecord.objects.get(batch=second)
    assert limited.state == RecordState.FAILED
    assert list(_events()) == [limited.pk]


def test_a_batch_callback_url_overrides_the_tenants_and_no_callback_means_no_event(sender, tenant):
    (overridden,) = sender(["13112341234"], callback_url="http://127.0.0.1:10/other")
    _claim([overridden])
    pipeline.fail_records(records=[overridden], remark="x")
    event = _events()[overridden.pk]
    assert (event.url, event.from_batch) == ("http://127.0.0.1:10/other", True)
    assert MessageBatch.objects.get(pk=overridden.batch_id).callback_url == "http://127.0.0.1:10/other"

    webhooks.delete_callback(owner=tenant)
    (silent,) = sender(["13112345678"])
    _claim([silent])
    pipeline.fail_records(records=[silent], remark="x")
    assert silent.pk not in _events()


def test_station_records_never_get_events(recharge, add_record, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    recharge("T7442", 10)
    record = add_record()
    SendRecord.objects.filter(pk=record.pk).update(state=RecordState.QUEUED)
    _claim([record], provider="tencent")
    pipeline.fail_records(records=[record], remark="x")
    assert SendRecord.objects.get(pk=record.pk).state == RecordState.FAILED
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_state_change_leaves_no_event(sender):
    (record,) = sender(["13112341234"])
    _claim([record])
    with pytest.raises(RuntimeError), transaction.atomic():
        pipeline.fail_records(records=[record], remark="x")
        assert WebhookEvent.objects.count() == 1
        raise RuntimeError("the transaction fails after the state change")
    assert WebhookEvent.objects.count() == 0
    assert SendRecord.objects.get(pk=record.pk).state == RecordState.SENDING


def test_a_batch_of_3000_final_records_writes_its_events_in_bulk(sender):
    records = sender([f"131{index:04d}1234" for index in range(3000)])
    batch = _claim(records, provider="fw199")
    outcomes = [SendOutcome(r.pk, OutcomeStatus.ACCEPTED, provider_message_id=f"m{r.pk}") for r in records]
    with CaptureQueriesContext(connection) as captured:
        pipeline.record_outcomes(provider="fw199", dispatch_id=batch.dispatch_id, outcomes=outcomes)
    outbox_statements = [q["sql"] for q in captured.captured_queries if "webhook" in q["sql"]]
    # One lookup of the batch and its callback, then inserts of 1000 rows: not a statement per
    # record. MySQL takes 1000 rows an insert (three inserts); SQLite's 999 parameters a statement
    # take fewer, and Django splits the insert to fit (37 of 83 rows: 12 columns a row).
    fields = [field for field in WebhookEvent._meta.concrete_fields if not field.primary_key]
    rows_per_insert = min(1000, connection.ops.bulk_batch_size(fields, records))
    assert rows_per_insert >= 80
    assert len(outbox_statements) <= 1 + math.ceil(len(records) / rows_per_insert), outbox_statements
    assert len(captured.captured_queries) - len(outbox_statements) < 36
    assert WebhookEvent.objects.count() == 3000

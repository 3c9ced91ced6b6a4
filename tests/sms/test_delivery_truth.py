"""Billing and delivery truth (docs/delivery-truth.md): what the provider billed settles the
account once; a record with no report is ``unknown`` until a late report, a pull or the settle
deadline decides it; an uncertain submit is never resent nor refunded; one rule decides a record
whatever the batching of its reports. Providers are the simulator, over loopback."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from providers.base import DeliveryReport, OutcomeStatus, ReportStatus, SendOutcome
from sms import tasks
from sms.accounting import ledger
from sms.delivery import reports
from sms.models import (
    BalanceLedger,
    DailyStatistics,
    LedgerReason,
    RecordState,
    SendRecord,
    SendStatus,
    Station,
    TenantAccount,
)
from sms.sending import pipeline, sweeps
from sms.station_api import services
from sms.tenant_api import services as tenant_services
from tests.conftest import SERVICE_TOKEN
from tests.support.factories import send_record
from tests.support.platform import make_signature, make_template
from tests.support.pushes import apply_stored_pushes
from tests.support.simulator import running_simulator

pytestmark = pytest.mark.django_db

# Tencent's template 1003 registered with a longer text than our local one: 2 parts, not 1.
LONG_TEMPLATE = (
    "您的验证码为{1}，5分钟内有效，请勿泄露给他人。如非本人操作，请忽略本短信，"
    "并及时修改您的账户密码以保障安全。客服电话请见官方网站。"
)


@pytest.fixture
def simulator(settings):
    settings.PROVIDER_HTTP_TIMEOUT = 1.0
    with running_simulator(settings) as running:
        running.state.config.hang_seconds = 2.5
        yield running


def _queued(phone: str = "13112341234", *, station_id: str = "T7442") -> SendRecord:
    record = services.create_station_send(
        station_id=station_id,
        receive_phone=phone,
        business_type=2,
        sms_content={"verify_code": "123456", "sms_signature": "去采购"},
    )
    SendRecord.objects.filter(pk=record.pk).update(state=RecordState.QUEUED)
    record.refresh_from_db()
    return record


def _dispatch(record: SendRecord, provider: str = "tencent") -> pipeline.DispatchResult:
    return pipeline.dispatch(record_ids=[record.pk], provider=provider, attempt=0, tried=[])


def _day(station_id: str = "T7442") -> tuple[int, int]:
    """The station's delivered and failed counts of today (these records skip send/start, which
    counts the total)."""
    row = DailyStatistics.objects.filter(station_id=station_id).first()
    return (row.success_send_nums, row.send_failed_nums) if row else (0, 0)


def _ledger(reason: LedgerReason, record: SendRecord) -> list[int]:
    return list(
        BalanceLedger.objects.filter(reason=reason, ref=str(record.pk)).values_list("delta", flat=True)
    )


# --- 1. What the provider bills ------------------------------------------------------------------


def test_tencent_fee_is_kept_and_the_difference_is_booked_once(recharge, simulator):
    recharge("T7442", 10)
    simulator.configure(templates={"1003": LONG_TEMPLATE})
    record = _queued()
    assert record.segments == 1  # our count of the local text
    _dispatch(record)
    record.refresh_from_db()
    assert (record.state, record.segments, record.billed_parts) == (RecordState.SUBMITTED, 1, 2)
    assert _ledger(LedgerReason.RECONCILE, record) == [-1]
    assert Station.objects.get(station_id="T7442").balance_nums == 8  # what Tencent billed
    # The same answer again (a redelivered task) and a second reconciliation change nothing.
    pipeline.record_outcomes(
        provider="tencent",
        dispatch_id=record.dispatch_id,
        outcomes=[SendOutcome(record.pk, OutcomeStatus.ACCEPTED, provider_message_id="x", billed_parts=2)],
    )
    assert ledger.reconcile_billed([record]) == []
    assert _ledger(LedgerReason.RECONCILE, record) == [-1]
    assert Station.objects.get(station_id="T7442").balance_nums == 8


def test_a_provider_billing_less_than_reserved_gives_the_difference_back(recharge):
    recharge("T7442", 10)
    record = _queued()
    batch = pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    SendRecord.objects.filter(pk=record.pk).update(segments=3)
    Station.objects.filter(station_id="T7442").update(balance_nums=7)  # as if 3 were reserved
    pipeline.record_outcomes(
        provider="tencent",
        dispatch_id=batch.dispatch_id,
        outcomes=[SendOutcome(record.pk, OutcomeStatus.ACCEPTED, provider_message_id="s1", billed_parts=1)],
    )
    assert _ledger(LedgerReason.RECONCILE, record) == [2]
    assert Station.objects.get(station_id="T7442").balance_nums == 9


def test_a_charge_beyond_the_balance_takes_what_is_left_and_shows_the_rest(recharge, simulator, client):
    recharge("T7442", 1)
    simulator.configure(templates={"1003": LONG_TEMPLATE})
    record = _queued()
    _dispatch(record)
    assert Station.objects.get(station_id="T7442").balance_nums == 0
    assert _ledger(LedgerReason.RECONCILE, record) == [0]
    client.force_login(get_user_model().objects.create_user("ops", password="x", is_staff=True))
    row = client.get("/dashboard/reconciliation").context["providers"][0]
    assert (row.difference, row.booked, row.unbooked) == (1, 0, 1)


def test_the_reconciliation_view_lists_our_parts_against_the_providers(recharge, simulator, client):
    recharge("T7442", 10)
    simulator.configure(templates={"1003": LONG_TEMPLATE})
    differing = _queued("13112341234")
    _dispatch(differing)
    simulator.configure(templates={"1003": "您的验证码为{1}，5分钟内有效，请勿泄露给他人。"})
    same = _queued("13112345678")
    _dispatch(same)
    client.force_login(get_user_model().objects.create_user("ops", password="x", is_staff=True))
    response = client.get(f"/dashboard/reconciliation?date={timezone.localdate().isoformat()}")
    assert response.status_code == 200
    [row] = response.context["providers"]
    assert (row.provider, row.accepted, row.our_parts, row.their_parts) == ("tencent", 2, 2, 3)
    assert (row.difference, row.booked, row.unbooked, row.differing_records) == (1, -1, 0, 1)
    assert [(d.record_id, d.reserved, d.billed, d.booked) for d in row.differences] == [
        (differing.pk, 1, 2, -1)
    ]
    assert f"<td>{differing.pk}</td>" in response.content.decode()
    other_day = client.get("/dashboard/reconciliation?date=2026-01-01").context["providers"]
    assert other_day == []


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "not-a-date", "2026-02-30"])
def test_the_reconciliation_view_answers_any_date_with_a_page(client, day):
    client.force_login(get_user_model().objects.create_user("ops", password="x", is_staff=True))
    response = client.get("/dashboard/reconciliation", {"date": day, "provider": "x" * 100})
    assert response.status_code == 200
    assert response.context["day"] == timezone.localdate()


def test_the_reconciliation_view_is_for_staff_only(client):
    response = client.get("/dashboard/reconciliation")
    assert response.status_code == 302 and "/admin/login" in response["Location"]


def test_station_templates_are_checked_against_tencents_registered_ones(simulator, capsys):
    call_command("check_station_templates")
    assert capsys.readouterr().out.count("same text") == 3
    simulator.configure(templates={"1003": LONG_TEMPLATE})
    with pytest.raises(CommandError, match="1 station template"):
        call_command("check_station_templates")
    out = capsys.readouterr().out
    assert "type 2 template 1003: texts differ; ours 1 part(s), tencent bills 2" in out


# --- 2. A missing report is unknown, not failed --------------------------------------------------


def _submitted(recharge_fixture, simulator=None) -> SendRecord:
    recharge_fixture("T7442", 10)
    record = _queued()
    _dispatch(record)
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED
    return record


def test_no_report_by_the_deadline_is_unknown_and_a_late_report_decides_it_once(recharge, simulator):
    record = _submitted(recharge)
    simulator.state.held_reports.clear()  # the report is lost
    SendRecord.objects.filter(pk=record.pk).update(submitted_at=timezone.now() - timedelta(days=4))
    assert sweeps.expire_unreported(older_than=timedelta(days=3)) == 1
    record.refresh_from_db()
    assert (record.state, record.status, record.refunded) == (RecordState.UNKNOWN, SendStatus.SENDING, False)
    assert _day() == (0, 0)  # neither delivered nor failed
    late = DeliveryReport(
        provider="tencent",
        status=ReportStatus.DELIVERED,
        provider_message_id=record.provider_message_id,
        phone="13112341234",
    )
    assert reports.apply_delivery_reports(provider="tencent", reports=[late]).applied == 1
    assert reports.apply_delivery_reports(provider="tencent", reports=[late]).already_final == 1
    record.refresh_from_db()
    assert (record.state, record.status) == (RecordState.DELIVERED, SendStatus.SUCCESS)
    assert _day() == (1, 0)
    assert Station.objects.get(station_id="T7442").balance_nums == 9


def test_the_scheduled_pull_decides_unknown_records_of_providers_with_a_pull_api(
    recharge, simulator, settings
):
    settings.SMS_PULL_REPORT_PROVIDERS = []  # only reconciliation pulls
    record = _submitted(recharge)
    assert sweeps.providers_to_pull() == []  # nothing unknown: nothing pulled
    SendRecord.objects.filter(pk=record.pk).update(submitted_at=timezone.now() - timedelta(days=4))
    sweeps.expire_unreported(older_than=timedelta(days=3))
    assert sweeps.providers_to_pull() == ["tencent"]
    assert tasks.pull_reports() == 1
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED
    assert _day() == (1, 0)
    assert tasks.pull_reports() == 0 and _day() == (1, 0)


@pytest.mark.parametrize(("policy", "balance", "entry"), [("keep", 9, 0), ("refund", 10, 1)])
def test_unknown_past_the_settle_deadline_fails_with_its_policy_booked_once(
    recharge, simulator, policy, balance, entry
):
    record = _submitted(recharge)
    SendRecord.objects.filter(pk=record.pk).update(submitted_at=timezone.now() - timedelta(days=4))
    sweeps.expire_unreported(older_than=timedelta(days=3))
    assert sweeps.settle_unknown(older_than=timedelta(days=7), policy=policy) == 0  # not yet
    SendRecord.objects.filter(pk=record.pk).update(unknown_at=timezone.now() - timedelta(days=8))
    assert sweeps.settle_unknown(older_than=timedelta(days=7), policy=policy) == 1
    assert sweeps.settle_unknown(older_than=timedelta(days=7), policy=policy) == 0
    record.refresh_from_db()
    assert (record.state, record.provider_code, record.refunded) == (
        RecordState.FAILED,
        "NoReport",
        policy == "refund",
    )
    reason = LedgerReason.REFUND if policy == "refund" else LedgerReason.SETTLE
    assert _ledger(reason, record) == [entry]
    assert Station.objects.get(station_id="T7442").balance_nums == balance
    assert _day() == (0, 1)


def test_unknown_shows_as_sending_with_its_reason_in_the_station_api(recharge, simulator, station_client):
    record = _submitted(recharge)
    SendRecord.objects.filter(pk=record.pk).update(submitted_at=timezone.now() - timedelta(days=4))
    sweeps.expire_unreported(older_than=timedelta(days=3))
    day = timezone.localdate().isoformat()
    body = station_client.get(
        "/sms/send_record/get",
        {"station_id": "T7442", "start_date": day, "end_date": day, "business_type": 2, "status": 0},
        HTTP_AUTHORIZATION=f"Bearer {SERVICE_TOKEN}",
    ).json()
    [item] = body["data"]
    assert item["status"] == 0
    assert item["remark"] == sweeps.NO_REPORT_REMARK


def test_unknown_shows_as_unknown_in_the_tenant_api(tenant, basic_client, settings):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=5)
    batch = tenant_services.send_tenant_message(
        owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=["13112341234"], params=["A1"]
    )
    SendRecord.objects.update(
        state=RecordState.SUBMITTED, provider="gateway", submitted_at=timezone.now() - timedelta(days=4)
    )
    sweeps.expire_unreported(older_than=timedelta(days=3))
    body = basic_client(tenant).get("/v1/message", {"uuid": str(batch.uuid)}).json()
    assert body["counts"]["unknown"] == 1
    assert body["items"][0]["state"] == "unknown"


# --- 3. An uncertain submit is neither resent nor refunded ---------------------------------------


def test_a_timeout_after_tencent_took_the_message_leaves_it_unknown_sent_once(recharge, simulator):
    recharge("T7442", 10)
    record = _queued("13100000409")  # the simulator takes it, then answers too late
    result = _dispatch(record)
    assert result.retry_in is None and result.failed_over_to is None
    record.refresh_from_db()
    assert (record.state, record.provider_message_id, record.refunded) == (RecordState.UNKNOWN, None, False)
    assert record.remark == pipeline.UNCERTAIN_REMARK
    assert simulator.state.times_received("tencent", "+8613100000409") == 1
    assert Station.objects.get(station_id="T7442").balance_nums == 9
    assert _day() == (0, 0)
    # The pull brings its report; the number ties it to the record.
    assert sweeps.pull_reports(provider="tencent") == 1
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED and record.provider_message_id.startswith("2640:")
    assert _day() == (1, 0)
    assert simulator.state.times_received("tencent", "+8613100000409") == 1


def test_a_stuck_sending_record_is_decided_by_its_late_report(recharge):
    recharge("T7442", 10)
    record = _queued()
    pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    SendRecord.objects.filter(pk=record.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert sweeps.reconcile_stuck_sending(older_than=timedelta(seconds=60)) == (0, 1)
    report = DeliveryReport(
        provider="tencent",
        status=ReportStatus.FAILED,
        provider_message_id="sid-late",
        phone="13112341234",
        code="MK:1",
    )
    assert reports.apply_delivery_reports(provider="tencent", reports=[report]).applied == 1
    record.refresh_from_db()
    assert (record.state, record.provider_message_id, record.refunded) == (
        RecordState.FAILED,
        "sid-late",
        False,
    )
    assert Station.objects.get(station_id="T7442").balance_nums == 9  # the provider took (and billed) it


def test_an_uncertain_record_is_not_guessed_when_its_number_is_ambiguous(recharge):
    recharge("T7442", 10)
    records = [_queued(), _queued()]  # the same number twice
    pipeline.claim_dispatch(record_ids=[r.pk for r in records], provider="tencent")
    SendRecord.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    sweeps.reconcile_stuck_sending(older_than=timedelta(seconds=60))
    report = DeliveryReport(
        provider="tencent", status=ReportStatus.DELIVERED, provider_message_id="sid-x", phone="13112341234"
    )
    assert reports.apply_delivery_reports(provider="tencent", reports=[report]).applied == 0
    assert set(SendRecord.objects.values_list("state", flat=True)) == {RecordState.UNKNOWN}


# --- 4. One rule for a record's final state ------------------------------------------------------


def _tencent_report(sid: str, delivered: bool) -> dict:
    return {
        "user_receive_time": "2026-11-25 08:03:04",
        "nationcode": "86",
        "mobile": "13112341234",
        "report_status": "SUCCESS" if delivered else "FAIL",
        "errmsg": "DELIVRD" if delivered else "UNDELIV",
        "description": "",
        "sid": sid,
    }


@pytest.mark.parametrize("batching", ["one body", "three bodies"])
@pytest.mark.parametrize("record_first", [True, False], ids=["record-first", "reports-first"])
def test_the_first_final_report_decides_whatever_the_batching(recharge, api_client, batching, record_first):
    recharge("T7442", 10)
    record = _queued()
    batch = pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    accept = [SendOutcome(record.pk, OutcomeStatus.ACCEPTED, provider_message_id="sid-1")]
    if record_first:
        pipeline.record_outcomes(provider="tencent", dispatch_id=batch.dispatch_id, outcomes=accept)
    bodies = [
        [_tencent_report("sid-1", True), _tencent_report("sid-1", True), _tencent_report("sid-1", False)]
    ]
    if batching == "three bodies":
        bodies = [[report] for report in bodies[0]]
    for body in bodies:
        response = api_client.post(
            "/sms/callback?token=test-callback-token", data=json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 200
        apply_stored_pushes()
    if not record_first:
        pipeline.record_outcomes(provider="tencent", dispatch_id=batch.dispatch_id, outcomes=accept)
    record.refresh_from_db()
    assert (record.state, record.status) == (RecordState.DELIVERED, SendStatus.SUCCESS)
    assert _day() == (1, 0)


def test_the_reconciliation_books_each_differing_record_on_its_own_account_and_lists_the_first_by_id(
    recharge, monkeypatch
):
    from sms.accounting import reconciliation
    from tests.support.traffic import tenant_batch

    recharge("T7442", 10)
    batch = tenant_batch("acme", template_type=2)
    TenantAccount.objects.filter(pk=batch.tenant_id).update(balance_nums=10)
    now = timezone.now()
    fields = {"provider": "tencent", "submitted_at": now, "segments": 1, "billed_parts": 2}
    station_records = [send_record(**fields) for _ in range(2)]
    tenant_record = send_record(station_id=None, batch=batch, **fields)
    agreeing = send_record(provider="tencent", submitted_at=now, segments=1, billed_parts=1)
    ledger.reconcile_billed([*station_records, tenant_record, agreeing])
    monkeypatch.setattr(reconciliation, "MAX_LISTED_DIFFERENCES", 2)

    [row] = reconciliation.billing_reconciliation(day=timezone.localdate())

    assert (row.accepted, row.differing_records, row.difference, row.booked) == (4, 3, 3, -3)
    assert [(d.record_id, d.account, d.booked) for d in row.differences] == [
        (station_records[0].pk, "T7442", -1),
        (station_records[1].pk, "T7442", -1),
    ]
    assert TenantAccount.objects.get(pk=batch.tenant_id).balance_nums == 9

"""sms/delivery/reports.py: reports move records to their final state once; a report that overtook
its record is kept and applied when the record carries the id, and forgotten after a while."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers.base import DeliveryReport, ReportStatus
from sms.core.bulk import IN_LIST_LIMIT
from sms.delivery import reports
from sms.models import PendingReport, RecordState, RejectedReport, SendRecord, SendStatus
from tests.support.factories import many_records, send_record

pytestmark = pytest.mark.django_db


def _report(
    message_id: str, *, provider: str = "tencent", delivered: bool = True, **fields
) -> DeliveryReport:
    return DeliveryReport(
        provider=provider,
        provider_message_id=message_id,
        status=ReportStatus.DELIVERED if delivered else ReportStatus.FAILED,
        **fields,
    )


def _kept(*message_ids: str, provider: str = "tencent", **fields) -> None:
    """Reports that arrive before any record carries their ids: kept."""
    result = reports.apply_delivery_reports(
        provider=provider, reports=[_report(m, provider=provider, **fields) for m in message_ids]
    )
    assert result.unknown == len(message_ids)


def _state(record: SendRecord) -> tuple[str, int, str, str]:
    record.refresh_from_db()
    return record.state, record.status, record.provider_code, record.remark


def test_a_kept_failure_is_applied_with_its_code_and_description_once_the_record_carries_the_id():
    _kept("sid-1", delivered=False, code="UNDELIV", description="user busy")
    record = send_record(provider="tencent", provider_message_id="sid-1")
    assert reports.apply_pending_reports(provider="tencent", message_ids=["sid-1"]) == 1
    assert _state(record) == (RecordState.FAILED, SendStatus.FAILED, "UNDELIV", "UNDELIV: user busy")
    assert not PendingReport.objects.exists()


def test_a_look_for_some_ids_applies_those_and_leaves_the_other_kept_reports():
    _kept("sid-1", "sid-2")
    first = send_record(provider="tencent", provider_message_id="sid-1")
    second = send_record(provider="tencent", provider_message_id="sid-2", receive_phone="13112345678")
    assert reports.apply_pending_reports(provider="tencent", message_ids=["sid-1"]) == 1
    assert (_state(first)[0], _state(second)[0]) == (RecordState.DELIVERED, RecordState.SUBMITTED)
    assert list(PendingReport.objects.values_list("provider_message_id", flat=True)) == ["sid-2"]


def test_a_look_for_an_id_takes_only_the_providers_own_kept_report():
    _kept("m1", provider="gateway", delivered=False)
    _kept("m1", provider="tencent")
    record = send_record(provider="tencent", provider_message_id="m1")
    assert reports.apply_pending_reports(provider="tencent", message_ids=["m1"]) == 1
    assert _state(record)[0] == RecordState.DELIVERED
    assert list(PendingReport.objects.values_list("provider", flat=True)) == ["gateway"]


def test_a_look_that_finds_nothing_kept_applies_nothing():
    assert reports.apply_pending_reports(provider="tencent", message_ids=["sid-1"]) == 0
    assert reports.apply_pending_reports(provider="tencent") == 0


def test_the_sweep_applies_every_providers_kept_reports_whose_records_caught_up():
    _kept("sid-1")
    _kept("t1:13112345678", provider="gateway", delivered=False)
    _kept("sid-never")
    tencent = send_record(provider="tencent", provider_message_id="sid-1")
    gateway = send_record(
        provider="gateway", provider_message_id="t1:13112345678", receive_phone="13112345678"
    )
    assert reports.sweep_pending_reports(max_age=timedelta(hours=1)) == 2
    assert (_state(tencent)[0], _state(gateway)[0]) == (RecordState.DELIVERED, RecordState.FAILED)
    assert list(PendingReport.objects.values_list("provider_message_id", flat=True)) == ["sid-never"]


def test_the_sweep_forgets_kept_and_rejected_reports_older_than_the_max_age():
    _kept("old", "new")
    for reason in ("old", "new"):
        RejectedReport.objects.create(provider="tencent", delivered=True, reason=reason)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    PendingReport.objects.filter(provider_message_id="old").update(received_at=an_hour_ago)
    RejectedReport.objects.filter(reason="old").update(received_at=an_hour_ago)
    reports.sweep_pending_reports(max_age=timedelta(minutes=30))
    assert list(PendingReport.objects.values_list("provider_message_id", flat=True)) == ["new"]
    assert list(RejectedReport.objects.values_list("reason", flat=True)) == ["new"]


def test_a_providers_code_and_failure_reason_are_cut_to_their_columns():
    record = send_record(provider="tencent", provider_message_id="sid-1")
    reports.apply_delivery_reports(
        provider="tencent", reports=[_report("sid-1", delivered=False, code="C" * 70, description="d" * 300)]
    )
    _, _, code, remark = _state(record)
    assert (code, remark) == ("C" * 64, ("C" * 70 + ": " + "d" * 300)[:255])


def test_a_failure_without_code_or_description_reads_undelivered():
    record = send_record(provider="tencent", provider_message_id="sid-1")
    reports.apply_delivery_reports(provider="tencent", reports=[_report("sid-1", delivered=False)])
    assert _state(record) == (RecordState.FAILED, SendStatus.FAILED, "", "undelivered")


def test_a_report_that_does_not_fit_its_record_is_kept_apart_masked_and_logged(caplog):
    record = send_record(provider="tencent", provider_message_id="sid-1", receive_phone="13112341234")
    report = _report("sid-1", phone="1" * 40, code="C" * 70)
    with caplog.at_level("WARNING", logger="sms.delivery.reports"):
        result = reports.apply_delivery_reports(provider="tencent", reports=[report])
    assert (result.applied, result.rejected) == (0, 1)
    assert _state(record)[0] == RecordState.SUBMITTED
    [kept] = RejectedReport.objects.values(
        "provider", "provider_message_id", "record_id", "reported_phone", "delivered", "code", "reason"
    )
    assert kept == {
        "provider": "tencent",
        "provider_message_id": "sid-1",
        "record_id": record.pk,
        "reported_phone": ("1" * 32 + "****" + "1111")[:24],
        "delivered": True,
        "code": "C" * 64,
        "reason": reports.WRONG_NUMBER,
    }
    assert "tencent: 1 report(s) did not fit their records and were not applied" in caplog.messages


def _unknown(phone: str = "13112341234", **fields) -> SendRecord:
    """A record whose submit was uncertain: ``unknown``, no provider id."""
    return send_record(state=RecordState.UNKNOWN, receive_phone=phone, **{"provider": "tencent", **fields})


def test_a_report_about_an_uncertain_submit_settles_it_by_the_number_and_gives_it_the_id():
    record = _unknown()
    long_id = "s" * 70
    result = reports.apply_delivery_reports(
        provider="tencent", reports=[_report(long_id, phone="+8613112341234")]
    )
    assert (result.applied, result.unknown) == (1, 0)
    assert not PendingReport.objects.exists()
    record.refresh_from_db()
    assert (record.state, record.provider_message_id) == (RecordState.DELIVERED, long_id[:64])
    assert record.finished_at is not None


def test_a_number_report_settles_no_record_but_an_uncertain_one_of_its_provider():
    others = [
        _unknown(provider="gateway"),  # another provider's
        send_record(provider="tencent", state=RecordState.SENDING),  # not uncertain
        _unknown(provider_message_id="sid-0"),  # has its id: a report names it by that
    ]
    result = reports.apply_delivery_reports(
        provider="tencent", reports=[_report("sid-1", phone="13112341234")]
    )
    assert (result.applied, result.unknown) == (0, 1)
    assert [_state(record)[0] for record in others] == [
        RecordState.UNKNOWN,
        RecordState.SENDING,
        RecordState.UNKNOWN,
    ]


def test_uncertain_records_of_other_numbers_do_not_stop_a_match():
    record = _unknown("13112341234")
    other = _unknown("13112345678")
    assert (
        reports.apply_delivery_reports(
            provider="tencent", reports=[_report("sid-1", phone="13112341234")]
        ).applied
        == 1
    )
    assert (_state(record)[0], _state(other)[0]) == (RecordState.DELIVERED, RecordState.UNKNOWN)


def test_a_report_without_a_message_id_never_settles_an_uncertain_record_by_its_number():
    record = _unknown()
    report = DeliveryReport(
        provider="tencent", status=ReportStatus.DELIVERED, record_id=10**9, phone="13112341234"
    )
    assert reports.apply_delivery_reports(provider="tencent", reports=[report]).applied == 0
    assert _state(record)[0] == RecordState.UNKNOWN


def test_a_masked_report_is_matched_among_its_providers_records_of_that_request_only():
    gateway = send_record(provider="gateway", dispatch_id="t1", receive_phone="13512349831")
    send_record(provider="tencent", dispatch_id="t1", receive_phone="13512349831")
    report = DeliveryReport(
        provider="gateway", status=ReportStatus.DELIVERED, dispatch_id="t1", phone="135****9831"
    )
    assert reports.apply_delivery_reports(provider="gateway", reports=[report]).applied == 1
    assert _state(gateway)[0] == RecordState.DELIVERED


def test_applied_reports_write_the_outcome_and_its_time():
    record = send_record(provider="tencent", provider_message_id="sid-1")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SendRecord.objects.filter(pk=record.pk).update(updated_at=an_hour_ago)
    reports.apply_delivery_reports(provider="tencent", reports=[_report("sid-1", delivered=False, code="E1")])
    record.refresh_from_db()
    assert (record.state, record.provider_code, record.remark) == (RecordState.FAILED, "E1", "E1")
    assert record.finished_at is not None and record.updated_at > an_hour_ago


def test_a_report_naming_a_message_id_is_matched_by_that_id_alone():
    record = send_record(provider="tencent", provider_message_id="sid-1")
    report = _report("sid-other", record_id=record.pk)
    assert reports.apply_delivery_reports(provider="tencent", reports=[report]).unknown == 1
    assert _state(record)[0] == RecordState.SUBMITTED


def test_a_report_locks_only_the_records_it_names():
    named = send_record(provider="tencent", provider_message_id="sid-1")
    send_record(provider="tencent", provider_message_id="sid-2", receive_phone="13112345678")
    table = connection.ops.quote_name(SendRecord._meta.db_table)
    pk = connection.ops.quote_name("id")
    with CaptureQueriesContext(connection) as captured:
        reports.apply_delivery_reports(provider="tencent", reports=[_report("sid-1")])
    locked = [
        re.search(rf"{re.escape(f'{table}.{pk}')} IN \(([^)]*)\)", query["sql"])
        for query in captured.captured_queries
        if query["sql"].startswith("SELECT") and f"{table}.{pk} IN (" in query["sql"]
    ]
    assert [match.group(1) for match in locked if match] == [str(named.pk)]


def test_every_report_of_a_batch_is_applied_past_and_after_records_that_it_cannot_change():
    unfit = send_record(provider="tencent", provider_message_id="sid-1", receive_phone="13112341234")
    final = send_record(
        provider="tencent",
        provider_message_id="sid-2",
        receive_phone="13112345678",
        state=RecordState.DELIVERED,
    )
    again = send_record(
        provider="tencent", provider_message_id="sid-3", receive_phone="13112349999", state=RecordState.FAILED
    )
    fine = send_record(provider="tencent", provider_message_id="sid-4", receive_phone="13112340000")
    result = reports.apply_delivery_reports(
        provider="tencent",
        reports=[_report("sid-1", phone="13199999999"), _report("sid-2"), _report("sid-3"), _report("sid-4")],
    )
    assert (result.applied, result.already_final, result.rejected) == (1, 2, 1)
    assert [_state(r)[0] for r in (unfit, final, again, fine)] == [
        RecordState.SUBMITTED,
        RecordState.DELIVERED,
        RecordState.FAILED,
        RecordState.DELIVERED,
    ]


def test_reports_for_more_records_than_one_in_list_are_all_applied():
    count = IN_LIST_LIMIT + 1
    many_records(count, state=RecordState.SUBMITTED, provider="tencent", provider_message_id="sid-{n}")
    result = reports.apply_delivery_reports(
        provider="tencent", reports=[_report(f"sid-{n}") for n in range(count)]
    )
    assert result.applied == count
    assert SendRecord.objects.filter(state=RecordState.DELIVERED).count() == count


def test_a_report_that_names_no_record_yet_is_kept_with_its_fields_cut_to_their_columns(caplog):
    when = timezone.now() - timedelta(minutes=5)
    report = _report(
        "s" * 70, delivered=False, code="C" * 70, description="d" * 300, phone="1" * 30, occurred_at=when
    )
    with caplog.at_level("INFO", logger="sms.delivery.reports"):
        assert reports.apply_delivery_reports(provider="tencent", reports=[report]).unknown == 1
    [kept] = PendingReport.objects.values(
        "provider", "provider_message_id", "delivered", "code", "description", "phone", "occurred_at"
    )
    assert kept == {
        "provider": "tencent",
        "provider_message_id": "s" * 64,
        "delivered": False,
        "code": "C" * 64,
        "description": "d" * 255,
        "phone": "1" * 24,
        "occurred_at": when,
    }
    assert "tencent: 1 delivery report(s) kept until their records carry the id" in caplog.messages


def test_a_record_that_gets_its_id_while_its_report_is_being_kept_gets_the_report_at_once(monkeypatch):
    """The worker may commit a record's id after the report handler looked for it and before it
    stored the report: the handler looks again once the report is stored (here the worker's commit
    lands inside that window), for the ids it stored only."""
    record = send_record(provider="tencent")
    caught_up = send_record(provider="tencent", receive_phone="13112345678")
    _kept("sid-9")
    SendRecord.objects.filter(pk=caught_up.pk).update(provider_message_id="sid-9")  # the sweep's, later
    real_bump = reports.bump_daily_statistics

    def worker_commits_meanwhile(daily):
        SendRecord.objects.filter(pk=record.pk).update(provider_message_id="sid-1")
        real_bump(daily)

    monkeypatch.setattr(reports, "bump_daily_statistics", worker_commits_meanwhile)
    result = reports.apply_delivery_reports(provider="tencent", reports=[_report("sid-1")])
    assert (result.applied, result.unknown) == (1, 0)
    assert (_state(record)[0], _state(caught_up)[0]) == (RecordState.DELIVERED, RecordState.SUBMITTED)
    assert list(PendingReport.objects.values_list("provider_message_id", flat=True)) == ["sid-9"]

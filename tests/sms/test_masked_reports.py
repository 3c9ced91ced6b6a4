"""Reports that name our request and a masked number (seed 002's report pull) find their record by
both; a mask that fits two numbers of the request is not guessed."""

import pytest

from providers.base import DeliveryReport, ReportStatus
from sms.delivery import reports
from sms.models import RecordState, SendRecord
from tests.support.factories import send_record

pytestmark = pytest.mark.django_db


def _gateway_record(phone: str, dispatch_id: str = "t1") -> SendRecord:
    return send_record(
        receive_phone=phone,
        provider="gateway",
        dispatch_id=dispatch_id,
        provider_message_id=f"{dispatch_id}:{phone}",
    )


def _masked(phone: str, dispatch_id: str = "t1", delivered: bool = True) -> DeliveryReport:
    return DeliveryReport(
        provider="gateway",
        status=ReportStatus.DELIVERED if delivered else ReportStatus.FAILED,
        dispatch_id=dispatch_id,
        phone=f"{phone[:3]}****{phone[-4:]}",
        code="DELIVER" if delivered else "UNDELIV",
    )


def test_a_masked_report_finds_its_record_by_task_and_mask():
    first, second = _gateway_record("13512349831"), _gateway_record("13612340014")
    other_task = _gateway_record("13512349831", dispatch_id="t2")
    result = reports.apply_delivery_reports(
        provider="gateway", reports=[_masked("13512349831"), _masked("13612340014", delivered=False)]
    )
    assert result.applied == 2
    states = {r.pk: r.state for r in SendRecord.objects.all()}
    assert states == {
        first.pk: RecordState.DELIVERED,
        second.pk: RecordState.FAILED,
        other_task.pk: RecordState.SUBMITTED,
    }


def test_a_mask_that_fits_two_numbers_of_the_request_is_not_guessed():
    _gateway_record("13512349831"), _gateway_record("13599999831")
    assert reports.apply_delivery_reports(provider="gateway", reports=[_masked("13512349831")]).applied == 0
    assert set(SendRecord.objects.values_list("state", flat=True)) == {RecordState.SUBMITTED}


def test_a_masked_report_of_another_providers_request_changes_nothing():
    record = send_record(
        receive_phone="13512349831", provider="tencent", dispatch_id="t1", provider_message_id="sid"
    )
    assert reports.apply_delivery_reports(provider="gateway", reports=[_masked("13512349831")]).applied == 0
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED


def _naming(phone: str, dispatch_id: str = "t1") -> DeliveryReport:
    return DeliveryReport(
        provider="gateway",
        status=ReportStatus.DELIVERED,
        dispatch_id=dispatch_id,
        phone=phone,
        code="DELIVER",
    )


@pytest.mark.parametrize(
    "phone",
    ["", "   ", "***********", "*", "138****", "138********", "****1234", "*******1234", "86***********"],
)
def test_a_report_naming_an_empty_or_all_masked_mobile_matches_no_record(phone):
    """Even when the request holds one record only (so nothing else could be meant), a number that
    shows nothing, or too little to tell numbers apart, names no record (issue 30, section 3)."""
    record = _gateway_record("13812341234")
    result = reports.apply_delivery_reports(provider="gateway", reports=[_naming(phone)])
    assert result.applied == 0
    record.refresh_from_db()
    assert record.state == RecordState.SUBMITTED


def test_a_report_naming_its_one_record_by_an_identifying_mask_still_matches():
    record = _gateway_record("13812341234")
    assert reports.apply_delivery_reports(provider="gateway", reports=[_naming("138****1234")]).applied == 1
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED

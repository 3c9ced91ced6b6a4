"""providers.sandbox: test mode's provider takes every message, decides each by its number at
once, and never opens a connection."""

from __future__ import annotations

from unittest import mock

import pytest

from providers.base import CallbackParseError, OutgoingMessage, Region, ReportStatus
from providers.registry import get_adapter
from providers.sandbox import DELIVERED_CODE, FAILED_CODE, SandboxAdapter


def _batch(*numbers: str) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(record_id=index, phone_e164=number, content="【去采购】x")
        for index, number in enumerate(numbers, start=1)
    ]


def test_it_takes_every_message_and_reports_by_the_magic_numbers_without_any_connection():
    adapter = get_adapter("sandbox")
    assert isinstance(adapter, SandboxAdapter) and adapter.sandbox and adapter.reports_at_once
    batch = _batch("+8613800000000", "+8613800000001", "+8613800000002", "+8613912345678", "+12025550123")
    with mock.patch("providers.base.http_session", side_effect=AssertionError("the sandbox went online")):
        outcomes = adapter.send(batch, dispatch_id="d1")
        reports = adapter.reports_on_send(batch, outcomes)
    assert [outcome.accepted for outcome in outcomes] == [True] * 5
    assert [outcome.provider_message_id for outcome in outcomes] == [f"d1:{n}" for n in range(1, 6)]
    by_id = {report.provider_message_id: report for report in reports}
    assert sorted(by_id) == ["d1:1", "d1:2", "d1:4", "d1:5"]  # 13800000002: no report
    assert (by_id["d1:1"].status, by_id["d1:1"].code) == (ReportStatus.DELIVERED, DELIVERED_CODE)
    assert (by_id["d1:2"].status, by_id["d1:2"].code) == (ReportStatus.FAILED, FAILED_CODE)
    assert by_id["d1:2"].description  # the reason GET v1/message shows
    assert {by_id[key].status for key in ("d1:4", "d1:5")} == {ReportStatus.DELIVERED}
    assert all(report.provider == "sandbox" for report in reports)


def test_it_serves_every_region_and_takes_no_pushes():
    assert SandboxAdapter.regions == frozenset(Region)
    adapter = get_adapter("sandbox")
    with pytest.raises(CallbackParseError):
        adapter.parse_status_callback(b'{"status": "DELIVRD"}')
    with pytest.raises(CallbackParseError):
        adapter.parse_uplink_callback(b'{"mobile": "13800000000"}')


@pytest.mark.django_db
def test_a_push_to_the_sandbox_route_is_refused_400(api_client):
    response = api_client.post(
        "/providers/sandbox/status?token=test-callback-token", {"taskId": "x"}, format="json"
    )
    assert response.status_code == 400

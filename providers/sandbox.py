"""The sandbox: where test mode's messages go instead of a provider (docs/api-platform.md "Test
mode").

A tenant's requests signed in with its test password write test records; routing hands those to
this adapter and to no other, and never hands it a live record (``sms.sending.routing``). It does
no network I/O: it takes every message and decides each at once by its number (mainland numbers,
in any spelling the API takes), with the reports it gives back with its answer
(``reports_at_once``). The pipeline applies those as it applies any provider's reports, so final
states, webhooks and ``GET v1/message`` are what a live message gets:

| number | outcome |
| --- | --- |
| 13800000000 | delivered (code ``SANDBOX:DELIVERED``) |
| 13800000001 | failed (code ``SANDBOX:FAILED``) |
| 13800000002 | no report: the record is left ``unknown`` |
| any other | delivered (code ``SANDBOX:DELIVERED``) |

It takes no pushes (a push to ``/providers/sandbox/…`` is refused: 400), has no balance and bills
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from providers.base import (
    CallbackParseError,
    DeliveryReport,
    InboundMessage,
    OutcomeStatus,
    OutgoingMessage,
    ProviderAdapter,
    Region,
    ReportStatus,
    SendOutcome,
)

NAME = "sandbox"
DELIVERED_CODE = "SANDBOX:DELIVERED"
FAILED_CODE = "SANDBOX:FAILED"
# The magic numbers, in E.164 (as routing hands numbers over).
DELIVERED_NUMBER = "+8613800000000"
FAILED_NUMBER = "+8613800000001"
NO_REPORT_NUMBER = "+8613800000002"
FAILED_DESCRIPTION = "test mode: the sandbox fails 13800000001"


class SandboxAdapter(ProviderAdapter):
    name = NAME
    regions: ClassVar[frozenset[Region]] = frozenset(Region)
    sandbox = True
    reports_at_once = True

    def send_batch(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> list[SendOutcome]:
        """Every message taken, under an id of our dispatch and record (never sent anywhere)."""
        return [
            SendOutcome(
                message.record_id,
                OutcomeStatus.ACCEPTED,
                provider_message_id=f"{dispatch_id}:{message.record_id}",
            )
            for message in batch
        ]

    def reports_on_send(
        self, batch: Sequence[OutgoingMessage], outcomes: Sequence[SendOutcome]
    ) -> list[DeliveryReport]:
        """The magic numbers' outcomes (the module's table); 13800000002 gets none."""
        numbers = {message.record_id: message.phone_e164 for message in batch}
        reports = []
        for outcome in outcomes:
            number = numbers.get(outcome.record_id, "")
            if not outcome.accepted or number == NO_REPORT_NUMBER:
                continue
            failed = number == FAILED_NUMBER
            reports.append(
                DeliveryReport(
                    provider=NAME,
                    status=ReportStatus.FAILED if failed else ReportStatus.DELIVERED,
                    provider_message_id=outcome.provider_message_id,
                    phone=number,
                    code=FAILED_CODE if failed else DELIVERED_CODE,
                    description=FAILED_DESCRIPTION if failed else "",
                )
            )
        return reports

    def parse_status_callback(self, body: bytes, content_type: str = "") -> list[DeliveryReport]:
        raise CallbackParseError("the sandbox takes no pushes: it reports with its answer")

    def parse_uplink_callback(self, body: bytes, content_type: str = "") -> list[InboundMessage]:
        raise CallbackParseError("the sandbox takes no pushes: test replies go through POST v1/test/uplink")

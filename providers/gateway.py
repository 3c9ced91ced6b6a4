"""The domestic HTTP SMS gateway of seed 002.

- ``POST /api/v1/send`` (form): ``account``, ``pwd`` = MD5 of the password, ``taskId`` = our
  dispatch id (the gateway keeps it globally unique, so a repeated submit after a crash is
  refused as a duplicate instead of sent twice), comma-joined ``mobiles`` (at most 3000) sharing
  one ``content``, optional ``extNo``. ``code "00"`` is success; the answer has no per-number
  result, so every number is accepted and its fate comes in its report.
- Reports are pushed (``{sendId, mobile, times, status}``, ``DELIVRD`` = delivered; we also take a
  JSON array of them) or pulled from ``/api/v1/report`` (where success reads ``DELIVER``).
- Uplinks are pushed (``{mobile, content, times, extNo}``) or pulled from ``/api/v1/mo``.
- ``/api/v1/queryBalance`` gives the balance.

A report names the batch (``sendId`` = taskId) and the number, so a record's provider message id
is ``"<taskId>:<mobile>"``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from providers.base import (
    CallbackParseError,
    DeliveryReport,
    InboundMessage,
    OutcomeStatus,
    OutgoingMessage,
    ProviderAdapter,
    ProviderBalance,
    ProviderRequestRejected,
    ProviderUnavailable,
    ReportStatus,
    SendOutcome,
)

NAME = "gateway"
SUCCESS = "00"
AUTH_FAILED = "01"
DELIVERED_STATUSES = {"DELIVRD", "DELIVER"}


def message_id(task_id: str, mobile: str) -> str:
    return f"{task_id}:{mobile}"


def gateway_mobile(phone_e164: str) -> str:
    """The gateway is domestic: mainland numbers go as their 11 digits."""
    return phone_e164[3:] if phone_e164.startswith("+86") else phone_e164


def _parse_times(text: Any) -> dt.datetime | None:
    try:
        naive = dt.datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return timezone.make_aware(naive, timezone.get_default_timezone())


def _report(item: Any) -> DeliveryReport:
    if (
        not isinstance(item, dict)
        or not item.get("sendId")
        or not item.get("mobile")
        or not item.get("status")
    ):
        raise CallbackParseError("a status report needs sendId, mobile and status")
    status = str(item["status"])
    delivered = status in DELIVERED_STATUSES
    return DeliveryReport(
        provider=NAME,
        status=ReportStatus.DELIVERED if delivered else ReportStatus.FAILED,
        provider_message_id=message_id(str(item["sendId"]), str(item["mobile"])),
        phone=str(item["mobile"]),
        code=status,
        description="" if delivered else f"gateway status {status}",
        occurred_at=_parse_times(item.get("times")),
        raw=item,
    )


def _uplink(item: Any) -> InboundMessage:
    if not isinstance(item, dict) or not item.get("mobile") or "content" not in item:
        raise CallbackParseError("an uplink needs mobile and content")
    return InboundMessage(
        provider=NAME,
        phone=str(item["mobile"]),
        text=str(item["content"]),
        received_at=_parse_times(item.get("times")),
        extend=str(item.get("extNo", "")),
        raw=item,
    )


def _json_items(body: bytes) -> list[Any]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CallbackParseError("body is not JSON") from exc
    return payload if isinstance(payload, list) else [payload]


class GatewayAdapter(ProviderAdapter):
    name = NAME
    idempotent_resend = True

    def _credentials(self) -> dict[str, str]:
        return {
            "account": self.config["account"],
            "pwd": hashlib.md5(self.config["password"].encode()).hexdigest(),
        }

    def _call(self, path: str, data: dict[str, str]) -> dict[str, Any]:
        response = self.post(
            f"{self.config['base_url'].rstrip('/')}{path}", data={**self._credentials(), **data}
        )
        try:
            answer = response.json()
        except ValueError as exc:
            raise ProviderUnavailable(
                f"gateway {path}: answer is not JSON (HTTP {response.status_code})"
            ) from exc
        if str(answer.get("code")) == AUTH_FAILED:
            raise ProviderRequestRejected(
                f"gateway {path}: {answer.get('message', 'auth failed')}", code=AUTH_FAILED
            )
        return answer

    def send(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> list[SendOutcome]:
        """One /api/v1/send for up to 3000 numbers sharing one text; taskId = ``batch_id``."""
        if not batch:
            return []
        if len(batch) > self.batch_limit:
            raise ValueError(f"the gateway takes at most {self.batch_limit} numbers per request")
        mobiles = [gateway_mobile(message.phone_e164) for message in batch]
        data = {"taskId": dispatch_id, "mobiles": ",".join(mobiles), "content": batch[0].content}
        if self.config.get("ext_no"):
            data["extNo"] = str(self.config["ext_no"])
        answer = self._call("/api/v1/send", data)
        code = str(answer.get("code"))
        # A repeated taskId means the gateway already has this batch (a resend after a crash).
        accepted = code == SUCCESS or code == settings.GATEWAY_DUPLICATE_TASK_CODE
        task_id = str((answer.get("data") or {}).get("taskId") or dispatch_id)
        return [
            SendOutcome(
                record_id=message.record_id,
                status=OutcomeStatus.ACCEPTED if accepted else OutcomeStatus.FAILED,
                provider_message_id=message_id(task_id, mobile) if accepted else "",
                code=code,
                description=str(answer.get("message", "")),
            )
            for message, mobile in zip(batch, mobiles, strict=True)
        ]

    def parse_status_callback(self, body: bytes, content_type: str = "") -> list[DeliveryReport]:
        return [_report(item) for item in _json_items(body)]

    def parse_uplink_callback(self, body: bytes, content_type: str = "") -> list[InboundMessage]:
        return [_uplink(item) for item in _json_items(body)]

    def pull_reports(self, pending_message_ids: Sequence[str] = ()) -> list[DeliveryReport]:
        answer = self._call("/api/v1/report", {})
        if str(answer.get("code")) != SUCCESS:
            raise ProviderRequestRejected(
                f"gateway report: {answer.get('message')}", code=str(answer.get("code"))
            )
        return [_report(item) for item in answer.get("data") or []]

    def pull_uplinks(self) -> list[InboundMessage]:
        answer = self._call("/api/v1/mo", {})
        if str(answer.get("code")) != SUCCESS:
            raise ProviderRequestRejected(
                f"gateway mo: {answer.get('message')}", code=str(answer.get("code"))
            )
        return [_uplink(item) for item in answer.get("data") or []]

    def balance(self) -> ProviderBalance:
        answer = self._call("/api/v1/queryBalance", {})
        if str(answer.get("code")) != SUCCESS:
            raise ProviderRequestRejected(
                f"gateway queryBalance: {answer.get('message')}", code=str(answer.get("code"))
            )
        data = answer.get("data") or {}
        return ProviderBalance(provider=NAME, remaining=int(data.get("balance", 0)), raw=data)

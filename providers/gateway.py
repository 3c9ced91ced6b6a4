"""The domestic HTTP SMS gateway of seed 002.

- ``POST /api/v1/send`` (form): ``account``, ``pwd`` = MD5 of the password, ``taskId`` = our
  dispatch id (seed 002: "自定义任务id,全局唯一", the caller keeps it unique), comma-joined
  ``mobiles`` (at most 3000) sharing one ``content``, optional ``extNo``. ``code "00"`` is
  success; the answer has no per-number result, so every number is accepted and its fate comes in
  its report.
- Reports are pushed (``{sendId, mobile, times, status}``, ``DELIVRD`` = delivered; we also take a
  JSON array of them) or pulled from ``/api/v1/report`` (where success reads ``DELIVER`` and the
  number is masked, ``135****9831``: such a report names our dispatch id and the mask instead of a
  message id, ``DeliveryReport.names_dispatch``, and its record is the one of that dispatch whose
  number the mask ``fits``).
- Uplinks are pushed (``{mobile, content, times, extNo}``) or pulled from ``/api/v1/mo``.
- ``/api/v1/queryBalance`` gives the balance.

A report names the batch (``sendId`` = taskId) and the number, so a record's provider message id
is ``"<taskId>:<mobile>"`` (``MESSAGE_IDS``, declared as the adapter's ``message_ids``: the pipeline
derives the ids from the records' columns).

Seed 002 does not say that the gateway refuses a repeated ``taskId``, so by default nothing is
resent under one: a dispatch whose answer was lost (a read timeout, a worker that died during the
request) becomes ``unknown``, as Tencent's does, and the gateway's reports (pushed, or pulled from
``/api/v1/report``) decide it. An operator who knows that the real gateway refuses a repeat says so
(``refuses_repeated_task_id``, from ``GATEWAY_SMS_REFUSES_REPEATED_TASK_ID``): the adapter then
declares ``idempotent_resend`` and such a dispatch is resent under the same ``taskId``. If the
gateway does not in fact refuse it, that resend reaches every number of the dispatch twice.

A refused repeat is answered with a code of its own, read as "already accepted": the seed names
none, so it is configured (``duplicate_task_code`` in ``SMS_PROVIDERS["gateway"]``, from
``GATEWAY_DUPLICATE_TASK_CODE``; ``08`` by default, what the simulator answers when told to refuse
repeats).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from providers.base import (
    CallbackParseError,
    DeliveryReport,
    DispatchMessageIds,
    InboundMessage,
    OutcomeStatus,
    OutgoingMessage,
    ProviderAdapter,
    ProviderBalance,
    ProviderRequestRejected,
    Region,
    ReportStatus,
    SendOutcome,
)
from providers.numbers import mainland_digits, written_number
from providers.wire import beijing_time, each_item, json_body

NAME = "gateway"
SUCCESS = "00"
AUTH_FAILED = "01"
DEFAULT_DUPLICATE_TASK_CODE = "08"
DELIVERED_STATUSES = {"DELIVRD", "DELIVER"}
MESSAGE_IDS = DispatchMessageIds(separator=":")


def message_id(task_id: str, mobile: str) -> str:
    return MESSAGE_IDS.message_id(task_id, mobile)


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
    mobile = str(item["mobile"])
    masked = written_number(mobile).masked
    return DeliveryReport(
        provider=NAME,
        status=ReportStatus.DELIVERED if delivered else ReportStatus.FAILED,
        # A masked number (the pull, as seed 002 shows it) cannot rebuild our message id: the
        # report names the batch (taskId = our dispatch id) and the mask, and the record is found
        # by both (sms.delivery.reports).
        provider_message_id="" if masked else message_id(str(item["sendId"]), mobile),
        dispatch_id=str(item["sendId"]) if masked else "",
        phone=mobile,
        code=status,
        description="" if delivered else f"gateway status {status}",
        occurred_at=beijing_time(item.get("times")),
    )


def _uplink(item: Any) -> InboundMessage:
    if not isinstance(item, dict) or not item.get("mobile") or "content" not in item:
        raise CallbackParseError("an uplink needs mobile and content")
    return InboundMessage(
        provider=NAME,
        phone=str(item["mobile"]),
        text=str(item["content"]),
        received_at=beijing_time(item.get("times")),
        extend=str(item.get("extNo", "")),
        raw=item,
    )


def _items(body: bytes) -> list[Any]:
    payload = json_body(body)
    return payload if isinstance(payload, list) else [payload]


class GatewayAdapter(ProviderAdapter):
    name = NAME
    regions = frozenset({Region.MAINLAND})
    pulls_reports = True
    message_ids = MESSAGE_IDS
    send_path = "/api/v1/send"

    @property
    def idempotent_resend(self) -> bool:
        """Only when the operator declares that the gateway refuses a repeated ``taskId`` (module
        docstring)."""
        return bool(self.config.get("refuses_repeated_task_id", False))

    @property
    def duplicate_task_code(self) -> str:
        """The answer code for a repeated ``taskId`` (module docstring)."""
        return str(self.config.get("duplicate_task_code", DEFAULT_DUPLICATE_TASK_CODE))

    def _credentials(self) -> dict[str, str]:
        return {
            "account": self.config["account"],
            "pwd": hashlib.md5(self.config["password"].encode()).hexdigest(),
        }

    def _call(self, path: str, data: dict[str, str]) -> dict[str, Any]:
        answer = self.answer_json(self.post(self.url(path), data={**self._credentials(), **data}), path)
        if str(answer.get("code")) == AUTH_FAILED:
            raise ProviderRequestRejected(
                f"gateway {path}: {answer.get('message', 'auth failed')}", code=AUTH_FAILED
            )
        return answer

    def build_send_request(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> dict[str, str]:
        """Up to 3000 numbers sharing one text; ``taskId`` = our dispatch id."""
        data = {
            **self._credentials(),
            "taskId": dispatch_id,
            "mobiles": ",".join(mainland_digits(message.phone_e164) for message in batch),
            "content": batch[0].content,
        }
        if self.config.get("ext_no"):
            data["extNo"] = str(self.config["ext_no"])
        return data

    def parse_send_answer(
        self, answer: Any, batch: Sequence[OutgoingMessage], *, dispatch_id: str
    ) -> list[SendOutcome]:
        """``code "00"`` accepts every number (their fate comes in reports); a repeated
        ``taskId`` means the gateway has this batch already (a resend after a crash)."""
        if not isinstance(answer, dict):
            answer = {}
        code = str(answer.get("code"))
        if code == AUTH_FAILED:
            raise ProviderRequestRejected(f"gateway send: {answer.get('message', 'auth failed')}", code=code)
        accepted = code == SUCCESS or code == self.duplicate_task_code
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        task_id = str(data.get("taskId") or dispatch_id)
        return [
            SendOutcome(
                record_id=message.record_id,
                status=OutcomeStatus.ACCEPTED if accepted else OutcomeStatus.FAILED,
                provider_message_id=message_id(task_id, mainland_digits(message.phone_e164))
                if accepted
                else "",
                code=code,
                description=str(answer.get("message", "")),
            )
            for message in batch
        ]

    def parse_status_callback(self, body: bytes, content_type: str = "") -> list[DeliveryReport]:
        return each_item(_items(body), _report, what="gateway status push")

    def parse_uplink_callback(self, body: bytes, content_type: str = "") -> list[InboundMessage]:
        return each_item(_items(body), _uplink, what="gateway uplink push")

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
        items = answer.get("data") or []
        if not isinstance(items, list) or not items:
            return []
        return each_item(items, _uplink, what="gateway mo pull")

    def balance(self) -> ProviderBalance:
        answer = self._call("/api/v1/queryBalance", {})
        if str(answer.get("code")) != SUCCESS:
            raise ProviderRequestRejected(
                f"gateway queryBalance: {answer.get('message')}", code=str(answer.get("code"))
            )
        data = answer.get("data") or {}
        return ProviderBalance(provider=NAME, remaining=int(data.get("balance", 0)), raw=data)

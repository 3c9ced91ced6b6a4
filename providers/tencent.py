"""Tencent Cloud SMS (API 2021-01-11) through the official ``tencentcloud-sdk-python``.

- ``SendSms``: at most 200 E.164 numbers per call, all sharing one ``TemplateId`` and
  ``TemplateParamSet``; ``SendStatusSet`` answers per number (``Code == "Ok"`` is accepted) with
  the ``SerialNo`` that later reports carry as ``sid``.
- Status reports are pushed (``/sms/callback``, a JSON array) or pulled (``PullSmsSendStatus``).
- Replies (uplinks) are pushed (one JSON object) or pulled (``PullSmsReplyStatus``).
- ``SmsPackagesStatistics`` gives the package balance.
- ``DescribeSmsTemplateList`` lists the registered templates (``approved_templates``).

The endpoint comes from ``TENCENT_SMS_ENDPOINT`` (the simulator by default).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from django.utils import timezone
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from providers.base import (
    CallbackParseError,
    DeliveryReport,
    InboundMessage,
    OutcomeStatus,
    OutgoingMessage,
    ProviderAdapter,
    ProviderBalance,
    ProviderOutcomeUncertain,
    ProviderRequestRejected,
    ProviderUnavailable,
    Region,
    RegisteredTemplate,
    ReportStatus,
    SendOutcome,
)
from providers.wire import beijing_time, each_item, from_unix, json_body

NAME = "tencent"
# Tencent's pull APIs answer at most 100 items a call.
PULL_LIMIT = 100
# SDK error codes that mean "try again later" rather than "this request is wrong".
_TRANSIENT_CODES = {"ClientNetworkError", "ServerNetworkError", "InternalError", "RequestLimitExceeded"}
_clients: dict[tuple[Any, ...], sms_client.SmsClient] = {}
_clients_lock = threading.Lock()
# A parameter of a registered template: ``{1}``, ``{2}``…
_TEMPLATE_PARAMETER = re.compile(r"\{[0-9]+\}")


def _national(mobile: str, nationcode: str) -> str:
    return mobile if nationcode in ("", "86") else f"+{nationcode}{mobile}"


def parse_status_reports(body: bytes) -> list[DeliveryReport]:
    """Tencent's status-report push: a JSON array (at most 100) of
    ``{user_receive_time, nationcode, mobile, report_status, errmsg, description, sid}``."""
    payload = json_body(body)
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise CallbackParseError("body is not a JSON array of status reports")
    return each_item(payload, _status_report, what="tencent status push")


def _status_report(item: Any) -> DeliveryReport:
    if (
        not isinstance(item, dict)
        or not item.get("sid")
        or item.get("report_status") not in ("SUCCESS", "FAIL")
    ):
        raise CallbackParseError("a status report lacks sid or report_status SUCCESS/FAIL")
    delivered = item["report_status"] == "SUCCESS"
    return DeliveryReport(
        provider=NAME,
        status=ReportStatus.DELIVERED if delivered else ReportStatus.FAILED,
        provider_message_id=str(item["sid"]),
        phone=_national(str(item.get("mobile", "")), str(item.get("nationcode", "86"))),
        code=str(item.get("errmsg", "")),
        description=str(item.get("description", "")),
        occurred_at=beijing_time(item.get("user_receive_time", "")),
    )


def parse_reply(body: bytes) -> list[InboundMessage]:
    """Tencent's reply push: one object ``{extend, mobile, nationcode, sign, text, time}``."""
    item = json_body(body)
    if not isinstance(item, dict) or "mobile" not in item or "text" not in item:
        raise CallbackParseError("a reply needs mobile and text")
    return [
        InboundMessage(
            provider=NAME,
            phone=_national(str(item["mobile"]), str(item.get("nationcode", "86"))),
            text=str(item["text"]),
            received_at=from_unix(item.get("time")),
            sign=str(item.get("sign", "")),
            extend=str(item.get("extend", "")),
            raw=item,
        )
    ]


def _pulled_reply(item: Any) -> InboundMessage:
    """One ``PullSmsReplyStatus`` item: ``PhoneNumber`` in E.164, ``ReplyTime`` Unix seconds."""
    return InboundMessage(
        provider=NAME,
        phone=str(item.PhoneNumber),
        text=str(item.ReplyContent or ""),
        received_at=from_unix(item.ReplyTime),
        sign=str(item.SignName or ""),
        extend=str(item.ExtendCode or ""),
        raw={
            "PhoneNumber": item.PhoneNumber,
            "SubscriberNumber": item.SubscriberNumber,
            "CountryCode": item.CountryCode,
            "SignName": item.SignName,
            "ExtendCode": item.ExtendCode,
            "ReplyContent": item.ReplyContent,
            "ReplyTime": item.ReplyTime,
        },
    )


def _fee(value: Any) -> int | None:
    """Tencent's ``Fee`` (parts billed for one number), None when it is missing or nonsense."""
    try:
        fee = int(value)
    except (TypeError, ValueError):
        return None
    return fee if 0 < fee < 100 else None


class TencentAdapter(ProviderAdapter):
    name = NAME
    regions = frozenset({Region.MAINLAND})
    requires_template = True
    pulls_reports = True
    callback_ack = {"result": 0, "errmsg": "OK"}

    @property
    def default_sign_name(self) -> str:
        return str(self.config.get("sign_name", ""))

    def _client(self) -> sms_client.SmsClient:
        endpoint = urlsplit(self.config["endpoint"])
        key = (
            self.config["secret_id"],
            self.config["secret_key"],
            self.config["region"],
            self.config["endpoint"],
            self.timeout,
        )
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                http_profile = HttpProfile(
                    protocol=endpoint.scheme or "https",
                    endpoint=endpoint.netloc or endpoint.path,
                    reqTimeout=max(1, round(self.timeout)),
                    keepAlive=True,
                )
                client = sms_client.SmsClient(
                    credential.Credential(self.config["secret_id"], self.config["secret_key"]),
                    self.config["region"],
                    ClientProfile(httpProfile=http_profile),
                )
                _clients[key] = client
        return client

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._client(), method)(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or ""
            if code == "ClientNetworkError" and isinstance(exc.__context__, requests.ReadTimeout):
                # The SDK wraps the transport's exception: a read timeout means the request left.
                raise ProviderOutcomeUncertain(
                    f"tencent {method}: no answer within {self.timeout:g}s"
                ) from exc
            if code in _TRANSIENT_CODES or code.startswith(("InternalError", "RequestLimitExceeded")):
                raise ProviderUnavailable(f"tencent {method}: {code}") from exc
            raise ProviderRequestRejected(f"tencent {method}: {code} {exc.get_message()}", code=code) from exc
        except Exception as exc:
            raise ProviderUnavailable(f"tencent {method}: {type(exc).__name__}") from exc

    def send_batch(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> list[SendOutcome]:
        """One SendSms call through the SDK; every message of ``batch`` shares template and
        parameters."""
        first = batch[0]
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [message.phone_e164 for message in batch]
        request.SmsSdkAppId = self.config["sdk_app_id"]
        request.SignName = first.sign_name or self.default_sign_name
        request.TemplateId = first.template_id
        request.TemplateParamSet = list(first.template_params)
        # Our id: the record's for a single message, else the dispatch batch's.
        request.SessionContext = str(first.record_id) if len(batch) == 1 else dispatch_id
        response = self._call("SendSms", request)
        statuses = list(response.SendStatusSet or [])
        by_phone: dict[str, list[Any]] = {}
        for status in statuses:
            by_phone.setdefault(status.PhoneNumber, []).append(status)
        outcomes = []
        for message in batch:
            candidates = by_phone.get(message.phone_e164) or []
            status = candidates.pop(0) if candidates else None
            if status is None:
                outcomes.append(
                    SendOutcome(
                        message.record_id,
                        OutcomeStatus.FAILED,
                        code="MissingStatus",
                        description="tencent returned no status for this number",
                    )
                )
            elif status.Code == "Ok":
                outcomes.append(
                    SendOutcome(
                        message.record_id,
                        OutcomeStatus.ACCEPTED,
                        provider_message_id=status.SerialNo,
                        code=status.Code,
                        description=status.Message or "",
                        billed_parts=_fee(status.Fee),
                    )
                )
            else:
                outcomes.append(
                    SendOutcome(
                        message.record_id,
                        OutcomeStatus.FAILED,
                        provider_message_id=status.SerialNo or "",
                        code=status.Code or "",
                        description=status.Message or "",
                    )
                )
        return outcomes

    def parse_status_callback(self, body: bytes, content_type: str = "") -> list[DeliveryReport]:
        return parse_status_reports(body)

    def parse_uplink_callback(self, body: bytes, content_type: str = "") -> list[InboundMessage]:
        return parse_reply(body)

    def pull_reports(self, pending_message_ids: Sequence[str] = ()) -> list[DeliveryReport]:
        """PullSmsSendStatus: reports not yet pulled (for accounts with push turned off)."""
        request = models.PullSmsSendStatusRequest()
        request.SmsSdkAppId = self.config["sdk_app_id"]
        request.Limit = 100
        response = self._call("PullSmsSendStatus", request)
        reports = []
        for item in response.PullSmsSendStatusSet or []:
            delivered = item.ReportStatus == "SUCCESS"
            reports.append(
                DeliveryReport(
                    provider=NAME,
                    status=ReportStatus.DELIVERED if delivered else ReportStatus.FAILED,
                    provider_message_id=item.SerialNo,
                    phone=item.PhoneNumber or "",
                    code=item.ReportStatus or "",
                    description=item.Description or "",
                    occurred_at=from_unix(item.UserReceiveTime),
                )
            )
        return reports

    def pull_uplinks(self) -> list[InboundMessage]:
        """PullSmsReplyStatus: replies not yet pulled (for accounts with the reply push off), at
        most 100 a call; each once (Tencent forgets what it answered)."""
        request = models.PullSmsReplyStatusRequest()
        request.SmsSdkAppId = self.config["sdk_app_id"]
        request.Limit = PULL_LIMIT
        response = self._call("PullSmsReplyStatus", request)
        return [_pulled_reply(item) for item in response.PullSmsReplyStatusSet or [] if item.PhoneNumber]

    def registered_templates(self, template_ids: Sequence[str]) -> dict[str, str]:
        """DescribeSmsTemplateList: the approved (``StatusCode`` 0) domestic templates' texts,
        ``{1}``… for their parameters."""
        request = models.DescribeSmsTemplateListRequest()
        request.TemplateIdSet = [
            int(template_id) for template_id in template_ids if str(template_id).isdigit()
        ]
        request.International = 0
        if not request.TemplateIdSet:
            return {}
        response = self._call("DescribeSmsTemplateList", request)
        return {
            str(item.TemplateId): item.TemplateContent or ""
            for item in response.DescribeTemplateStatusSet or []
            if item.StatusCode == 0
        }

    def approved_templates(self, template_ids: Sequence[str]) -> dict[str, RegisteredTemplate]:
        """``registered_templates``, with ``{}`` for their ``{1}``, ``{2}``…"""
        return {
            template_id: RegisteredTemplate(
                template_id=template_id, text=text, comparable=_TEMPLATE_PARAMETER.sub("{}", text)
            )
            for template_id, text in self.registered_templates(template_ids).items()
        }

    def balance(self) -> ProviderBalance:
        """SmsPackagesStatistics: the packages' amounts less what has been used."""
        request = models.SmsPackagesStatisticsRequest()
        request.SmsSdkAppId = self.config["sdk_app_id"]
        request.Limit = 100
        request.Offset = 0
        now = timezone.localtime()
        request.BeginTime = (now - dt.timedelta(days=3650)).strftime("%Y%m%d%H")
        request.EndTime = now.strftime("%Y%m%d%H")
        response = self._call("SmsPackagesStatistics", request)
        remaining = sum(
            max(0, int(item.PackageAmount or 0) - int(item.CurrentUsage or 0))
            for item in response.SmsPackagesStatisticsSet or []
        )
        return ProviderBalance(provider=NAME, remaining=remaining)

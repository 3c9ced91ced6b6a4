"""Tencent Cloud SMS API 2021-01-11 as the simulator speaks it: ``POST /`` with
``X-TC-Action``, TC3-HMAC-SHA256 signatures checked against the simulator's credentials,
errors as ``{"Response": {"Error": {...}}}`` with HTTP 200, as Tencent answers."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import time
import uuid
from typing import Any

from providers.simulator.core import (
    LATE_ANSWER_SUFFIX,
    REFUSED_SUFFIX,
    UNDELIVERED_SUFFIX,
    Payloads,
    SimRequest,
    SimResponse,
    SimState,
    chunked,
    route,
)

PROVIDER = "tencent"
SECRET_ID = os.environ.get("SIM_TENCENT_SECRET_ID", "sim-secret-id")
SECRET_KEY = os.environ.get("SIM_TENCENT_SECRET_KEY", "sim-secret-key")
SDK_APP_ID = os.environ.get("SIM_TENCENT_SDK_APP_ID", "1400000001")
BATCH_LIMIT = 200
PUSH_BATCH = 100  # Tencent pushes at most 100 reports per request
BEIJING = dt.timezone(dt.timedelta(hours=8))


# Tencent answers exactly ``application/json`` (the SDK reads errors only from that type).
CONTENT_TYPE = "application/json"


def _error(code: str, message: str) -> SimResponse:
    body = {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}
    return SimResponse(body=body, content_type=CONTENT_TYPE)


def _ok(payload: dict[str, Any]) -> SimResponse:
    return SimResponse(
        body={"Response": {**payload, "RequestId": str(uuid.uuid4())}}, content_type=CONTENT_TYPE
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature_problem(request: SimRequest) -> str | None:
    """Check the TC3-HMAC-SHA256 signature the way Tencent does; None when it is valid."""
    authorization = request.headers.get("authorization", "")
    try:
        algorithm, rest = authorization.split(" ", 1)
        fields = dict(part.strip().split("=", 1) for part in rest.split(","))
        secret_id, date, service, _ = fields["Credential"].split("/")
        signed_headers, signature = fields["SignedHeaders"], fields["Signature"]
    except (ValueError, KeyError):
        return "AuthFailure.InvalidAuthorization"
    if algorithm != "TC3-HMAC-SHA256":
        return "AuthFailure.InvalidAuthorization"
    if secret_id != SECRET_ID:
        return "AuthFailure.SecretIdNotFound"
    timestamp = request.headers.get("x-tc-timestamp", "0")
    canonical_headers = "".join(
        f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed_headers.split(";")
    )
    canonical_request = "\n".join(
        ["POST", "/", "", canonical_headers, signed_headers, hashlib.sha256(request.body).hexdigest()]
    )
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            timestamp,
            f"{date}/{service}/tc3_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _hmac(_hmac(_hmac(("TC3" + SECRET_KEY).encode(), date), service), "tc3_request")
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "AuthFailure.SignatureFailure"
    return None


def _report_push(report: dict[str, Any]) -> dict[str, Any]:
    """A held report in Tencent's status-callback shape."""
    phone = report["phone_e164"]
    return {
        "user_receive_time": dt.datetime.fromtimestamp(report["time"], BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        "nationcode": "86" if phone.startswith("+86") else phone[1:3],
        "mobile": phone[3:] if phone.startswith("+86") else phone,
        "report_status": "SUCCESS" if report["delivered"] else "FAIL",
        "errmsg": "DELIVRD" if report["delivered"] else "MK:0001",
        "description": "用户短信送达成功" if report["delivered"] else "用户短信未送达",
        "sid": report["serial"],
    }


def _pushes(reports: list[dict[str, Any]]) -> Payloads:
    """Tencent's status callback: a JSON array of up to 100 reports, even of one."""
    return chunked(reports, PUSH_BATCH, _report_push)


def make_uplink(payload: dict[str, Any]) -> dict[str, Any]:
    mobile = str(payload.get("mobile", ""))
    return {
        "extend": str(payload.get("extend", "")),
        "mobile": mobile[3:] if mobile.startswith("+86") else mobile,
        "nationcode": "86",
        "sign": str(payload.get("sign", "去采购")),
        "text": str(payload.get("text", "")),
        "time": int(payload.get("time") or time.time()),
    }


def billed_parts(text: str) -> int:
    """Tencent's Fee for one number: the text (signature included) in UCS-2 units, 70 in one
    message, 67 per part beyond (its published counting rule)."""
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def _rendered(template: str, values: list[str], sign: str) -> str:
    """The message Tencent sends: 【sign】 and the registered template with ``{n}`` filled."""
    text = template
    for index, value in enumerate(values, start=1):
        text = text.replace(f"{{{index}}}", value)
    return f"【{sign}】{text}"


def _send_sms(params: dict[str, Any], state: SimState) -> SimResponse:
    phones = [str(phone) for phone in params.get("PhoneNumberSet") or []]
    if str(params.get("SmsSdkAppId")) != SDK_APP_ID:
        return _error("InvalidParameterValue.SdkAppIdNotExist", "SmsSdkAppId does not exist")
    if not phones:
        return _error("MissingParameter.EmptyPhoneNumberSet", "PhoneNumberSet is empty")
    if len(phones) > BATCH_LIMIT:
        return _error("LimitExceeded.PhoneNumberCountLimit", f"at most {BATCH_LIMIT} numbers per request")
    if not params.get("TemplateId"):
        return _error(
            "FailedOperation.TemplateIncorrectOrUnapproved", "TemplateId is missing or not approved"
        )
    if not params.get("SignName"):
        return _error("FailedOperation.SignatureIncorrectOrUnapproved", "SignName is missing or not approved")
    template = state.config.templates.get(str(params["TemplateId"]))
    if template is None:
        return _error(
            "FailedOperation.TemplateIncorrectOrUnapproved", "TemplateId is missing or not approved"
        )
    fee = billed_parts(
        _rendered(
            template, [str(value) for value in params.get("TemplateParamSet") or []], str(params["SignName"])
        )
    )
    fault = state.fault_for(PROVIDER, phones)
    if fault is not None:
        return fault
    taken = [phone for phone in phones if not phone.endswith(REFUSED_SUFFIX)]
    state.record(PROVIDER, phones, parts=fee * len(taken))
    statuses, reports, now = [], [], time.time()
    for phone in phones:
        serial = f"2640:{uuid.uuid4().hex}"
        if phone.endswith(REFUSED_SUFFIX):
            statuses.append(
                {
                    "SerialNo": "",
                    "PhoneNumber": phone,
                    "Fee": 0,
                    "SessionContext": params.get("SessionContext", ""),
                    "Code": "FailedOperation.PhoneNumberInBlacklist",
                    "Message": "phone number in blacklist",
                    "IsoCode": "CN",
                }
            )
            continue
        statuses.append(
            {
                "SerialNo": serial,
                "PhoneNumber": phone,
                "Fee": fee,
                "SessionContext": params.get("SessionContext", ""),
                "Code": "Ok",
                "Message": "send success",
                "IsoCode": "CN",
            }
        )
        reports.append(
            {
                "serial": serial,
                "phone_e164": phone,
                "delivered": not phone.endswith(UNDELIVERED_SUFFIX),
                "time": now,
                "session": params.get("SessionContext", ""),
            }
        )
    state.deliver_reports(PROVIDER, reports, _pushes)
    state.hold_answer(PROVIDER)
    if any(phone.endswith(LATE_ANSWER_SUFFIX) for phone in phones):
        time.sleep(state.config.hang_seconds)  # taken and reported, but the client gives up waiting
    return _ok({"SendStatusSet": statuses})


def _pull_status(params: dict[str, Any], state: SimState) -> SimResponse:
    limit = int(params.get("Limit") or 100)
    items = []
    for report in state.take_held_reports(PROVIDER, limit):
        phone = report["phone_e164"]
        items.append(
            {
                "UserReceiveTime": int(report["time"]),
                "CountryCode": "86",
                "SubscriberNumber": phone[3:],
                "PhoneNumber": phone,
                "SerialNo": report["serial"],
                "ReportStatus": "SUCCESS" if report["delivered"] else "FAIL",
                "Description": "用户短信送达成功" if report["delivered"] else "用户短信未送达",
                "SessionContext": report.get("session", ""),
            }
        )
    return _ok({"PullSmsSendStatusSet": items})


def _pull_replies(params: dict[str, Any], state: SimState) -> SimResponse:
    """PullSmsReplyStatus: held replies (``make_uplink``'s push shape), at most ``Limit`` (100),
    each answered once."""
    limit = max(1, min(100, int(params.get("Limit") or 100)))
    with state.lock:
        held = state.held_uplinks[PROVIDER]
        taken, state.held_uplinks[PROVIDER] = held[:limit], held[limit:]
    items = [
        {
            "ExtendCode": reply["extend"],
            "CountryCode": reply["nationcode"],
            "PhoneNumber": f"+{reply['nationcode']}{reply['mobile']}",
            "SignName": reply["sign"],
            "ReplyContent": reply["text"],
            "ReplyTime": reply["time"],
            "SubscriberNumber": reply["mobile"],
        }
        for reply in taken
    ]
    return _ok({"PullSmsReplyStatusSet": items})


def _packages(params: dict[str, Any], state: SimState) -> SimResponse:
    with state.lock:
        remaining = state.balances[PROVIDER]
    used = 100000 - remaining
    return _ok(
        {
            "SmsPackagesStatisticsSet": [
                {
                    "PackageCreateTime": "2026-01-01 00:00:00",
                    "PackageEffectiveTime": "2026-01-01 00:00:00",
                    "PackageExpiredTime": "2027-01-01 00:00:00",
                    "PackageAmount": 100000,
                    "PackageType": 1,
                    "PackageId": 1,
                    "CurrentUsage": used,
                }
            ]
        }
    )


def _describe_templates(params: dict[str, Any], state: SimState) -> SimResponse:
    """DescribeSmsTemplateList: the registered templates of ``TemplateIdSet`` (approved)."""
    ids = [str(value) for value in params.get("TemplateIdSet") or []]
    if not ids:
        return _error("MissingParameter", "TemplateIdSet is empty")
    templates = state.config.templates
    return _ok(
        {
            "DescribeTemplateStatusSet": [
                {
                    "TemplateId": int(template_id),
                    "International": int(params.get("International") or 0),
                    "StatusCode": 0,
                    "ReviewReply": "",
                    "TemplateName": f"template {template_id}",
                    "CreateTime": 1767225600,
                    "TemplateContent": templates[template_id],
                }
                for template_id in ids
                if template_id in templates
            ]
        }
    )


ACTIONS = {
    "SendSms": _send_sms,
    "PullSmsSendStatus": _pull_status,
    "PullSmsReplyStatus": _pull_replies,
    "SmsPackagesStatistics": _packages,
    "DescribeSmsTemplateList": _describe_templates,
}


@route("POST", "/")
def tencent_api(request: SimRequest, state: SimState) -> SimResponse:
    problem = signature_problem(request)
    if problem is not None:
        return _error(problem, "the request signature does not match")
    name = request.headers.get("x-tc-action", "")
    # "tencent" in ``down``: every action fails; "tencent.<Action>": that action only.
    if PROVIDER in state.config.down or f"{PROVIDER}.{name}" in state.config.down:
        return SimResponse(503, {"error": f"{PROVIDER} is down"})
    action = ACTIONS.get(name)
    if action is None:
        return _error("InvalidAction", "unknown action")
    try:
        params = request.json()
    except ValueError:
        return _error("InvalidParameter", "body is not JSON")
    return action(params, state)

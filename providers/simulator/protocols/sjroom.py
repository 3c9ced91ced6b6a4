"""The sjroom international gateway of seed 004: JSON POSTs with ``account`` and ``password`` in
the body, answers ``{stateCode, stateMsg, data}`` (``"200"`` for success) except the channel list
(a bare array) and the batch query (a bare result object).

Simulator choices (the seed documents no error codes; these are assumptions):

- wrong credentials answer ``stateCode "401"`` with HTTP 200 on every endpoint;
- a fixed channel list (``CHANNELS``): Russia (7) is listed but disabled;
- submit: an unknown or disabled channel, an empty phone or text, or a number not of the
  channel's country answers ``"400"``; more than 10,000 numbers ``"413"``;
- there are no pushed reports and no per-number refusal at submit: a batch settles
  ``report_delay_ms`` after its submit, numbers ending ``0004`` or ``0005`` in ``failPhones``
  and the others in ``successPhones``; before that the query lists no number;
- an unknown ``batchNo`` answers empty lists and ``totalNum`` 0.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

from providers.simulator.core import (
    REFUSED_SUFFIX,
    UNDELIVERED_SUFFIX,
    SimRequest,
    SimResponse,
    SimState,
    route,
)

PROVIDER = "sjroom"
ACCOUNT = os.environ.get("SIM_SJROOM_ACCOUNT", "sim-account")
PASSWORD = os.environ.get("SIM_SJROOM_PASSWORD", "sim-password")
BATCH_LIMIT = 10000
CHANNELS: list[dict[str, Any]] = [
    {
        "goodsSupplySmsConfigId": 101,
        "countryCode": "44",
        "countryOperator": "ALL",
        "customerPrice": 0.35,
        "nameEn": "United Kingdom",
        "nameZh": "英国",
        "status": 1,
    },
    {
        "goodsSupplySmsConfigId": 102,
        "countryCode": "1",
        "countryOperator": "ALL",
        "customerPrice": 0.06,
        "nameEn": "United States/Canada",
        "nameZh": "美国/加拿大",
        "status": 1,
    },
    {
        "goodsSupplySmsConfigId": 103,
        "countryCode": "852",
        "countryOperator": "ALL",
        "customerPrice": 0.3,
        "nameEn": "Hong Kong",
        "nameZh": "中国香港",
        "status": 1,
    },
    {
        "goodsSupplySmsConfigId": 104,
        "countryCode": "65",
        "countryOperator": "ALL",
        "customerPrice": 0.25,
        "nameEn": "Singapore",
        "nameZh": "新加坡",
        "status": 1,
    },
    {
        "goodsSupplySmsConfigId": 105,
        "countryCode": "81",
        "countryOperator": "ALL",
        "customerPrice": 0.5,
        "nameEn": "Japan",
        "nameZh": "日本",
        "status": 1,
    },
    {
        "goodsSupplySmsConfigId": 106,
        "countryCode": "7",
        "countryOperator": "ALL",
        "customerPrice": 0.4,
        "nameEn": "Russia",
        "nameZh": "俄罗斯",
        "status": 0,
    },
]
_batch_numbers = itertools.count(1)


def _answer(code: str, message: str, data: Any = None) -> SimResponse:
    return SimResponse(body={"stateCode": code, "stateMsg": message, "data": data})


def _payload(request: SimRequest) -> dict[str, Any]:
    try:
        payload = request.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _refused(payload: dict[str, Any], state: SimState) -> SimResponse | None:
    """The 401 answer for wrong credentials, counted as a refused request; None when they are right."""
    if payload.get("account") == ACCOUNT and payload.get("password") == PASSWORD:
        return None
    state.refuse(PROVIDER)
    return _answer("401", "账号或密码错误")


def _digits(phone: str) -> str:
    return phone.strip().removeprefix("+")


@route("POST", "/api/open/int/sms/list")
def channel_list(request: SimRequest, state: SimState) -> SimResponse:
    payload = _payload(request)
    refused = _refused(payload, state)
    if refused is not None:
        return refused
    return SimResponse(body=CHANNELS)


@route("POST", "/api/open/int/sms/submit")
def submit(request: SimRequest, state: SimState) -> SimResponse:
    payload = _payload(request)
    refused = _refused(payload, state)
    if refused is not None:
        return refused
    channel = next(
        (
            c
            for c in CHANNELS
            if str(c["goodsSupplySmsConfigId"]) == str(payload.get("goodsSupplySmsConfigId"))
        ),
        None,
    )
    if channel is None or channel["status"] != 1:
        return _answer("400", "通道不存在或未启用")
    phones = [_digits(phone) for phone in str(payload.get("phone") or "").split(",") if phone.strip()]
    if not phones or not payload.get("sendContent"):
        return _answer("400", "号码或内容为空")
    if len(phones) > BATCH_LIMIT:
        return _answer("413", f"号码数量超过{BATCH_LIMIT}")
    wrong = [phone for phone in phones if not phone.isdigit() or not phone.startswith(channel["countryCode"])]
    if wrong:
        return _answer("400", f"号码与通道国家不符: {wrong[0]}")
    fault = state.fault_for(PROVIDER, phones)
    if fault is not None:
        return fault
    state.record(PROVIDER, phones)
    batch_no = f"{time.strftime('%Y%m%d%H%M%S')}{next(_batch_numbers):06d}"
    with state.lock:
        state.extra[PROVIDER].setdefault("batches", {})[batch_no] = {
            "phones": phones,
            "settles_at": time.monotonic() + state.config.report_delay_ms / 1000,
        }
    state.hold_answer(PROVIDER)
    return _answer("200", "成功", batch_no)


@route("POST", "/api/open/int/sms/query")
def query(request: SimRequest, state: SimState) -> SimResponse:
    payload = _payload(request)
    refused = _refused(payload, state)
    if refused is not None:
        return refused
    with state.lock:
        batch = state.extra[PROVIDER].get("batches", {}).get(str(payload.get("batchNo") or ""))
    phones: list[str] = batch["phones"] if batch else []
    success: list[str] = []
    failed: list[str] = []
    if batch and time.monotonic() >= batch["settles_at"]:
        for phone in phones:
            undelivered = phone.endswith((UNDELIVERED_SUFFIX, REFUSED_SUFFIX))
            (failed if undelivered else success).append(phone)
    return SimResponse(
        body={
            "failPhones": failed,
            "failedNum": len(failed),
            "successNum": len(success),
            "successPhones": success,
            "totalNum": len(phones),
        }
    )


@route("POST", "/api/open/int/sms/balance")
def balance(request: SimRequest, state: SimState) -> SimResponse:
    payload = _payload(request)
    refused = _refused(payload, state)
    if refused is not None:
        return refused
    with state.lock:
        remaining = state.balances[PROVIDER]
    return _answer("200", "成功", str(remaining))

"""The domestic HTTP SMS gateway of seed 002: form-encoded POSTs, ``pwd`` = MD5 of the
password, ``code "00"`` for success, ``taskId`` the caller's to keep unique.

A repeated ``taskId`` is sent again by default, as a gateway that does not check would: its
numbers are received twice and counted in ``duplicated_numbers``, so a resend cannot hide. With
``gateway_refuse_repeated_task_id`` (``/_sim/config``) it is refused before any number is counted,
answered ``08`` (the code the service reads as "already accepted" when told the gateway refuses
repeats)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from providers.simulator.core import (
    REFUSED_SUFFIX,
    UNDELIVERED_SUFFIX,
    Payloads,
    SimRequest,
    SimResponse,
    SimState,
    chunked,
    route,
)

PROVIDER = "gateway"
ACCOUNT = os.environ.get("SIM_GATEWAY_ACCOUNT", "sim-account")
PASSWORD = os.environ.get("SIM_GATEWAY_PASSWORD", "sim-password")
BATCH_LIMIT = 3000
DUPLICATE_TASK_CODE = "08"
# Seed 002 pushes each status report alone, one JSON object per request: the simulator's default.
# ``gateway_push_batch`` (``/_sim/config``, ``--gateway-push-batch``, ``SIM_GATEWAY_PUSH_BATCH``)
# N > 1 pushes JSON arrays of up to N instead, a shortcut the service also takes; at most one
# send's numbers.


def push_batch(value: Any) -> int:
    """A valid ``gateway_push_batch``: an integer from 1 to ``BATCH_LIMIT`` (a decimal string
    too, as the command line and the environment give it); ``ValueError`` saying why otherwise."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= BATCH_LIMIT:
        raise ValueError(f"must be an integer from 1 to {BATCH_LIMIT}, not {value!r}")
    return value


def _answer(code: str, message: str, data: Any = None) -> SimResponse:
    return SimResponse(body={"code": code, "data": data if data is not None else {}, "message": message})


def _authorised(form: dict[str, str]) -> bool:
    return (
        form.get("account") == ACCOUNT
        and form.get("pwd", "").lower() == hashlib.md5(PASSWORD.encode()).hexdigest()
    )


# Seed 002's ``times`` are Beijing time, whatever the zone of the machine running the simulator
# (make run's is a plain process: UTC on most servers, where local time was 8 hours off).
BEIJING = dt.timezone(dt.timedelta(hours=8))


def _times(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _status_push(report: dict[str, Any]) -> dict[str, Any]:
    """Seed 002's status push: ``{sendId, mobile, times, status}``, ``DELIVRD`` = delivered."""
    return {
        "sendId": report["task_id"],
        "mobile": report["mobile"],
        "times": _times(report["time"]),
        "status": report["status"],
    }


def _pushes(batch: int) -> Callable[[list[dict[str, Any]]], Payloads]:
    return lambda reports: chunked(reports, batch, _status_push, single=True)


def make_uplink(payload: dict[str, Any]) -> dict[str, Any]:
    """Seed 002's uplink (pushed, and served by ``/api/v1/mo``): ``{mobile, content, times,
    extNo}``. ``time`` (Unix seconds) in the injected payload fixes ``times`` (default: now)."""
    return {
        "mobile": str(payload.get("mobile", "")),
        "content": str(payload.get("text", "")),
        "times": _times(float(payload.get("time") or time.time())),
        "extNo": str(payload.get("extend", "")),
    }


@route("POST", "/api/v1/send")
def send(request: SimRequest, state: SimState) -> SimResponse:
    form = request.form()
    if not _authorised(form):
        state.refuse(PROVIDER)
        return _answer("01", "账号或密码错误")
    mobiles = [mobile.strip() for mobile in form.get("mobiles", "").split(",") if mobile.strip()]
    if not mobiles or not form.get("content"):
        return _answer("02", "号码或内容为空")
    if len(mobiles) > BATCH_LIMIT:
        return _answer("03", f"号码数量超过{BATCH_LIMIT}")
    ext_no = form.get("extNo", "")
    if ext_no and not ext_no.isdigit():
        return _answer("04", "extNo只能为正整数")
    task_id = form.get("taskId") or uuid.uuid4().hex
    fault = state.fault_for(PROVIDER, mobiles)
    if fault is not None:
        return fault
    with state.lock:
        seen = state.extra[PROVIDER].setdefault("task_ids", set())
        duplicate = task_id in seen
        seen.add(task_id)
    if duplicate and state.config.gateway_refuse_repeated_task_id:
        return _answer(DUPLICATE_TASK_CODE, "taskId重复", {"taskId": task_id})
    state.record(PROVIDER, mobiles)
    now = time.time()
    reports = []
    for mobile in mobiles:
        if mobile.endswith(REFUSED_SUFFIX):
            status = "REJECTD"
        elif mobile.endswith(UNDELIVERED_SUFFIX):
            status = "UNDELIV"
        else:
            status = "DELIVRD"
        reports.append(
            {"task_id": task_id, "mobile": mobile, "time": now, "status": status, "ext_no": ext_no}
        )
    state.deliver_reports(PROVIDER, reports, _pushes(state.config.gateway_push_batch))
    state.hold_answer(PROVIDER)
    return _answer("00", "成功", {"taskId": task_id})


def _masked(mobile: str) -> str:
    """The first three and last four digits, as seed 002's pulled reports show numbers."""
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) > 7 else mobile


@route("POST", "/api/v1/report")
def report(request: SimRequest, state: SimState) -> SimResponse:
    if not _authorised(request.form()):
        return _answer("01", "账号或密码错误")
    items = [
        {
            "sendId": item["task_id"],
            "status": "DELIVER" if item["status"] == "DELIVRD" else item["status"],
            "times": _times(item["time"]),
            "mobile": _masked(item["mobile"]),  # as seed 002's example: 135****9831
            "extNo": item["ext_no"],
        }
        for item in state.take_held_reports(PROVIDER, 1000)
    ]
    return _answer("00", "成功", items)


@route("POST", "/api/v1/mo")
def uplinks(request: SimRequest, state: SimState) -> SimResponse:
    """Seed 002's uplink pull: every held uplink, once (the gateway forgets what it answered)."""
    if PROVIDER in state.config.down:
        return SimResponse(503, {"error": f"{PROVIDER} is down"})
    if not _authorised(request.form()):
        return _answer("01", "账号或密码错误")
    with state.lock:
        items, state.held_uplinks[PROVIDER] = state.held_uplinks[PROVIDER], []
    return _answer("00", "成功", items)


@route("POST", "/api/v1/queryBalance")
def balance(request: SimRequest, state: SimState) -> SimResponse:
    if not _authorised(request.form()):
        return _answer("01", "账号或密码错误")
    with state.lock:
        remaining = state.balances[PROVIDER]
    return _answer("00", "成功", {"balance": remaining, "payment": 0, "paymentName": "预付"})

"""fw199, the Douyin shop SMS gateway of seed 003: ``POST /gateway/dd/sms/send``, form-encoded,
public parameters ``appid``, ``timestamp``, ``seller_nick``, ``sign`` and the JSON string
``request_data``. fw199 documents no receipts, so the simulator produces none.

The signing rule is our assumption (the seed does not write it down), implemented here on its
own so the simulator needs no Django: every parameter but ``sign``, sorted by name, concatenated
as name + value, wrapped in the app secret on both sides, MD5, upper-case hex.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

from providers.simulator.core import REFUSED_SUFFIX, SimRequest, SimResponse, SimState, route

PROVIDER = "fw199"
APP_ID = os.environ.get("SIM_FW199_APP_ID", "sim-appid")
APP_SECRET = os.environ.get("SIM_FW199_APP_SECRET", "sim-app-secret")
BATCH_LIMIT = 100
REQUIRED_PARAMS = ("timestamp", "seller_nick", "request_data")


def _answer(code: int, message: str, data: list[dict[str, Any]] | None = None) -> SimResponse:
    return SimResponse(body={"code": code, "message": message, "data": data or []})


def _signature(params: dict[str, str], secret: str) -> str:
    joined = "".join(name + params[name] for name in sorted(params) if name != "sign")
    return hashlib.md5((secret + joined + secret).encode("utf-8")).hexdigest().upper()


def _valid_template_param(value: Any) -> bool:
    """The seed shows ``template_param`` both as an object and as a JSON string of one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return False
    return isinstance(value, dict)


def _valid_item(item: Any) -> bool:
    if not isinstance(item, dict) or not _valid_template_param(item.get("template_param", {})):
        return False
    if item.get("biz_type") == 1:
        return isinstance(item.get("order_id"), str) and bool(item["order_id"])
    if item.get("biz_type") == 0:
        return isinstance(item.get("post_tel"), str) and bool(item["post_tel"])
    return False


def _address(item: dict[str, Any]) -> str:
    return item["order_id"] if item["biz_type"] == 1 else item["post_tel"]


@route("POST", "/gateway/dd/sms/send")
def send(request: SimRequest, state: SimState) -> SimResponse:
    form = request.form()
    if form.get("appid") != APP_ID or form.get("sign", "").upper() != _signature(form, APP_SECRET):
        state.refuse(PROVIDER)
        return _answer(40001, "invalid sign")
    if any(not form.get(name) for name in REQUIRED_PARAMS):
        return _answer(40003, "missing parameter")
    try:
        request_data = json.loads(form["request_data"])
    except ValueError:
        return _answer(40003, "request_data is not JSON")
    messages = request_data.get("sms_message_list") if isinstance(request_data, dict) else None
    if not isinstance(messages, list) or not messages:
        return _answer(40003, "sms_message_list is missing or empty")
    if len(messages) > BATCH_LIMIT:
        return _answer(40002, f"at most {BATCH_LIMIT} messages per request")
    if not request_data.get("template_id") or not all(_valid_item(item) for item in messages):
        return _answer(40003, "malformed request_data")
    numbers = [_address(item) for item in messages]
    fault = state.fault_for(PROVIDER, numbers)
    if fault is not None:
        return fault
    state.record(PROVIDER, numbers)
    results = []
    for item, number in zip(messages, numbers, strict=True):
        order_id = item.get("order_id", "") if item["biz_type"] == 1 else ""
        if number.endswith(REFUSED_SUFFIX):
            results.append(
                {"code": 50001, "message": "号码无效或订单不存在", "order_id": order_id, "message_id": ""}
            )
        else:
            results.append({"code": 0, "message": "", "order_id": order_id, "message_id": str(uuid.uuid4())})
    return _answer(0, "ok", results)

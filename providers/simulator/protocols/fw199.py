"""fw199, the Douyin shop SMS gateway of seed 003: ``POST /gateway/dd/sms/send``, form-encoded,
public parameters ``appid``, ``timestamp``, ``seller_nick``, ``sign`` and the JSON string
``request_data``. fw199 documents no receipts, so the simulator produces none.

It checks what the seed requires and refuses anything else as a whole, in the seed's answer
format (``{"code": <not 0>, "message": <why>, "data": []}``), so the adapter is tested against the
seed and not against itself:

- every public parameter present, ``timestamp`` Unix seconds, the ``sign`` right (40001);
- ``request_data`` a JSON object with the SMS signature ``sign``, a ``template_id`` registered
  with fw199 (``fw199_templates``, 40004) and ``sms_message_list``: 1 to 100 messages (40002);
- each message ``biz_type`` 1 with an ``order_id`` (a Douyin order number: digits) or
  ``biz_type`` 0 with a ``post_tel`` (a Douyin phone ciphertext, ``$…``, or an 11-digit
  mainland number), and ``template_param`` a JSON object (or a JSON string of one: the seed shows
  both) of exactly the template's named variables, each a string (40005); anything else 40003.

Every accepted message is kept in ``state.extra["fw199"]["messages"]`` (its address, template id,
SMS signature and decoded ``template_param``) for tests to look at.

The signing rule is our assumption (the seed does not write it down), implemented here on its
own so the simulator needs no Django: every parameter but ``sign``, sorted by name, concatenated
as name + value, wrapped in the app secret on both sides, MD5, upper-case hex.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from typing import Any

from providers.simulator.core import REFUSED_SUFFIX, SimRequest, SimResponse, SimState, route

PROVIDER = "fw199"
APP_ID = os.environ.get("SIM_FW199_APP_ID", "sim-appid")
APP_SECRET = os.environ.get("SIM_FW199_APP_SECRET", "sim-app-secret")
BATCH_LIMIT = 100
PUBLIC_PARAMS = ("appid", "timestamp", "seller_nick", "sign", "request_data")
BIZ_TYPE_PHONE, BIZ_TYPE_ORDER = 0, 1
_ORDER_ID = re.compile(r"[0-9]+")
_PLAIN_MOBILE = re.compile(r"1[0-9]{10}")

INVALID_SIGN, TOO_MANY, MALFORMED, UNKNOWN_TEMPLATE, BAD_TEMPLATE_PARAM = 40001, 40002, 40003, 40004, 40005


class Refused(Exception):
    """A request fw199 refuses as a whole: ``code`` and the reason in ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _answer(code: int, message: str, data: list[dict[str, Any]] | None = None) -> SimResponse:
    return SimResponse(body={"code": code, "message": message, "data": data or []})


def _signature(params: dict[str, str], secret: str) -> str:
    joined = "".join(name + params[name] for name in sorted(params) if name != "sign")
    return hashlib.md5((secret + joined + secret).encode("utf-8")).hexdigest().upper()


def _template_param(value: Any, variables: list[str], position: int) -> dict[str, str]:
    """A message's ``template_param``: a JSON object of exactly the template's variables, each a
    string (the seed shows it as an object and as a JSON string holding one)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise Refused(BAD_TEMPLATE_PARAM, f"message {position}: template_param is not a JSON object")
    if sorted(value) != sorted(variables):
        raise Refused(
            BAD_TEMPLATE_PARAM,
            f"message {position}: template_param has {sorted(value)}, the template's variables are "
            f"{sorted(variables)}",
        )
    if not all(isinstance(item, str) for item in value.values()):
        raise Refused(BAD_TEMPLATE_PARAM, f"message {position}: template_param values are strings")
    return value


def _address(item: dict[str, Any], position: int) -> str:
    """The order id (``biz_type`` 1) or ``post_tel`` (``biz_type`` 0) a message is addressed by."""
    biz_type = item.get("biz_type")
    if biz_type == BIZ_TYPE_ORDER and not isinstance(biz_type, bool):
        order_id = item.get("order_id")
        if not isinstance(order_id, str) or not _ORDER_ID.fullmatch(order_id):
            raise Refused(MALFORMED, f"message {position}: biz_type 1 needs order_id, a Douyin order number")
        return order_id
    if biz_type == BIZ_TYPE_PHONE and not isinstance(biz_type, bool):
        post_tel = item.get("post_tel")
        if not isinstance(post_tel, str) or not (
            (post_tel.startswith("$") and len(post_tel) > 1) or _PLAIN_MOBILE.fullmatch(post_tel)
        ):
            raise Refused(
                MALFORMED, f"message {position}: biz_type 0 needs post_tel, a phone ciphertext or mobile"
            )
        return post_tel
    raise Refused(MALFORMED, f"message {position}: biz_type is 0 (post_tel) or 1 (order_id)")


def check_request(form: dict[str, str], state: SimState) -> list[dict[str, Any]]:
    """The messages of a send request, each with its ``address`` and decoded ``template_param``;
    ``Refused`` for anything seed 003 does not allow."""
    if form.get("appid") != APP_ID or form.get("sign", "").upper() != _signature(form, APP_SECRET):
        state.refuse(PROVIDER)
        raise Refused(INVALID_SIGN, "invalid sign")
    missing = [name for name in PUBLIC_PARAMS if not form.get(name)]
    if missing:
        raise Refused(MALFORMED, f"missing parameter: {', '.join(missing)}")
    if not form["timestamp"].isascii() or not form["timestamp"].isdigit():
        raise Refused(MALFORMED, "timestamp is Unix seconds")
    try:
        request_data = json.loads(form["request_data"])
    except ValueError as exc:
        raise Refused(MALFORMED, "request_data is not JSON") from exc
    if not isinstance(request_data, dict):
        raise Refused(MALFORMED, "request_data is not a JSON object")
    messages = request_data.get("sms_message_list")
    if not isinstance(messages, list) or not messages:
        raise Refused(MALFORMED, "sms_message_list is missing or empty")
    if len(messages) > BATCH_LIMIT:
        raise Refused(TOO_MANY, f"at most {BATCH_LIMIT} messages per request")
    sms_sign, template_id = request_data.get("sign"), request_data.get("template_id")
    if not isinstance(sms_sign, str) or not sms_sign:
        raise Refused(MALFORMED, "request_data has no SMS signature")
    if not isinstance(template_id, str) or not template_id:
        raise Refused(MALFORMED, "request_data has no template_id")
    variables = state.config.fw199_templates.get(template_id)
    if variables is None:
        raise Refused(UNKNOWN_TEMPLATE, f"template {template_id} does not exist")
    checked = []
    for position, item in enumerate(messages, start=1):
        if not isinstance(item, dict):
            raise Refused(MALFORMED, f"message {position} is not an object")
        checked.append(
            {
                "biz_type": item["biz_type"] if "biz_type" in item else None,
                "address": _address(item, position),
                "template_param": _template_param(item.get("template_param"), variables, position),
                "template_id": template_id,
                "sms_sign": sms_sign,
            }
        )
    return checked


@route("POST", "/gateway/dd/sms/send")
def send(request: SimRequest, state: SimState) -> SimResponse:
    try:
        messages = check_request(request.form(), state)
    except Refused as refused:
        return _answer(refused.code, refused.message)
    numbers = [message["address"] for message in messages]
    fault = state.fault_for(PROVIDER, numbers)
    if fault is not None:
        return fault
    state.record(PROVIDER, numbers)
    with state.lock:
        state.extra[PROVIDER].setdefault("messages", []).extend(messages)
    results = []
    for message in messages:
        order_id = message["address"] if message["biz_type"] == BIZ_TYPE_ORDER else ""
        if message["address"].endswith(REFUSED_SUFFIX):
            results.append(
                {"code": 50001, "message": "号码无效或订单不存在", "order_id": order_id, "message_id": ""}
            )
        else:
            results.append({"code": 0, "message": "", "order_id": order_id, "message_id": str(uuid.uuid4())})
    state.hold_answer(PROVIDER)
    return _answer(0, "ok", results)

"""fw199, the Douyin (抖店) shop SMS gateway of seed 003.

- ``POST <base_url>/gateway/dd/sms/send`` (form): public parameters ``appid``, ``timestamp``
  (Unix seconds as a string), ``seller_nick`` and ``sign``; the business parameter
  ``request_data`` is a JSON string ``{sign, sms_message_list, template_id, tag}``. At most 100
  messages per call.
- Each list item is addressed by ``order_id`` (``biz_type`` 1) or by ``post_tel`` (``biz_type``
  0: the encrypted or the plain phone number) and carries its ``template_param``.
- The answer is ``{code, message, data: [{code, message, order_id, message_id}, …]}``: an outer
  code other than 0 fails the whole request, an inner code 0 accepts one message.
- fw199 documents no delivery receipts, no uplinks and no balance API: acceptance is the last
  word we get (``final_on_accept``).

Our choices where the seed says nothing (assumptions, change them here if fw199 says otherwise):

- the signing rule, see ``sign``;
- ``tag`` (one per request, echoed in receipts) carries our ``dispatch_id``;
- a message is addressed by its Douyin ``order_id`` when it has one (``biz_type`` 1), else by its
  Douyin phone ciphertext, passed as given (``biz_type`` 0), else by its plain mainland number
  (``biz_type`` 0, 11 digits: the seed allows it, the service never routes one here);
- ``template_param`` is the message's named ``template_vars`` (``{"name": "顺丰", "number": "…"}``,
  the template's variables as the seed's example shows; ``FW199_TEMPLATES`` says which
  ``sms_content`` field fills each), sent as a JSON string of that object as the seed's field
  table (``string``) and its Java example do. A message without named variables gets its
  ``template_params`` numbered from 1 (``{"1": …, "2": …}``);
- the request's template id and SMS signature are shared by the batch (the pipeline batches
  Douyin messages by business type and signature); a batch that mixes them is refused, and the
  signature falls back to ``DEFAULT_SMS_SIGN``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from providers.base import (
    DouyinTemplate,
    OutcomeStatus,
    OutgoingMessage,
    ProviderAdapter,
    ProviderRequestRejected,
    ProviderUnavailable,
    Region,
    SendOutcome,
)
from providers.numbers import mainland_digits

NAME = "fw199"
SEND_PATH = "/gateway/dd/sms/send"
SUCCESS = "0"
DEFAULT_SMS_SIGN = "去采购"
BIZ_TYPE_PHONE = 0
BIZ_TYPE_ORDER = 1
TAG_MAX_LENGTH = 512
MISSING_RESULT = "MissingResult"
# Outer codes meaning our credentials or signature are wrong (40001 is the simulator's; the real
# gateway's codes are undocumented, so an outer message naming the signature or appid counts too).
REJECTED_CODES = {"40001"}
_REJECTED_WORDS = ("sign", "appid", "签名")


def sign(params: Mapping[str, str], secret: str) -> str:
    """The request signature (an assumption: seed 003 shows ``Sign(data, AppSecret)`` but not its
    rule): every parameter except ``sign``, sorted by name, concatenated as name + value, wrapped
    in the app secret on both sides, MD5, upper-case hex."""
    joined = "".join(f"{name}{params[name]}" for name in sorted(params) if name != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()


def template_param(message: OutgoingMessage) -> str:
    """The message's named ``template_vars`` as a JSON string of an object; without them its
    ``template_params`` numbered from 1 (``{"1": p1, "2": p2, …}``)."""
    values: Mapping[str, str] = message.template_vars or {
        str(index): str(value) for index, value in enumerate(message.template_params, start=1)
    }
    return json.dumps(dict(values), ensure_ascii=False, separators=(",", ":"))


def message_item(message: OutgoingMessage) -> dict[str, Any]:
    """One ``sms_message_list`` item: by Douyin order id, else by phone ciphertext, else by the
    plain mainland number."""
    if message.order_id:
        address: dict[str, Any] = {"biz_type": BIZ_TYPE_ORDER, "order_id": message.order_id}
    elif message.phone_ciphertext:
        address = {"biz_type": BIZ_TYPE_PHONE, "post_tel": message.phone_ciphertext}
    else:
        address = {"biz_type": BIZ_TYPE_PHONE, "post_tel": mainland_digits(message.phone_e164)}
    return {**address, "template_param": template_param(message)}


def build_request_data(batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> dict[str, Any]:
    """The ``request_data`` object of one send. Every message of ``batch`` shares one template id
    and one SMS signature (``ValueError`` otherwise: the request has one of each)."""
    template_ids = {message.template_id for message in batch}
    signs = {message.sign_name or DEFAULT_SMS_SIGN for message in batch}
    if len(template_ids) != 1 or len(signs) != 1:
        raise ValueError("an fw199 request carries one template id and one signature")
    [template_id], [sms_sign] = template_ids, signs
    if not template_id:
        raise ValueError("an fw199 message needs its template id")
    return {
        "sign": sms_sign,
        "sms_message_list": [message_item(message) for message in batch],
        "template_id": template_id,
        "tag": dispatch_id[:TAG_MAX_LENGTH],
    }


# Douyin messages are order notices: station business types 0 (mall order) and 1 (order on behalf).
BUSINESS_TYPES = ("0", "1")


def templates_problem(templates: Any) -> str:
    """What is wrong with ``FW199_TEMPLATES`` (its JSON, parsed), "" when nothing is. It must be an
    object: station business type ("0", "1") → ``{"template_id": "ST_…", "params": {"<the
    template's variable>": "<the sms_content field that fills it>"}}``."""
    if not isinstance(templates, dict):
        return "not a JSON object of business types"
    for kind, entry in templates.items():
        if kind not in BUSINESS_TYPES:
            return f"business type {kind!r}: Douyin messages are of type 0 or 1"
        if not isinstance(entry, dict) or set(entry) != {"template_id", "params"}:
            return f"type {kind}: an object of template_id and params"
        template_id, params = entry["template_id"], entry["params"]
        if not isinstance(template_id, str) or not template_id.strip():
            return f"type {kind}: template_id is empty"
        if not isinstance(params, dict) or not params:
            return f"type {kind}: params is not an object of the template's variables"
        if not all(
            isinstance(name, str) and name and isinstance(field, str) and field
            for name, field in params.items()
        ):
            return f"type {kind}: params maps variable names to sms_content field names"
    return ""


def check_templates(templates: Any) -> None:
    """Stop the process, naming what is wrong, when ``FW199_TEMPLATES`` is malformed (called at
    start-up by ``ProvidersConfig.ready``)."""
    problem = templates_problem(templates)
    if problem:
        raise ImproperlyConfigured(f"FW199_TEMPLATES: {problem} (docs/configuration.md)")


def douyin_templates(raw: Mapping[str, Any]) -> dict[int, DouyinTemplate]:
    """``FW199_TEMPLATES`` (business type → ``{"template_id", "params"}``, checked at start-up by
    ``check_templates``) as ``DouyinTemplate`` per business type."""
    return {
        int(kind): DouyinTemplate(template_id=str(entry["template_id"]), params=dict(entry["params"]))
        for kind, entry in raw.items()
    }


def _match_results(batch: Sequence[OutgoingMessage], results: list[Any]) -> list[Any]:
    """Pair ``results`` with ``batch``: by position (data[i] ↔ batch[i]) when the lengths agree and
    no echoed order id contradicts it; otherwise by order id, and the order-less rest in order if
    as many results as messages remain. A message left unpaired gets ``None``."""

    def echoed(result: Any) -> str:
        return str(result.get("order_id") or "") if isinstance(result, dict) else ""

    if len(results) == len(batch) and all(
        not echoed(result) or echoed(result) == message.order_id
        for message, result in zip(batch, results, strict=True)
    ):
        return list(results)
    matched: list[Any] = [None] * len(batch)
    used: set[int] = set()
    for position, message in enumerate(batch):
        if not message.order_id:
            continue
        for index, result in enumerate(results):
            if index not in used and echoed(result) == message.order_id:
                matched[position] = result
                used.add(index)
                break
    rest_messages = [position for position, result in enumerate(matched) if result is None]
    rest_results = [
        index
        for index, result in enumerate(results)
        if index not in used and isinstance(result, dict) and not echoed(result)
    ]
    if len(rest_messages) == len(rest_results):
        for position, index in zip(rest_messages, rest_results, strict=True):
            matched[position] = results[index]
    return matched


def parse_send_answer(answer: Any, batch: Sequence[OutgoingMessage]) -> list[SendOutcome]:
    """One outcome per message of ``batch`` from fw199's (JSON-decoded) answer to a send.

    Raises ``ProviderRequestRejected`` when the outer code says our signature or appid is wrong
    and ``ProviderUnavailable`` for an answer that is not fw199's shape; any other outer failure
    fails every message with that code."""
    if not isinstance(answer, dict) or "code" not in answer:
        raise ProviderUnavailable("fw199 send: unexpected answer")
    code = str(answer["code"])
    message = str(answer.get("message") or "")
    if code != SUCCESS:
        lowered = message.lower()
        if code in REJECTED_CODES or any(word in lowered for word in _REJECTED_WORDS):
            raise ProviderRequestRejected(f"fw199 send: {message or code}", code=code)
        return [
            SendOutcome(item.record_id, OutcomeStatus.FAILED, code=code, description=message)
            for item in batch
        ]
    data = answer.get("data")
    results = _match_results(batch, data if isinstance(data, list) else [])
    outcomes = []
    for item, result in zip(batch, results, strict=True):
        if not isinstance(result, dict):
            outcomes.append(
                SendOutcome(
                    item.record_id,
                    OutcomeStatus.FAILED,
                    code=MISSING_RESULT,
                    description="fw199 returned no result for this message",
                )
            )
            continue
        inner = str(result.get("code", ""))
        outcomes.append(
            SendOutcome(
                item.record_id,
                OutcomeStatus.ACCEPTED if inner == SUCCESS else OutcomeStatus.FAILED,
                provider_message_id=str(result.get("message_id") or ""),
                code=inner,
                description=str(result.get("message") or ""),
            )
        )
    return outcomes


class Fw199Adapter(ProviderAdapter):
    name = NAME
    regions = frozenset({Region.MAINLAND})
    requires_template = True
    # Addressed by Douyin order id or phone ciphertext: Douyin shops' order messages go here.
    addresses_douyin = True
    # No delivery receipts are documented: an accepted message is final, and there is nothing to pull.
    final_on_accept = True
    send_path = SEND_PATH

    @property
    def default_sign_name(self) -> str:
        return DEFAULT_SMS_SIGN

    def douyin_template_for(self, business_type: int) -> DouyinTemplate | None:
        """The ``FW199_TEMPLATES`` entry of a station business type (None when it has none)."""
        return douyin_templates(self.config.get("templates", {})).get(int(business_type))

    def build_send_request(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> dict[str, str]:
        """The public parameters, the signed ``request_data`` of up to 100 messages sharing one
        template, and the signature."""
        request_data = build_request_data(batch, dispatch_id=dispatch_id)
        params = {
            "appid": self.config["app_id"],
            "timestamp": str(int(time.time())),
            "seller_nick": self.config["seller_nick"],
            "request_data": json.dumps(request_data, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = sign(params, self.config["app_secret"])
        return params

    def parse_send_answer(
        self, answer: Any, batch: Sequence[OutgoingMessage], *, dispatch_id: str
    ) -> list[SendOutcome]:
        return parse_send_answer(answer, batch)

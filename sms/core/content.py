"""Rendering station messages and counting billed segments."""

from __future__ import annotations

import math
from collections.abc import Mapping

from django.conf import settings

from signatures.names import strip_brackets
from sms.models import BusinessType

# Carriers count in UCS-2 units: one message holds 70 (signature included); a longer text goes in
# parts of 67 (the concatenation header takes the rest), as Chinese carriers and Tencent bill. A
# character outside the Basic Multilingual Plane (most emoji) is a surrogate pair: two units.
SINGLE_SEGMENT_CHARS = 70
MULTIPART_SEGMENT_CHARS = 67
# GSM 03.38's 7-bit alphabet, for numbers outside the mainland (international carriers use it when
# every character fits): 160 per message, parts of 153; the extension table's characters take two.
GSM7_SINGLE_SEGMENT = 160
GSM7_MULTIPART_SEGMENT = 153
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# The fields each business type needs in ``sms_content``.
REQUIRED_CONTENT_FIELDS: dict[int, tuple[str, ...]] = {
    BusinessType.MALL_ORDER: ("order_id", "sms_signature"),
    BusinessType.PROXY_ORDER: ("order_id", "sms_signature"),
    BusinessType.REGISTRATION: ("verify_code", "sms_signature"),
}

# A Douyin shop's order number in ``sms_content``: the message goes through SMS_DOUYIN_PROVIDER
# (fw199), addressed by it (docs/api-station.md). Douyin messages are order notices (types 0, 1).
DOUYIN_ORDER_ID_FIELD = "douyin_order_id"
DOUYIN_BUSINESS_TYPES = (BusinessType.MALL_ORDER, BusinessType.PROXY_ORDER)

# The whole message (signature and filled values included) is at most 500 characters, each
# character one whatever its width, as Tencent, Alibaba and Huawei count (docs/content-rules.md).
MAX_MESSAGE_CHARS = 500


class MessageTooLong(ValueError):
    """The rendered message is longer than ``MAX_MESSAGE_CHARS``."""


def signature_name(raw: str) -> str:
    """``[去采购报价单]`` or ``【去采购报价单】`` or ``去采购报价单`` → ``去采购报价单``."""
    return strip_brackets(raw)


def compose_message(*, signature: str, body: str, international: bool) -> str:
    """The text a recipient gets. Mainland numbers: ``【signature】body``, as carriers require.
    Numbers outside the mainland: ``signature: body``, a plain prefix, so that a text in the GSM-7
    alphabet stays GSM-7 (``【】`` are not in it and would bill the whole text in UCS-2)."""
    name = signature_name(signature)
    return f"{name}: {body}" if international else f"【{name}】{body}"


def check_message_length(text: str) -> None:
    """Refuse a rendered message longer than ``MAX_MESSAGE_CHARS`` characters."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageTooLong(
            f"the message is {len(text)} characters with its signature and values; "
            f"at most {MAX_MESSAGE_CHARS}"
        )


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM 7-bit alphabet (basic or extension)."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def count_segments(text: str, *, gsm7_allowed: bool = False) -> int:
    """Billed messages for ``text`` (signature included): UCS-2 units, 70 in one message, 67 per
    part; with ``gsm7_allowed`` (numbers outside the mainland) a text that fits GSM-7 counts
    septets instead, 160 in one message, 153 per part."""
    if gsm7_allowed and is_gsm7(text):
        units = len(text) + sum(1 for char in text if char in GSM7_EXTENSION)
        single, part = GSM7_SINGLE_SEGMENT, GSM7_MULTIPART_SEGMENT
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = SINGLE_SEGMENT_CHARS, MULTIPART_SEGMENT_CHARS
    return 1 if units <= single else math.ceil(units / part)


def station_templates() -> Mapping[str, str]:
    """The station message texts, one per business type ("0", "1", "2"), with ``{order_id}`` /
    ``{verify_code}`` placeholders: ``SMS_STATION_TEMPLATES``, read here only."""
    return settings.SMS_STATION_TEMPLATES


def render_station_message(
    business_type: int, sms_content: Mapping[str, str], *, international: bool = False
) -> str:
    """The full text of a station message: the signature (``compose_message``: ``【signature】``
    for mainland numbers, ``signature: `` otherwise) then the type's template.

    The template is the type's text of ``station_templates()``.
    """
    template = station_templates()[str(int(business_type))]
    body = template.format(**{key: value for key, value in sms_content.items() if key != "sms_signature"})
    return compose_message(signature=sms_content["sms_signature"], body=body, international=international)


def template_params(business_type: int, sms_content: Mapping[str, str]) -> list[str]:
    """The ordered parameters of the provider-side template (Tencent's TemplateParamSet)."""
    field = "verify_code" if business_type == BusinessType.REGISTRATION else "order_id"
    return [str(sms_content[field])]

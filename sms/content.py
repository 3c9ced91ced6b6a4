"""Rendering station messages and counting billed segments."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from django.conf import settings

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

_SIGNATURE_BRACKETS = re.compile(r"^[\[【](.*)[\]】]$")


def signature_name(raw: str) -> str:
    """``[去采购报价单]`` or ``【去采购报价单】`` or ``去采购报价单`` → ``去采购报价单``."""
    text = raw.strip()
    match = _SIGNATURE_BRACKETS.match(text)
    return (match.group(1) if match else text).strip()


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


def render_station_message(business_type: int, sms_content: Mapping[str, str]) -> str:
    """The full text of a station message: ``【signature】`` then the type's template.

    Templates come from ``SMS_STATION_TEMPLATES`` (one per business type, ``{order_id}`` /
    ``{verify_code}`` placeholders).
    """
    template = settings.SMS_STATION_TEMPLATES[str(int(business_type))]
    body = template.format(**{key: value for key, value in sms_content.items() if key != "sms_signature"})
    return f"【{signature_name(sms_content['sms_signature'])}】{body}"


def template_params(business_type: int, sms_content: Mapping[str, str]) -> list[str]:
    """The ordered parameters of the provider-side template (Tencent's TemplateParamSet)."""
    field = "verify_code" if business_type == BusinessType.REGISTRATION else "order_id"
    return [str(sms_content[field])]

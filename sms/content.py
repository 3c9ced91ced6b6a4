"""Rendering station messages and counting billed segments."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from django.conf import settings

from sms.models import BusinessType

# One message holds 70 characters (signature included); a longer text is sent in parts of 67
# (3 characters per part go to the concatenation header), as Chinese carriers and Tencent bill.
SINGLE_SEGMENT_CHARS = 70
MULTIPART_SEGMENT_CHARS = 67

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


def count_segments(text: str) -> int:
    """Billed messages for ``text`` (signature included)."""
    length = len(text)
    if length <= SINGLE_SEGMENT_CHARS:
        return 1
    return math.ceil(length / MULTIPART_SEGMENT_CHARS)


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

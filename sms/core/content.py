"""Rendering station messages and counting billed segments.

The signature's form per region and the counting of parts are ``templates_mgmt.texts`` (one copy
of the rule: the template API counts a template's sample with it too); they are named here for the
senders of ``sms``.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from sms.models import BusinessType

# Named here for the senders of ``sms``; the rule itself is templates_mgmt.texts (one copy).
from templates_mgmt.texts import (  # noqa: F401
    compose_message,
    count_segments,
    encoding,
    is_gsm7,
    signature_name,
)

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


def check_message_length(text: str) -> None:
    """Refuse a rendered message longer than ``MAX_MESSAGE_CHARS`` characters."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageTooLong(
            f"the message is {len(text)} characters with its signature and values; "
            f"at most {MAX_MESSAGE_CHARS}"
        )


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

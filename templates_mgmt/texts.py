"""The text a recipient gets and what it is billed: the signature's form per region, the encoding
and the parts (docs/content-rules.md).

One copy of the rule, for every sender: ``sms`` sends and estimates with it (``sms.core.content``
names it too), and the template API shows a template's sample parts with it (``templates_mgmt``
may not import ``sms``).
"""

from __future__ import annotations

import math

from signatures.names import strip_brackets

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
# The encodings a text is billed in, as the API names them.
GSM7 = "GSM-7"
UCS2 = "UCS-2"


def signature_name(raw: str) -> str:
    """``[去采购报价单]`` or ``【去采购报价单】`` or ``去采购报价单`` → ``去采购报价单``."""
    return strip_brackets(raw)


def compose_message(*, signature: str, body: str, international: bool) -> str:
    """The text a recipient gets. Mainland numbers: ``【signature】body``, as carriers require.
    Numbers outside the mainland: ``signature: body``, a plain prefix, so that a text in the GSM-7
    alphabet stays GSM-7 (``【】`` are not in it and would bill the whole text in UCS-2)."""
    name = signature_name(signature)
    return f"{name}: {body}" if international else f"【{name}】{body}"


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM 7-bit alphabet (basic or extension)."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def encoding(text: str, *, gsm7_allowed: bool = False) -> str:
    """``GSM-7`` when ``gsm7_allowed`` (a number outside the mainland) and the text fits that
    alphabet, else ``UCS-2``: what ``count_segments`` counts in."""
    return GSM7 if gsm7_allowed and is_gsm7(text) else UCS2


def count_segments(text: str, *, gsm7_allowed: bool = False) -> int:
    """Billed messages for ``text`` (signature included): UCS-2 units, 70 in one message, 67 per
    part; with ``gsm7_allowed`` (numbers outside the mainland) a text that fits GSM-7 counts
    septets instead, 160 in one message, 153 per part."""
    if encoding(text, gsm7_allowed=gsm7_allowed) == GSM7:
        units = len(text) + sum(1 for char in text if char in GSM7_EXTENSION)
        single, part = GSM7_SINGLE_SEGMENT, GSM7_MULTIPART_SEGMENT
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = SINGLE_SEGMENT_CHARS, MULTIPART_SEGMENT_CHARS
    return 1 if units <= single else math.ceil(units / part)

"""What a signature's name may be (docs/content-rules.md).

A signature is stored as the bare name, ``去采购``; the brackets are the sender's to add
(``【去采购】`` for mainland numbers). Registering ``【去采购】`` or ``[去采购]`` stores ``去采购``;
a name that still holds a bracket after that is refused, since carriers and providers read
``【…】`` as the signature and a second pair would be taken for one.
"""

from __future__ import annotations

import re

# One enclosing pair, of either kind (the seed's own example is ``[去采购报价单]``).
_ENCLOSED = re.compile(r"^[\[【](.*)[\]】]$", re.DOTALL)
SIGNATURE_BRACKETS = frozenset("【】[]")


class SignatureNameError(ValueError):
    """The text cannot be a signature's name."""


def strip_brackets(raw: str) -> str:
    """``[去采购报价单]`` or ``【去采购报价单】`` or ``去采购报价单`` → ``去采购报价单`` (one
    enclosing pair and the spaces around it go; nothing else is checked)."""
    text = raw.strip()
    match = _ENCLOSED.match(text)
    return (match.group(1) if match else text).strip()


def clean_signature(raw: str) -> str:
    """The name to store and render: ``raw`` without its enclosing brackets. Refused when
    nothing is left or when a bracket (``【】[]``) remains inside (``【【去采购】】``, ``去【采购``)."""
    name = strip_brackets(raw)
    if not name:
        raise SignatureNameError("signature is empty once its brackets are stripped")
    if SIGNATURE_BRACKETS & set(name):
        raise SignatureNameError(f"signature {raw!r} may not hold 【, 】, [ or ] inside its name")
    return name

"""Tencent-style numbered placeholders: ``{1}``, ``{2}`` … filled from a ``params`` list."""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_TEMPLATE_CHARS = 500
# Carriers and providers read 【…】 as the signature (Tencent, Alibaba and Huawei refuse it in
# template text): neither a template nor a parameter may hold one (docs/content-rules.md).
SIGNATURE_BRACKETS = frozenset("【】")
_PLACEHOLDER = re.compile(r"\{(\d{1,2})\}")
VERIFY_CODE_TYPE = 1
# A verification code: ASCII letters or digits. Every parameter of a verification template is
# such a token of at most 8 characters (the code, or a count of minutes), and one of them is the
# code, of 4 to 8.
_VERIFY_TOKEN = re.compile(r"[A-Za-z0-9]{1,8}")
_VERIFY_CODE = re.compile(r"[A-Za-z0-9]{4,8}")
# No parameter of any template type may break the line or carry a link: a reviewed template must
# not become a phishing message through its parameters.
_LINE_BREAK = re.compile(r"[\r\n\v\f\x85\u2028\u2029]")
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


class TemplateError(ValueError):
    """A template that does not parse, or params that do not fit it."""


def placeholder_count(template: str) -> int:
    """How many parameters the template takes; its placeholders must be ``{1}``..``{n}`` with
    none skipped, and no other braces may appear."""
    numbers = [int(match) for match in _PLACEHOLDER.findall(template)]
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        raise TemplateError("braces may only form numbered placeholders such as {1}")
    if not numbers:
        return 0
    if min(numbers) < 1 or sorted(set(numbers)) != list(range(1, max(numbers) + 1)):
        raise TemplateError("placeholders must be numbered {1} to {n} with none skipped")
    return max(numbers)


def validate_template(template: str) -> None:
    if not template.strip():
        raise TemplateError("template is empty")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"template is longer than {MAX_TEMPLATE_CHARS} characters")
    if SIGNATURE_BRACKETS & set(template):
        raise TemplateError("template may not contain 【 or 】: the signature is added when sending")
    placeholder_count(template)


def render(template: str, params: Sequence[str]) -> str:
    """Fill the placeholders; exactly as many params as placeholders are required."""
    needed = placeholder_count(template)
    if len(params) != needed:
        raise TemplateError(f"the template takes {needed} params, {len(params)} given")
    return _PLACEHOLDER.sub(lambda match: str(params[int(match.group(1)) - 1]), template)


def check_params(template_type: int, params: Sequence[str]) -> None:
    """Refuse parameters a template of ``template_type`` must not carry (docs/api-platform.md):
    line breaks, links or 【】 in any parameter; for verification templates (type 1) anything but
    ASCII letters and digits (at most 8), and no 4-to-8-character code among them."""
    for index, param in enumerate(params, start=1):
        if _LINE_BREAK.search(param):
            raise TemplateError(f"param {index} contains a line break")
        if _LINK.search(param):
            raise TemplateError(f"param {index} contains a link")
        if SIGNATURE_BRACKETS & set(param):
            raise TemplateError(f"param {index} contains 【 or 】")
    if template_type == VERIFY_CODE_TYPE and params:
        for index, param in enumerate(params, start=1):
            if not _VERIFY_TOKEN.fullmatch(param):
                raise TemplateError(
                    f"param {index}: a verification template takes ASCII letters or digits (at most 8)"
                )
        if not any(_VERIFY_CODE.fullmatch(param) for param in params):
            raise TemplateError("a verification template needs a code of 4 to 8 letters or digits")

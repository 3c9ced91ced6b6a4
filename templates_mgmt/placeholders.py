"""Tencent-style numbered placeholders: ``{1}``, ``{2}`` … filled from a ``params`` list."""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_TEMPLATE_CHARS = 500
_PLACEHOLDER = re.compile(r"\{(\d{1,2})\}")


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
    placeholder_count(template)


def render(template: str, params: Sequence[str]) -> str:
    """Fill the placeholders; exactly as many params as placeholders are required."""
    needed = placeholder_count(template)
    if len(params) != needed:
        raise TemplateError(f"the template takes {needed} params, {len(params)} given")
    return _PLACEHOLDER.sub(lambda match: str(params[int(match.group(1)) - 1]), template)

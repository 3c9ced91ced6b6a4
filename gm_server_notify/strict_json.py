"""Strict JSON: what the API and the provider callbacks accept.

Python's ``json`` module takes ``NaN`` and ``Infinity`` (which no JSON column stores), lone
surrogates such as ``"\\ud800"`` (which no UTF-8 column stores) and recurses into any nesting
(``"[" * 100000`` ended in a RecursionError, an HTTP 500). ``strict_json`` refuses all three with a
``ValueError`` that says why.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32


class _NotStrictJSON(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotStrictJSON(f"{name} is not JSON")


def _check(value: Any, depth: int = 0) -> None:
    """Refuse what strict JSON (RFC 8259 as UTF-8) cannot carry: nesting beyond MAX_JSON_DEPTH
    and lone surrogates (``"\\ud800"``), which no UTF-8 column can store."""
    if depth > MAX_JSON_DEPTH:
        raise _NotStrictJSON(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _NotStrictJSON("a string holds a lone surrogate") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def strict_json(text: str | bytes) -> Any:
    """Parse strict JSON: no ``NaN``/``Infinity``, no lone surrogates, bounded nesting. Raises
    ``ValueError`` (with a message that says why) for anything else."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth_exceeds(text):
        raise _NotStrictJSON(f"nested deeper than {MAX_JSON_DEPTH} levels")
    value = json.loads(text, parse_constant=_refuse_constant)
    _check(value)
    return value


def _depth_exceeds(text: str) -> bool:
    """Whether brackets outside strings nest deeper than MAX_JSON_DEPTH (checked before parsing:
    the parser itself would recurse into the deep nesting)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False

"""Durations as operators write them: ``10s``, ``1.5m``, ``2h``, ``1d``; a bare number is seconds.

The one rule of time units: the settings' duration lists (``WEBHOOK_RETRY_SCHEDULE``) and the
verify-code windows (``SMS_VERIFY_LIMITS``, ``sms.sending.limits``) both read their periods here,
and the console writes its ages in the same units (``text``).
"""

from __future__ import annotations

import itertools

UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> float:
    """``text`` in seconds: a number, then optionally one of ``UNITS``; ``ValueError`` otherwise."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in UNITS else (text, "s")
    return float(number) * UNITS[unit]


def text(seconds: float) -> str:
    """``seconds`` in the same units, down to the largest that fits and the next: ``42s``,
    ``5m 3s``, ``2h 10m``, ``3d 4h`` (the rest is dropped; under a second is ``0s``). What the
    console shows."""
    remaining = max(0, int(seconds))
    largest_first = sorted(UNITS.items(), key=lambda item: -item[1])
    for (unit, size), (next_unit, next_size) in itertools.pairwise(largest_first):
        if remaining >= size:
            whole, rest = divmod(remaining, size)
            return f"{whole}{unit} {rest // next_size}{next_unit}" if rest >= next_size else f"{whole}{unit}"
    return f"{remaining}s"

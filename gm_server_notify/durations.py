"""Durations as operators write them: ``10s``, ``1.5m``, ``2h``, ``1d``; a bare number is seconds.

The one rule of time units: the settings' duration lists (``WEBHOOK_RETRY_SCHEDULE``) and the
verify-code windows (``SMS_VERIFY_LIMITS``, ``sms.sending.limits``) both read their periods here.
"""

from __future__ import annotations

UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> float:
    """``text`` in seconds: a number, then optionally one of ``UNITS``; ``ValueError`` otherwise."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in UNITS else (text, "s")
    return float(number) * UNITS[unit]

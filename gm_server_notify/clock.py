"""The business clock: what "now" is for sending hours and scheduled sends.

In production it is the system clock (``timezone.now()``). A developer's machine or the test suite
may make it settable (``GM_SETTABLE_CLOCK=true``, refused without ``GM_EMBEDDED_DEFAULTS``): an
offset kept in the shared cache moves "now" for every process at once (web, workers, beat), so a
test can accept a marketing batch at 22:00 China time and see it released at 08:00 without waiting
ten hours. Only the marketing hours, the release of held batches and the day and month of the
tenants' caps (``sms.accounting.caps``) read this clock; record times (``created_at``,
``submitted_at`` …) keep the system clock.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

OFFSET_KEY = "gm:business-clock-offset-seconds"


def now() -> dt.datetime:
    """The business time now (aware, UTC)."""
    current = timezone.now()
    if not settings.GM_SETTABLE_CLOCK:
        return current
    return current + dt.timedelta(seconds=_offset())


def _offset() -> float:
    try:
        return float(cache.get(OFFSET_KEY) or 0.0)
    except Exception:  # noqa: BLE001 - a test aid: an unreachable cache means no offset
        logger.warning("the settable clock's offset could not be read; using the system clock")
        return 0.0


def set_now(moment: dt.datetime) -> None:
    """Make the business clock read ``moment`` now and run on from there (settable clock only)."""
    if not settings.GM_SETTABLE_CLOCK:
        raise RuntimeError("the business clock is the system clock: set GM_SETTABLE_CLOCK=true")
    cache.set(OFFSET_KEY, (moment - timezone.now()).total_seconds(), timeout=None)


def reset() -> None:
    """Back to the system clock (settable clock only)."""
    if settings.GM_SETTABLE_CLOCK:
        cache.delete(OFFSET_KEY)

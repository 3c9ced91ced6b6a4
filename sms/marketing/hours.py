"""Marketing hours: when a marketing (template type 3) message may go out.

Carriers and clouds in China take marketing SMS only in daytime; ``SMS_MARKETING_HOURS`` (default
``08:00-21:00``, China time, the closing minute excluded) is that window. A marketing batch
accepted outside it, or scheduled (``send_at``) outside it, is held and released at the next
opening; one whose dispatch would run after closing is held again (``sms.sending.pipeline``). Verify codes
and notices are never held for the hours. Times are on the business clock
(``gm_server_notify.clock``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone


def _seconds_of_day(moment: dt.datetime) -> int:
    local = timezone.localtime(moment)
    return local.hour * 3600 + local.minute * 60 + local.second


def in_marketing_hours(moment: dt.datetime) -> bool:
    """Whether marketing may be sent at ``moment`` (always, when no window is set)."""
    window = settings.SMS_MARKETING_HOURS
    if window is None:
        return True
    opening, closing = window
    now = _seconds_of_day(moment)
    if opening < closing:
        return opening <= now < closing
    return now >= opening or now < closing  # the window spans midnight


def next_opening(moment: dt.datetime) -> dt.datetime:
    """The first moment at or after ``moment`` within the marketing hours (``moment`` itself when
    it is within them)."""
    if in_marketing_hours(moment):
        return moment
    opening, _ = settings.SMS_MARKETING_HOURS
    local = timezone.localtime(moment)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Wall-clock arithmetic in China time, which has no daylight saving.
    candidate = midnight + dt.timedelta(seconds=opening)
    if candidate <= local:
        candidate += dt.timedelta(days=1)
    return candidate.astimezone(dt.UTC)


def release_time(*, now: dt.datetime, send_at: dt.datetime | None, marketing: bool) -> dt.datetime | None:
    """When a batch accepted ``now`` may go out: ``send_at`` when later than now, moved to the next
    opening for marketing outside the hours; None when it goes out at once."""
    start = send_at if send_at is not None and send_at > now else now
    if marketing:
        start = next_opening(start)
    return start if start > now else None

"""The station's day: the calendar of Asia/Shanghai (``TIME_ZONE``), whatever the host's clock.

Statistics, lists filtered by date and reconciliation all count days this way; a UTC date would
move every record made between 00:00 and 08:00 China time to the day before.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def local_date(moment: dt.datetime) -> dt.date:
    """The station's day ``moment`` falls on."""
    return timezone.localdate(moment)


def local_day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start 00:00, end+1 00:00)`` in the service's time zone (Asia/Shanghai)."""
    zone = timezone.get_default_timezone()
    lower = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    upper = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return lower, upper

"""``SMS_STATION_DAILY_CAP``: the messages a station may add per day of its own (China time).

A ceiling against a runaway caller, separate from the balance: a station with money left is still
refused (station code 1008, HTTP 429) once it has added this many messages today.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from gm_server_notify.errors import RateLimited
from sms.core.days import local_date, local_day_bounds
from sms.models import SendRecord, Station


def check_daily_cap(station: Station) -> None:
    """Refuse an add once the station has added ``SMS_STATION_DAILY_CAP`` messages today (0: no
    cap). Call with the station's row locked (the balance update does it), so concurrent adds
    count each other."""
    cap = settings.SMS_STATION_DAILY_CAP
    if not cap:
        return
    today = local_date(timezone.now())
    midnight, _ = local_day_bounds(today, today)
    if SendRecord.objects.filter(station_id=station.station_id, created_at__gte=midnight).count() >= cap:
        raise RateLimited(f"the station's daily cap of {cap} messages is reached")

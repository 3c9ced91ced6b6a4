"""The query parameters of the console's JSON endpoints (/dashboard/api/*), checked: a bad one is
a ``BadQuery`` naming it, which the view answers 400 (docs/operations.md "Console JSON API")."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

import phonenumbers

from sms.models import TrafficChannel, TrafficKind

DEFAULT_DAYS = 30
MAX_DAYS = 400
MAX_HOUR_GRAIN_DAYS = 7
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
YEARS = (2000, 2099)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAME = re.compile(r"[\w.@+\-:]{1,150}")
_CALLING_CODE = re.compile(r"\+\d{1,3}")


class BadQuery(ValueError):
    """A parameter the endpoint cannot answer; its message names the parameter."""


@dataclass(frozen=True)
class TrafficQuery:
    first_day: dt.date
    last_day: dt.date
    grain: str = "day"
    channel: str = ""
    tenant: str = ""
    station: str = ""
    provider: str = ""
    region: str = ""
    kind: str = ""
    limit: int = DEFAULT_LIMIT

    @property
    def owner(self) -> str:
        return self.tenant or self.station

    def filters(self) -> dict[str, str]:
        """The filters given, as the answers echo them."""
        names = ("channel", "tenant", "station", "provider", "region", "kind")
        return {name: getattr(self, name) for name in names if getattr(self, name)}


def _day(params: Mapping[str, str], name: str) -> dt.date | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    if not _DAY.fullmatch(text):
        raise BadQuery(f"{name}: a China-time day as YYYY-MM-DD, not {text[:40]!r}")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadQuery(f"{name}: no such day {text!r}") from exc
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise BadQuery(f"{name}: a day of the years {YEARS[0]} to {YEARS[1]}")
    return day


def _choice(params: Mapping[str, str], name: str, choices: list[str]) -> str:
    value = params.get(name, "").strip()
    if value and value not in choices:
        raise BadQuery(f"{name}: one of {', '.join(choices)}, not {value[:40]!r}")
    return value


def _name(params: Mapping[str, str], name: str, max_length: int) -> str:
    value = params.get(name, "").strip()
    if value and (len(value) > max_length or not _NAME.fullmatch(value)):
        raise BadQuery(f"{name}: at most {max_length} letters, digits and . @ + - _ :")
    return value


def _region(params: Mapping[str, str]) -> str:
    """A calling code (``+86``) or an ISO region (``CN``), as the calling code."""
    value = params.get("region", "").strip()
    if not value:
        return ""
    if _CALLING_CODE.fullmatch(value) and phonenumbers.region_code_for_country_code(int(value[1:])) != "ZZ":
        return value
    if len(value) == 2 and value.isalpha():
        code = phonenumbers.country_code_for_region(value.upper())
        if code:
            return f"+{code}"
    raise BadQuery(f"region: a calling code such as +86 or a region such as CN, not {value[:40]!r}")


def _limit(params: Mapping[str, str]) -> int:
    text = params.get("limit", "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadQuery(f"limit: a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def parse_query(params: Mapping[str, str], *, today: dt.date) -> TrafficQuery:
    """The endpoints' common parameters: ``from``, ``to`` (China-time days, inclusive; default the
    last 30 days to today), ``grain``, the filters and ``limit``."""
    first = _day(params, "from")
    last = _day(params, "to")
    if last is None:
        last = today if first is None else min(first + dt.timedelta(days=DEFAULT_DAYS - 1), max(first, today))
    if first is None:
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadQuery("from: after to")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise BadQuery(f"from, to: at most {MAX_DAYS} days, not {days}")
    grain = _choice(params, "grain", ["day", "hour"]) or "day"
    if grain == "hour" and days > MAX_HOUR_GRAIN_DAYS:
        raise BadQuery(f"grain: hour only for ranges up to {MAX_HOUR_GRAIN_DAYS} days, not {days}")
    channel = _choice(params, "channel", TrafficChannel.values)
    tenant = _name(params, "tenant", 150)
    station = _name(params, "station", 32)
    if tenant and station:
        raise BadQuery("tenant, station: one or the other")
    if (tenant and channel == TrafficChannel.STATION) or (station and channel == TrafficChannel.TENANT):
        raise BadQuery("channel: does not match the tenant or station asked for")
    return TrafficQuery(
        first_day=first,
        last_day=last,
        grain=grain,
        channel=channel or (TrafficChannel.TENANT if tenant else TrafficChannel.STATION if station else ""),
        tenant=tenant,
        station=station,
        provider=_name(params, "provider", 16),
        region=_region(params),
        kind=_choice(params, "kind", TrafficKind.values),
        limit=_limit(params),
    )

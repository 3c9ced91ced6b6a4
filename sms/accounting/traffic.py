"""The traffic rollup: every send record, stations' and tenants', counted per China-time hour of
creation into ``TrafficHour`` (per owner) and ``TrafficHourTotal`` (over the owners), per day
into ``TrafficDayTotal`` (over the owners) and ``TrafficOwnerDay`` (per owner, over the states):
what the console's JSON reads (docs/operations.md "Console JSON API").

Beat runs ``roll_up`` every minute: the records whose ``updated_at`` moved since the last run's
start (less ``SMS_TRAFFIC_OVERLAP_SECONDS``, for transactions that committed late) name the hours
they were created in, and each such hour is recomputed from ``tbl_sms_send_record`` (the
``created_at`` index) in one transaction: its rows deleted, the new ones inserted. A recompute
depends only on the records, so running it again changes nothing. Each recompute first locks the
watermark row, so two never interleave (beat and ``manage.py rebuild_traffic``); one run at a time
(a cache lock), the next beat skips while one runs. The first run, with no watermark, recomputes
every hour from the oldest record. Test mode's records (docs/api-platform.md "Test mode") are
never counted: they were never sent nor charged.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Substr
from django.utils import timezone

from sms.models import (
    FINAL_STATES,
    BusinessType,
    RecordState,
    SendRecord,
    TrafficChannel,
    TrafficDayTotal,
    TrafficHour,
    TrafficHourTotal,
    TrafficKind,
    TrafficOwnerDay,
    TrafficWatermark,
)

logger = logging.getLogger(__name__)

LOCK_KEY = "sms:traffic:running"
LOCK_SECONDS = 3600
WATERMARK = "traffic"
HOUR = dt.timedelta(hours=1)

# Delivery latency (submit to report) is counted in these buckets, by upper bound in ms; slower
# than the last: ``OVER``. JSON keys are strings.
LATENCY_BUCKETS_MS = (
    250,
    500,
    1_000,
    2_000,
    3_000,
    5_000,
    10_000,
    20_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    1_800_000,
    3_600_000,
    21_600_000,
    86_400_000,
)
OVER = "inf"
_NO_LATENCY = 0
_OVER_MS = 10**13

# A tenant batch's template_type: 1 verify, 2 notice, 3 marketing, 0 (older batches) notice.
TENANT_KINDS = {1: TrafficKind.VERIFY, 2: TrafficKind.NOTICE, 3: TrafficKind.MARKETING}


def hour_of(instant: dt.datetime) -> dt.datetime:
    """The start of the China-time hour ``instant`` falls in (aware, in the current time zone)."""
    return timezone.localtime(instant).replace(minute=0, second=0, microsecond=0)


def region_of_prefix(prefix: str) -> str:
    """The calling code (``+86``) of a stored number from its first four characters; a Douyin
    phone ciphertext (``$…``) is mainland; "" when none can be read (an erased number)."""
    if prefix.startswith("$"):
        return "+86"
    if not prefix.startswith("+"):
        return ""
    digits = prefix[1:]
    for length in (1, 2, 3):
        code = digits[:length]
        if code.isdigit() and len(code) == length and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return f"+{code}"
    return ""


def latency_percentile(buckets: dict[str, int], fraction: float) -> int | None:
    """The upper bound (ms) of the bucket the ``fraction`` quantile falls in; None when empty;
    beyond the last bucket, its bound."""
    total = sum(buckets.values())
    if not total:
        return None
    wanted = fraction * total
    seen = 0
    for bound in (*LATENCY_BUCKETS_MS, OVER):
        seen += buckets.get(str(bound), 0)
        if seen >= wanted:
            return LATENCY_BUCKETS_MS[-1] if bound == OVER else int(bound)
    return LATENCY_BUCKETS_MS[-1]


def _latency_bucket() -> Case:
    """The bucket of a record's ``latency`` annotation; 0 when it has none."""
    timed = Q(state__in=FINAL_STATES, submitted_at__isnull=False, finished_at__isnull=False)
    whens = [
        When(timed & Q(latency__lte=dt.timedelta(milliseconds=bound)), then=Value(bound))
        for bound in LATENCY_BUCKETS_MS
    ]
    return Case(
        *whens, When(timed, then=Value(_OVER_MS)), default=Value(_NO_LATENCY), output_field=IntegerField()
    )


def _grouped(start: dt.datetime, end: dt.datetime) -> Iterable[dict[str, Any]]:
    """The records created in ``[start, end)`` grouped by everything a traffic row is keyed on,
    and by what decides which measures each group adds to (one query on the created_at index)."""
    return (
        SendRecord.objects.filter(created_at__gte=start, created_at__lt=end, test=False)
        .annotate(
            latency=ExpressionWrapper(F("finished_at") - F("submitted_at"), output_field=DurationField()),
            prefix=Substr("phone_e164", 1, 4),
            bucket=_latency_bucket(),
            code=Case(When(state=RecordState.FAILED, then=F("provider_code")), default=Value("")),
            accepted=Case(When(submitted_at__isnull=False, then=Value(1)), default=Value(0)),
        )
        .values(
            "station_id",
            "batch__tenant__user__username",
            "batch__template_type",
            "business_type",
            "provider",
            "prefix",
            "state",
            "refunded",
            "accepted",
            "code",
            "bucket",
        )
        .annotate(
            n=Count("id"),
            parts_sum=Sum("segments"),
            billed=Sum(Coalesce("billed_parts", "segments")),
            first=Min("id"),
        )
        .order_by()
    )


def _key(group: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    if group["station_id"] is None and group["batch__tenant__user__username"] is not None:
        channel, owner = TrafficChannel.TENANT, group["batch__tenant__user__username"]
        kind = TENANT_KINDS.get(group["batch__template_type"] or 0, TrafficKind.NOTICE)
    else:
        channel, owner = TrafficChannel.STATION, group["station_id"] or ""
        kind = (
            TrafficKind.VERIFY if group["business_type"] == BusinessType.REGISTRATION else TrafficKind.ORDER
        )
    return (
        channel.value,
        owner,
        group["provider"] or "",
        region_of_prefix(group["prefix"] or ""),
        kind.value,
        group["state"],
    )


def _empty() -> dict[str, Any]:
    return {
        "records": 0,
        "parts": 0,
        "charged_parts": 0,
        "provider_parts": 0,
        "latency_buckets": {},
        "provider_codes": {},
        "first_record_id": None,
    }


def _add(row: dict[str, Any], group: dict[str, Any]) -> None:
    """Add one group of records (or one row) to ``row``."""
    row["records"] += group["records"]
    row["parts"] += group["parts"]
    row["charged_parts"] += group["charged_parts"]
    row["provider_parts"] += group["provider_parts"]
    for field in ("latency_buckets", "provider_codes"):
        for name, count in group[field].items():
            row[field][name] = row[field].get(name, 0) + count
    first = group["first_record_id"]
    if row["first_record_id"] is None or first < row["first_record_id"]:
        row["first_record_id"] = first


def _measures(group: dict[str, Any]) -> dict[str, Any]:
    bucket = group["bucket"]
    return {
        "records": group["n"],
        "parts": group["parts_sum"] or 0,
        "charged_parts": 0 if group["refunded"] else group["parts_sum"] or 0,
        "provider_parts": group["billed"] or 0 if group["accepted"] else 0,
        "latency_buckets": {}
        if bucket == _NO_LATENCY
        else {OVER if bucket == _OVER_MS else str(bucket): group["n"]},
        "provider_codes": {group["code"]: group["n"]} if group["code"] else {},
        "first_record_id": group["first"],
    }


def hour_rows(hour: dt.datetime) -> dict[tuple[str, ...], dict[str, Any]]:
    """The traffic rows of one hour, keyed by (channel, owner, provider, region, kind, state)."""
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for group in _grouped(hour, hour + HOUR):
        _add(rows.setdefault(_key(group), _empty()), _measures(group))
    return rows


def recompute_hour(hour: dt.datetime) -> int:
    """Recompute the traffic rows of the China-time hour starting at ``hour``, in one transaction
    under the watermark row's lock. Returns how many per-owner rows it has now."""
    hour = hour_of(hour)
    TrafficWatermark.objects.get_or_create(name=WATERMARK)
    with transaction.atomic():
        TrafficWatermark.objects.select_for_update().get(name=WATERMARK)
        rows = hour_rows(hour)
        totals: dict[tuple[str, ...], dict[str, Any]] = {}
        for (channel, _owner, *rest), row in rows.items():
            _add(totals.setdefault((channel, *rest), _empty()), row)
        day = hour.date()
        TrafficHour.objects.filter(hour=hour).delete()
        TrafficHourTotal.objects.filter(hour=hour).delete()
        TrafficHour.objects.bulk_create(
            [
                TrafficHour(
                    hour=hour, day=day, channel=c, owner=o, provider=p, region=r, kind=k, state=s, **row
                )
                for (c, o, p, r, k, s), row in rows.items()
            ],
            batch_size=1000,
        )
        TrafficHourTotal.objects.bulk_create(
            [
                TrafficHourTotal(hour=hour, day=day, channel=c, provider=p, region=r, kind=k, state=s, **row)
                for (c, p, r, k, s), row in totals.items()
            ],
            batch_size=1000,
        )
    return len(rows)


_MEASURES = (
    "records",
    "parts",
    "charged_parts",
    "provider_parts",
    "latency_buckets",
    "provider_codes",
    "first_record_id",
)


def recompute_owner_day(day: dt.date) -> int:
    """Rewrite the ``TrafficOwnerDay`` and ``TrafficDayTotal`` rows of one China-time day from its
    hours' rows, in one transaction under the watermark row's lock. Returns how many owner rows
    it has now."""
    TrafficWatermark.objects.get_or_create(name=WATERMARK)
    with transaction.atomic():
        TrafficWatermark.objects.select_for_update().get(name=WATERMARK)
        totals: dict[tuple[str, ...], dict[str, Any]] = {}
        keys = ("channel", "provider", "region", "kind", "state")
        for row in TrafficHourTotal.objects.filter(day=day).values(*keys, *_MEASURES):
            _add(totals.setdefault(tuple(row[key] for key in keys), _empty()), row)
        TrafficDayTotal.objects.filter(day=day).delete()
        TrafficDayTotal.objects.bulk_create(
            [
                TrafficDayTotal(day=day, channel=c, provider=p, region=r, kind=k, state=s, **row)
                for (c, p, r, k, s), row in totals.items()
            ],
            batch_size=1000,
        )
        groups = (
            TrafficHour.objects.filter(day=day)
            .values("channel", "owner", "provider", "region", "kind")
            .annotate(
                n=Sum("records"),
                delivered=Sum(Case(When(state=RecordState.DELIVERED, then=F("records")), default=Value(0))),
                failed=Sum(Case(When(state=RecordState.FAILED, then=F("records")), default=Value(0))),
                parts_sum=Sum("parts"),
                charged=Sum("charged_parts"),
                billed=Sum("provider_parts"),
            )
            .order_by()
        )
        latencies = owner_day_latencies(day)
        rows = [
            TrafficOwnerDay(
                day=day,
                channel=group["channel"],
                owner=group["owner"],
                provider=group["provider"],
                region=group["region"],
                kind=group["kind"],
                records=group["n"],
                delivered=group["delivered"],
                failed=group["failed"],
                parts=group["parts_sum"],
                charged_parts=group["charged"],
                provider_parts=group["billed"],
                latency_buckets=latencies.get(
                    (group["channel"], group["owner"], group["provider"], group["region"], group["kind"]), {}
                ),
            )
            for group in groups
        ]
        TrafficOwnerDay.objects.filter(day=day).delete()
        TrafficOwnerDay.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def owner_day_latencies(day: dt.date) -> dict[tuple[str, ...], dict[str, int]]:
    """The latency buckets of one day's delivered and failed records, merged per (channel, owner,
    provider, region, kind) from that day's hourly rows (JSON: merged here, not in SQL)."""
    merged: dict[tuple[str, ...], dict[str, int]] = {}
    rows = TrafficHour.objects.filter(day=day, state__in=FINAL_STATES).values_list(
        "channel", "owner", "provider", "region", "kind", "latency_buckets"
    )
    for *key, buckets in rows.iterator(chunk_size=5000):
        into = merged.setdefault(tuple(key), {})
        for bound, count in buckets.items():
            into[bound] = into.get(bound, 0) + count
    return merged


def recompute(hours: Iterable[dt.datetime]) -> int:
    """Recompute ``hours`` (one transaction each), then the owner rows of each of their days."""
    hours = sorted({hour_of(hour) for hour in hours})
    for index, hour in enumerate(hours):
        recompute_hour(hour)
        if index + 1 == len(hours) or hours[index + 1].date() != hour.date():
            recompute_owner_day(hour.date())
    return len(hours)


def hours_between(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """Every hour start from ``first``'s hour to ``last``'s, inclusive."""
    hour, end, hours = hour_of(first), hour_of(last), []
    while hour <= end:
        hours.append(hour)
        hour = hour_of(hour + HOUR)
    return hours


def dirty_hours(*, since: dt.datetime | None) -> list[dt.datetime]:
    """The hours of the records changed at or after ``since`` (read through the (state,
    updated_at) index); every hour since the oldest record when ``since`` is None."""
    if since is None:
        oldest = SendRecord.objects.order_by("created_at").values_list("created_at", flat=True).first()
        return hours_between(oldest, timezone.now()) if oldest else []
    changed = SendRecord.objects.filter(state__in=RecordState.values, updated_at__gte=since)
    return sorted({hour_of(created) for created in changed.values_list("created_at", flat=True).iterator()})


@dataclass(frozen=True)
class RollupReport:
    ran: bool  # False: another run held the lock
    hours: int = 0


def roll_up() -> RollupReport:
    """Beat: recompute the hours whose records changed since the last run (see the module)."""
    token = uuid.uuid4().hex
    if not cache.add(LOCK_KEY, token, timeout=LOCK_SECONDS):
        return RollupReport(ran=False)
    try:
        started = timezone.now()
        watermark, _ = TrafficWatermark.objects.get_or_create(name=WATERMARK)
        since = watermark.updated_before
        if since is not None:
            since -= dt.timedelta(seconds=settings.SMS_TRAFFIC_OVERLAP_SECONDS)
        hours = recompute(dirty_hours(since=since))
        TrafficWatermark.objects.filter(name=WATERMARK).update(updated_before=started)
        return RollupReport(ran=True, hours=hours)
    finally:
        if cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)


def rebuild(*, first_day: dt.date, last_day: dt.date) -> int:
    """Recompute every hour of the China-time days ``[first_day, last_day]`` (manage.py
    rebuild_traffic). Returns the hours recomputed."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(first_day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last_day, dt.time(23), tzinfo=zone)
    return recompute(hours_between(start, end))

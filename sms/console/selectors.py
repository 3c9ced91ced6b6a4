"""Reads of the operators' console: the traffic figures behind /dashboard/api/, the providers'
cached balances, and the lanes' backlog and bulk senders (also the lanes' gauges at /metrics,
``sms.console.metrics``)."""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from django.db.models import Min, Q, QuerySet, Sum
from django.utils import timezone

from providers.balances import cached_balance
from providers.base import ProviderBalance
from sms.accounting import traffic
from sms.console.params import TrafficQuery
from sms.models import (
    FINAL_STATES,
    Lane,
    PendingReport,
    RecordState,
    SendRecord,
    Station,
    TenantAccount,
    TrafficChannel,
    TrafficDayTotal,
    TrafficHour,
    TrafficHourTotal,
    TrafficOwnerDay,
    WebhookEvent,
    WebhookEventState,
)
from sms.sending import fairness

logger = logging.getLogger(__name__)

# A lane's waiting records are counted up to this many: counting walks the index entry by entry
# (a million queued bulk records took 0.5 s on MariaDB, at every scrape); 10,000 take ~10 ms.
LANE_COUNT_CAP = 10_000


def cached_provider_balances() -> dict[str, ProviderBalance | None]:
    """The providers' balances as last cached by beat (never asks a provider)."""
    return {provider: cached_balance(provider) for provider in settings.SMS_BALANCE_PROVIDERS}


@dataclass(frozen=True)
class LaneBacklog:
    """One lane's records waiting for a worker (``queued``)."""

    lane: str  # the lane's label: priority, transactional, bulk
    oldest_queued_at: dt.datetime | None  # None when none waits
    age_seconds: float  # since the oldest was queued; 0 when none waits
    waiting: int  # how many wait, counted up to LANE_COUNT_CAP

    @property
    def capped(self) -> bool:
        """At least ``LANE_COUNT_CAP`` wait (more were not counted)."""
        return self.waiting >= LANE_COUNT_CAP


def lane_backlog(*, now: dt.datetime | None = None) -> list[LaneBacklog]:
    """Per lane, in ``Lane`` order, how long its oldest ``queued`` record has waited and how many
    wait. A record put back to ``queued`` after a failed attempt keeps its ``queued_at``: the age
    is how long its recipient has been waiting, retries included.

    Both read ``record_lane_waiting_idx`` (state, lane, queued_at) only: the MIN is one index
    lookup (MariaDB's EXPLAIN: "Select tables optimized away"), the count at most
    ``LANE_COUNT_CAP`` index entries."""
    now = now or timezone.now()
    backlog = []
    for lane in Lane:
        waiting = SendRecord.objects.filter(state=RecordState.QUEUED, lane=lane)
        oldest = waiting.aggregate(oldest=Min("queued_at"))["oldest"]
        backlog.append(
            LaneBacklog(
                lane=lane.label,
                oldest_queued_at=oldest,
                age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
                waiting=waiting.values("pk")[:LANE_COUNT_CAP].count(),
            )
        )
    return backlog


@dataclass(frozen=True)
class BulkSenders:
    """The bulk lane's senders with batches parked for their turn (``sms.sending.fairness``)."""

    senders: int
    batches: int
    top: list[tuple[str, int]]  # (sender, parked batches), most batches first


def bulk_senders_waiting(*, top: int = 10) -> BulkSenders | None:
    """The bulk lane's parked batches per sender, the ``top`` senders by batches; None when Redis
    cannot be reached (without Redis, the embedded default, nothing is ever parked: zeros)."""
    try:
        parked = fairness.waiting()
    except redis.RedisError as exc:
        logger.warning("bulk lane: the parked batches could not be read (%s)", type(exc).__name__)
        return None
    parked = {sender: batches for sender, batches in parked.items() if batches}
    ranked = sorted(parked.items(), key=lambda item: (-item[1], item[0]))
    return BulkSenders(senders=len(parked), batches=sum(parked.values()), top=ranked[:top])


# --- The console's JSON (/dashboard/api/*): reads of the traffic rows (sms.accounting.traffic) -------
# A selector answers its JSON body and the same figures as one table (the ?format=csv answer).

HEALTH_COUNT_CAP = 100_000
SERIES_STATES = ("delivered", "failed", "unknown")
BALANCE_RATE_DAYS = 7


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    header: list[str]
    rows: list[list[Any]]


def _head(query: TrafficQuery) -> dict[str, Any]:
    return {"from": query.first_day.isoformat(), "to": query.last_day.isoformat(), "filters": query.filters()}


def _filtered(queryset: QuerySet, query: TrafficQuery, *, owner: bool = True) -> QuerySet:
    rows = queryset.filter(day__gte=query.first_day, day__lte=query.last_day)
    if query.channel:
        rows = rows.filter(channel=query.channel)
    if query.owner and owner:
        rows = rows.filter(owner=query.owner)
    for name in ("provider", "region", "kind"):
        if getattr(query, name):
            rows = rows.filter(**{name: getattr(query, name)})
    return rows


def _traffic(query: TrafficQuery, *, hourly: bool = False) -> QuerySet:
    """The traffic rows the query asks about: one owner's hours when it names one; else over the
    owners, per hour when ``hourly``, per day otherwise (the fewest rows that answer)."""
    if query.owner:
        return _filtered(TrafficHour.objects.all(), query)
    return _filtered(TrafficHourTotal.objects.all() if hourly else TrafficDayTotal.objects.all(), query)


def _rate(delivered: int, failed: int) -> float | None:
    return round(delivered / (delivered + failed), 4) if delivered + failed else None


def traffic_summary(*, query: TrafficQuery) -> Answer:
    """Records per channel and state, parts and the delivery rate over the query's days."""
    channels = {channel: dict.fromkeys(RecordState.values, 0) for channel in TrafficChannel.values}
    parts = 0
    for row in (
        _traffic(query).values("channel", "state").annotate(n=Sum("records"), p=Sum("parts")).order_by()
    ):
        channels[row["channel"]][row["state"]] = row["n"]
        parts += row["p"]
    by_state = {state: sum(channels[channel][state] for channel in channels) for state in RecordState.values}
    body = {
        **_head(query),
        "channels": channels,
        "records": sum(by_state.values()),
        "parts": parts,
        "delivered": by_state[RecordState.DELIVERED],
        "failed": by_state[RecordState.FAILED],
        "unknown": by_state[RecordState.UNKNOWN],
        "delivery_rate": _rate(by_state[RecordState.DELIVERED], by_state[RecordState.FAILED]),
        "units": {
            "records": "messages (one per recipient)",
            "parts": "SMS parts (segments)",
            "delivery_rate": "delivered / (delivered + failed), 0 to 1",
        },
    }
    rows = [
        [channel, state, count] for channel, states in channels.items() for state, count in states.items()
    ]
    return Answer(body, ["channel", "state", "records"], rows)


def _china_iso(instant: dt.datetime) -> str:
    return timezone.localtime(instant).isoformat()


def traffic_series(*, query: TrafficQuery) -> Answer:
    """Records per day (or hour) and outcome, zero-filled: delivered, failed, unknown, other."""
    zone = timezone.get_current_timezone()
    if query.grain == "hour":
        start = dt.datetime.combine(query.first_day, dt.time(), tzinfo=zone)
        slots = [
            start + dt.timedelta(hours=n) for n in range(24 * ((query.last_day - query.first_day).days + 1))
        ]
        keys = [_china_iso(slot) for slot in slots]
        field = "hour"
    else:
        keys = [
            (query.first_day + dt.timedelta(days=n)).isoformat()
            for n in range((query.last_day - query.first_day).days + 1)
        ]
        field = "day"
    points = {key: {"at": key, **dict.fromkeys((*SERIES_STATES, "other"), 0)} for key in keys}
    for row in (
        _traffic(query, hourly=field == "hour").values(field, "state").annotate(n=Sum("records")).order_by()
    ):
        at = _china_iso(row[field]) if field == "hour" else row[field].isoformat()
        if at in points:
            points[at][row["state"] if row["state"] in SERIES_STATES else "other"] += row["n"]
    listed = list(points.values())
    header = ["at", *SERIES_STATES, "other"]
    body = {**_head(query), "grain": query.grain, "unit": "records", "points": listed}
    return Answer(body, header, [[point[name] for name in header] for point in listed])


def _owner_records(owner: str, channel: str) -> Q:
    if channel == TrafficChannel.TENANT:
        return Q(batch__tenant__user__username=owner, station_id__isnull=True)
    return Q(station_id=owner)


def traffic_failures(*, query: TrafficQuery) -> Answer:
    """The top provider codes of failed records, with an example record of each."""
    counts: dict[tuple[str, str], int] = {}
    example_rows: dict[tuple[str, str], tuple[dt.date, int, str, str]] = {}
    owner_field = ("owner",) if query.owner else ()
    rows = _traffic(query).filter(state=RecordState.FAILED)
    for row in rows.values_list(
        "provider", "provider_codes", "day", "first_record_id", "channel", *owner_field
    ):
        provider, codes, day, first, channel = row[:5]
        for code, count in codes.items():
            key = (provider, code)
            counts[key] = counts.get(key, 0) + count
            if key not in example_rows or first < example_rows[key][1]:
                example_rows[key] = (day, first, channel, row[5] if owner_field else "")
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: query.limit]
    failures = []
    for (provider, code), count in top:
        day, first, channel, owner = example_rows[(provider, code)]
        # The day's first hour with such a record (a few dozen hourly rows), then the record in
        # that hour: reading a whole day of records for it took seconds at 5,000,000 records.
        hours = _traffic(query, hourly=True).filter(day=day, state=RecordState.FAILED, provider=provider)
        hour = next(
            (
                hour
                for hour, codes in hours.order_by("hour").values_list("hour", "provider_codes")
                if code in codes
            ),
            None,
        )
        if hour is None:
            failures.append({"provider": provider, "code": code, "count": count, "example_record_id": None})
            continue
        example = SendRecord.objects.filter(
            created_at__gte=hour,
            created_at__lt=hour + dt.timedelta(hours=1),
            state=RecordState.FAILED,
            provider=provider,
            provider_code=code,
        )
        if owner:
            example = example.filter(_owner_records(owner, channel))
        failures.append(
            {
                "provider": provider,
                "code": code,
                "count": count,
                "example_record_id": example.order_by("id").values_list("id", flat=True).first(),
            }
        )
    header = ["provider", "code", "count", "example_record_id"]
    body = {**_head(query), "unit": "records", "failures": failures}
    return Answer(body, header, [[item[name] for name in header] for item in failures])


def traffic_latency(*, query: TrafficQuery) -> Answer:
    """Per provider, submit-to-report latency percentiles of delivered and failed records (each
    the upper bound of the bucket it falls in). One owner's from its owner-day rows (their buckets
    are those of the final states), not its hourly rows: 90 days of a tenant's hours took 469 ms
    p95 at 5,000,000 records, read one by one from all over the hour table."""
    merged: dict[str, dict[str, int]] = {}
    if query.owner:
        rows = _filtered(TrafficOwnerDay.objects.all(), query).values_list("provider", "latency_buckets")
    else:
        rows = _traffic(query).filter(state__in=FINAL_STATES).values_list("provider", "latency_buckets")
    for provider, buckets in rows:
        into = merged.setdefault(provider, {})
        for bound, count in buckets.items():
            into[bound] = into.get(bound, 0) + count
    providers = [
        {
            "provider": provider,
            "count": sum(buckets.values()),
            "p50_ms": traffic.latency_percentile(buckets, 0.50),
            "p90_ms": traffic.latency_percentile(buckets, 0.90),
            "p99_ms": traffic.latency_percentile(buckets, 0.99),
        }
        for provider, buckets in sorted(merged.items())
        if sum(buckets.values())
    ]
    header = ["provider", "count", "p50_ms", "p90_ms", "p99_ms"]
    body = {
        **_head(query),
        "unit": "ms, the upper bound of the latency bucket the percentile falls in",
        "buckets_ms": list(traffic.LATENCY_BUCKETS_MS),
        "providers": providers,
    }
    return Answer(body, header, [[item[name] for name in header] for item in providers])


def _owner_days(query: TrafficQuery) -> QuerySet:
    return _filtered(TrafficOwnerDay.objects.all(), query)


def traffic_top(*, query: TrafficQuery) -> Answer:
    """The stations and tenants that sent most records over the query's days."""
    rows = (
        _owner_days(query)
        .values("channel", "owner")
        .annotate(n=Sum("records"), delivered=Sum("delivered"), failed=Sum("failed"), p=Sum("parts"))
        .order_by("-n", "channel", "owner")[: query.limit]
    )
    owners = [
        {
            "channel": row["channel"],
            "owner": row["owner"],
            "records": row["n"],
            "delivered": row["delivered"],
            "failed": row["failed"],
            "parts": row["p"],
            "delivery_rate": _rate(row["delivered"], row["failed"]),
        }
        for row in rows
    ]
    header = ["channel", "owner", "records", "delivered", "failed", "parts", "delivery_rate"]
    body = {**_head(query), "units": {"records": "messages", "parts": "SMS parts"}, "owners": owners}
    return Answer(body, header, [[item[name] for name in header] for item in owners])


def provider_price(provider: str, region: str) -> Decimal | None:
    """Fen per part from SMS_PROVIDER_PRICES (the region's, else "*"); None when not priced."""
    prices = settings.SMS_PROVIDER_PRICES.get(provider)
    if not isinstance(prices, dict):
        return None
    price = prices.get(region, prices.get("*"))
    return None if price is None else Decimal(str(price))


def owner_prices(owners: set[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
    """Fen per part each owner pays: a station its average recharge price (money x 100 / messages,
    0 before its first recharge), a tenant its account's price or SMS_TENANT_DEFAULT_PRICE_FEN."""
    stations = [owner for channel, owner in owners if channel == TrafficChannel.STATION]
    tenants = [owner for channel, owner in owners if channel == TrafficChannel.TENANT]
    prices: dict[tuple[str, str], Decimal] = {}
    for station_id, money, nums in Station.objects.filter(station_id__in=stations).values_list(
        "station_id", "total_recharge_money", "total_recharge_nums"
    ):
        prices[(TrafficChannel.STATION, station_id)] = (money * 100 / nums) if nums else Decimal(0)
    default = Decimal(str(settings.SMS_TENANT_DEFAULT_PRICE_FEN))
    for username, price in TenantAccount.objects.filter(user__username__in=tenants).values_list(
        "user__username", "price_fen_per_part"
    ):
        prices[(TrafficChannel.TENANT, username)] = default if price is None else price
    for channel, owner in owners:
        prices.setdefault((channel, owner), default if channel == TrafficChannel.TENANT else Decimal(0))
    return prices


def _fen(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


def traffic_money(*, query: TrafficQuery) -> Answer:
    """Revenue (what stations and tenants were charged), provider cost and margin, per provider,
    per owner and in total, in fen."""
    rows = list(
        _owner_days(query)
        .values_list("channel", "owner", "provider", "region")
        .annotate(charged=Sum("charged_parts"), billed=Sum("provider_parts"))
        .order_by()
    )
    prices = owner_prices({(channel, owner) for channel, owner, *_ in rows})
    zero = {"charged_parts": 0, "provider_parts": 0, "revenue": Decimal(0), "cost": Decimal(0)}
    per_provider: dict[str, dict[str, Any]] = {}
    per_owner: dict[tuple[str, str], dict[str, Any]] = {}
    unpriced: dict[tuple[str, str], int] = {}
    for channel, owner, provider, region, charged, billed in rows:
        revenue = charged * prices[(channel, owner)]
        price = provider_price(provider, region)
        if price is None and billed:
            unpriced[(provider, region)] = unpriced.get((provider, region), 0) + billed
        cost = billed * (price or 0)
        for into in (
            per_provider.setdefault(provider, dict(zero)),
            per_owner.setdefault((channel, owner), dict(zero)),
        ):
            into["charged_parts"] += charged
            into["provider_parts"] += billed
            into["revenue"] += revenue
            into["cost"] += cost

    def money(values: dict[str, Any]) -> dict[str, Any]:
        return {
            "charged_parts": values["charged_parts"],
            "provider_parts": values["provider_parts"],
            "revenue_fen": _fen(values["revenue"]),
            "cost_fen": _fen(values["cost"]),
            "margin_fen": _fen(values["revenue"] - values["cost"]),
        }

    totals = dict(zero)
    for values in per_provider.values():
        for name in totals:
            totals[name] += values[name]
    providers = [{"provider": provider, **money(values)} for provider, values in sorted(per_provider.items())]
    owners = sorted(
        (
            {
                "channel": channel,
                "owner": owner,
                "price_fen_per_part": float(prices[(channel, owner)]),
                **money(values),
            }
            for (channel, owner), values in per_owner.items()
        ),
        key=lambda item: (-item["revenue_fen"], item["channel"], item["owner"]),
    )[: query.limit]
    body = {
        **_head(query),
        "units": {
            "*_fen": "fen (0.01 CNY)",
            "charged_parts": "SMS parts charged to the customer",
            "provider_parts": "SMS parts the provider billed",
        },
        "totals": money(totals),
        "providers": providers,
        "owners": owners,
        "unpriced": [
            {"provider": provider, "region": region, "provider_parts": parts}
            for (provider, region), parts in sorted(unpriced.items())
        ],
    }
    header = [
        "section",
        "channel",
        "name",
        "charged_parts",
        "provider_parts",
        "revenue_fen",
        "cost_fen",
        "margin_fen",
    ]
    measures = header[3:]
    table = [["total", "", "", *(body["totals"][name] for name in measures)]]
    table += [["provider", "", item["provider"], *(item[name] for name in measures)] for item in providers]
    table += [
        ["owner", item["channel"], item["owner"], *(item[name] for name in measures)] for item in owners
    ]
    return Answer(body, header, table)


def _days_left(remaining: float, per_day: float) -> float | None:
    return round(remaining / per_day, 1) if per_day > 0 else None


@dataclass(frozen=True)
class ProviderOutlook:
    """How long a provider's cached balance lasts at its last ``BALANCE_RATE_DAYS`` days' use.

    ``per_day`` is in the balance's unit: the parts the provider billed (``TrafficOwnerDay``),
    or for a money balance (yuan) those parts priced per region with ``provider_price``.
    ``priced`` is False when a region it billed parts for has no price: its use and days left are
    not known (``per_day`` counts the priced regions only). ``days_left`` is infinite with no use."""

    remaining: int
    unit: str  # "messages" or "CNY"
    per_day: float
    days_left: float
    priced: bool = True


def provider_outlooks(*, today: dt.date) -> dict[str, ProviderOutlook | None]:
    """Each balance provider's outlook (None: no cached balance), from the traffic aggregate of
    the ``BALANCE_RATE_DAYS`` China-time days up to ``today``: one grouped query."""
    since = today - dt.timedelta(days=BALANCE_RATE_DAYS - 1)
    billed_parts: dict[str, Decimal] = {}
    billed_fen: dict[str, Decimal] = {}
    unpriced: set[str] = set()
    for provider, region, billed in (
        TrafficOwnerDay.objects.filter(day__gte=since, day__lte=today)
        .values_list("provider", "region")
        .annotate(billed=Sum("provider_parts"))
        .order_by()
    ):
        billed_parts[provider] = billed_parts.get(provider, Decimal(0)) + billed
        price = provider_price(provider, region)
        if price is None:
            if billed:
                unpriced.add(provider)
            continue
        billed_fen[provider] = billed_fen.get(provider, Decimal(0)) + billed * price
    outlooks: dict[str, ProviderOutlook | None] = {}
    for provider, balance in cached_provider_balances().items():
        if balance is None:
            outlooks[provider] = None
            continue
        money = balance.unit == "money"
        # A money balance is in yuan; the prices are in fen per part.
        use = billed_fen.get(provider, Decimal(0)) / 100 if money else billed_parts.get(provider, Decimal(0))
        per_day = float(use) / BALANCE_RATE_DAYS
        outlooks[provider] = ProviderOutlook(
            remaining=balance.remaining,
            unit="CNY" if money else "messages",
            per_day=per_day,
            days_left=balance.remaining / per_day if per_day > 0 else math.inf,
            priced=not (money and provider in unpriced),
        )
    return outlooks


def traffic_balances(*, query: TrafficQuery, today: dt.date | None = None) -> Answer:
    """Provider balances (cached) with their units (``provider_outlooks``), and the stations and
    tenants whose balance lasts fewest days at the last 7 days' rate (``query.limit`` of them),
    each with days left."""
    today = today or timezone.localdate()
    since = today - dt.timedelta(days=BALANCE_RATE_DAYS - 1)
    week = TrafficOwnerDay.objects.filter(day__gte=since, day__lte=today)
    providers = []
    for provider, outlook in provider_outlooks(today=today).items():
        if outlook is None:
            providers.append(
                {"provider": provider, "remaining": None, "unit": None, "per_day": None, "days_left": None}
            )
            continue
        judged = outlook.priced and not math.isinf(outlook.days_left)
        providers.append(
            {
                "provider": provider,
                "remaining": outlook.remaining,
                "unit": outlook.unit,
                "per_day": round(outlook.per_day, 2) if outlook.priced else None,
                "days_left": round(outlook.days_left, 1) if judged else None,
            }
        )
    use_per_owner = {
        (channel, owner): charged
        for channel, owner, charged in week.values_list("channel", "owner")
        .annotate(charged=Sum("charged_parts"))
        .order_by()
    }
    accounts = [
        (TrafficChannel.STATION.value, station_id, balance)
        for station_id, balance in Station.objects.values_list("station_id", "balance_nums")
    ] + [
        (TrafficChannel.TENANT.value, username, balance)
        for username, balance in TenantAccount.objects.values_list("user__username", "balance_nums")
    ]
    owners = []
    for channel, owner, balance in accounts:
        per_day = use_per_owner.get((channel, owner), 0) / BALANCE_RATE_DAYS
        if not per_day:
            continue
        owners.append(
            {
                "channel": channel,
                "owner": owner,
                "balance": balance,
                "unit": "messages",
                "per_day": round(per_day, 2),
                "days_left": _days_left(balance, per_day),
            }
        )
    owners.sort(key=lambda item: (item["days_left"], item["channel"], item["owner"]))
    owners = owners[: query.limit]
    body = {
        "rate_days": BALANCE_RATE_DAYS,
        "units": {"per_day": "the balance's unit per day, over the last 7 days", "days_left": "days"},
        "providers": providers,
        "low_accounts": owners,
    }
    header = ["kind", "name", "remaining", "unit", "per_day", "days_left"]
    table = [
        ["provider", item["provider"], item["remaining"], item["unit"], item["per_day"], item["days_left"]]
        for item in providers
    ]
    table += [
        [item["channel"], item["owner"], item["balance"], item["unit"], item["per_day"], item["days_left"]]
        for item in owners
    ]
    return Answer(body, header, table)


def _capped_count(queryset: QuerySet) -> int:
    return queryset.values("pk")[:HEALTH_COUNT_CAP].count()


def _live_count(state: str) -> int:
    """The live records in ``state`` (capped): all of them, read in the (state, updated_at) index
    alone, less test mode's, read in (test, state). Filtering ``test=False`` instead would look up
    every row it counts (up to HEALTH_COUNT_CAP of them)."""
    every = _capped_count(SendRecord.objects.filter(state=state))
    return max(0, every - _capped_count(SendRecord.objects.filter(test=True, state=state)))


def traffic_health(*, now: dt.datetime | None = None) -> Answer:
    """Live (not from the traffic rows): unknown records, records waiting for their report and the
    oldest's age, unmatched reports, queued records and the oldest's age, dead webhook events.
    Counts stop at HEALTH_COUNT_CAP."""
    now = now or timezone.now()
    # A submitted record last changed when it was submitted: MIN(updated_at) is one lookup in the
    # (state, updated_at) index, where MIN(submitted_at) would read every submitted row.
    oldest_submitted = SendRecord.objects.filter(state=RecordState.SUBMITTED).aggregate(
        oldest=Min("updated_at")
    )["oldest"]
    backlog = lane_backlog(now=now)
    oldest_queued = max((lane.age_seconds for lane in backlog), default=0.0)
    values = {
        # Test mode's sandbox leaves 13800000002 unknown on purpose: not a provider's silence.
        "unknown_records": _live_count(RecordState.UNKNOWN),
        "awaiting_report": _live_count(RecordState.SUBMITTED),
        "oldest_awaiting_report_seconds": round(max(0.0, (now - oldest_submitted).total_seconds()), 1)
        if oldest_submitted
        else 0.0,
        "pending_reports": _capped_count(PendingReport.objects.all()),
        "queued_records": _capped_count(SendRecord.objects.filter(state=RecordState.QUEUED)),
        "oldest_queued_seconds": round(oldest_queued, 1),
        "dead_webhook_events": _capped_count(WebhookEvent.objects.filter(state=WebhookEventState.DEAD)),
    }
    body = {
        "at": _china_iso(now),
        **values,
        "count_cap": HEALTH_COUNT_CAP,
        "units": {
            "unknown_records": "records in state unknown",
            "awaiting_report": "records submitted, waiting for their delivery report",
            "pending_reports": "delivery reports that matched no record yet",
            "*_seconds": "seconds",
            "queued_records": "records waiting for a worker",
            "dead_webhook_events": "tenant webhook events that used every retry",
        },
    }
    return Answer(body, ["metric", "value"], [[name, value] for name, value in values.items()])

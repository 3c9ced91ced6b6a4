"""Reads of the operators' dashboard: platform statistics, delivery per provider, pipeline depth,
and the lanes' backlog (also the lanes' gauges at /metrics, ``sms.console.metrics``)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db.models import Count, Min, Sum
from django.utils import timezone

from providers.balances import cached_balance
from providers.base import ProviderBalance
from sms.accounting.statistics import zero_filled_days
from sms.models import (
    FINAL_STATES,
    DailyStatistics,
    Lane,
    RecordState,
    SendRecord,
)
from sms.sending import fairness

logger = logging.getLogger(__name__)

# A lane's waiting records are counted up to this many: counting walks the index entry by entry
# (a million queued bulk records took 0.5 s on MariaDB, at every scrape); 10,000 take ~10 ms.
LANE_COUNT_CAP = 10_000


def platform_daily_statistics(*, start_date: dt.date, end_date: dt.date) -> list[dict[str, Any]]:
    """All stations' sends per day of ``[start_date, end_date]``, zero-filled (the aggregate)."""
    rows = (
        DailyStatistics.objects.filter(send_date__gte=start_date, send_date__lte=end_date)
        .values("send_date")
        .annotate(
            total=Sum("total_send_nums"), success=Sum("success_send_nums"), failed=Sum("send_failed_nums")
        )
        .values_list("send_date", "total", "success", "failed")
        .order_by()
    )
    return zero_filled_days(start_date, end_date, {day: tuple(counts) for day, *counts in rows})


def top_stations(*, start_date: dt.date, end_date: dt.date, limit: int = 10) -> list[dict[str, Any]]:
    """The stations that sent most in the range (the aggregate)."""
    rows = (
        DailyStatistics.objects.filter(send_date__gte=start_date, send_date__lte=end_date)
        .values("station_id")
        .annotate(
            total=Sum("total_send_nums"), success=Sum("success_send_nums"), failed=Sum("send_failed_nums")
        )
        .order_by("-total", "station_id")[:limit]
    )
    return [dict(row) for row in rows]


def provider_delivery(*, since: dt.datetime) -> list[dict[str, Any]]:
    """Per provider, records that ended delivered or failed since ``since`` and the delivery rate
    (reads the (state, updated_at) index, not the whole table)."""
    counts: dict[str, dict[str, int]] = {}
    rows = (
        SendRecord.objects.filter(state__in=FINAL_STATES, updated_at__gte=since)
        .values("provider", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts.setdefault(row["provider"] or "none", {"delivered": 0, "failed": 0})[row["state"]] = row["n"]
    return [
        {"provider": provider, **values, "rate": round(values["delivered"] / max(1, sum(values.values())), 4)}
        for provider, values in sorted(counts.items())
    ]


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

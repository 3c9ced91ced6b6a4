"""Reads of the operators' dashboard: platform statistics, delivery per provider, pipeline depth."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum

from providers.balances import cached_balance
from providers.base import ProviderBalance
from sms.accounting.statistics import zero_filled_days
from sms.models import (
    FINAL_STATES,
    DailyStatistics,
    SendRecord,
)


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

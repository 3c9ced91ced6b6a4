"""The operators' dashboard at /dashboard and the billing reconciliation at
/dashboard/reconciliation (staff only). Their numbers come from the same selectors as the API
(``daily_send_statistics`` is data_center/get's)."""

from __future__ import annotations

import datetime as dt

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from gm_server_notify import durations
from sms.accounting import reconciliation
from sms.console import selectors
from sms.core.metrics import record_depth
from sms.station_api import selectors as station_selectors

WINDOW_DAYS = 30
BULK_SENDERS_LISTED = 10
RECONCILIATION_YEARS = (2000, 2099)


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    end = timezone.localdate()
    start = end - dt.timedelta(days=WINDOW_DAYS - 1)
    station_id = (request.GET.get("station_id") or "").strip()[:32]
    overall = selectors.platform_daily_statistics(start_date=start, end_date=end)
    station = (
        station_selectors.daily_send_statistics(station_id=station_id, start_date=start, end_date=end)
        if station_id
        else []
    )

    def totals(rows: list[dict]) -> dict[str, int]:
        return {
            key: sum(row[key] for row in rows)
            for key in ("total_send_nums", "success_send_nums", "send_failed_nums")
        }

    context = {
        "start": start,
        "end": end,
        "station_id": station_id,
        "overall_totals": totals(overall),
        "station_totals": totals(station) if station_id else None,
        "charts": {
            "overall": overall,
            "station": station,
            "providers": selectors.provider_delivery(since=timezone.now() - dt.timedelta(days=1)),
            "top_stations": selectors.top_stations(start_date=start, end_date=end),
        },
        "balances": selectors.cached_provider_balances(),
        "depth": record_depth(),
        "lanes": [
            {"backlog": lane, "age": durations.text(lane.age_seconds)} for lane in selectors.lane_backlog()
        ],
        "lane_count_cap": selectors.LANE_COUNT_CAP,
        "bulk": selectors.bulk_senders_waiting(top=BULK_SENDERS_LISTED),
    }
    return render(request, "sms/dashboard.html", context)


@staff_member_required
def billing_reconciliation(request: HttpRequest) -> HttpResponse:
    """/dashboard/reconciliation?date=YYYY-MM-DD&provider=: our parts against each provider's for
    one day, the ledger's corrections and the records that differ (docs/delivery-truth.md)."""
    try:
        day = dt.date.fromisoformat(request.GET.get("date") or "")
    except ValueError:
        day = timezone.localdate()
    if not RECONCILIATION_YEARS[0] <= day.year <= RECONCILIATION_YEARS[1]:
        day = timezone.localdate()  # the API's date range; 9999-12-31 + 1 day would overflow
    provider = (request.GET.get("provider") or "").strip()[:16]
    context = {
        "day": day,
        "provider": provider,
        "providers": reconciliation.billing_reconciliation(day=day, provider=provider),
        "max_listed": reconciliation.MAX_LISTED_DIFFERENCES,
    }
    return render(request, "sms/reconciliation.html", context)

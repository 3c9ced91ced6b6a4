"""The operators' console (staff only): /dashboard, drawn in the browser from the JSON endpoints
of /dashboard/api/ (docs/operations.md), and the billing reconciliation at
/dashboard/reconciliation."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from gm_server_notify import durations
from sms.accounting import reconciliation
from sms.console import selectors
from sms.core.metrics import record_depth
from sms.core.phones import calling_code_regions

BULK_SENDERS_LISTED = 10
RECONCILIATION_YEARS = (2000, 2099)
# The page's date range buttons (days, today included) and the default range, as the JSON
# endpoints default (/tmp/design32.md): the last 30 China-time days.
RANGE_BUTTONS = (("today", 1), ("7 days", 7), ("30 days", 30), ("90 days", 90))
DEFAULT_DAYS = 30
HOURLY_AT_MOST_DAYS = 7
FILTERS = ("channel", "tenant", "station", "provider", "region", "kind")


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text or "")
    except ValueError:
        return None


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """/dashboard: every send of stations and tenants. The page's panels each fetch one endpoint
    of /dashboard/api/ with the page's own query (range, grain, filters); the queue panels (lanes,
    bulk senders) are read here, live."""
    today = timezone.localdate()
    end = _day(request.GET.get("to")) or today
    start = _day(request.GET.get("from")) or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    filters = {name: request.GET.get(name, "").strip()[:150] for name in FILTERS}
    grain = "hour" if request.GET.get("grain") == "hour" else "day"
    query = {"from": start.isoformat(), "to": end.isoformat()}
    query.update({name: value for name, value in filters.items() if value})

    def link(first: dt.date, last: dt.date) -> str:
        hourly = grain == "hour" and (last - first).days < HOURLY_AT_MOST_DAYS
        grain_kept = "hour" if hourly else "day"
        return urlencode({**query, "from": first.isoformat(), "to": last.isoformat(), "grain": grain_kept})

    ranges = [
        {
            "label": label,
            "href": "?" + link(today - dt.timedelta(days=days - 1), today),
            "active": end == today and (end - start).days == days - 1,
        }
        for label, days in RANGE_BUTTONS
    ]
    context = {
        "start": start,
        "end": end,
        "today": today,
        "filters": filters,
        "grain": grain,
        "hourly_allowed": (end - start).days < HOURLY_AT_MOST_DAYS,
        "ranges": ranges,
        "api_query": urlencode({**query, "grain": grain}),
        # The region filter by name; the API takes the calling code (docs/operations.md).
        "regions": sorted(calling_code_regions().items(), key=lambda item: item[1]),
        "region_names": calling_code_regions(),
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

"""The operators' dashboard at /dashboard (staff only). Its numbers come from the same selectors
as the API (``daily_send_statistics`` is data_center/get's)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from sms import selectors

WINDOW_DAYS = 30


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    end = timezone.localdate()
    start = end - dt.timedelta(days=WINDOW_DAYS - 1)
    station_id = (request.GET.get("station_id") or "").strip()[:32]
    overall = selectors.platform_daily_statistics(start_date=start, end_date=end)
    station = (
        selectors.daily_send_statistics(station_id=station_id, start_date=start, end_date=end)
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
        "depth": selectors.pipeline_depth(
            stuck_after=dt.timedelta(seconds=settings.SMS_SENDING_STUCK_SECONDS)
        ),
    }
    return render(request, "sms/dashboard.html", context)

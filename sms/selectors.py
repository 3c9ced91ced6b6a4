"""Reads of the station SMS domain. Statistics read the daily aggregate, never send records."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from gm_server_notify.api.paging import Page, PageRequest, keyset_page
from providers.balances import cached_balance, last_known_balance
from providers.base import ProviderBalance
from sms.models import (
    BlocklistEntry,
    BusinessType,
    Combo,
    DailyStatistics,
    MessageBatch,
    RechargeRecord,
    RecordState,
    SendRecord,
    SendStatus,
    Station,
    TenantAccount,
    Uplink,
    WebhookDelivery,
    WebhookEndpoint,
)

MAX_RANGE_DAYS = 366


def local_day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start 00:00, end+1 00:00)`` in the service's time zone (Asia/Shanghai)."""
    zone = timezone.get_default_timezone()
    lower = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    upper = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return lower, upper


def station_balance(*, station_id: str) -> int:
    """A station's remaining messages; a station that never recharged has 0."""
    balance = Station.objects.filter(station_id=station_id).values_list("balance_nums", flat=True).first()
    return balance or 0


def active_combos() -> QuerySet[Combo]:
    return Combo.objects.filter(is_active=True).order_by("sort_order", "id")


def _zero_filled_days(
    start_date: dt.date, end_date: dt.date, counts: dict[dt.date, tuple[int, int, int]]
) -> list[dict[str, Any]]:
    """One row per day of ``[start_date, end_date]`` from ``counts`` (day → total, success,
    failed), days without sends filled with zeros."""
    result = []
    for offset in range((end_date - start_date).days + 1):
        day = start_date + dt.timedelta(days=offset)
        total, success, failed = counts.get(day, (0, 0, 0))
        result.append(
            {
                "send_date": day.isoformat(),
                "total_send_nums": total or 0,
                "success_send_nums": success or 0,
                "send_failed_nums": failed or 0,
            }
        )
    return result


def daily_send_statistics(*, station_id: str, start_date: dt.date, end_date: dt.date) -> list[dict[str, Any]]:
    """One row per day of ``[start_date, end_date]``, days without sends filled with zeros."""
    rows = DailyStatistics.objects.filter(
        station_id=station_id, send_date__gte=start_date, send_date__lte=end_date
    ).values_list("send_date", "total_send_nums", "success_send_nums", "send_failed_nums")
    return _zero_filled_days(start_date, end_date, {day: tuple(counts) for day, *counts in rows})


def recharge_records_page(
    *,
    station_id: str,
    start_date: dt.date | None,
    end_date: dt.date | None,
    q: str,
    page: PageRequest,
) -> Page:
    """A station's recharges, newest first. ``q`` matches the receipt, remark, operator or combo."""
    query = RechargeRecord.objects.filter(station__station_id=station_id).select_related("station")
    if start_date:
        query = query.filter(recharge_date__gte=local_day_bounds(start_date, start_date)[0])
    if end_date:
        query = query.filter(recharge_date__lt=local_day_bounds(end_date, end_date)[1])
    if q:
        query = query.filter(
            Q(deal_code__icontains=q)
            | Q(remark__icontains=q)
            | Q(operator_name__icontains=q)
            | Q(combo_name__icontains=q)
        )
    return keyset_page(query, ordering=("-recharge_date", "-id"), page=page)


DEFAULT_RECORD_TYPES = (BusinessType.MALL_ORDER, BusinessType.PROXY_ORDER)
DEFAULT_RECORD_STATUSES = (SendStatus.SUCCESS, SendStatus.FAILED)


def send_records_page(
    *,
    station_id: str,
    start_date: dt.date,
    end_date: dt.date,
    search_text: str,
    business_type: int | None,
    status: int | None,
    page: PageRequest,
) -> Page:
    """A station's send records in a date range, newest first (seed 000's defaults: order types
    0 and 1 only, and success and failure only, unless asked otherwise)."""
    lower, upper = local_day_bounds(start_date, end_date)
    query = SendRecord.objects.filter(station_id=station_id, created_at__gte=lower, created_at__lt=upper)
    query = (
        query.filter(business_type=business_type)
        if business_type is not None
        else query.filter(business_type__in=DEFAULT_RECORD_TYPES)
    )
    query = (
        query.filter(status=status)
        if status is not None
        else query.filter(status__in=DEFAULT_RECORD_STATUSES)
    )
    if search_text:
        query = query.filter(Q(receive_phone__contains=search_text) | Q(receive_name__icontains=search_text))
    return keyset_page(query, ordering=("-created_at", "-id"), page=page)


def statistics_overview() -> dict[str, Any]:
    """The platform's totals: the station provider's package balance and the stations' sums."""
    totals = Station.objects.aggregate(balance=Sum("balance_nums"), money=Sum("total_recharge_money"))
    return {
        "gm_balance": last_known_balance(settings.SMS_STATION_PROVIDER),
        "saas_balance": str(totals["balance"] or 0),
        "saas_recharge_money": f"{(totals['money'] or Decimal('0')):.2f}",
    }


def station_statistics_page(*, station_ids: Sequence[str], q: str, page: PageRequest) -> Page:
    """Every station's balance and recharge totals, by station id."""
    query = Station.objects.all()
    if station_ids:
        query = query.filter(station_id__in=list(station_ids))
    if q:
        query = query.filter(Q(station_id__icontains=q) | Q(station_name__icontains=q))
    return keyset_page(query, ordering=("station_id",), page=page)


def station_uplinks_page(
    *, station_id: str, start_date: dt.date | None, end_date: dt.date | None, page: PageRequest
) -> Page:
    """The uplinks (replies) matched to a station's messages, newest first (by the time received)."""
    query = Uplink.objects.filter(station_id=station_id)
    if start_date:
        query = query.filter(received_at__gte=local_day_bounds(start_date, start_date)[0])
    if end_date:
        query = query.filter(received_at__lt=local_day_bounds(end_date, end_date)[1])
    return keyset_page(query, ordering=("-received_at", "-id"), page=page)


# --- Tenants (seed 001) ------------------------------------------------------------------------

# What a tenant sees of a record's internal state.
TENANT_STATE = {
    RecordState.CREATED: "queued",
    RecordState.SCHEDULED: "queued",  # held (send_at, marketing hours): not yet sent
    RecordState.QUEUED: "queued",
    RecordState.SENDING: "sending",
    RecordState.SUBMITTED: "sending",
    RecordState.DELIVERED: "delivered",
    RecordState.FAILED: "failed",
    RecordState.UNKNOWN: "unknown",
}


def tenant_balance(*, user: Any) -> int:
    balance = TenantAccount.objects.filter(user=user).values_list("balance_nums", flat=True).first()
    return balance or 0


def message_batch_progress(
    *, owner: Any, batch_uuid: uuid.UUID, page: int, page_size: int
) -> dict[str, Any] | None:
    """A tenant's batch: counts per state and one page of its numbers with their state (None if
    the uuid is not one of the owner's)."""
    batch = MessageBatch.objects.filter(uuid=batch_uuid, tenant__user=owner).first()
    if batch is None:
        return None
    counts = dict.fromkeys(("queued", "sending", "delivered", "failed", "unknown"), 0)
    for row in SendRecord.objects.filter(batch=batch).values("state").annotate(n=Count("id")).order_by():
        counts[TENANT_STATE[row["state"]]] += row["n"]
    start = (page - 1) * page_size
    # Plain tuples: building model instances cost more than the query for a 1000-row page.
    rows = (
        SendRecord.objects.filter(batch=batch)
        .order_by("id")
        .values_list("receive_phone", "state", "remark")[start : start + page_size]
    )
    return {
        "uuid": str(batch.uuid),
        "total": batch.total,
        "counts": counts,
        "items": [
            {"mobile": phone, "state": TENANT_STATE[state], "reason": remark} for phone, state, remark in rows
        ],
        "page": page,
        "page_size": page_size,
    }


def tenant_blocklist(*, owner: Any, mobile_e164: str | None) -> QuerySet[BlocklistEntry]:
    """A tenant's blocklist (``GET v1/blocklist``), newest first, of one number when given."""
    query = BlocklistEntry.objects.filter(tenant__user=owner)
    if mobile_e164 is not None:
        query = query.filter(phone_e164=mobile_e164)
    return query.order_by("-id")


def tenant_uplinks(*, owner: Any, since: dt.datetime | None) -> QuerySet[Uplink]:
    """The uplinks matched to a tenant's messages, received at or after ``since``, newest first."""
    query = Uplink.objects.filter(tenant__user=owner).select_related("batch")
    if since is not None:
        query = query.filter(received_at__gte=since)
    return query.order_by("-received_at", "-id")


def tenant_callback(*, owner: Any) -> dict[str, str | None]:
    """``GET v1/callback``: the tenant's callback URL and the last 4 characters of its secret
    (both None when it has none)."""
    endpoint = WebhookEndpoint.objects.filter(tenant__user=owner).first()
    if endpoint is None:
        return {"url": None, "secret_hint": None}
    return {"url": endpoint.url, "secret_hint": endpoint.secret[-4:]}


def webhook_deliveries(*, owner: Any, outcome: str | None) -> QuerySet[WebhookDelivery]:
    """A tenant's webhook POSTs (all, or those of one outcome), newest first."""
    query = WebhookDelivery.objects.filter(tenant__user=owner)
    if outcome:
        query = query.filter(outcome=outcome)
    return query.order_by("-id")


# --- The operators' dashboard ------------------------------------------------------------------

FINAL_STATE_VALUES = (RecordState.DELIVERED, RecordState.FAILED)


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
    return _zero_filled_days(start_date, end_date, {day: tuple(counts) for day, *counts in rows})


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
        SendRecord.objects.filter(state__in=FINAL_STATE_VALUES, updated_at__gte=since)
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


def pipeline_depth(*, stuck_after: dt.timedelta) -> dict[str, int]:
    """Records waiting in each non-final state, and those stuck in ``sending``."""
    depth = dict.fromkeys(("created", "queued", "sending", "submitted", "unknown"), 0)
    for row in (
        SendRecord.objects.filter(state__in=list(depth)).values("state").annotate(n=Count("id")).order_by()
    ):
        depth[row["state"]] = row["n"]
    depth["stuck_sending"] = SendRecord.objects.filter(
        state=RecordState.SENDING, updated_at__lt=timezone.now() - stuck_after
    ).count()
    return depth


def cached_provider_balances() -> dict[str, ProviderBalance | None]:
    """The providers' balances as last cached by beat (never asks a provider)."""
    return {provider: cached_balance(provider) for provider in settings.SMS_BALANCE_PROVIDERS}

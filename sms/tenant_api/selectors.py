"""Reads of the tenant API (seed 001): balances, caps, a batch's progress, blocklist, uplinks,
webhooks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet

from sms.accounting import caps
from sms.core.phones import phone_hash
from sms.guard.capabilities import check_uplinks
from sms.models import (
    BlocklistEntry,
    MessageBatch,
    RecordState,
    SendRecord,
    TenantAccount,
    TenantUsage,
    Uplink,
    WebhookDelivery,
    WebhookEndpoint,
)

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


def tenant_limits(*, owner: Any) -> dict[str, Any]:
    """``GET v1/limits``: per period (``daily``, ``monthly``) the operator's cap, the tenant's own,
    the one that holds, the parts used in the current China-time day or month (business clock),
    what is left, where the warning goes out and whether it did; and the warning's percent."""
    account = TenantAccount.objects.filter(user=owner).first()
    day = caps.today()
    used = caps.usage(tenant_id=None if account is None else account.pk, day=day)
    warned = set()
    if account is not None:
        warned = {
            period
            for period, start in (
                TenantUsage.objects.filter(tenant=account, warned_at__isnull=False)
                .filter(start__in=[day, day.replace(day=1)])
                .values_list("period", "start")
            )
            if start == caps.period_start(period, day)
        }
    answer: dict[str, Any] = {}
    for period, cap in caps.caps_of(account).items():
        effective = cap.effective
        answer[period] = {
            "start": caps.period_start(period, day).isoformat(),
            "operator_cap": cap.operator,
            "own_cap": cap.own,
            "cap": effective,
            "used": used[period],
            "remaining": None if effective is None else max(0, effective - used[period]),
            "warning_at": cap.warning_at(),
            "warned": period in warned,
        }
    answer["warning_percent"] = settings.SMS_CAP_WARNING_PERCENT
    return answer


def message_batch_progress(
    *, owner: Any, batch_uuid: uuid.UUID, page: int, page_size: int, test: bool = False
) -> dict[str, Any] | None:
    """A tenant's batch: counts per state and one page of its numbers with their state (None if
    the uuid is not one of the owner's batches of this mode: ``test`` sees test mode's only, and
    live requests never see them)."""
    batch = MessageBatch.objects.filter(uuid=batch_uuid, tenant__user=owner, test=test).first()
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
    """A tenant's blocklist (``GET v1/blocklist``), newest first, of one number when given (by its
    hash: an entry whose number was erased is still found by the number)."""
    query = BlocklistEntry.objects.filter(tenant__user=owner)
    if mobile_e164 is not None:
        query = query.filter(phone_hash=phone_hash(mobile_e164))
    return query.order_by("-id")


def tenant_uplinks(*, owner: Any, since: dt.datetime | None, test: bool = False) -> QuerySet[Uplink]:
    """The uplinks matched to a tenant's messages, received at or after ``since``, newest first:
    the test replies (``POST v1/test/uplink``) in test mode, the real ones otherwise; ER:0043 when
    an operator turned the tenant's uplinks off (``sms.guard.capabilities``)."""
    check_uplinks(TenantAccount.objects.filter(user=owner).only("uplinks_enabled").first())
    query = Uplink.objects.filter(tenant__user=owner, test=test).select_related("batch")
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

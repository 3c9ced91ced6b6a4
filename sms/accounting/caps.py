"""Tenants' spend and volume caps: the parts a tenant may reserve per China-time day and month.

- **The caps.** The operator's (``TenantAccount.daily_cap_parts``, ``monthly_cap_parts``: the
  admin) and the tenant's own (``own_daily_cap_parts``, ``own_monthly_cap_parts``: ``PUT
  v1/limits``, at most the operator's); the lower of the two holds, ``None`` is no cap.
- **Usage.** One ``TenantUsage`` row per tenant and day, and per tenant and month: the parts
  reserved then, net of their refunds. A batch's parts count in the day it was accepted, on the
  business clock (``MessageBatch.usage_day``), and its refunds give back to that day and its month
  whenever they come. ``book`` is called by ``sms.accounting.ledger`` only, in the transaction of
  the reservation or refund and after the tenant's row is locked there: two sends of one tenant
  count one after the other, never both against the same usage, and no check scans send records.
- **Beyond a cap.** A reservation that would take a period beyond its cap raises ``CapReached``
  (ER:0038 daily, ER:0039 monthly): the caller's transaction rolls back, nothing is written.
- **The warning.** The first reservation that takes a period to ``SMS_CAP_WARNING_PERCENT`` of its
  cap sends the tenant a ``limit.warning`` webhook event (the outbox, in the same transaction;
  once a period: ``TenantUsage.warned_at``). Operators' ``tenant_cap`` alert is measured from the
  same rows by beat (``sms.alerts.rules``).
- **Test mode's ceiling.** Test mode is never charged and counts toward none of the above; its own
  ``test`` row per tenant and day counts the messages made with the test password (records and
  test replies), and ``book_test`` refuses those beyond ``SMS_TEST_MODE_DAILY_MESSAGES``
  (ER:0045), under the tenant's row lock as a reservation.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from gm_server_notify import clock
from gm_server_notify.errors import CapReached, Reason
from sms.core.days import local_date
from sms.models import TenantAccount, TenantUsage, UsagePeriod, WebhookEventKind
from sms.webhooks import outbox

logger = logging.getLogger(__name__)

# In the order they are checked: a send beyond both is refused for the day first.
PERIODS = (UsagePeriod.DAILY, UsagePeriod.MONTHLY)
CAP_FIELDS = ("daily_cap_parts", "monthly_cap_parts", "own_daily_cap_parts", "own_monthly_cap_parts")
_REASONS = {UsagePeriod.DAILY: Reason.DAILY_CAP, UsagePeriod.MONTHLY: Reason.MONTHLY_CAP}
_WHEN = {UsagePeriod.DAILY: "today", UsagePeriod.MONTHLY: "this month"}


def today() -> dt.date:
    """The China-time day of the business clock: the day a send accepted now counts in."""
    return local_date(clock.now())


def period_start(period: str, day: dt.date) -> dt.date:
    """The first day of the ``period`` holding ``day``: the day itself, or its month's first."""
    return day if period == UsagePeriod.DAILY else day.replace(day=1)


@dataclass(frozen=True)
class Cap:
    """One period's cap: the operator's, the tenant's own, and the one that holds."""

    period: str
    operator: int | None
    own: int | None

    @property
    def effective(self) -> int | None:
        values = [value for value in (self.operator, self.own) if value is not None]
        return min(values) if values else None

    def warning_at(self) -> int | None:
        """The parts at which the warning goes out (``SMS_CAP_WARNING_PERCENT`` of the cap,
        rounded up)."""
        cap = self.effective
        return None if cap is None else -(-cap * settings.SMS_CAP_WARNING_PERCENT // 100)


def caps_of(values: TenantAccount | dict[str, Any] | None) -> dict[str, Cap]:
    """Each period's ``Cap`` from an account (or its ``CAP_FIELDS`` values; None: no account, no
    caps)."""

    def read(name: str) -> int | None:
        if values is None:
            return None
        return values.get(name) if isinstance(values, dict) else getattr(values, name)

    return {
        period: Cap(period=period, operator=read(f"{period}_cap_parts"), own=read(f"own_{period}_cap_parts"))
        for period in PERIODS
    }


def usage(*, tenant_id: int | None, day: dt.date) -> dict[str, int]:
    """The parts counted for the tenant in ``day`` and in its month (a read: nothing is locked)."""
    used = dict.fromkeys(PERIODS, 0)
    if tenant_id is None:
        return used
    rows = TenantUsage.objects.filter(_periods_of(day), tenant_id=tenant_id).values_list("period", "parts")
    used.update(dict(rows))
    return used


def _periods_of(day: dt.date) -> Q:
    return Q(period=UsagePeriod.DAILY, start=day) | Q(period=UsagePeriod.MONTHLY, start=day.replace(day=1))


def refusal(*, caps: dict[str, Cap], used: dict[str, int], parts: int) -> CapReached | None:
    """The ``CapReached`` of a reservation of ``parts`` on top of ``used``, or None when every
    cap leaves room for it."""
    for period in PERIODS:
        cap = caps[period].effective
        if cap is not None and used[period] + parts > cap:
            return CapReached(
                f"{used[period]} of {cap} parts used {_WHEN[period]} (China time), this send needs {parts}",
                reason=_REASONS[period],
            )
    return None


def book(*, tenant_id: int, parts: int, day: dt.date) -> None:
    """Count ``parts`` (negative: a refund) for the tenant in ``day`` and its month. Only for
    ``sms.accounting.ledger`` (``change_balance``; the refunds of records, once per tenant and
    day), inside its transaction, after it locked the tenant's row. A reservation beyond a cap
    raises ``CapReached``; one that reaches a cap's warning threshold writes the
    ``limit.warning`` event. A refund never takes a period below 0 (parts reserved before the
    caps existed were never counted)."""
    if parts < 0:
        TenantUsage.objects.filter(_periods_of(day), tenant_id=tenant_id).update(
            parts=Greatest(F("parts") + parts, 0)
        )
        return
    # Read under the tenant's lock: no other reservation or refund of the tenant is in flight.
    caps = caps_of(TenantAccount.objects.filter(pk=tenant_id).values(*CAP_FIELDS).get())
    rows = {row.period: row for row in TenantUsage.objects.filter(_periods_of(day), tenant_id=tenant_id)}
    used = {period: rows[period].parts if period in rows else 0 for period in PERIODS}
    refused = refusal(caps=caps, used=used, parts=parts)
    if refused is not None:
        raise refused
    for period in PERIODS:
        if period not in rows:  # no other transaction can be creating it: the tenant's row is locked
            rows[period] = TenantUsage.objects.create(
                tenant_id=tenant_id, period=period, start=period_start(period, day), parts=0
            )
    TenantUsage.objects.filter(pk__in=[row.pk for row in rows.values()]).update(parts=F("parts") + parts)
    for period in PERIODS:
        _warn_once(rows[period], caps[period], used[period] + parts)


def _warn_once(row: TenantUsage, cap: Cap, used: int) -> None:
    """The period's warning, the first time its usage reaches the threshold."""
    threshold = cap.warning_at()
    if threshold is None or row.warned_at is not None or used < threshold:
        return
    now = timezone.now()
    TenantUsage.objects.filter(pk=row.pk).update(warned_at=now)
    row.warned_at = now
    payload = {
        "period": row.period,
        "start": row.start.isoformat(),
        "cap": cap.effective,
        "used": used,
        "warning_percent": settings.SMS_CAP_WARNING_PERCENT,
    }
    pushed = outbox.record_notice(
        tenant_id=row.tenant_id, kind=WebhookEventKind.LIMIT_WARNING, payload=payload
    )
    logger.warning(
        "tenant account %s used %s of its %s cap of %s parts (%s %%)%s",
        row.tenant_id,
        used,
        row.period,
        cap.effective,
        settings.SMS_CAP_WARNING_PERCENT,
        "" if pushed else "; no callback set: no webhook event",
    )


def test_refusal(*, used: int, messages: int) -> CapReached | None:
    """The ``CapReached`` of ``messages`` more test-mode messages on top of ``used`` today, or None
    while test mode's ceiling leaves room (or there is none)."""
    ceiling = settings.SMS_TEST_MODE_DAILY_MESSAGES
    if ceiling and used + messages > ceiling:
        return CapReached(
            f"{used} of {ceiling} test-mode messages used today (China time), this request makes {messages}",
            reason=Reason.TEST_DAILY_CEILING,
        )
    return None


def test_usage(*, tenant_id: int | None, day: dt.date) -> int:
    """Test mode's messages counted for the tenant in ``day`` (a read: nothing is locked)."""
    if tenant_id is None:
        return 0
    return _test_row(tenant_id=tenant_id, day=day).values_list("parts", flat=True).first() or 0


def _test_row(*, tenant_id: int, day: dt.date) -> QuerySet[TenantUsage]:
    """The tenant's ``test`` usage row of ``day`` (none or one)."""
    return TenantUsage.objects.filter(tenant_id=tenant_id, period=UsagePeriod.TEST_DAILY, start=day)


def book_test(*, tenant_id: int, messages: int, day: dt.date) -> None:
    """Count ``messages`` made in test mode for the tenant in ``day``; beyond test mode's ceiling
    raise ``CapReached`` (ER:0045) and count nothing. Inside the caller's transaction: the
    tenant's row is locked first, so two test requests of one tenant count one after the other."""
    TenantAccount.objects.select_for_update().filter(pk=tenant_id).values_list("pk").get()
    row = _test_row(tenant_id=tenant_id, day=day).first()
    refused = test_refusal(used=0 if row is None else row.parts, messages=messages)
    if refused is not None:
        raise refused
    if row is None:  # no other transaction can be creating it: the tenant's row is locked
        TenantUsage.objects.create(
            tenant_id=tenant_id, period=UsagePeriod.TEST_DAILY, start=day, parts=messages
        )
    else:
        TenantUsage.objects.filter(pk=row.pk).update(parts=F("parts") + messages)

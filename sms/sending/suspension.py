"""Suspending a station's or a tenant's sending (operators, in the admin).

A suspended account's sends are refused at once (station 1010, tenant ER:0037, HTTP 403), and its
records not yet handed to a provider (``created``, ``scheduled`` or ``queued``) fail and are
refunded; a batch a worker has already claimed is in flight and cannot be called back.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet

from audit.models import AuditAction
from audit.services import SYSTEM, Actor, record
from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import Suspended
from sms.models import RecordState, SendRecord, Station, TenantAccount
from sms.sending.pipeline import fail_records, fail_unstarted

logger = logging.getLogger(__name__)

SUSPENDED_REMARK = "sending suspended by an operator: "


def check_station(station: Station) -> None:
    """Refuse a send of a suspended station."""
    if station.suspended_reason:
        raise Suspended(station.suspended_reason)


def check_tenant(account: TenantAccount) -> None:
    """Refuse a send of a suspended tenant."""
    if account.suspended_reason:
        raise Suspended(account.suspended_reason)


def _fail_pending(records: QuerySet[SendRecord], remark: str) -> int:
    """Fail (and refund) the records not yet handed to a provider; a worker's claimed batch is
    in flight and is left alone."""
    unstarted = list(
        records.select_for_update(skip_locked=True).filter(state=RecordState.CREATED).order_by("id")
    )
    queued = list(
        records.select_for_update(skip_locked=True)
        .filter(state__in=[RecordState.SCHEDULED, RecordState.QUEUED])
        .order_by("id")
    )
    return fail_unstarted(unstarted, remark=remark, code="Suspended") + fail_records(
        records=queued, remark=remark, code="Suspended"
    )


def _audit(
    *, actor: Actor, target: Station | TenantAccount, before: str, after: str, failed: int, kind: str
) -> None:
    """One audit entry for a suspension or resume that changed the reason."""
    if kind == "station":
        action = AuditAction.STATION_SUSPEND if after else AuditAction.STATION_RESUME
    else:
        action = AuditAction.TENANT_SUSPEND if after else AuditAction.TENANT_RESUME
    record(
        actor=actor,
        action=action,
        target=target,
        before={"suspended_reason": before},
        after={"suspended_reason": after, "records_failed": failed},
        reason=after,
    )


@retry_on_deadlock()
def suspend_station(*, station_id: str, reason: str, actor: Actor = SYSTEM) -> int:
    """Suspend (``reason``) or resume (empty ``reason``) a station; on suspension its records not
    yet sent fail and are refunded. A change of the reason is written to the audit log (by
    ``actor``) in the same transaction. Returns how many records failed."""
    reason = reason.strip()[:255]
    with transaction.atomic():
        station = Station.objects.select_for_update().filter(station_id=station_id).first()
        if station is None:
            return 0
        before = station.suspended_reason
        Station.objects.filter(pk=station.pk).update(suspended_reason=reason)
        failed = 0
        if reason:
            failed = _fail_pending(
                SendRecord.objects.filter(station_id=station_id), SUSPENDED_REMARK + reason
            )
        if before != reason:
            _audit(actor=actor, target=station, before=before, after=reason, failed=failed, kind="station")
        if not reason:
            return 0
    logger.warning("station %s suspended (%s): %s record(s) failed and refunded", station_id, reason, failed)
    return failed


@retry_on_deadlock()
def suspend_tenant(*, account_id: int, reason: str, actor: Actor = SYSTEM) -> int:
    """As ``suspend_station``, for a tenant account."""
    reason = reason.strip()[:255]
    with transaction.atomic():
        account = TenantAccount.objects.select_for_update().filter(pk=account_id).first()
        if account is None:
            return 0
        before = account.suspended_reason
        TenantAccount.objects.filter(pk=account_id).update(suspended_reason=reason)
        failed = 0
        if reason:
            failed = _fail_pending(
                SendRecord.objects.filter(batch__tenant_id=account_id), SUSPENDED_REMARK + reason
            )
        if before != reason:
            _audit(actor=actor, target=account, before=before, after=reason, failed=failed, kind="tenant")
        if not reason:
            return 0
    logger.warning(
        "tenant account %s suspended (%s): %s record(s) failed and refunded", account_id, reason, failed
    )
    return failed

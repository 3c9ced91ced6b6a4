"""Suspending a station's or a tenant's sending (operators, in the admin).

A suspended account's sends are refused at once (station 1010, tenant ER:0037, HTTP 403), and its
records not yet handed to a provider (``created``, ``scheduled`` or ``queued``) fail and are
refunded; a batch a worker has already claimed is in flight and cannot be called back.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet

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


@retry_on_deadlock()
def suspend_station(*, station_id: str, reason: str) -> int:
    """Suspend (``reason``) or resume (empty ``reason``) a station; on suspension its records not
    yet sent fail and are refunded. Returns how many records failed."""
    with transaction.atomic():
        Station.objects.filter(station_id=station_id).update(suspended_reason=reason.strip()[:255])
        if not reason.strip():
            return 0
        failed = _fail_pending(
            SendRecord.objects.filter(station_id=station_id), SUSPENDED_REMARK + reason.strip()
        )
    logger.warning("station %s suspended (%s): %s record(s) failed and refunded", station_id, reason, failed)
    return failed


@retry_on_deadlock()
def suspend_tenant(*, account_id: int, reason: str) -> int:
    """As ``suspend_station``, for a tenant account."""
    with transaction.atomic():
        TenantAccount.objects.filter(pk=account_id).update(suspended_reason=reason.strip()[:255])
        if not reason.strip():
            return 0
        failed = _fail_pending(
            SendRecord.objects.filter(batch__tenant_id=account_id), SUSPENDED_REMARK + reason.strip()
        )
    logger.warning(
        "tenant account %s suspended (%s): %s record(s) failed and refunded", account_id, reason, failed
    )
    return failed

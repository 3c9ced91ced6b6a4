"""Beat's sweeps: the last line of recovery for work a lost task, a dead worker or a silent
provider left behind, and the report pulls for providers that do not push."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from gm_server_notify.db import retry_on_deadlock
from providers.base import ProviderError
from providers.registry import adapter_class, get_adapter
from sms import metrics
from sms.bulk import bulk_save
from sms.models import RecordState, SendRecord, SendStatus
from sms.pipeline import fail_records, fail_unstarted, publish_batches, queue_for_dispatch
from sms.reports import DailyCounts, apply_delivery_reports, bump_daily_statistics, count_daily

logger = logging.getLogger(__name__)


def requeue_stale_queued(*, older_than: timedelta, limit: int = 10_000) -> int:
    """Publish again records left ``queued`` longer than ``older_than``: their task was lost
    (broker restarted, publish failed). Claiming is idempotent, so a task that was merely slow
    costs nothing."""
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        ids = list(
            SendRecord.objects.select_for_update(skip_locked=True)
            .filter(state=RecordState.QUEUED, updated_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return 0
        SendRecord.objects.filter(pk__in=ids).update(updated_at=timezone.now())
        queue_for_dispatch(ids)
    logger.warning("re-dispatching %s record(s) left queued since before %s", len(ids), cutoff.isoformat())
    return len(ids)


STUCK_REMARK = (
    "outcome unknown: the worker stopped during the provider request; not resent, to avoid a duplicate"
)


def reconcile_stuck_sending(*, older_than: timedelta, limit: int = 10_000) -> tuple[int, int]:
    """Records left ``sending`` longer than ``older_than`` belong to a dispatch whose worker
    died between claiming them and recording the provider's answer. Where the provider drops a
    repeated request id (the gateway) the same dispatch is sent again under the same id; where
    it does not, a resend could reach the recipient twice, so the records fail (and are
    refunded) with a clear remark. Returns (resent, failed)."""
    cutoff = timezone.now() - older_than
    stuck = list(
        SendRecord.objects.filter(state=RecordState.SENDING, updated_at__lt=cutoff)
        .order_by("id")
        .only("id", "provider", "dispatch_id", "batch_id", "station_id", "segments", "created_at")[:limit]
    )
    groups: dict[tuple[str, str], list[SendRecord]] = {}
    for record in stuck:
        groups.setdefault((record.provider, record.dispatch_id), []).append(record)
    resent = failed = 0
    for (provider, dispatch_id), records in groups.items():
        if provider and adapter_class(provider).idempotent_resend:
            with transaction.atomic():
                publish_batches([r.pk for r in records], provider=provider, resume_dispatch_id=dispatch_id)
            resent += len(records)
        else:
            failed += fail_records(records=records, remark=STUCK_REMARK, code="Unknown")
    if resent or failed:
        logger.warning("stuck sending records: %s re-sent under their dispatch id, %s failed", resent, failed)
    return resent, failed


def pull_reports(*, provider: str, limit: int = 10_000) -> int:
    """Ask a provider for the reports it holds and apply them (sjroom: per batch of the
    records still waiting)."""
    pending = list(
        SendRecord.objects.filter(provider=provider, state=RecordState.SUBMITTED)
        .exclude(provider_message_id=None)
        .values_list("provider_message_id", flat=True)[:limit]
    )
    try:
        reports = get_adapter(provider).pull_reports(pending)
    except ProviderError as exc:
        logger.warning("pulling %s reports failed: %s", provider, exc)
        return 0
    if not reports:
        return 0
    return apply_delivery_reports(provider=provider, reports=reports).applied


NO_REPORT_REMARK = "no delivery report from the provider within the deadline"
UNSTARTED_REMARK = "expired: added but not started within the hold; its balance was given back"


def _lock_stale(state: RecordState, *, since_field: str, cutoff: datetime, limit: int) -> list[SendRecord]:
    """Records in ``state`` whose ``since_field`` is before ``cutoff``, locked (skipping those a
    worker holds), marked failed in memory."""
    records = list(
        SendRecord.objects.select_for_update(skip_locked=True)
        .filter(state=state, **{f"{since_field}__lt": cutoff})
        .order_by("id")[:limit]
    )
    now = timezone.now()
    for record in records:
        record.state, record.status, record.finished_at = RecordState.FAILED, SendStatus.FAILED, now
    return records


@retry_on_deadlock()
def expire_unreported(*, older_than: timedelta, limit: int = 10_000) -> int:
    """Fail records a provider accepted but never reported on within ``older_than``. They were
    accepted (and billed), so there is no refund."""
    with transaction.atomic():
        records = _lock_stale(
            RecordState.SUBMITTED, since_field="submitted_at", cutoff=timezone.now() - older_than, limit=limit
        )
        daily: DailyCounts = {}
        for record in records:
            record.remark, record.provider_code = NO_REPORT_REMARK, "NoReport"
            count_daily(daily, record, "failed")
        bulk_save(records, ["state", "status", "remark", "provider_code", "finished_at", "updated_at"])
        bump_daily_statistics(daily)
    metrics.count_finished(records)
    return len(records)


@retry_on_deadlock()
def expire_unstarted(*, older_than: timedelta, limit: int = 10_000) -> int:
    """Fail station records added (``send/add``) but never started (``send/start``) within
    ``older_than``, and give their reserved segments back (a ledger refund, once). They were never
    started, so the daily statistics, which count started records, do not change."""
    with transaction.atomic():
        records = _lock_stale(
            RecordState.CREATED, since_field="created_at", cutoff=timezone.now() - older_than, limit=limit
        )
        fail_unstarted(records, remark=UNSTARTED_REMARK, code="NotStarted")
    if records:
        logger.info("%s record(s) added but never started expired and were refunded", len(records))
    return len(records)

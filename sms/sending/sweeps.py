"""Beat's sweeps: the last line of recovery for work a lost task, a dead worker or a silent
provider left behind, and the report and uplink pulls for providers that do not push."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gm_server_notify.db import retry_on_deadlock
from providers.base import ProviderError
from providers.registry import adapter_class, get_adapter
from sms.accounting.ledger import refund_records, settle_kept
from sms.core import metrics
from sms.core.bulk import bulk_save
from sms.delivery import uplinks
from sms.delivery.reports import DailyCounts, apply_delivery_reports, bump_daily_statistics, count_daily
from sms.models import Lane, RecordState, SendRecord, SendStatus
from sms.sending import fairness, validity
from sms.sending.pipeline import (
    fail_expired,
    fail_unstarted,
    mark_unknown,
    publish_batches,
    queue_for_dispatch,
    resends_safely,
)
from sms.webhooks import outbox

logger = logging.getLogger(__name__)


@retry_on_deadlock()
def expire_overdue(*, limit: int = 10_000) -> int:
    """Fail the records waiting ``queued`` or ``scheduled`` whose validity has passed
    (``sms.sending.validity``): ``EXPIRED``, refunded once, with their webhook events, even when no
    dispatch comes for them (a provider whose retries back off past the validity, a lost task). The
    rows are locked first, skipping those a dispatch holds: that dispatch applies the same rule.
    Not ordered: an ``ORDER BY id`` could make the database walk the primary key instead of the
    ``(state, expires_at)`` range."""
    with transaction.atomic():
        records = list(
            validity.overdue(now=timezone.now()).select_for_update(skip_locked=True).only("id")[:limit]
        )
        expired = fail_expired(records=records)
    return expired


def requeue_stale_queued(*, older_than: timedelta, limit: int = 10_000) -> int:
    """Publish again records left ``queued`` longer than ``older_than``: their task was lost
    (broker restarted, publish failed). Claiming is idempotent, so a task that was merely slow
    costs nothing.

    Bulk records of a tenant that still has batches parked in the bulk lane are waiting their
    turn, not lost (``sms.sending.fairness``): they are left alone until the tenant's last parked
    batch is taken, so a blast that takes an hour to drain is not parked again every sweep. A batch
    a dead worker took with it is then published again, late, never lost."""
    cutoff = timezone.now() - older_than
    waiting_tenants = [
        int(sender.split(":", 1)[1]) for sender in fairness.waiting() if sender.startswith("tenant:")
    ]
    with transaction.atomic():
        stale = SendRecord.objects.select_for_update(skip_locked=True).filter(
            state=RecordState.QUEUED, updated_at__lt=cutoff
        )
        if waiting_tenants:
            stale = stale.exclude(lane=Lane.BULK, batch__tenant_id__in=waiting_tenants)
        ids = list(stale.order_by("id").values_list("id", flat=True)[:limit])
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
    died between claiming them and recording the provider's answer. The provider may have taken
    (and billed) the request and a resend could reach every recipient twice, so the records
    become ``unknown``: not refunded, not counted, decided by a late report, a pull or the settle
    deadline (a gateway record carries the ``"<taskId>:<mobile>"`` id its reports name). Only
    where the provider is declared to refuse a repeated request id (``resends_safely``: the
    gateway with ``GATEWAY_SMS_REFUSES_REPEATED_TASK_ID``) is the same dispatch sent again under
    the same id. Returns (resent, unknown)."""
    cutoff = timezone.now() - older_than
    stuck = list(
        SendRecord.objects.filter(state=RecordState.SENDING, updated_at__lt=cutoff)
        .order_by("id")
        .only("id", "provider", "dispatch_id", "batch_id", "station_id", "segments", "created_at", "lane")[
            :limit
        ]
    )
    groups: dict[tuple[str, str], list[SendRecord]] = {}
    for record in stuck:
        groups.setdefault((record.provider, record.dispatch_id), []).append(record)
    resent = unknown = 0
    for (provider, dispatch_id), records in groups.items():
        if resends_safely(provider):
            with transaction.atomic():
                publish_batches(
                    [r.pk for r in records],
                    provider=provider,
                    lane=records[0].lane,  # one dispatch is of one lane
                    resume_dispatch_id=dispatch_id,
                )
            resent += len(records)
        else:
            unknown += mark_unknown(
                records=records,
                dispatch_id=dispatch_id,
                remark=STUCK_REMARK,
                message_ids=adapter_class(provider).message_ids if provider else None,
            )
    if resent or unknown:
        logger.warning(
            "stuck sending records: %s re-sent under their dispatch id, %s left unknown", resent, unknown
        )
    return resent, unknown


# Pages of a provider's pull API read per sweep (Tencent answers at most 100 reports a page).
PULL_MAX_PAGES = 50


def pull_reports(*, provider: str, limit: int = 10_000) -> int:
    """Ask a provider for the reports it holds and apply them, page after page until it has no
    more (sjroom: per batch of the records still waiting, ``submitted`` or ``unknown``)."""
    pending = list(
        SendRecord.objects.filter(provider=provider, state__in=[RecordState.SUBMITTED, RecordState.UNKNOWN])
        .exclude(provider_message_id=None)
        .values_list("provider_message_id", flat=True)[:limit]
    )
    adapter = get_adapter(provider)
    applied = 0
    seen: set[tuple[str, str]] = set()
    for _ in range(PULL_MAX_PAGES):
        try:
            reports = adapter.pull_reports(pending)
        except ProviderError as exc:
            logger.warning("pulling %s reports failed: %s", provider, exc)
            break
        fresh = [r for r in reports if (r.provider_message_id, r.status) not in seen]
        if not fresh:
            break
        seen.update((r.provider_message_id, r.status) for r in fresh)
        applied += apply_delivery_reports(provider=provider, reports=fresh).applied
    return applied


def pull_uplinks(*, provider: str) -> int:
    """Ask a provider for the uplinks it holds (the gateway's ``/api/v1/mo``, Tencent's
    ``PullSmsReplyStatus``) and store them once each, page after page until it has none left.
    Answers how many were new."""
    adapter = get_adapter(provider)
    stored = 0
    for _ in range(PULL_MAX_PAGES):
        try:
            messages = adapter.pull_uplinks()
        except ProviderError as exc:
            logger.warning("pulling %s uplinks failed: %s", provider, exc)
            break
        if not messages:
            break
        stored += uplinks.store_uplinks(provider=provider, messages=messages)
    return stored


def uplink_providers_to_pull() -> list[str]:
    """The providers whose uplinks beat pulls (``SMS_PULL_UPLINK_PROVIDERS``: those whose uplink
    push is off), known ones only."""
    return [name for name in settings.SMS_PULL_UPLINK_PROVIDERS if name in settings.SMS_PROVIDERS]


def providers_to_pull() -> list[str]:
    """The providers whose reports are pulled on schedule: those configured to be pulled always
    (``SMS_PULL_REPORT_PROVIDERS``) and, to reconcile, every provider with a pull API that has
    records left ``unknown``."""
    with_unknown = set(
        SendRecord.objects.filter(state=RecordState.UNKNOWN).values_list("provider", flat=True).distinct()
    )
    candidates = list(dict.fromkeys([*settings.SMS_PULL_REPORT_PROVIDERS, *sorted(with_unknown)]))
    return [
        name
        for name in candidates
        if name in settings.SMS_PROVIDERS
        and (name in settings.SMS_PULL_REPORT_PROVIDERS or adapter_class(name).pulls_reports)
    ]


NO_REPORT_REMARK = "outcome unknown: no delivery report from the provider within the deadline"
SETTLED_REMARK = "no delivery report by the settle deadline"
UNSTARTED_REMARK = "expired: added but not started within the hold; its balance was given back"


def _lock_stale(state: RecordState, *, since_field: str, cutoff: datetime, limit: int) -> list[SendRecord]:
    """Records in ``state`` whose ``since_field`` is before ``cutoff``, locked (skipping those a
    worker holds)."""
    return list(
        SendRecord.objects.select_for_update(skip_locked=True)
        .filter(state=state, **{f"{since_field}__lt": cutoff})
        .order_by("id")[:limit]
    )


def _fail_in_memory(records: list[SendRecord]) -> None:
    now = timezone.now()
    for record in records:
        record.state, record.status, record.finished_at = RecordState.FAILED, SendStatus.FAILED, now


@retry_on_deadlock()
def expire_unreported(*, older_than: timedelta, limit: int = 10_000) -> int:
    """Mark ``unknown`` the records a provider accepted but never reported on within
    ``older_than``: not failed, not refunded (they were accepted and billed), not counted; a late
    report or the scheduled pull still decides them."""
    with transaction.atomic():
        records = _lock_stale(
            RecordState.SUBMITTED, since_field="submitted_at", cutoff=timezone.now() - older_than, limit=limit
        )
        changed = mark_unknown(records=records, remark=NO_REPORT_REMARK, from_state=RecordState.SUBMITTED)
    return changed


@retry_on_deadlock()
def settle_unknown(*, older_than: timedelta, policy: str, limit: int = 10_000) -> int:
    """Decide records ``unknown`` for longer than ``older_than`` (the settle deadline): they
    become ``failed`` (``NoReport``, counted in the statistics now) and the policy is booked once
    per record: ``refund`` gives back what the record cost (a ``refund`` entry), ``keep`` leaves
    it billed (a ``settle`` entry of 0). A report after this is one for a final record and changes
    nothing."""
    with transaction.atomic():
        records = _lock_stale(
            RecordState.UNKNOWN, since_field="unknown_at", cutoff=timezone.now() - older_than, limit=limit
        )
        _fail_in_memory(records)
        daily: DailyCounts = {}
        for record in records:
            record.remark, record.provider_code = SETTLED_REMARK, "NoReport"
            count_daily(daily, record, "failed")
        if policy == "refund":
            refund_records(records)
        else:
            settle_kept(records)
        bulk_save(
            records, ["state", "status", "remark", "provider_code", "finished_at", "refunded", "updated_at"]
        )
        outbox.record_finished(records)
        bump_daily_statistics(daily)
    metrics.count_finished(records)
    if records:
        logger.warning("%s unknown record(s) settled as failed (policy %s)", len(records), policy)
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
        _fail_in_memory(records)
        fail_unstarted(records, remark=UNSTARTED_REMARK, code="NotStarted")
    if records:
        logger.info("%s record(s) added but never started expired and were refunded", len(records))
    return len(records)

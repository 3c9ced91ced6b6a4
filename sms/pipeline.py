"""The one sending pipeline every send goes through (station ``send/start``, tenant ``v1/message``).

A dispatch takes a batch of record ids for one provider and runs three steps, each its own
transaction, with the provider's HTTP call between them and outside any transaction:

1. ``claim_batch``: lock the records (``SELECT … FOR UPDATE SKIP LOCKED``), keep only those still
   ``queued``, mark them ``sending`` under a dispatch id. Two workers never claim one record.
2. the adapter's ``send``: one provider request for the whole batch.
3. ``record_outcomes``: accepted records become ``submitted`` with the provider's message id;
   refused ones become ``failed`` at once, are refunded once and counted in the statistics.

A provider that is unavailable puts the batch back to ``queued`` (``release_batch``) for the
task to retry with backoff; when retries run out the batch fails over to the next provider in
``SMS_FAILOVER``, and when none is left the records fail with the reason in ``remark``.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gm_server_notify import metrics
from providers import ratelimit
from providers.base import (
    OutcomeStatus,
    OutgoingMessage,
    ProviderRequestRejected,
    ProviderUnavailable,
    SendOutcome,
)
from providers.registry import adapter_class, get_adapter
from sms.bulk import bulk_save, chunked
from sms.content import signature_name, template_params
from sms.models import LedgerReason, MessageBatch, RecordState, SendRecord, SendStatus, Station, TenantAccount
from sms.phones import MAINLAND_COUNTRY_CODE
from sms.retry import retry_on_deadlock
from sms.services import (
    AlreadyBooked,
    apply_delivery_reports,
    apply_pending_reports,
    bump_daily_statistics,
    change_balance,
    local_date,
)

logger = logging.getLogger(__name__)


def route_for(record: SendRecord) -> str:
    """The provider a record goes to first: +86 station sends to SMS_DEFAULT_PROVIDER, tenant
    sends to SMS_TENANT_PROVIDER, every other country to SMS_INTERNATIONAL_PROVIDER."""
    if not record.phone_e164.startswith(f"+{MAINLAND_COUNTRY_CODE}"):
        return settings.SMS_INTERNATIONAL_PROVIDER
    if record.batch_id is not None:
        return settings.SMS_TENANT_PROVIDER
    return settings.SMS_DEFAULT_PROVIDER


def next_provider(current: str, tried: Sequence[str], *, needs_text: bool) -> str | None:
    """The next provider of SMS_FAILOVER not tried yet that can carry the batch (tenant texts
    cannot go to providers that send only their own registered templates), or None."""
    for name in settings.SMS_FAILOVER:
        if name == current or name in tried:
            continue
        if needs_text and adapter_class(name).requires_template:
            continue
        return name
    return None


def outgoing_message(record: SendRecord, provider: str) -> OutgoingMessage:
    """What the adapter needs of a record: text for text providers, template and parameters
    for template providers (Tencent: the business type's template id)."""
    template_id, params, sign = "", (), ""
    if record.business_type is not None and record.sms_content:
        template_id = str(
            settings.SMS_PROVIDERS.get(provider, {})
            .get("template_ids", {})
            .get(str(record.business_type), "")
        )
        params = tuple(template_params(record.business_type, record.sms_content))
        sign = signature_name(record.sms_content.get("sms_signature", ""))
    return OutgoingMessage(
        record_id=record.pk,
        phone_e164=record.phone_e164,
        content=record.content,
        template_id=template_id,
        template_params=params,
        sign_name=sign,
    )


@dataclass
class ClaimedBatch:
    dispatch_id: str
    provider: str
    records: list[SendRecord]


@retry_on_deadlock()
def claim_batch(
    *, record_ids: Sequence[int], provider: str, dispatch_id: str | None = None, resume: bool = False
) -> ClaimedBatch:
    """Mark the still-queued records of ``record_ids`` as ``sending`` for ``provider``.

    Records another worker holds are skipped (SKIP LOCKED), and so are records no longer queued:
    a redelivered or duplicated task claims nothing and sends nothing. With ``resume``, the
    records still ``sending`` under ``dispatch_id`` are taken back instead (a worker died in the
    middle of that dispatch; only for providers that drop a repeated dispatch id).
    """
    dispatch_id = dispatch_id or uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        records = []
        for chunk in chunked(sorted(record_ids)):
            query = SendRecord.objects.select_for_update(skip_locked=True).filter(pk__in=chunk)
            if resume:
                query = query.filter(state=RecordState.SENDING, dispatch_id=dispatch_id)
            else:
                query = query.filter(state=RecordState.QUEUED)
            records += list(query.order_by("id"))
        for chunk in chunked([record.pk for record in records]):
            SendRecord.objects.filter(pk__in=chunk).update(
                state=RecordState.SENDING,
                provider=provider,
                dispatch_id=dispatch_id,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
        for record in records:
            record.state, record.provider, record.dispatch_id = RecordState.SENDING, provider, dispatch_id
    return ClaimedBatch(dispatch_id=dispatch_id, provider=provider, records=records)


@retry_on_deadlock()
def release_batch(*, batch: ClaimedBatch) -> int:
    """Put a batch the provider could not take back to ``queued`` (only records still ``sending``
    under this dispatch id), for a retry or another provider."""
    with transaction.atomic():
        return SendRecord.objects.filter(
            pk__in=[record.pk for record in batch.records],
            state=RecordState.SENDING,
            dispatch_id=batch.dispatch_id,
        ).update(state=RecordState.QUEUED, updated_at=timezone.now())


def _refund(records: Sequence[SendRecord]) -> None:
    """Give back the segments of records that failed before a provider accepted them; once."""
    if not records:
        return
    stations = {
        station.station_id: station
        for station in Station.objects.filter(station_id__in={r.station_id for r in records if r.station_id})
    }
    batch_tenants = dict(
        MessageBatch.objects.filter(pk__in={r.batch_id for r in records if r.batch_id}).values_list(
            "id", "tenant_id"
        )
    )
    tenants = {
        tenant.pk: tenant for tenant in TenantAccount.objects.filter(pk__in=set(batch_tenants.values()))
    }
    for record in records:
        account = (
            {"station": stations[record.station_id]}
            if record.station_id
            else {"tenant": tenants[batch_tenants[record.batch_id]]}
        )
        try:
            change_balance(**account, delta=record.segments, reason=LedgerReason.REFUND, ref=str(record.pk))
        except AlreadyBooked:
            continue
        record.refunded = True


@retry_on_deadlock()
def fail_records(*, records: Sequence[SendRecord], remark: str, code: str = "") -> int:
    """Fail records that no provider accepted (only those still ``sending`` or ``queued``):
    refund them once and count them in the statistics."""
    outcomes = [
        SendOutcome(record.pk, OutcomeStatus.FAILED, code=code, description=remark) for record in records
    ]
    return record_outcomes(provider="", dispatch_id=None, outcomes=outcomes)


RECORD_OUTCOME_FIELDS = (
    "state",
    "status",
    "remark",
    "provider_code",
    "provider_message_id",
    "submitted_at",
    "finished_at",
    "refunded",
    "updated_at",
)


@retry_on_deadlock()
def record_outcomes(*, provider: str, dispatch_id: str | None, outcomes: Sequence[SendOutcome]) -> int:
    """Apply a provider's answer: accepted → ``submitted``; refused → ``failed`` + refund.

    Only records still ``sending`` under ``dispatch_id`` (or, without one, not final) change, so a
    late or repeated answer changes nothing. Returns how many records changed.
    """
    by_id = {outcome.record_id: outcome for outcome in outcomes}
    final_on_accept = bool(provider) and adapter_class(provider).final_on_accept
    now = timezone.now()
    with transaction.atomic():
        # Lock only the records: joining the batch would lock its row too, which every worker
        # of a large message shares.
        records = []
        for chunk in chunked(sorted(by_id)):
            query = SendRecord.objects.select_for_update().filter(pk__in=chunk)
            if dispatch_id is not None:
                query = query.filter(state=RecordState.SENDING, dispatch_id=dispatch_id)
            else:
                query = query.filter(state__in=[RecordState.QUEUED, RecordState.SENDING])
            records += list(query.order_by("id"))
        failed: list[SendRecord] = []
        daily: dict[tuple[str, date], Counter[str]] = {}
        for record in records:
            outcome = by_id[record.pk]
            record.updated_at = now
            record.provider_code = outcome.code[:64]
            if outcome.accepted:
                record.state = RecordState.SUBMITTED
                record.provider_message_id = outcome.provider_message_id or None
                record.submitted_at = now
                if final_on_accept:
                    # No receipts will come (fw199): acceptance is the final word.
                    record.state = RecordState.DELIVERED
                    record.status = SendStatus.SUCCESS
                    record.finished_at = now
                    if record.station_id:
                        daily.setdefault((record.station_id, local_date(record)), Counter())["success"] += 1
            else:
                record.state = RecordState.FAILED
                record.status = SendStatus.FAILED
                record.remark = (": ".join(p for p in (outcome.code, outcome.description) if p) or "refused")[
                    :255
                ]
                record.finished_at = now
                failed.append(record)
                if record.station_id:
                    daily.setdefault((record.station_id, local_date(record)), Counter())["failed"] += 1
        _refund(failed)
        bulk_save(records, RECORD_OUTCOME_FIELDS)
        bump_daily_statistics(daily)
    metrics.count_outcomes(records, provider=provider)
    # Reports that overtook this commit were kept: apply them now that the ids are committed.
    # After the commit, not inside it: a report handler that looked before our commit has stored
    # its report by the time we look, and one that looks after it finds the record (READ COMMITTED).
    accepted_ids = [
        r.provider_message_id for r in records if r.state == RecordState.SUBMITTED and r.provider_message_id
    ]
    for chunk in chunked(accepted_ids):
        apply_pending_reports(provider=provider, message_ids=chunk)
    return len(records)


def send_batch(batch: ClaimedBatch) -> list[SendOutcome]:
    """The provider request for a claimed batch (no transaction is open here)."""
    adapter = get_adapter(batch.provider)
    messages = [outgoing_message(record, batch.provider) for record in batch.records]
    with metrics.PROVIDER_REQUEST_SECONDS.labels(batch.provider).time():
        return adapter.send(messages, batch_id=batch.dispatch_id)


def queue_for_dispatch(record_ids: Sequence[int]) -> None:
    """Publish dispatch tasks for queued records, after the current transaction commits,
    in batches of the first provider's size."""
    records = SendRecord.objects.filter(pk__in=list(record_ids)).only(
        "id", "phone_e164", "batch_id", "content"
    )
    # One provider request carries one text (the gateway's and sjroom's ``content``, Tencent's
    # shared TemplateParamSet), so records are grouped by provider and text.
    groups: dict[tuple[str, str], list[int]] = {}
    for record in records.order_by("id"):
        groups.setdefault((route_for(record), record.content), []).append(record.pk)
    for (provider, _), ids in groups.items():
        publish_batches(ids, provider=provider)


def publish_batches(
    record_ids: Sequence[int],
    *,
    provider: str,
    tried: Sequence[str] = (),
    resume_dispatch_id: str | None = None,
) -> None:
    """Publish one dispatch task per provider-sized chunk, once the transaction commits.

    A failed publish (broker down) is logged, not raised: the records are committed as
    ``queued`` and the re-dispatch sweep sends them when the broker is back.
    """
    from sms import tasks

    size = int(settings.SMS_PROVIDERS[provider]["batch_limit"])
    for start in range(0, len(record_ids), size):
        chunk = list(record_ids[start : start + size])
        transaction.on_commit(
            lambda chunk=chunk: tasks.dispatch_records.delay(
                chunk, provider, list(tried), resume_dispatch_id
            ),
            robust=True,
        )


@dataclass(frozen=True)
class DispatchResult:
    """What the task should do next: nothing; retry after ``retry_in`` seconds (counts as an
    attempt); or come back after ``delay_for`` seconds (the rate limit: not an attempt)."""

    sent: int = 0
    retry_in: float | None = None
    delay_for: float | None = None
    failed_over_to: str | None = None
    resume_dispatch_id: str | None = None  # retry the same dispatch (same provider request id)


def retry_delay(attempt: int) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(settings.SMS_RETRY_MAX_SECONDS, settings.SMS_RETRY_BASE_SECONDS * (2**attempt))
    return random.uniform(0, ceiling)


def dispatch(
    *,
    record_ids: Sequence[int],
    provider: str,
    attempt: int,
    tried: Sequence[str],
    resume_dispatch_id: str | None = None,
) -> DispatchResult:
    """Claim, send and record one batch (see the module's docstring)."""
    booked, wait = ratelimit.reserve(provider, len(record_ids))
    if not booked:
        return DispatchResult(delay_for=wait)
    if wait:
        time.sleep(wait)
    batch = claim_batch(
        record_ids=record_ids,
        provider=provider,
        dispatch_id=resume_dispatch_id,
        resume=resume_dispatch_id is not None,
    )
    if not batch.records:
        return DispatchResult()
    try:
        outcomes = send_batch(batch)
    except ProviderUnavailable as exc:
        logger.warning(
            "%s unavailable for %s record(s) (attempt %s): %s", provider, len(batch.records), attempt + 1, exc
        )
        if attempt < settings.SMS_PROVIDER_MAX_RETRIES:
            metrics.PROVIDER_RETRIES.labels(provider).inc()
            if adapter_class(provider).idempotent_resend:
                # The request may have arrived (a timeout): retry under the same id, which the
                # provider drops if it has it already.
                return DispatchResult(retry_in=retry_delay(attempt), resume_dispatch_id=batch.dispatch_id)
            release_batch(batch=batch)
            return DispatchResult(retry_in=retry_delay(attempt))
        release_batch(batch=batch)
        needs_text = any(record.business_type is None for record in batch.records)
        fallback = next_provider(provider, tried, needs_text=needs_text)
        ids = [record.pk for record in batch.records]
        if fallback is not None:
            metrics.PROVIDER_FAILOVERS.labels(provider, fallback).inc()
            with transaction.atomic():
                publish_batches(ids, provider=fallback, tried=[*tried, provider])
            return DispatchResult(failed_over_to=fallback)
        fail_records(
            records=batch.records,
            remark=f"no provider available (last: {provider}: {exc})",
            code="Unavailable",
        )
        return DispatchResult()
    except ProviderRequestRejected as exc:
        logger.error("%s refused a request of %s record(s): %s", provider, len(batch.records), exc)
        outcomes = [
            SendOutcome(record.pk, OutcomeStatus.FAILED, code=exc.code or "Rejected", description=str(exc))
            for record in batch.records
        ]
    record_outcomes(provider=provider, dispatch_id=batch.dispatch_id, outcomes=outcomes)
    return DispatchResult(sent=len(batch.records))


# --- Sweeps (beat) ---------------------------------------------------------------------------------


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
    except (ProviderUnavailable, ProviderRequestRejected) as exc:
        logger.warning("pulling %s reports failed: %s", provider, exc)
        return 0
    if not reports:
        return 0
    return apply_delivery_reports(provider=provider, reports=reports).applied


NO_REPORT_REMARK = "no delivery report from the provider within the deadline"


@retry_on_deadlock()
def expire_unreported(*, older_than: timedelta, limit: int = 10_000) -> int:
    """Fail records a provider accepted but never reported on within ``older_than``. They were
    accepted (and billed), so there is no refund."""
    cutoff = timezone.now() - older_than
    now = timezone.now()
    with transaction.atomic():
        records = list(
            SendRecord.objects.select_for_update(skip_locked=True)
            .filter(state=RecordState.SUBMITTED, submitted_at__lt=cutoff)
            .order_by("id")[:limit]
        )
        daily: dict[tuple[str, date], Counter[str]] = {}
        for record in records:
            record.state, record.status = RecordState.FAILED, SendStatus.FAILED
            record.remark, record.provider_code, record.finished_at = NO_REPORT_REMARK, "NoReport", now
            if record.station_id:
                daily.setdefault((record.station_id, local_date(record)), Counter())["failed"] += 1
        bulk_save(records, ["state", "status", "remark", "provider_code", "finished_at", "updated_at"])
        bump_daily_statistics(daily)
    metrics.count_finished(records)
    return len(records)

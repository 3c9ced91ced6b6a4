"""The one sending pipeline every send goes through (station ``send/start``, tenant ``v1/message``).

A dispatch takes a batch of record ids for one provider and runs three steps, each its own
transaction, with the provider's HTTP call between them and outside any transaction:

1. ``claim_dispatch``: lock the records (``SELECT … FOR UPDATE SKIP LOCKED``), keep only those still
   ``queued``, mark them ``sending`` under a dispatch id. Two workers never claim one record.
2. the adapter's ``send``: one provider request for the whole batch.
3. ``record_outcomes``: accepted records become ``submitted`` with the provider's message id;
   refused ones become ``failed`` at once, are refunded once and counted in the statistics.

A provider that is unavailable is retried with backoff (``retry_delay``): the batch goes back to
``queued`` (``requeue_dispatch``) and is claimed afresh. A request that left and got no answer
(``ProviderOutcomeUncertain``) may have been taken: its records become ``unknown`` and the
provider's reports decide them, since sending it again could reach every number twice. Only where
the provider is declared to refuse a repeated request id (``resends_safely``: the gateway with
``GATEWAY_SMS_REFUSES_REPEATED_TASK_ID``) does the batch stay ``sending`` and the retry resend the
same dispatch under the same id. When retries run out the batch fails over to the next provider of
its region's chain (``SMS_FAILOVER_MAINLAND`` or ``SMS_FAILOVER_INTERNATIONAL``) that can carry
every record of it (``sms.sending.routing``), and when none is left the records fail with the reason
in ``remark``. A batch is never handed to a provider that cannot carry it (a number outside its
regions, free text to a template provider, a business type it has no template for): the dispatch
checks before it sends, and such a batch goes on to the chain at once, or fails with the reason.

The database, Redis or the broker failing between the claim and the provider request (even on the
claim's own ``COMMIT``, which may have reached the server) raises ``ClaimInterrupted`` with the
claim's id: no provider holds those records, so the task's retry takes them back
(``retake_dispatch_id``: ``requeue_unsent``) and sends them, rather than leaving them ``sending``
for the stuck sweep, which could only call them ``unknown``.

A claimed record whose validity has passed (``expires_at``, ``sms.sending.validity``) is not sent:
it fails ``EXPIRED`` and is refunded once, before the provider request, on every path that claims
(first sends, retries, failover, the sweeps' re-dispatches, the bulk lane's turns).

Every record goes out on the lane it was written with (``sms.sending.lanes``): its dispatch task
is published to that lane's queue, and a bulk batch waits its sender's turn (``sms.sending.fairness``).

The dispatch task is published by name (``DISPATCH_TASK``): ``sms.tasks`` imports this module,
never the other way round. The beat sweeps that recover lost work are in ``sms.sending.sweeps``.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from gm_server_notify import clock
from gm_server_notify.db import TRANSIENT_ERRORS, backoff_seconds, drop_broken_connection, retry_on_deadlock
from providers import ratelimit
from providers.base import (
    DispatchMessageIds,
    OutcomeStatus,
    ProviderOutcomeUncertain,
    ProviderRequestRejected,
    ProviderUnavailable,
    SendOutcome,
)
from providers.registry import adapter_class, get_adapter
from sms.accounting.ledger import reconcile_billed, refund_records
from sms.core import broker, metrics
from sms.core.bulk import bulk_save, chunked
from sms.core.phones import region_of
from sms.delivery.reports import (
    DailyCounts,
    apply_delivery_reports,
    apply_pending_reports,
    bump_daily_statistics,
    count_daily,
    failure_remark,
)
from sms.marketing import hours
from sms.models import Lane, MessageBatch, RecordState, SendRecord, SendStatus
from sms.sending import fairness, lanes, validity
from sms.sending.routing import (
    BatchNeeds,
    is_douyin,
    next_provider,
    outgoing_message,
    request_key,
    route_for,
    unfit_reason,
)
from sms.webhooks import outbox
from templates_mgmt.models import TemplateType

logger = logging.getLogger(__name__)

DISPATCH_TASK = "sms.dispatch_records"


@dataclass
class Dispatch:
    """Records claimed for one provider request, under one ``dispatch_id`` (the request id the
    provider sees: the gateway's taskId). Not a ``MessageBatch``: a tenant's message is split into
    dispatches of the provider's batch size, and one dispatch may mix messages of several batches."""

    dispatch_id: str
    provider: str
    records: list[SendRecord]


# What a dispatch reads of the records it claims: the provider request's and the routing's needs
# (``sms.sending.routing``), not the whole row.
CLAIM_READ_FIELDS = (
    "id",
    "state",
    "provider",
    "dispatch_id",
    "batch_id",
    "station_id",
    "business_type",
    "phone_e164",
    "content",
    "sms_content",
    "expires_at",
    "test",
)


@retry_on_deadlock()
def claim_dispatch(
    *, record_ids: Sequence[int], provider: str, dispatch_id: str | None = None, resume: bool = False
) -> Dispatch:
    """Mark the still-queued records of ``record_ids`` as ``sending`` for ``provider``.

    Records another worker holds are skipped (SKIP LOCKED), and so are records no longer queued:
    a redelivered or duplicated task claims nothing and sends nothing. This guard is what makes
    late acknowledgement safe: every task is acked only after it ran (``acks_late``) and handed
    back if its worker dies (``reject_on_worker_lost``), so the broker may deliver a dispatch again
    after a crash or a broker restart, and the second delivery finds nothing left to claim. With
    ``resume``, the records still ``sending`` under ``dispatch_id`` are taken back instead (a
    worker died in the middle of that dispatch; only for a provider declared to refuse a repeated
    dispatch id, ``resends_safely``).
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
            records += list(query.only(*CLAIM_READ_FIELDS).order_by("id"))
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
    return Dispatch(dispatch_id=dispatch_id, provider=provider, records=records)


@retry_on_deadlock()
def requeue_dispatch(*, dispatch: Dispatch) -> int:
    """Put a dispatch the provider could not take back to ``queued`` (only records still ``sending``
    under this dispatch id), for a retry or another provider."""
    with transaction.atomic():
        return SendRecord.objects.filter(
            pk__in=[record.pk for record in dispatch.records],
            state=RecordState.SENDING,
            dispatch_id=dispatch.dispatch_id,
        ).update(state=RecordState.QUEUED, updated_at=timezone.now())


@retry_on_deadlock()
def requeue_unsent(*, record_ids: Sequence[int], dispatch_id: str) -> int:
    """Put back to ``queued`` the records of ``record_ids`` still ``sending`` under ``dispatch_id``,
    a dispatch interrupted before any provider was handed them (``ClaimInterrupted``)."""
    now = timezone.now()
    requeued = 0
    with transaction.atomic():
        for chunk in chunked(sorted(record_ids)):
            requeued += SendRecord.objects.filter(
                pk__in=chunk, state=RecordState.SENDING, dispatch_id=dispatch_id
            ).update(state=RecordState.QUEUED, updated_at=now)
    return requeued


class ClaimInterrupted(Exception):
    """A transient infrastructure error (``TRANSIENT_ERRORS``, its ``__cause__``) struck a dispatch
    before any provider was handed its records, perhaps after their claim was committed (a
    ``COMMIT`` can reach the server and its answer be lost with the connection). Its records may be
    ``sending`` under ``dispatch_id`` with no provider holding them: the retry passes that id as
    ``retake_dispatch_id`` and they are queued again and sent, instead of waiting for the stuck
    sweep, which would leave them ``unknown`` though they never left."""

    def __init__(self, dispatch_id: str) -> None:
        super().__init__(f"dispatch {dispatch_id} interrupted before its provider request")
        self.dispatch_id = dispatch_id


# Records no provider has accepted yet, which ``fail_records`` may fail.
UNSENT_STATES = (RecordState.SCHEDULED, RecordState.QUEUED, RecordState.SENDING)


@retry_on_deadlock()
def fail_records(*, records: Sequence[SendRecord], remark: str, code: str = "") -> int:
    """Fail records that no provider accepted (only those still ``scheduled``, ``queued`` or
    ``sending``): refund them once and count them in the statistics."""
    outcomes = [
        SendOutcome(record.pk, OutcomeStatus.FAILED, code=code, description=remark) for record in records
    ]
    return record_outcomes(provider="", dispatch_id=None, outcomes=outcomes)


def fail_expired(*, records: Sequence[SendRecord], dispatch_id: str | None = None) -> int:
    """Fail records whose validity has passed before any provider was handed them
    (``sms.sending.validity``): ``EXPIRED``, refunded once, counted, their webhook events; in one
    update per 999 records. With ``dispatch_id``, only those still ``sending`` under it (claimed by
    the caller's dispatch); without, those still ``scheduled``, ``queued`` or ``sending``."""
    outcomes = [
        SendOutcome(
            record.pk,
            OutcomeStatus.FAILED,
            code=validity.EXPIRED_CODE,
            description=validity.EXPIRED_DESCRIPTION,
        )
        for record in records
    ]
    expired = record_outcomes(provider="", dispatch_id=dispatch_id, outcomes=outcomes)
    if expired:
        logger.info("%s record(s) expired before a provider was handed them (refunded)", expired)
    return expired


def fail_unstarted(records: Sequence[SendRecord], *, remark: str, code: str) -> int:
    """Fail records added but never started (``created``), locked by the caller's transaction, and
    refund them once. They were never started, so the daily statistics (which count started
    records) do not change."""
    now = timezone.now()
    for record in records:
        record.state, record.status, record.finished_at = RecordState.FAILED, SendStatus.FAILED, now
        record.remark, record.provider_code = remark[:255], code
    refund_records(records)
    bulk_save(
        records, ["state", "status", "remark", "provider_code", "finished_at", "refunded", "updated_at"]
    )
    outbox.record_finished(records)
    return len(records)


UNCERTAIN_REMARK = "outcome unknown: the provider did not answer in time; not resent, to avoid a duplicate"


@retry_on_deadlock()
def resends_safely(provider: str) -> bool:
    """Whether a dispatch to ``provider`` whose outcome is uncertain may be sent again under the
    same dispatch id: only where the provider is declared to refuse a repeated request id (the
    adapter's ``idempotent_resend``, as configured)."""
    return bool(provider) and adapter_class(provider)().idempotent_resend


def mark_unknown(
    *,
    records: Sequence[SendRecord],
    remark: str,
    dispatch_id: str | None = None,
    from_state: RecordState = RecordState.SENDING,
    message_ids: DispatchMessageIds | None = None,
) -> int:
    """Mark records whose outcome is uncertain ``unknown`` (only those still in ``from_state``,
    under ``dispatch_id`` when given): not refunded and not counted in the statistics; a late
    report or a pull decides them, the settle deadline at the latest (``sms.sending.sweeps``).

    Where the provider makes its message ids of the dispatch id and the number (``message_ids``,
    the gateway's ``"<taskId>:<mobile>"``), the records carry the ids the provider's reports will
    name had it taken the request, so a late push (or one kept while they were ``sending``)
    finds them by id."""
    now = timezone.now()
    derived: dict[str, object] = {}
    if message_ids is not None and dispatch_id:
        derived["provider_message_id"] = Concat(
            F("dispatch_id"), Value(message_ids.separator), F("receive_phone")
        )
    with transaction.atomic():
        changed = 0
        for chunk in chunked(sorted(record.pk for record in records)):
            query = SendRecord.objects.filter(pk__in=chunk, state=from_state)
            if dispatch_id is not None:
                query = query.filter(dispatch_id=dispatch_id)
            changed += query.update(
                state=RecordState.UNKNOWN, remark=remark[:255], unknown_at=now, updated_at=now, **derived
            )
    metrics.count_unknown(changed)
    return changed


# What record_outcomes reads of a locked record, and writes (besides the provider's message id).
OUTCOME_READ_FIELDS = (
    "id",
    "state",
    "status",
    "batch_id",
    "station_id",
    "business_type",
    "provider",
    "receive_phone",
    "segments",
    "billed_parts",
    "refunded",
    "created_at",
    "remark",
    "provider_code",
    "provider_message_id",
    "submitted_at",
    "finished_at",
)
OUTCOME_WRITE_FIELDS = (
    "state",
    "status",
    "remark",
    "provider_code",
    "billed_parts",
    "submitted_at",
    "finished_at",
    "refunded",
)


def _write_outcomes(
    records: Sequence[SendRecord],
    *,
    dispatch_id: str | None,
    now: datetime,
    message_ids: DispatchMessageIds | None = None,
) -> None:
    """Write the records' new outcome fields: one ``UPDATE`` per distinct outcome (and per
    999 ids), not a row-by-row write. Where the provider makes its message ids of the dispatch id
    and the number (``message_ids``, the adapter's: the gateway's taskId and mobile), an id of that
    form is derived in SQL from the columns (``receive_phone`` is the number as sent); other ids
    (Tencent's serial numbers) are set per row in the same statement."""
    groups: dict[tuple[object, ...], list[SendRecord]] = {}
    for record in records:
        derived = (
            message_ids is not None
            and bool(dispatch_id)
            and record.provider_message_id == message_ids.message_id(str(dispatch_id), record.receive_phone)
        )
        key = (*(getattr(record, field) for field in OUTCOME_WRITE_FIELDS), derived)
        groups.setdefault(key, []).append(record)
    for key, members in groups.items():
        values = dict(zip(OUTCOME_WRITE_FIELDS, key[:-1], strict=True))
        for chunk in chunked(members):
            if key[-1] and message_ids is not None:
                separator = Value(message_ids.separator)
                message_id: object = Concat(F("dispatch_id"), separator, F("receive_phone"))
            elif any(record.provider_message_id for record in chunk):
                message_id = Case(
                    *(When(pk=record.pk, then=Value(record.provider_message_id)) for record in chunk),
                    default=None,
                    output_field=SendRecord._meta.get_field("provider_message_id"),
                )
            else:
                message_id = None
            SendRecord.objects.filter(pk__in=[record.pk for record in chunk]).update(
                **values, provider_message_id=message_id, updated_at=now
            )


@retry_on_deadlock()
def record_outcomes(*, provider: str, dispatch_id: str | None, outcomes: Sequence[SendOutcome]) -> int:
    """Apply a provider's answer: accepted → ``submitted`` (with the parts the provider billed,
    the difference to the reservation booked once); refused → ``failed`` + refund.

    Only records still ``sending`` under ``dispatch_id`` (or, without one, not final) change, so a
    late or repeated answer changes nothing. Returns how many records changed.
    """
    by_id = {outcome.record_id: outcome for outcome in outcomes}
    final_on_accept = bool(provider) and adapter_class(provider).final_on_accept
    message_ids = adapter_class(provider).message_ids if provider else None
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
                query = query.filter(state__in=UNSENT_STATES)
            records += list(query.only(*OUTCOME_READ_FIELDS).order_by("id"))
        failed: list[SendRecord] = []
        billed: list[SendRecord] = []
        daily: DailyCounts = {}
        for record in records:
            outcome = by_id[record.pk]
            record.updated_at = now
            record.provider_code = outcome.code[:64]
            if outcome.accepted:
                record.state = RecordState.SUBMITTED
                record.provider_message_id = outcome.provider_message_id or None
                record.submitted_at = now
                record.billed_parts = outcome.billed_parts
                if outcome.billed_parts is not None:
                    billed.append(record)
                if final_on_accept:
                    # No receipts will come (fw199): acceptance is the final word.
                    record.state = RecordState.DELIVERED
                    record.status = SendStatus.SUCCESS
                    record.finished_at = now
                    count_daily(daily, record, "success")
            else:
                record.state = RecordState.FAILED
                record.status = SendStatus.FAILED
                record.remark = failure_remark(outcome.code, outcome.description, default="refused")
                record.finished_at = now
                failed.append(record)
                count_daily(daily, record, "failed")
        refund_records(failed)
        # What the provider billed, where it says, settles the account (our count reserved it).
        reconcile_billed(billed)
        metrics.count_billed_difference(billed, provider=provider)
        _write_outcomes(records, dispatch_id=dispatch_id, now=now, message_ids=message_ids)
        # Tenant records now final (refused, or final on acceptance): their webhook events.
        outbox.record_finished(records)
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


def send_dispatch(dispatch: Dispatch) -> list[SendOutcome]:
    """The provider request for a claimed dispatch (no transaction is open here)."""
    adapter = get_adapter(dispatch.provider)
    messages = [outgoing_message(record, adapter) for record in dispatch.records]
    with metrics.PROVIDER_REQUEST_SECONDS.labels(dispatch.provider).time():
        return adapter.send(messages, dispatch_id=dispatch.dispatch_id)


def queue_for_dispatch(record_ids: Sequence[int]) -> None:
    """Publish dispatch tasks for queued records, after the current transaction commits,
    in batches of the first provider's size."""
    records = list(
        SendRecord.objects.filter(pk__in=list(record_ids))
        .only(
            "id",
            "phone_e164",
            "batch_id",
            "station_id",
            "business_type",
            "content",
            "sms_content",
            "lane",
            "test",
        )
        .order_by("id")
    )
    # One provider request carries one text (the gateway's and sjroom's ``content``, Tencent's
    # shared TemplateParamSet), so records are grouped by provider and text (Douyin order
    # messages: by template and signature, ``request_key``); and by region, so that a batch and
    # its failover chain are of one region even where one provider serves both; and by lane and
    # sender, so that a batch goes out on its records' lane and takes its sender's turns.
    tenants = dict(
        MessageBatch.objects.filter(
            pk__in={r.batch_id for r in records if r.batch_id is not None}
        ).values_list("id", "tenant_id")
    )
    groups: dict[tuple[str, str, str, int, str], list[int]] = {}
    routes: dict[tuple[str, bool, int | None, bool, bool], str] = {}  # route_for depends on these only
    for record in records:
        region = region_of(record.phone_e164)
        kind = (region, record.batch_id is not None, record.business_type, is_douyin(record), record.test)
        if kind not in routes:
            routes[kind] = route_for(record)
        sender = lanes.sender_of(tenant_id=tenants.get(record.batch_id), station_id=record.station_id)
        groups.setdefault((routes[kind], region, request_key(record), record.lane, sender), []).append(
            record.pk
        )
    for (provider, _, _, lane, sender), ids in groups.items():
        publish_batches(ids, provider=provider, lane=lane, sender=sender)


def queue_batch_for_dispatch(*, batch_id: int) -> None:
    """``queue_for_dispatch`` for the queued records of one tenant batch: they share one text per
    region (the mainland's and the international form), so only ids and numbers are read, one
    route is decided per region, and no model instance is built (a 10,000-mobile message is one
    indexed read of 10,000 pairs)."""
    batch = MessageBatch.objects.filter(pk=batch_id).values_list("tenant_id", "test").first()
    tenant_id, test = batch or (0, False)
    sender = lanes.tenant_sender(tenant_id or 0)
    by_region: dict[tuple[str, int], list[int]] = {}
    sample: dict[tuple[str, int], tuple[str, str]] = {}
    rows = (
        SendRecord.objects.filter(batch_id=batch_id, state=RecordState.QUEUED)
        .order_by("id")
        .values_list("id", "phone_e164", "content", "lane")
    )
    for record_id, e164, content, lane in rows.iterator(chunk_size=5000):
        key = (region_of(e164), lane)
        by_region.setdefault(key, []).append(record_id)
        sample.setdefault(key, (e164, content))
    for (region, lane), ids in by_region.items():
        e164, content = sample[region, lane]
        prototype = SendRecord(batch_id=batch_id, phone_e164=e164, content=content, sms_content={}, test=test)
        publish_batches(ids, provider=route_for(prototype), lane=lane, sender=sender)


def publish_batches(
    record_ids: Sequence[int],
    *,
    provider: str,
    lane: int,
    sender: str = "",
    tried: Sequence[str] = (),
    resume_dispatch_id: str | None = None,
) -> None:
    """Publish one dispatch task per provider-sized chunk on ``lane``, once the transaction
    commits; bulk chunks of a known ``sender`` wait their sender's turn.

    A failed publish (broker down) is logged, not raised: the records are committed as
    ``queued`` and the re-dispatch sweep sends them when the broker is back.
    """
    size = adapter_class(provider)().batch_limit
    for start in range(0, len(record_ids), size):
        chunk = list(record_ids[start : start + size])
        transaction.on_commit(
            lambda chunk=chunk: publish_dispatch(
                chunk, provider, list(tried), resume_dispatch_id, lane=lane, sender=sender
            ),
            robust=True,
        )


def publish_dispatch(
    record_ids: list[int],
    provider: str,
    tried: list[str],
    resume_dispatch_id: str | None,
    *,
    lane: int = Lane.TRANSACTIONAL,
    sender: str = "",
) -> None:
    """Send one dispatch now (by name: see the module's docstring) to ``lane``'s queue: a
    ``DISPATCH_TASK``, or for the bulk lane the batch parked under its sender and a turn
    (``sms.sending.fairness``)."""
    queue = lanes.queue_of(lane)
    if lane == Lane.BULK and sender:
        payload = {
            "record_ids": record_ids,
            "provider": provider,
            "tried": tried,
            "resume_dispatch_id": resume_dispatch_id,
        }
        if fairness.park(sender=sender, payload=payload):
            broker.send_task(fairness.TURN_TASK, queue=queue)
            return
    broker.send_task(
        DISPATCH_TASK,
        args=(record_ids, provider, tried, resume_dispatch_id),
        kwargs={"lane": lane},
        queue=queue,
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


def _sender_of(record_ids: Sequence[int]) -> str:
    """Who a batch of one sender belongs to in the bulk lane's turns (``sms.sending.fairness``)."""
    record = SendRecord.objects.filter(pk__in=list(record_ids)[:1]).only("batch_id", "station_id").first()
    if record is None:
        return ""
    tenant_id = None
    if record.batch_id is not None:
        batches = MessageBatch.objects.filter(pk=record.batch_id)
        tenant_id = batches.values_list("tenant_id", flat=True).first()
    return lanes.sender_of(tenant_id=tenant_id, station_id=record.station_id)


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
    retake_dispatch_id: str | None = None,
    lane: int = Lane.TRANSACTIONAL,
) -> DispatchResult:
    """Claim, send and record one batch of ``lane`` (see the module's docstring). With
    ``retake_dispatch_id`` (the retry of a ``ClaimInterrupted``), the records still ``sending``
    under that id are queued again first: no provider was handed them."""
    claim_id = resume_dispatch_id or uuid.uuid4().hex
    interrupted = retake_dispatch_id or claim_id
    try:
        if retake_dispatch_id is not None:
            requeue_unsent(record_ids=record_ids, dispatch_id=retake_dispatch_id)
            interrupted = claim_id
        prepared = _prepare(
            record_ids=record_ids,
            provider=provider,
            tried=tried,
            lane=lane,
            claim_id=claim_id,
            resume=resume_dispatch_id is not None,
        )
    except TRANSIENT_ERRORS as exc:
        if resume_dispatch_id is not None:
            # A resumed dispatch's records may be with its provider already: it is retried as it
            # came, under the same id (resends_safely).
            raise
        raise ClaimInterrupted(interrupted) from exc
    if isinstance(prepared, DispatchResult):
        return prepared
    dispatch, needs = prepared
    try:
        outcomes = send_dispatch(dispatch)
    except ProviderOutcomeUncertain as exc:
        if not resends_safely(provider):
            # The request left and may have been taken: sending it again (here or elsewhere) could
            # reach the recipients twice. A late report or a pull decides (sms.sending.sweeps).
            logger.warning(
                "%s: %s record(s) left with an unknown outcome: %s", provider, len(dispatch.records), exc
            )
            mark_unknown(
                records=dispatch.records,
                dispatch_id=dispatch.dispatch_id,
                remark=UNCERTAIN_REMARK,
                message_ids=adapter_class(provider).message_ids,
            )
            return DispatchResult(sent=len(dispatch.records))
        return _unavailable(dispatch, exc, attempt=attempt, tried=tried, needs=needs, lane=lane)
    except ProviderUnavailable as exc:
        # Not taken: a database error while putting the batch back leaves it to the retake.
        try:
            return _unavailable(dispatch, exc, attempt=attempt, tried=tried, needs=needs, lane=lane)
        except TRANSIENT_ERRORS as error:
            if resume_dispatch_id is not None:
                raise
            raise ClaimInterrupted(dispatch.dispatch_id) from error
    except ProviderRequestRejected as exc:
        logger.error("%s refused a request of %s record(s): %s", provider, len(dispatch.records), exc)
        outcomes = [
            SendOutcome(record.pk, OutcomeStatus.FAILED, code=exc.code or "Rejected", description=str(exc))
            for record in dispatch.records
        ]
    record_outcomes_durably(provider=provider, dispatch_id=dispatch.dispatch_id, outcomes=outcomes)
    if adapter_class(provider).reports_at_once:
        apply_reports_at_once(dispatch, outcomes)
    return DispatchResult(sent=len(dispatch.records))


def _prepare(
    *,
    record_ids: Sequence[int],
    provider: str,
    tried: Sequence[str],
    lane: int,
    claim_id: str,
    resume: bool,
) -> DispatchResult | tuple[Dispatch, BatchNeeds]:
    """Everything before the provider request: the batch limit, the rate limit, the claim (under
    ``claim_id``; with ``resume``, taking back its records still ``sending``), validity, the
    marketing hours and the provider's fitness. Answers what the task should do instead, or the
    dispatch to send."""
    limit = adapter_class(provider)().batch_limit
    if len(record_ids) > limit and not resume:
        # Published by a process whose batch limit was larger (settings changed, a deploy in
        # progress): split, rather than claim records the adapter would refuse to send; bulk
        # chunks wait their sender's turns again.
        with transaction.atomic():
            publish_batches(
                list(record_ids), provider=provider, lane=lane, sender=_sender_of(record_ids), tried=tried
            )
        return DispatchResult()
    # Verify codes may start ahead of the provider's schedule the other lanes booked: a blast
    # uses what the priority lane leaves, never the other way round (providers.ratelimit).
    booked, wait = ratelimit.reserve(provider, len(record_ids), priority=lane == Lane.PRIORITY)
    if not booked:
        return DispatchResult(delay_for=wait)
    if wait:
        time.sleep(wait)
    dispatch = claim_dispatch(
        record_ids=record_ids,
        provider=provider,
        dispatch_id=claim_id,
        resume=resume,
    )
    if not dispatch.records:
        return DispatchResult()
    if not resume:
        # Validity (sms.sending.validity): an expired record is failed, never handed over late. A
        # resumed dispatch is not looked at: its provider may have it already.
        _drop_expired(dispatch)
        if not dispatch.records:
            return DispatchResult()
    _hold_marketing_after_hours(dispatch)
    if not dispatch.records:
        return DispatchResult()
    needs = BatchNeeds.of(dispatch.records)
    unfit = unfit_reason(provider, needs)
    if unfit:
        # Settings that route a record where it cannot go (`manage.py check` reports them): the
        # provider is never handed the batch.
        logger.error("%s cannot carry %s record(s): %s", provider, len(dispatch.records), unfit)
        requeue_dispatch(dispatch=dispatch)
        return fail_over(dispatch, tried=tried, needs=needs, reason=unfit, code="NoRoute", lane=lane)
    return dispatch, needs


def _drop_expired(dispatch: Dispatch) -> None:
    """Fail (``fail_expired``) the claimed records of ``dispatch`` whose validity has passed, and
    take them out of it."""
    now = timezone.now()
    expired = [record for record in dispatch.records if validity.has_expired(record.expires_at, now=now)]
    if not expired:
        return
    fail_expired(records=expired, dispatch_id=dispatch.dispatch_id)
    gone = {record.pk for record in expired}
    dispatch.records = [record for record in dispatch.records if record.pk not in gone]


NO_REPORT_REMARK = "outcome unknown: the provider sends no delivery report for this number"


def apply_reports_at_once(dispatch: Dispatch, outcomes: Sequence[SendOutcome]) -> None:
    """The reports a provider that decides at once (test mode's sandbox) gave with its answer,
    applied as any provider's pushed or pulled reports are (``apply_delivery_reports``: final
    states, webhook events); a record it accepted without a report becomes ``unknown`` at once, as
    a live record does when no report comes (``mark_unknown``). A worker that dies between the
    outcomes and this leaves the records ``submitted``, for the report deadline's sweep."""
    adapter = get_adapter(dispatch.provider)
    reports = adapter.reports_on_send([outgoing_message(r, adapter) for r in dispatch.records], outcomes)
    if reports:
        apply_delivery_reports(provider=dispatch.provider, reports=reports)
    reported = {report.provider_message_id for report in reports}
    unreported = {
        outcome.record_id
        for outcome in outcomes
        if outcome.accepted and outcome.provider_message_id not in reported
    }
    if unreported:
        mark_unknown(
            records=[record for record in dispatch.records if record.pk in unreported],
            remark=NO_REPORT_REMARK,
            dispatch_id=dispatch.dispatch_id,
            from_state=RecordState.SUBMITTED,
        )


def _hold_marketing_after_hours(dispatch: Dispatch) -> None:
    """Hold back (``scheduled``, released at the next opening) the marketing records of a claimed
    batch when the marketing hours have closed since they were queued (a long backlog, a retry
    after closing): marketing goes out only in daytime (``sms.marketing.hours``). Removes them from
    ``batch``; station batches cost no query."""
    batch_ids = {record.batch_id for record in dispatch.records if record.batch_id is not None}
    if not batch_ids:
        return
    now = clock.now()
    if hours.in_marketing_hours(now):
        return
    marketing = set(
        MessageBatch.objects.filter(pk__in=batch_ids, template_type=TemplateType.MARKETING).values_list(
            "id", flat=True
        )
    )
    held = [record for record in dispatch.records if record.batch_id in marketing]
    if not held:
        return
    hold_records(records=held, dispatch_id=dispatch.dispatch_id, until=hours.next_opening(now))
    dispatch.records = [record for record in dispatch.records if record.batch_id not in marketing]


@retry_on_deadlock()
def hold_records(*, records: Sequence[SendRecord], dispatch_id: str, until: datetime) -> int:
    """Put claimed records (still ``sending`` under ``dispatch_id``) back to ``scheduled``, their
    batches released at ``until`` (on the business clock)."""
    now = timezone.now()
    with transaction.atomic():
        held = 0
        for chunk in chunked(sorted(record.pk for record in records)):
            held += SendRecord.objects.filter(
                pk__in=chunk, state=RecordState.SENDING, dispatch_id=dispatch_id
            ).update(state=RecordState.SCHEDULED, attempts=F("attempts") - 1, updated_at=now)
        MessageBatch.objects.filter(pk__in={record.batch_id for record in records}).update(release_at=until)
    logger.info("%s marketing record(s) held until %s (after the marketing hours)", held, until.isoformat())
    return held


def _unavailable(
    dispatch: Dispatch,
    exc: ProviderUnavailable,
    *,
    attempt: int,
    tried: Sequence[str],
    needs: BatchNeeds,
    lane: int,
) -> DispatchResult:
    """A provider that could not take a batch: retry it later, fail it over, or fail it."""
    provider = dispatch.provider
    logger.warning(
        "%s unavailable for %s record(s) (attempt %s): %s", provider, len(dispatch.records), attempt + 1, exc
    )
    if attempt < settings.SMS_PROVIDER_MAX_RETRIES:
        metrics.PROVIDER_RETRIES.labels(provider).inc()
        if resends_safely(provider):
            # The request may have arrived (a timeout): retry under the same id, which the
            # provider is declared to refuse if it has it already.
            return DispatchResult(retry_in=retry_delay(attempt), resume_dispatch_id=dispatch.dispatch_id)
        requeue_dispatch(dispatch=dispatch)
        return DispatchResult(retry_in=retry_delay(attempt))
    requeue_dispatch(dispatch=dispatch)
    return fail_over(
        dispatch, tried=tried, needs=needs, reason=f"last: {provider}: {exc}", code="Unavailable", lane=lane
    )


def fail_over(
    dispatch: Dispatch, *, tried: Sequence[str], needs: BatchNeeds, reason: str, code: str, lane: int
) -> DispatchResult:
    """Hand a released batch to the next provider of its region's chain that can carry every
    record of it (``next_provider``), on its lane (it has had its turn: a bulk batch is not parked
    again), or, when none is left, fail the records with ``reason`` and which chain ran out in
    ``remark``."""
    fallback = next_provider(dispatch.provider, tried, needs=needs)
    if fallback is not None:
        metrics.PROVIDER_FAILOVERS.labels(dispatch.provider, fallback).inc()
        with transaction.atomic():
            publish_batches(
                [record.pk for record in dispatch.records],
                provider=fallback,
                lane=lane,
                tried=[*tried, dispatch.provider],
            )
        return DispatchResult(failed_over_to=fallback)
    if needs.douyin:
        # Only SMS_DOUYIN_PROVIDER's kind can address a Douyin order id or phone ciphertext.
        rest = "a Douyin order message has no failover: no other provider can address it"
    else:
        rest = f"none other in the {'/'.join(sorted(needs.regions))} failover chain can carry it"
    fail_records(records=dispatch.records, remark=f"no provider available ({reason}; {rest})", code=code)
    return DispatchResult()


def record_outcomes_durably(*, provider: str, dispatch_id: str, outcomes: Sequence[SendOutcome]) -> int:
    """``record_outcomes``, written again in place while the database cannot be reached (up to
    ``SMS_OUTCOME_RETRY_SECONDS``). The provider has answered and its answer exists only in this
    process: retrying the task instead would find the records ``sending`` and send nothing, and
    the stuck-sending sweep would then fail records the provider accepted."""
    deadline = time.monotonic() + settings.SMS_OUTCOME_RETRY_SECONDS
    attempt = 0
    while True:
        try:
            return record_outcomes(provider=provider, dispatch_id=dispatch_id, outcomes=outcomes)
        except TRANSIENT_ERRORS as exc:
            attempt += 1
            if time.monotonic() >= deadline:
                raise
            metrics.OUTCOME_WRITE_RETRIES.labels(provider).inc()
            logger.warning(
                "%s: writing %s outcome(s) failed (%s), retrying", provider, len(outcomes), type(exc).__name__
            )
            drop_broken_connection()
            time.sleep(backoff_seconds(attempt, cap=5))

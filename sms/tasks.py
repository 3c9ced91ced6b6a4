"""Celery tasks of the sending pipeline; each calls the pipeline, a sweep, the reports or the
intake, and obeys what it answers.

A transient infrastructure error (the database, the cache or the broker unreachable:
``gm_server_notify.db.TRANSIENT_ERRORS``) retries the task with exponential backoff and jitter,
bounded, and is counted in ``sms_task_retries_total``; the sweeps remain the last line, not the
first. Every task acknowledges late, so a worker that dies mid-task leaves its message to be
delivered again; the claim guard (``state=queued``) makes that redelivery safe.
"""

from __future__ import annotations

import base64
import logging
import time
from datetime import timedelta

from celery import Task, shared_task
from celery.signals import task_retry
from django.conf import settings
from django.core.cache import cache

from gm_server_notify.db import TRANSIENT_ERRORS, backoff_seconds, drop_broken_connection
from providers import balances
from providers.base import CallbackParseError
from sms.accounting import traffic
from sms.alerts import services as alerts
from sms.core import idempotency, metrics
from sms.delivery import intake, reports
from sms.models import Lane, sending_stuck_after
from sms.privacy import services as privacy
from sms.sending import fairness, lanes, pipeline, scheduling, sweeps
from sms.webhooks import outbox
from sms.webhooks import services as webhooks

logger = logging.getLogger(__name__)

# Periodic and report tasks: Celery's own retry, on transient errors only.
RETRY_TRANSIENT = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
}


@task_retry.connect
def _count_retry(sender: Task | None = None, reason: object = None, **_: object) -> None:
    if sender is not None and sender.name.startswith("sms."):
        error = type(reason).__name__ if isinstance(reason, BaseException) else "retry"
        metrics.TASK_RETRIES.labels(sender.name, error).inc()


def _infra_retry_kwargs(exc: BaseException, *, infra_attempt: int, lane: int) -> dict[str, object]:
    """The keyword arguments of a dispatch retried for the infrastructure: a ``ClaimInterrupted``
    passes on the id whose records the retry takes back."""
    kwargs: dict[str, object] = {"infra_attempt": infra_attempt, "lane": lane}
    if isinstance(exc, pipeline.ClaimInterrupted):
        kwargs["retake_dispatch_id"] = exc.dispatch_id
    return kwargs


@shared_task(
    bind=True,
    name=pipeline.DISPATCH_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def dispatch_records(
    self: Task,
    record_ids: list[int],
    provider: str,
    tried: list[str] | None = None,
    resume_dispatch_id: str | None = None,
    infra_attempt: int = 0,
    lane: int = Lane.TRANSACTIONAL,
    retake_dispatch_id: str | None = None,
) -> int:
    """Send one provider-sized batch of queued records (on the queue of its ``lane``).
    ``retake_dispatch_id``: the id of an attempt interrupted before its provider request
    (``pipeline.ClaimInterrupted``), whose records this one takes back."""
    args = (record_ids, provider, tried, resume_dispatch_id)
    queue = lanes.queue_of(lane)
    try:
        result = pipeline.dispatch(
            record_ids=record_ids,
            provider=provider,
            # Retries for the infrastructure are not the provider's attempts.
            attempt=self.request.retries - infra_attempt,
            tried=tried or [],
            resume_dispatch_id=resume_dispatch_id,
            retake_dispatch_id=retake_dispatch_id,
            lane=lane,
        )
    except (pipeline.ClaimInterrupted, *TRANSIENT_ERRORS) as exc:
        drop_broken_connection()
        if infra_attempt >= settings.SMS_INFRA_MAX_RETRIES:
            raise  # the sweeps take the records when the infrastructure is back
        kwargs = _infra_retry_kwargs(exc, infra_attempt=infra_attempt + 1, lane=lane)
        raise self.retry(
            args=args, kwargs=kwargs, countdown=backoff_seconds(infra_attempt), queue=queue
        ) from exc
    if result.retry_in is not None:
        retry_args = (record_ids, provider, tried, result.resume_dispatch_id)
        raise self.retry(
            args=retry_args,
            kwargs={"infra_attempt": infra_attempt, "lane": lane},
            countdown=result.retry_in,
            queue=queue,
        )
    if result.delay_for is not None:
        # Over the provider's rate: come back later as a fresh task (not a failed attempt).
        dispatch_records.apply_async(args, {"lane": lane}, countdown=result.delay_for, queue=queue)
    return result.sent


@shared_task(
    name=fairness.TURN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    **RETRY_TRANSIENT,
)
def dispatch_bulk_turn() -> int:
    """Queue ``sms_bulk``: one turn of the bulk lane: the next parked batch of the sender whose
    turn it is (``sms.sending.fairness``), sent as ``dispatch_records`` sends it. What the batch
    needs next (a retry, the rate limit's delay, the infrastructure back) is a ``dispatch_records``
    task on the bulk queue: it has had its turn."""
    payload = fairness.next_turn()
    if payload is None:
        return 0
    args = (payload["record_ids"], payload["provider"], payload["tried"], payload["resume_dispatch_id"])
    queue = lanes.queue_of(Lane.BULK)
    try:
        result = pipeline.dispatch(
            record_ids=payload["record_ids"],
            provider=payload["provider"],
            attempt=0,
            tried=payload["tried"],
            resume_dispatch_id=payload["resume_dispatch_id"],
            lane=Lane.BULK,
        )
    except (pipeline.ClaimInterrupted, *TRANSIENT_ERRORS) as exc:
        drop_broken_connection()
        # The batch left Redis with this turn: hand it on, or the re-dispatch sweep finds it.
        kwargs = _infra_retry_kwargs(exc, infra_attempt=1, lane=Lane.BULK)
        dispatch_records.apply_async(args, kwargs, countdown=backoff_seconds(0), retries=1, queue=queue)
        return 0
    if result.retry_in is not None:
        retry_args = (*args[:3], result.resume_dispatch_id)
        dispatch_records.apply_async(
            retry_args, {"lane": Lane.BULK}, countdown=result.retry_in, retries=1, queue=queue
        )
    if result.delay_for is not None:
        dispatch_records.apply_async(args, {"lane": Lane.BULK}, countdown=result.delay_for, queue=queue)
    return result.sent


@shared_task(
    bind=True,
    name="sms.apply_provider_push",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    ignore_result=True,
)
def apply_provider_push(self: Task, provider: str, kind: str, body_base64: str, content_type: str) -> None:
    """Apply a provider push that arrived while the database could not be reached (queued by
    ``sms.pushes.views``). Retried with backoff until the database is back (bounded by
    ``SMS_PUSH_APPLY_MAX_RETRIES``): the provider was told the push is stored."""
    body = base64.b64decode(body_base64)
    try:
        _, items = intake.parse_push(provider=provider, kind=kind, body=body, content_type=content_type)
    except (CallbackParseError, intake.UnknownProviderPush) as exc:
        logger.error("queued %s %s push cannot be parsed any more, dropped: %s", provider, kind, exc)
        return
    try:
        intake.apply_push(provider=provider, kind=kind, items=items)
    except TRANSIENT_ERRORS as exc:
        drop_broken_connection()
        if self.request.retries >= settings.SMS_PUSH_APPLY_MAX_RETRIES:
            logger.error(
                "queued %s %s push still not applied after %s retries", provider, kind, self.request.retries
            )
            raise
        raise self.retry(countdown=backoff_seconds(self.request.retries, cap=60)) from exc


@shared_task(name="sms.drain_push_inbox", ignore_result=True, **RETRY_TRANSIENT)
def drain_push_inbox() -> int:
    """Apply the pushes stored in the inbox, thousands at a time (``intake.drain_inbox``); asked
    for by the push endpoint at most once a second, and by beat as the safety net."""
    result = intake.drain_inbox()
    if result.pushes:
        # Pushes stored while this drain ran asked for a drain this one may have answered already:
        # one more, a second from now, so the last pushes of a storm never wait for beat.
        drain_push_inbox.apply_async(countdown=DRAIN_REQUEST_SECONDS, expires=30)
        logger.info(
            "inbox drained: %s push(es), %s report(s), %s uplink(s), %s dropped",
            result.pushes,
            result.reports,
            result.uplinks,
            result.dropped,
        )
    return result.pushes


# The push endpoint asks for a drain at most once per this many seconds (shared cache key): under
# a storm of single-report pushes, one drain takes everything stored meanwhile.
DRAIN_REQUEST_KEY = "sms:inbox-drain-requested"
DRAIN_REQUEST_SECONDS = 1


_last_request = 0.0  # this process's last drain request (time.monotonic)


def request_inbox_drain() -> None:
    """Publish a drain unless one was asked for within the last second, by this process (no
    cache call) or any other (the shared key). Never fails the push that asks: it is stored, and
    beat drains the inbox anyway."""
    global _last_request
    now = time.monotonic()
    if now - _last_request < DRAIN_REQUEST_SECONDS:
        return
    _last_request = now
    try:
        if cache.add(DRAIN_REQUEST_KEY, 1, timeout=DRAIN_REQUEST_SECONDS):
            drain_push_inbox.apply_async(countdown=0.5, expires=30)
    except Exception as exc:  # noqa: BLE001 - the cache or the broker down: beat's drain is the net
        logger.warning("inbox drain not requested: %s", type(exc).__name__)


@shared_task(name="sms.sweep_pending_reports", ignore_result=True, **RETRY_TRANSIENT)
def sweep_pending_reports() -> int:
    """Beat: apply delivery reports that arrived before their records carried the id."""
    return reports.sweep_pending_reports(max_age=timedelta(seconds=settings.PENDING_REPORT_MAX_AGE_SECONDS))


@shared_task(name="sms.sweep_stale_records", ignore_result=True, **RETRY_TRANSIENT)
def sweep_stale_records() -> dict[str, int]:
    """Beat: fail (and refund) waiting records past their validity; re-dispatch records left
    queued; resend or mark unknown records left sending; mark unknown records whose report never
    came; settle records unknown past the settle deadline; expire (and refund) records added but
    never started."""
    # First: a record past its validity is not published again.
    expired = sweeps.expire_overdue()
    requeued = sweeps.requeue_stale_queued(older_than=timedelta(seconds=settings.SMS_REQUEUE_AFTER_SECONDS))
    resent, uncertain = sweeps.reconcile_stuck_sending(older_than=sending_stuck_after())
    unreported = sweeps.expire_unreported(older_than=timedelta(seconds=settings.SMS_REPORT_DEADLINE_SECONDS))
    settled = sweeps.settle_unknown(
        older_than=timedelta(seconds=settings.SMS_UNKNOWN_SETTLE_SECONDS), policy=settings.SMS_UNKNOWN_POLICY
    )
    unstarted = sweeps.expire_unstarted(older_than=timedelta(seconds=settings.SMS_UNSTARTED_HOLD_SECONDS))
    return {
        "expired": expired,
        "requeued": requeued,
        "resent": resent,
        "uncertain": uncertain,
        "unreported": unreported,
        "settled": settled,
        "unstarted": unstarted,
    }


@shared_task(name="sms.pull_reports", ignore_result=True, **RETRY_TRANSIENT)
def pull_reports() -> int:
    """Beat: pull reports from the providers that only offer pulling (or have pushes off), and
    from every provider with a pull API that has records left unknown (reconciliation)."""
    return sum(sweeps.pull_reports(provider=provider) for provider in sweeps.providers_to_pull())


@shared_task(name="sms.pull_uplinks", ignore_result=True, **RETRY_TRANSIENT)
def pull_uplinks() -> int:
    """Beat: pull the uplinks of the providers whose uplink push is off (``SMS_PULL_UPLINK_PROVIDERS``)."""
    return sum(sweeps.pull_uplinks(provider=provider) for provider in sweeps.uplink_providers_to_pull())


@shared_task(name="sms.refresh_provider_balances", ignore_result=True, **RETRY_TRANSIENT)
def refresh_provider_balances() -> None:
    """Beat: keep the providers' package balances fresh in the cache."""
    for provider in settings.SMS_BALANCE_PROVIDERS:
        balances.refresh_balance(provider)


@shared_task(name="sms.evaluate_alerts", ignore_result=True, **RETRY_TRANSIENT)
def evaluate_alerts() -> None:
    """Beat: evaluate the operators' alert rules and send the notices owed (``sms.alerts``)."""
    alerts.evaluate()


@shared_task(name="sms.purge_idempotency_keys", ignore_result=True, **RETRY_TRANSIENT)
def purge_idempotency_keys() -> int:
    """Beat: forget Idempotency-Keys older than IDEMPOTENCY_TTL_SECONDS."""
    return idempotency.purge_expired()


@shared_task(
    name=outbox.DELIVER_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    **RETRY_TRANSIENT,
)
def deliver_webhooks(tenant_id: int, url: str) -> int:
    """Queue ``sms_webhooks``: push a tenant's due webhook events to one URL (one POST at a time
    per URL); schedule the next run when some failed or more are left. Answers the POSTs made."""
    result = webhooks.deliver(tenant_id=tenant_id, url=url)
    if result.retry_in is not None:
        webhooks.schedule_next(tenant_id=tenant_id, url=url, retry_in=result.retry_in)
    return result.posts


@shared_task(name="sms.sweep_webhooks", ignore_result=True, **RETRY_TRANSIENT)
def sweep_webhooks() -> int:
    """Beat: publish again the deliveries of due webhook events whose task was lost or whose
    retry was further away than a countdown."""
    return webhooks.sweep_due()


@shared_task(name="sms.release_scheduled", ignore_result=True, **RETRY_TRANSIENT)
def release_scheduled() -> int:
    """Beat: release the held tenant batches whose time has come (send_at, the marketing hours)."""
    return scheduling.release_due()


@shared_task(name="sms.erase_expired_personal_data", ignore_result=True, **RETRY_TRANSIENT)
def erase_expired_personal_data() -> int:
    """Beat: erase the numbers and texts older than SMS_PERSONAL_DATA_RETENTION_DAYS (sms/privacy/)."""
    report = privacy.erase_expired()
    if report.total:
        logger.info(
            "retention: erased %s row(s) in %s batch(es), longest %.3f s",
            report.total,
            report.batches,
            report.longest_batch_seconds,
        )
    return report.total


@shared_task(name="sms.roll_up_traffic", ignore_result=True, **RETRY_TRANSIENT)
def roll_up_traffic() -> int:
    """Beat: recompute the console's traffic rows of the hours whose records changed
    (sms/accounting/traffic.py)."""
    return traffic.roll_up().hours

"""Celery tasks of the sending pipeline; each calls the pipeline, a sweep or the reports, and
obeys what it answers."""

from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from providers import balances
from sms import pipeline, reports, sweeps


@shared_task(
    bind=True,
    name=pipeline.DISPATCH_TASK, acks_late=True, reject_on_worker_lost=True, max_retries=None
)
def dispatch_records(
    self: Task,
    record_ids: list[int],
    provider: str,
    tried: list[str] | None = None,
    resume_dispatch_id: str | None = None,
) -> int:
    """Send one provider-sized batch of queued records."""
    result = pipeline.dispatch(
        record_ids=record_ids,
        provider=provider,
        attempt=self.request.retries,
        tried=tried or [],
        resume_dispatch_id=resume_dispatch_id,
    )
    if result.retry_in is not None:
        args = (record_ids, provider, tried, result.resume_dispatch_id)
        raise self.retry(args=args, countdown=result.retry_in)
    if result.delay_for is not None:
        # Over the provider's rate: come back later as a fresh task (not a failed attempt).
        dispatch_records.apply_async(
            (record_ids, provider, tried, resume_dispatch_id), countdown=result.delay_for
        )
    return result.sent


@shared_task(name="sms.sweep_pending_reports", ignore_result=True)
def sweep_pending_reports() -> int:
    """Beat: apply delivery reports that arrived before their records carried the id."""
    return reports.sweep_pending_reports(max_age=timedelta(seconds=settings.PENDING_REPORT_MAX_AGE_SECONDS))


@shared_task(name="sms.sweep_stale_records", ignore_result=True)
def sweep_stale_records() -> dict[str, int]:
    """Beat: re-dispatch records left queued; reconcile records left sending; fail records
    whose report never came."""
    requeued = sweeps.requeue_stale_queued(older_than=timedelta(seconds=settings.SMS_REQUEUE_AFTER_SECONDS))
    resent, failed = sweeps.reconcile_stuck_sending(
        older_than=timedelta(seconds=settings.SMS_SENDING_STUCK_SECONDS)
    )
    expired = sweeps.expire_unreported(older_than=timedelta(seconds=settings.SMS_REPORT_DEADLINE_SECONDS))
    return {"requeued": requeued, "resent": resent, "failed": failed, "expired": expired}


@shared_task(name="sms.pull_reports", ignore_result=True)
def pull_reports() -> int:
    """Beat: pull reports from the providers that only offer pulling (or have pushes off)."""
    return sum(sweeps.pull_reports(provider=provider) for provider in settings.SMS_PULL_REPORT_PROVIDERS)


@shared_task(name="sms.refresh_provider_balances", ignore_result=True)
def refresh_provider_balances() -> None:
    """Beat: keep the providers' package balances fresh in the cache."""
    for provider in settings.SMS_BALANCE_PROVIDERS:
        balances.refresh_balance(provider)

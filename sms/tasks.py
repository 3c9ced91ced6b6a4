"""Celery tasks of the sending pipeline; each calls the pipeline and obeys what it answers."""

from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from sms import pipeline, services


@shared_task(
    bind=True, name="sms.dispatch_records", acks_late=True, reject_on_worker_lost=True, max_retries=None
)
def dispatch_records(self: Task, record_ids: list[int], provider: str, tried: list[str] | None = None) -> int:
    """Send one provider-sized batch of queued records."""
    result = pipeline.dispatch(
        record_ids=record_ids, provider=provider, attempt=self.request.retries, tried=tried or []
    )
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.sent


@shared_task(name="sms.sweep_pending_reports", ignore_result=True)
def sweep_pending_reports() -> int:
    """Beat: apply delivery reports that arrived before their records carried the id."""
    return services.sweep_pending_reports(max_age=timedelta(seconds=settings.PENDING_REPORT_MAX_AGE_SECONDS))

"""The bulk-send benchmark's baseline: one Celery task per recipient.

``bench.send_one`` runs the project's own pipeline steps on a batch of one record, as
``sms.pipeline.dispatch`` does for a provider-sized batch (rate limit, claim, provider request,
outcomes), without its retry and failover branches. Only the benchmark's own worker loads this
module (``celery worker --include bench.baseline_tasks``); the product never does.
"""

from __future__ import annotations

import time

from celery import shared_task

from providers import ratelimit
from sms import pipeline

PROVIDER = "gateway"


@shared_task(name="bench.send_one", ignore_result=True)
def send_one(record_id: int) -> int:
    """Send one queued record through the gateway; returns 1 when it was sent, 0 otherwise."""
    _booked, wait = ratelimit.reserve(PROVIDER, 1)
    if wait:
        # Booked: start at the booked time. Not booked (far over the rate): wait as long, then go.
        time.sleep(wait)
    batch = pipeline.claim_batch(record_ids=[record_id], provider=PROVIDER)
    if not batch.records:
        return 0
    outcomes = pipeline.send_batch(batch)
    pipeline.record_outcomes(provider=PROVIDER, dispatch_id=batch.dispatch_id, outcomes=outcomes)
    return len(batch.records)

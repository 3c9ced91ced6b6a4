"""The bulk-send benchmark's baseline: a Notify-shaped pipeline, one Celery task per message.

``bench.send_one`` does for one record what ``sms.sending.pipeline.dispatch`` does for a provider-sized
batch, with the product's own steps: claim it (``claim_dispatch`` on one id), make the provider
request for that one number (``send_dispatch``) and record the outcome (``record_outcomes``, which
also applies a report that overtook it). The reports are applied by the web process as the
simulator pushes them. Left out, as harness overhead rather than per-recipient work: the
rate-limit booking (a Redis round trip per task, for a limit of 20,000/s the baseline never
approaches) and the retry and failover branches (the simulator does not fail these numbers).
Only the benchmark's own worker loads this module (``celery worker --include bench.baseline_tasks``,
with ``bench.baseline_settings``); the product never does.
"""

from __future__ import annotations

from celery import shared_task

from sms.sending import pipeline

PROVIDER = "gateway"


@shared_task(name="bench.send_one", ignore_result=True)
def send_one(record_id: int) -> int:
    """Send one queued record through the gateway; returns 1 when it was sent, 0 otherwise."""
    batch = pipeline.claim_dispatch(record_ids=[record_id], provider=PROVIDER)
    if not batch.records:
        return 0
    outcomes = pipeline.send_dispatch(batch)
    pipeline.record_outcomes(provider=PROVIDER, dispatch_id=batch.dispatch_id, outcomes=outcomes)
    return len(batch.records)

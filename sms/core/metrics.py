"""The sending domain's Prometheus metrics (served by ``gm_server_notify.metrics`` at /metrics).

- ``sms_sends_accepted_total``, ``sms_sends_delivered_total``, ``sms_sends_failed_total``
  (labels ``provider``, ``business_type``: ``0``/``1``/``2`` for station sends, ``tenant`` for
  tenant sends), counted once the change is committed;
- ``sms_provider_request_seconds`` (the adapter's request), ``sms_provider_retries_total``,
  ``sms_provider_failovers_total``;
- ``sms_records{state}`` (records not final yet) and ``sms_records_stuck_sending``, read from
  the database at scrape time (``RecordStateCollector``, registered by ``SmsConfig.ready``).

The lanes' gauges (the age of each lane's oldest waiting record, the bulk lane's parked batches)
are the console's reads: ``sms.console.metrics``.

No label ever carries a phone number.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from sms.models import NOT_FINAL_STATES, RecordState, SendRecord, sending_stuck_after

SEND_LABELS = ("provider", "business_type")

SENDS_ACCEPTED = Counter("sms_sends_accepted_total", "Records a provider accepted.", SEND_LABELS)
SENDS_DELIVERED = Counter("sms_sends_delivered_total", "Records that reached delivered.", SEND_LABELS)
SENDS_FAILED = Counter("sms_sends_failed_total", "Records that reached failed.", SEND_LABELS)
PROVIDER_REQUEST_SECONDS = Histogram(
    "sms_provider_request_seconds",
    "Duration of one send request to a provider (a whole batch).",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
PROVIDER_RETRIES = Counter(
    "sms_provider_retries_total", "Batches retried after the provider was unavailable.", ["provider"]
)
PROVIDER_FAILOVERS = Counter(
    "sms_provider_failovers_total",
    "Batches handed to the next provider after the retries ran out.",
    ["from_provider", "to_provider"],
)

RECORDS_UNKNOWN = Counter(
    "sms_records_unknown_total",
    "Records that became unknown: no report by the deadline, or an uncertain submit.",
)
BILLED_DIFFERENCE = Counter(
    "sms_billed_parts_difference_total",
    "Parts a provider billed beyond (positive) what we reserved; see the reconciliation view.",
    ["provider", "direction"],
)


def count_unknown(n: int) -> None:
    """Count records that have just become ``unknown`` (after the commit)."""
    if n:
        transaction.on_commit(lambda: RECORDS_UNKNOWN.inc(n), robust=True)


def count_billed_difference(records: Iterable[SendRecord], *, provider: str) -> None:
    """Count the parts by which the provider's bill differs from our reservation (after commit)."""
    over = sum(max(0, (r.billed_parts or 0) - r.segments) for r in records if r.billed_parts is not None)
    under = sum(max(0, r.segments - r.billed_parts) for r in records if r.billed_parts is not None)
    if over or under:
        transaction.on_commit(
            lambda: (
                BILLED_DIFFERENCE.labels(provider, "over").inc(over),
                BILLED_DIFFERENCE.labels(provider, "under").inc(under),
            ),
            robust=True,
        )


def _labels(record: SendRecord, provider: str = "") -> tuple[str, str]:
    business_type = "tenant" if record.business_type is None else str(record.business_type)
    return (record.provider or provider or "none", business_type)


def _count_after_commit(counts: dict[Counter, Tally[tuple[str, str]]]) -> None:
    """Add ``counts`` once the current transaction commits (at once outside one): a rolled
    back change (a deadlock retried) is never counted."""
    counts = {metric: tally for metric, tally in counts.items() if tally}
    if not counts:
        return

    def add() -> None:
        for metric, tally in counts.items():
            for labels, n in tally.items():
                metric.labels(*labels).inc(n)

    transaction.on_commit(add, robust=True)


def count_finished(records: Iterable[SendRecord], *, provider: str = "") -> None:
    """Count records that have just reached ``delivered`` or ``failed``."""
    delivered: Tally[tuple[str, str]] = Tally()
    failed: Tally[tuple[str, str]] = Tally()
    for record in records:
        if record.state == RecordState.DELIVERED:
            delivered[_labels(record, provider)] += 1
        elif record.state == RecordState.FAILED:
            failed[_labels(record, provider)] += 1
    _count_after_commit({SENDS_DELIVERED: delivered, SENDS_FAILED: failed})


def count_outcomes(records: Iterable[SendRecord], *, provider: str = "") -> None:
    """Count a provider's answer just recorded: accepted records (``submitted``, or
    ``delivered`` where acceptance is final), refused ones (``failed``)."""
    records = list(records)
    accepted: Tally[tuple[str, str]] = Tally(
        _labels(record, provider)
        for record in records
        if record.state in (RecordState.SUBMITTED, RecordState.DELIVERED)
    )
    _count_after_commit({SENDS_ACCEPTED: accepted})
    count_finished(records, provider=provider)


class RecordStateCollector:
    """The records not final yet, by state, and those stuck ``sending``: asked of the database
    at scrape time (the (state, updated_at) index answers both)."""

    def collect(self) -> Iterator[Metric]:
        depth = record_depth()
        states = GaugeMetricFamily("sms_records", "Records not final yet, by state.", labels=["state"])
        for state in NOT_FINAL_STATES:
            states.add_metric([str(state)], depth[state])
        yield states
        yield GaugeMetricFamily(
            "sms_records_stuck_sending",
            "Records sending for longer than SMS_SENDING_STUCK_SECONDS (their worker may have died).",
            value=depth["stuck_sending"],
        )


def record_depth() -> dict[str, int]:
    """Records not final yet, by state, and ``stuck_sending``: those ``sending`` for longer than
    ``sending_stuck_after()``. The gauge and the operators' dashboard both read this."""
    depth = dict.fromkeys((str(state) for state in NOT_FINAL_STATES), 0)
    rows = SendRecord.objects.filter(state__in=NOT_FINAL_STATES).values("state").annotate(n=Count("id"))
    for row in rows.order_by():
        depth[row["state"]] = row["n"]
    depth["stuck_sending"] = SendRecord.objects.filter(
        state=RecordState.SENDING, updated_at__lt=timezone.now() - sending_stuck_after()
    ).count()
    return depth


TASK_RETRIES = Counter(
    "sms_task_retries_total",
    "Tasks retried after a transient infrastructure error (database, cache or broker).",
    ["task", "error"],
)
OUTCOME_WRITE_RETRIES = Counter(
    "sms_outcome_write_retries_total",
    "Writes of a provider's answer retried in place while the database was unreachable.",
    ["provider"],
)
PROVIDER_PUSHES = Counter(
    "sms_provider_pushes_total",
    "Provider pushes received: stored in the inbox, queued (the database was down), refused (nothing "
    "could store them: the provider is asked to push again) or rejected (not the provider's format).",
    ["provider", "kind", "outcome"],
)
WEBHOOK_POSTS = Counter(
    "sms_webhook_posts_total",
    "Webhook POSTs to tenants' receivers, by outcome: delivered (2xx), failed (retried), dead "
    "(failed with no retry left for some of its events).",
    ["outcome"],
)
WEBHOOK_EVENTS = Counter(
    "sms_webhook_events_total",
    "Webhook events by what a POST did with them: delivered, or dead (no retry left).",
    ["outcome"],
)


def count_webhook_post(outcome: str, events: int, dead: int) -> None:
    """Count one webhook POST and what became of its events."""
    WEBHOOK_POSTS.labels(outcome).inc()
    if outcome == "delivered":
        WEBHOOK_EVENTS.labels("delivered").inc(events)
    if dead:
        WEBHOOK_EVENTS.labels("dead").inc(dead)


REPORTS_REJECTED = Counter(
    "sms_reports_rejected_total",
    "Delivery reports that named a record but not its provider or number: kept, never applied.",
    ["provider", "reason"],
)

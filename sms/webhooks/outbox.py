"""The webhook outbox: an event for every tenant record that reaches a final state, written in the
transaction that moves it there.

``record_finished`` is called beside ``metrics.count_finished`` on every path that makes a record
``delivered`` or ``failed`` (provider answers and refusals in ``sms.sending.pipeline``, reports in
``sms.delivery.reports``, the settle deadline in ``sms.sending.sweeps``, verify-code refusals in
``sms.tenant_api.services``, suspensions): the event commits or rolls back with the state change, so no
final state is missed and none is pushed that did not happen. Only tenant records with a callback
(the batch's ``callback_url`` or the tenant's ``v1/callback``) get one; one per record
(``WebhookEvent.record`` is unique). After the commit the delivery task is published by name
(``DELIVER_TASK``) once per target; beat publishes again whatever is due and was not taken
(``sms.webhooks.services.sweep_due``).

``record_notice`` writes a tenant notice that is no record's state (``limit.warning``, from
``sms.accounting.caps``) the same way: in the transaction of the change it tells of, to the
tenant's ``v1/callback`` URL, delivered, retried and redelivered as any event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from sms.core import broker
from sms.core.bulk import chunked
from sms.models import FINAL_STATES, MessageBatch, SendRecord, WebhookEndpoint, WebhookEvent, WebhookEventKind

logger = logging.getLogger(__name__)

DELIVER_TASK = "sms.deliver_webhooks"


def publish_delivery(tenant_id: int, url: str, *, countdown: float | None = None) -> None:
    """Send one ``DELIVER_TASK`` message for a target now (by name: ``sms.tasks`` imports this
    module, never the reverse). A broker outage is logged: beat publishes due events again."""
    try:
        broker.send_task(DELIVER_TASK, args=(tenant_id, url), countdown=countdown)
    except Exception:
        logger.warning("publishing a webhook delivery failed; beat will publish it again", exc_info=True)


def publish_after_commit(targets: Iterable[tuple[int, str]]) -> None:
    """Publish a delivery per ``(tenant id, url)`` once the current transaction commits."""
    for tenant_id, url in sorted(set(targets)):
        transaction.on_commit(lambda t=tenant_id, u=url: publish_delivery(t, u), robust=True)


def record_finished(records: Iterable[SendRecord]) -> int:
    """Write the outbox event of each tenant record of ``records`` that is now final, inside the
    caller's transaction (one ``bulk_create``), and publish its delivery after the commit. Returns
    how many events were written."""
    finals = [record for record in records if record.batch_id is not None and record.state in FINAL_STATES]
    if not finals:
        return 0
    targets: dict[int, tuple[int, str, bool]] = {}  # batch id -> (tenant id, url, from the batch)
    for chunk in chunked(sorted({record.batch_id for record in finals})):
        for batch_id, tenant_id, batch_url, tenant_url in MessageBatch.objects.filter(
            pk__in=chunk
        ).values_list("id", "tenant_id", "callback_url", "tenant__webhook__url"):
            # No v1/callback, no secret to sign with: the tenant gets no pushes at all.
            if tenant_url:
                targets[batch_id] = (tenant_id, batch_url or tenant_url, bool(batch_url))
    now = timezone.now()
    events = [
        WebhookEvent(
            record_id=record.pk,
            tenant_id=targets[record.batch_id][0],
            url=targets[record.batch_id][1],
            from_batch=targets[record.batch_id][2],
            next_attempt_at=now,
        )
        for record in finals
        if record.batch_id in targets
    ]
    if not events:
        return 0
    WebhookEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=1000)
    publish_after_commit((tenant_id, url) for tenant_id, url, _ in targets.values())
    return len(events)


def record_notice(*, tenant_id: int, kind: WebhookEventKind, payload: dict[str, Any]) -> bool:
    """Write one event of ``kind`` carrying ``payload`` for the tenant, inside the caller's
    transaction, to its ``v1/callback`` URL, and publish its delivery after the commit. A tenant
    without a callback gets nothing (no secret to sign with): answers whether an event was written."""
    url = WebhookEndpoint.objects.filter(tenant_id=tenant_id).values_list("url", flat=True).first()
    if not url:
        return False
    WebhookEvent.objects.create(
        record=None, kind=kind, payload=payload, tenant_id=tenant_id, url=url, next_attempt_at=timezone.now()
    )
    publish_after_commit([(tenant_id, url)])
    return True

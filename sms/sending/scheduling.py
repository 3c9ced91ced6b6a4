"""Releasing held tenant batches: scheduled sends (``send_at``) and marketing outside its hours.

A held batch's records are ``scheduled`` and the batch has a ``release_at`` (on the business
clock, ``gm_server_notify.clock``). Beat's ``sms.release_scheduled`` (every ``SMS_SWEEP_SECONDS``)
releases every batch whose time has come: its records become ``queued`` and are published for
dispatch as any other batch. A marketing batch is looked at once more when it is released: when
the hours have closed meanwhile (beat was late) it is held to the next opening, and numbers that
opted out since it was accepted fail (``OPTED_OUT``) and are refunded.

Lock order (docs/architecture.md): the batch's scheduled records (by id, ``SKIP LOCKED``: a
cancellation in progress keeps its own) → the batch row (its ``release_at``) → balances of the
refunded → ledger rows → webhook events.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from gm_server_notify import clock
from gm_server_notify.db import retry_on_deadlock
from sms.core.bulk import chunked
from sms.marketing import hours, optout
from sms.models import MessageBatch, RecordState, SendRecord
from sms.sending.pipeline import fail_records, queue_batch_for_dispatch
from templates_mgmt.models import TemplateType

logger = logging.getLogger(__name__)


def release_due(*, limit: int = 100) -> int:
    """Release the held batches whose ``release_at`` has come (up to ``limit`` batches a run, the
    oldest first). Answers how many records were queued."""
    now = clock.now()
    due = list(
        MessageBatch.objects.filter(release_at__lte=now)
        .order_by("release_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(release_held_batch(batch_id=batch_id) for batch_id in due)


@retry_on_deadlock()
def release_held_batch(*, batch_id: int) -> int:
    """Release one held batch now (the module's docstring). Answers how many records were queued."""
    now = clock.now()
    batch = (
        MessageBatch.objects.filter(pk=batch_id).only("id", "tenant_id", "sign_id", "template_type").first()
    )
    if batch is None:
        return 0
    marketing = batch.template_type == TemplateType.MARKETING
    with transaction.atomic():
        if marketing and not hours.in_marketing_hours(now):
            opening = hours.next_opening(now)
            MessageBatch.objects.filter(pk=batch_id).update(release_at=opening)
            logger.info(
                "batch %s held again until %s (outside the marketing hours)", batch_id, opening.isoformat()
            )
            return 0
        records = list(
            SendRecord.objects.select_for_update(skip_locked=True)
            .filter(batch_id=batch_id, state=RecordState.SCHEDULED)
            .order_by("id")
            .only(
                "id",
                "phone_e164",
                "batch_id",
                "station_id",
                "segments",
                "billed_parts",
                "created_at",
                "state",
            )
        )
        locked_out = SendRecord.objects.filter(batch_id=batch_id, state=RecordState.SCHEDULED).count() - len(
            records
        )
        # Rows a cancellation holds are left to it; the batch stays due while any remain.
        MessageBatch.objects.filter(pk=batch_id).update(release_at=now if locked_out > 0 else None)
        opted_out: list[SendRecord] = []
        if marketing and records:
            blocked = optout.blocked_mobiles(
                tenant_id=batch.tenant_id, sign_id=batch.sign_id, mobiles_e164=[r.phone_e164 for r in records]
            )
            opted_out = [record for record in records if record.phone_e164 in blocked]
        if opted_out:
            fail_records(
                records=opted_out,
                remark="the number opted out since the batch was accepted",
                code=optout.OPTED_OUT_CODE,
            )
        blocked_ids = {record.pk for record in opted_out}
        release_ids = [record.pk for record in records if record.pk not in blocked_ids]
        stamp = timezone.now()
        for chunk in chunked(release_ids):
            SendRecord.objects.filter(pk__in=chunk, state=RecordState.SCHEDULED).update(
                state=RecordState.QUEUED, queued_at=stamp, updated_at=stamp
            )
        queue_batch_for_dispatch(batch_id=batch_id)
    logger.info(
        "batch %s released: %s record(s) queued, %s opted out meanwhile",
        batch_id,
        len(release_ids),
        len(opted_out),
    )
    return len(release_ids)

"""Provider pushes, parsed and applied: delivery reports move records, uplinks are stored once.

The HTTP side (``sms.pushes.views``) parses a push (a body that is not the provider's format is
refused there), stores it as it came in the inbox (``store_push``: one insert) and acknowledges
it; when the database is unreachable it hands the raw push to the broker for
``sms.tasks.apply_provider_push`` instead. A push is acknowledged only once it is stored in one
or the other. Workers drain the inbox (``drain_inbox``): thousands of pushes at a time, their
reports applied together by one set-based ``apply_delivery_reports`` per provider, so the cost of a
push is one insert, whatever the provider's batching (docs/architecture.md, "Report intake").
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gm_server_notify.db import retry_on_deadlock
from providers.base import CallbackParseError, ProviderAdapter
from providers.registry import UnknownProvider, get_adapter
from sms.core.bulk import db_datetime, insert_rows
from sms.delivery import reports, uplinks
from sms.models import PushInbox

logger = logging.getLogger(__name__)

STATUS = "status"
UPLINK = "uplink"


class UnknownProviderPush(LookupError):
    """A push for a provider we do not have."""


def parse_push(
    *, provider: str, kind: str, body: bytes, content_type: str
) -> tuple[ProviderAdapter, list[Any]]:
    """The provider's adapter and the reports or uplinks of a ``status`` or ``uplink`` push.
    Raises ``UnknownProviderPush``, or ``CallbackParseError`` for a body that is not the
    provider's format (or a kind of push it does not make)."""
    try:
        adapter = get_adapter(provider)
    except UnknownProvider as exc:
        raise UnknownProviderPush(f"no provider {provider}") from exc
    parse = adapter.parse_status_callback if kind == STATUS else adapter.parse_uplink_callback
    try:
        return adapter, parse(body, content_type)
    except NotImplementedError as exc:
        raise CallbackParseError(f"{provider} has no {kind} push") from exc


def apply_push(*, provider: str, kind: str, items: Sequence[Any]) -> None:
    """Apply parsed push items: reports through ``sms.delivery.reports``, uplinks stored once and matched
    through ``sms.delivery.uplinks``."""
    if kind == STATUS:
        result = reports.apply_delivery_reports(provider=provider, reports=items)
        logger.info(
            "%s status push: %s applied, %s already final, %s unknown, %s rejected",
            provider,
            result.applied,
            result.already_final,
            result.unknown,
            result.rejected,
        )
    else:
        uplinks.store_uplinks(provider=provider, messages=items)


def store_push(*, provider: str, kind: str, body: bytes, content_type: str) -> None:
    """Keep a parsed push as it came, for a worker to apply: one autocommitted insert of plain
    values (the ORM's ``create`` cost the push twice the CPU: docs/performance.md, section 6)."""
    insert_rows(
        PushInbox,
        INBOX_FIELDS,
        [(provider, kind, body, content_type[:100], db_datetime(timezone.now()), "")],
    )


INBOX_FIELDS = ("provider", "kind", "body", "content_type", "received_at", "claim")


@dataclass
class DrainResult:
    pushes: int = 0
    reports: int = 0
    uplinks: int = 0
    dropped: int = 0


# A drain claims this many pushes at a time; a claim older than CLAIM_TIMEOUT belongs to a drain
# whose worker died (or lost the database mid-chunk) and is taken over: longer than a chunk takes
# (about a second for 2,000 reports), short enough that a database restart delays the reports
# claimed at that moment by half a minute at most. Applying a push again changes nothing.
DRAIN_CHUNK = 2000
CLAIM_TIMEOUT = dt.timedelta(seconds=30)


@retry_on_deadlock()
def _claim(limit: int) -> tuple[str, list[PushInbox]]:
    """Claim up to ``limit`` unclaimed (or abandoned) pushes, oldest first."""
    token = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            PushInbox.objects.select_for_update(skip_locked=True)
            .filter(Q(claim="") | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return token, []
        PushInbox.objects.filter(pk__in=ids).update(claim=token, claimed_at=now)
    return token, list(PushInbox.objects.filter(claim=token).order_by("id"))


def _release(token: str) -> None:
    """Give a chunk back at once after a failed apply (the task retries); when the database is
    what failed, this fails too and the claim times out instead."""
    try:
        PushInbox.objects.filter(claim=token).update(claim="", claimed_at=None)
    except Exception as exc:  # noqa: BLE001 - best effort: CLAIM_TIMEOUT is the net
        logger.warning("inbox claim %s not released (%s): it times out", token, type(exc).__name__)


def drain_inbox(*, limit: int = DRAIN_CHUNK, budget_seconds: float = 20.0) -> DrainResult:
    """Apply the stored pushes, ``limit`` at a time, until the inbox is empty or the budget is
    spent: each chunk's reports go to ``apply_delivery_reports`` together, per provider and in the
    order they came (one final-state rule, however they are batched), its uplinks to
    ``store_uplinks``; then the chunk is deleted. A crash before the delete applies the chunk again
    later, which changes nothing."""
    result = DrainResult()
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        token, pushes = _claim(limit)
        if not pushes:
            break
        items: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for push in pushes:
            try:
                _, parsed = parse_push(
                    provider=push.provider,
                    kind=push.kind,
                    body=bytes(push.body),
                    content_type=push.content_type,
                )
            except (CallbackParseError, UnknownProviderPush) as exc:
                # Parsed once already when it came: only a provider removed since can get here.
                logger.error(
                    "stored %s %s push %s cannot be parsed, dropped: %s",
                    push.provider,
                    push.kind,
                    push.pk,
                    exc,
                )
                result.dropped += 1
                continue
            items[(push.provider, push.kind)].extend(parsed)
        try:
            for (provider, kind), parsed in items.items():
                apply_push(provider=provider, kind=kind, items=parsed)
                if kind == STATUS:
                    result.reports += len(parsed)
                else:
                    result.uplinks += len(parsed)
        except Exception:
            _release(token)
            raise
        PushInbox.objects.filter(claim=token).delete()
        result.pushes += len(pushes)
        if len(pushes) < limit:
            break
    return result

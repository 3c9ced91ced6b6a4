"""Erasing personal data: by age (retention, beat's ``sms.erase_expired_personal_data``) and on
request (``manage.py erase_mobile``). What is stored where, and what each column becomes:
``sms.privacy.selectors.PERSONAL_TABLES``; for operators: docs/operations.md.

Retention walks each table by primary key from a stored cursor (``RetentionCursor``), one
transaction per range of ``SMS_RETENTION_BATCH_SIZE`` rows: an ``UPDATE`` (or ``DELETE``) by id
range of the rows older than the retention that are final and not yet erased. Under READ COMMITTED
it locks only the rows it changes, which nothing else writes any more (a final record never moves
again), so the sending path never waits on it. Ids grow with time, so a table's walk stops at its
first row younger than the retention. A send record that is not final (held by ``send_at``,
waiting for a report, unknown) is left; the cursor remembers it (``held_ids``) and erases it
on a later run once it has ended. One run at a time
(a cache lock); two overlapping runs would only repeat each other's idempotent updates.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from audit import services as audit
from audit.models import AuditAction
from audit.services import SYSTEM, Actor
from sms.core.phones import mask, phone_hash
from sms.models import RetentionCursor, SendRecord
from sms.privacy.selectors import (
    PERSONAL_TABLES,
    PersonalTable,
    Spellings,
    binary_rows_with,
    exact_match,
    rows_with,
    spellings_of,
)

logger = logging.getLogger(__name__)

LOCK_KEY = "sms:retention:running"
# Rows still moving a table's cursor remembers (and revisits) rather than stopping at the first.
HELD_IDS_MAX = 10_000

# Retention keeps a send record's provider message id but cuts the number out of the gateway's
# ``<taskId>:<mobile>`` (its taskId, the dispatch id, stays).
_RECORD_MESSAGE_ID = Case(
    When(
        provider_message_id=Concat(F("dispatch_id"), Value(":"), F("receive_phone")),
        then=Concat(F("dispatch_id"), Value(":")),
    ),
    default=F("provider_message_id"),
)


def _retention_values(table: PersonalTable) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if table.model is SendRecord:
        # First: MySQL evaluates an UPDATE's assignments left to right, on the values already set.
        values["provider_message_id"] = _RECORD_MESSAGE_ID
    values.update(table.erased)
    return values


def _not_erased(table: PersonalTable) -> Q:
    """Rows with something left to erase: a non-nullable text column of ``erased`` not yet empty."""
    query = Q(pk__in=[])
    for name, value in table.erased.items():
        column = table.model._meta.get_field(name)
        if value == "" and not column.null:
            query |= ~Q(**{name: ""})
    return query


@dataclass
class RetentionReport:
    cutoff: dt.datetime | None
    # rows erased (or deleted) per table
    erased: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    longest_batch_seconds: float = 0.0
    # tables whose walk reached rows younger than the retention (the rest ran out of time)
    finished: list[str] = field(default_factory=list)
    # rows per table left because they are not final yet (looked at again next run)
    held: dict[str, int] = field(default_factory=dict)
    skipped: str = ""  # why nothing ran: "off", "locked"

    @property
    def total(self) -> int:
        return sum(self.erased.values())


def erase_expired(
    *,
    now: dt.datetime | None = None,
    retention_days: int | None = None,
    batch_size: int | None = None,
    max_seconds: float | None = None,
) -> RetentionReport:
    """Erase the numbers and texts older than ``retention_days`` (``SMS_PERSONAL_DATA_RETENTION_DAYS``;
    0: off) in every table of ``PERSONAL_TABLES`` with an age, ``batch_size`` rows per
    transaction, for about ``max_seconds`` at most (the next run goes on from the cursors)."""
    days = settings.SMS_PERSONAL_DATA_RETENTION_DAYS if retention_days is None else retention_days
    if days <= 0:
        return RetentionReport(cutoff=None, skipped="off")
    size = batch_size or settings.SMS_RETENTION_BATCH_SIZE
    budget = settings.SMS_RETENTION_MAX_SECONDS if max_seconds is None else max_seconds
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    report = RetentionReport(cutoff=cutoff)
    token = uuid.uuid4().hex
    if not cache.add(LOCK_KEY, token, timeout=int(budget) + 120):
        report.skipped = "locked"
        return report
    deadline = time.monotonic() + budget
    try:
        for table in PERSONAL_TABLES:
            if table.age is not None:
                _walk(table, cutoff=cutoff, size=size, deadline=deadline, report=report)
    finally:
        if cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)
    if report.held:
        logger.info("retention: rows not final yet, left for a later run: %s", report.held)
    return report


def _walk(
    table: PersonalTable, *, cutoff: dt.datetime, size: int, deadline: float, report: RetentionReport
) -> None:
    model: type[models.Model] = table.model
    name = table.label
    cursor, _ = RetentionCursor.objects.get_or_create(table=name)
    values = _retention_values(table)
    pending = _not_erased(table)
    old = Q(**{f"{table.age}__lt": cutoff})
    final = table.final if table.final is not None else Q()
    report.erased.setdefault(name, 0)
    held: list[int] = list(cursor.held_ids)
    if held:
        # The rows a run left because they were still moving: erased once they ended.
        report.erased[name] += _erase_batch(
            model.objects.filter(pk__in=held).filter(old, final), table, values, pending, report
        )
        held = list(model.objects.filter(pk__in=held).exclude(final).values_list("pk", flat=True))
    low = cursor.next_id
    hold_from: int | None = None  # more held than the list keeps: the cursor stays here
    while time.monotonic() < deadline:
        ids = list(model.objects.filter(pk__gte=low).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            report.finished.append(name)
            break
        younger = (
            model.objects.filter(pk__gte=low, pk__lte=ids[-1], **{f"{table.age}__gte": cutoff})
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
        end = ids[-1] + 1 if younger is None else younger
        span = model.objects.filter(pk__gte=low, pk__lt=end).filter(old)
        report.erased[name] += _erase_batch(span.filter(final), table, values, pending, report)
        if table.final is not None and hold_from is None:
            room = HELD_IDS_MAX - len(held)
            moving = list(span.exclude(final).order_by("pk").values_list("pk", flat=True)[: room + 1])
            held += moving[:room]
            if len(moving) > room:
                hold_from = moving[room]
        low = end
        RetentionCursor.objects.filter(pk=cursor.pk).update(
            next_id=low if hold_from is None else hold_from, held_ids=held, updated_at=timezone.now()
        )
        if younger is not None:
            report.finished.append(name)
            break
    if held != cursor.held_ids:
        RetentionCursor.objects.filter(pk=cursor.pk).update(held_ids=held)
    if held:
        report.held[name] = len(held)


def _erase_batch(
    rows: QuerySet[Any], table: PersonalTable, values: dict[str, Any], pending: Q, report: RetentionReport
) -> int:
    """One transaction: erase (or delete) ``rows``, timed."""
    started = time.monotonic()
    with transaction.atomic():
        if table.deletes:
            changed, _ = rows.delete()
        else:
            changed = rows.filter(pending).update(**values)
    report.longest_batch_seconds = max(report.longest_batch_seconds, time.monotonic() - started)
    report.batches += 1
    return changed


@dataclass
class TableErasure:
    table: str
    erased: int = 0  # rows that were the number's, erased
    cut: int = 0  # rows that carried the number inside a text or payload, cut out of it
    deleted: int = 0  # rows deleted (push inbox, idempotency answers, login records)
    held: int = 0  # the number's send records not final yet: left, to erase again once they end

    @property
    def touched(self) -> int:
        return self.erased + self.cut + self.deleted


@dataclass
class ErasureReport:
    masked_number: str
    dry_run: bool
    tables: list[TableErasure]

    @property
    def touched(self) -> int:
        return sum(table.touched for table in self.tables)

    @property
    def held(self) -> int:
        return sum(table.held for table in self.tables)


def erase_mobile(*, number: str, dry_run: bool, actor: Actor = SYSTEM) -> ErasureReport:
    """Find ``number`` (any spelling, normalised with phonenumbers; ``InvalidPhone`` otherwise)
    in every table of ``PERSONAL_TABLES`` and erase it: the rows that are its own lose every
    personal column (``erased``), the others have it cut out of their texts and payloads (the
    stored answers of Idempotency-Keys too, so a replay still answers), the push inbox and the
    login records lose the rows. Opt-outs keep their ``phone_hash``. A send record still on
    its way is left and counted as ``held``. ``dry_run``: count only, change nothing.

    An erasure is one audit entry of ``actor``, in the same transaction; its target is the
    number's keyed hash (the opt-outs' ``phone_hash``), never the number: whoever holds the key
    can still tell that a given number was erased, nobody can read it back."""
    spellings = spellings_of(number)
    tables: list[TableErasure] = []
    with transaction.atomic():
        for table in PERSONAL_TABLES:
            tables.append(_erase_in(table, spellings, dry_run=dry_run))
        report = ErasureReport(masked_number=mask(spellings.needle), dry_run=dry_run, tables=tables)
        if not dry_run:
            audit.record(
                actor=actor,
                action=AuditAction.ERASURE,
                target=("mobile", phone_hash(spellings.forms[0])),
                before=None,
                after={
                    "masked_number": report.masked_number,
                    "touched": report.touched,
                    "held": report.held,
                    "tables": {
                        table.table: {"erased": table.erased, "cut": table.cut, "deleted": table.deleted}
                        for table in tables
                        if table.touched
                    },
                },
            )
    return report


def _erase_in(table: PersonalTable, spellings: Spellings, *, dry_run: bool) -> TableErasure:
    model = table.model
    result = TableErasure(table=table.label)
    columns = list(dict.fromkeys([*table.exact, *table.inside]))
    rows = list(rows_with(table, spellings).only("pk", *columns))
    seen = {row.pk for row in rows}
    rows += [row for row in binary_rows_with(table, spellings) if row.pk not in seen]
    if not rows:
        return result
    owned = set(
        model.objects.filter(pk__in=[row.pk for row in rows])
        .filter(exact_match(table, spellings))
        .values_list("pk", flat=True)
    )
    in_flight: set[Any] = set()
    if table.on_request_in_flight and table.final is not None:
        in_flight = set(
            model.objects.filter(pk__in=[row.pk for row in rows])
            .exclude(table.final)
            .values_list("pk", flat=True)
        )
    for row in rows:
        if row.pk in in_flight:
            result.held += 1
            continue
        if table.deletes and not table.cut_on_request:
            result.deleted += 1
            if not dry_run:
                model.objects.filter(pk=row.pk).delete()
            continue
        values: dict[str, Any] = dict(table.erased) if row.pk in owned else {}
        for name in table.inside:
            if name not in values:
                values[name] = _cut(getattr(row, name), spellings)
        if row.pk in owned:
            result.erased += 1
        else:
            result.cut += 1
        if not dry_run:
            model.objects.filter(pk=row.pk).update(**values)
    return result


def _cut(value: Any, spellings: Spellings) -> Any:
    if isinstance(value, str):
        return spellings.cut(value)
    if isinstance(value, bytes | memoryview):
        return spellings.cut_bytes(bytes(value))
    return spellings.cut_json(value)

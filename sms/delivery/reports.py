"""Delivery reports: what moves a record to its final state.

A report moves a record to its final state (``delivered`` or ``failed``) in bulk and
idempotently; a report that names no record yet is kept (``PendingReport``) and applied once the
record carries the provider's id. The per-station per-day aggregate (``sms.accounting.statistics``)
changes in the same transaction as the records it counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from gm_server_notify.db import retry_on_deadlock
from providers.base import DeliveryReport, ReportStatus
from sms.accounting.statistics import DailyCounts, bump_daily_statistics, count_daily
from sms.core import metrics
from sms.core.bulk import bulk_save, chunked
from sms.core.phones import mask
from sms.models import (
    FINAL_STATES,
    PendingReport,
    RecordState,
    RejectedReport,
    SendRecord,
    SendStatus,
)
from sms.webhooks import outbox

logger = logging.getLogger(__name__)


def failure_remark(code: str, description: str, *, default: str) -> str:
    """What a failed record shows as its reason: the provider's code and description, or
    ``default`` when it gave neither."""
    return (": ".join(part for part in (code, description) if part) or default)[:255]


@dataclass
class ReportResult:
    applied: int = 0
    already_final: int = 0  # the record was final already: a repeated or late report
    unknown: int = 0  # no record carries that id (yet): kept as a pending report
    rejected: int = 0  # named a record but not its provider or number: kept apart, never applied


WRONG_PROVIDER = "wrong_provider"
WRONG_NUMBER = "wrong_number"


def _misfit(record: SendRecord, report: DeliveryReport, provider: str) -> str:
    """Why ``report`` cannot be about ``record`` ("" when it can)."""
    if record.provider != provider:
        return WRONG_PROVIDER
    if not report.fits(record.phone_e164):
        return WRONG_NUMBER
    return ""


def _reject(provider: str, rejected: list[tuple[SendRecord, DeliveryReport, str]]) -> None:
    """Keep reports that do not fit their record, masked, and count them (after commit)."""
    if not rejected:
        return
    RejectedReport.objects.bulk_create(
        [
            RejectedReport(
                provider=provider,
                provider_message_id=report.provider_message_id[:64],
                record_id=record.pk,
                reported_phone=mask(report.phone)[:24],
                delivered=report.status is ReportStatus.DELIVERED,
                code=report.code[:64],
                reason=reason,
            )
            for record, report, reason in rejected
        ]
    )
    logger.warning("%s: %s report(s) did not fit their records and were not applied", provider, len(rejected))
    reasons = Counter(reason for _, _, reason in rejected)
    transaction.on_commit(
        lambda: [metrics.REPORTS_REJECTED.labels(provider, r).inc(n) for r, n in reasons.items()], robust=True
    )


def _report_key(report: DeliveryReport) -> str:
    return report.provider_message_id or f"record:{report.record_id}"


def _resolve_by_dispatch(provider: str, reports: Sequence[DeliveryReport]) -> list[DeliveryReport]:
    """Reports that name our request and a (masked) number instead of a message id
    (``DeliveryReport.names_dispatch``: the gateway's pulled reports, seed 002) made to name the
    one record of that request whose number the report ``fits``. A report that fits none, or more
    than one, is left as it is (it then matches nothing: a number that appears twice in one
    request cannot be told apart); so is one whose number cannot tell numbers apart (blank, all
    stars, too little visible: ``WrittenNumber.tells_apart``), even in a request of one record."""
    wanted = {report.dispatch_id for report in reports if report.names_dispatch}
    if not wanted:
        return list(reports)
    by_dispatch: dict[str, list[tuple[int, str]]] = {}
    for chunk in chunked(sorted(wanted)):
        for pk, dispatch_id, e164 in SendRecord.objects.filter(
            provider=provider, dispatch_id__in=chunk
        ).values_list("id", "dispatch_id", "phone_e164"):
            by_dispatch.setdefault(dispatch_id, []).append((pk, e164))
    resolved = []
    for report in reports:
        if report.names_dispatch and not report.record_id and report.number.tells_apart:
            fits = [pk for pk, e164 in by_dispatch.get(report.dispatch_id, []) if report.fits(e164)]
            if len(fits) == 1:
                report = dataclasses.replace(report, record_id=fits[0])
        resolved.append(report)
    return resolved


def _first_per_key(reports: Sequence[DeliveryReport]) -> dict[str, DeliveryReport]:
    """The first report for each message (or record) id, in arrival order: the one rule for a
    record's final state. Reports in one body are in the order the provider sent them, so the same
    reports decide the same whether they come in one callback or in several (a later report for a
    record already final is ``already_final``). None of our providers reports per part: one report
    is about the whole message (docs/delivery-truth.md, "One rule for a record's final state")."""
    first: dict[str, DeliveryReport] = {}
    for report in reports:
        if report.provider_message_id or report.record_id:
            first.setdefault(_report_key(report), report)
    return first


def _decide(record: SendRecord, report: DeliveryReport, now: dt.datetime, daily: DailyCounts) -> None:
    """Move ``record`` (not final) to the final state ``report`` says, in memory, and count it."""
    delivered = report.status is ReportStatus.DELIVERED
    record.state = RecordState.DELIVERED if delivered else RecordState.FAILED
    record.status = SendStatus.SUCCESS if delivered else SendStatus.FAILED
    record.provider_code = report.code[:64]
    record.remark = (
        "" if delivered else failure_remark(report.code, report.description, default="undelivered")
    )
    record.finished_at = now
    count_daily(daily, record, "success" if delivered else "failed")


def _match_uncertain(
    provider: str, reports: Sequence[DeliveryReport]
) -> list[tuple[SendRecord, DeliveryReport]]:
    """Records whose submit was uncertain (``unknown`` with no provider id: the answer was lost)
    that an unmatched report is about: same provider, same number, and exactly one such record
    and one such report for that number (anything ambiguous waits for the settle deadline).
    The records are locked and carry the report's id afterwards."""
    by_phone: dict[str, list[DeliveryReport]] = {}
    for report in reports:
        e164 = report.number.e164  # "" when masked: a mask cannot tie a report to one record
        if e164 and report.provider_message_id:
            by_phone.setdefault(e164, []).append(report)
    if not by_phone:
        return []
    candidates: dict[str, list[SendRecord]] = {}
    for chunk in chunked(sorted(by_phone)):
        for record in (
            SendRecord.objects.select_for_update()
            .filter(
                provider=provider,
                state=RecordState.UNKNOWN,
                provider_message_id__isnull=True,
                phone_e164__in=chunk,
            )
            .order_by("id")
        ):
            candidates.setdefault(record.phone_e164, []).append(record)
    matched = []
    for e164, records in candidates.items():
        reports_for_phone = {report.provider_message_id: report for report in by_phone[e164]}
        if len(records) == 1 and len(reports_for_phone) == 1:
            record, report = records[0], next(iter(reports_for_phone.values()))
            record.provider_message_id = report.provider_message_id[:64]
            matched.append((record, report))
    return matched


# What applying a report reads of a locked record (its fit, its state, the statistics, metrics and
# webhook event of its outcome), not the whole row.
REPORT_READ_FIELDS = (
    "id",
    "provider",
    "provider_message_id",
    "phone_e164",
    "state",
    "status",
    "station_id",
    "batch_id",
    "business_type",
    "created_at",
    "provider_code",
    "remark",
    "finished_at",
)


def _apply_reports(
    provider: str, reports: Sequence[DeliveryReport], daily: DailyCounts
) -> tuple[ReportResult, list[DeliveryReport]]:
    """Apply reports to the records they name, inside the caller's transaction, adding the
    statistics to ``daily`` for the caller to book last. Returns the counts and the reports that
    matched no record."""
    result = ReportResult()
    first = _first_per_key(_resolve_by_dispatch(provider, reports))
    by_message_id = {
        report.provider_message_id: report for report in first.values() if report.provider_message_id
    }
    by_record_id = {
        report.record_id: report
        for report in first.values()
        if report.record_id and not report.provider_message_id
    }
    if not first:
        return result, list(reports)
    now = timezone.now()
    # Find the ids without locking, then lock by primary key in id order: the order the workers
    # lock in, so report handlers and workers do not deadlock each other.
    matching = SendRecord.objects.filter(provider=provider, provider_message_id__in=list(by_message_id))
    ids = sorted(set(matching.values_list("id", flat=True)) | set(by_record_id))
    records = []
    for chunk in chunked(ids):
        records += list(
            SendRecord.objects.select_for_update()
            .filter(pk__in=chunk)
            .only(*REPORT_READ_FIELDS)
            .order_by("id")
        )
    changed: list[SendRecord] = []
    rejected: list[tuple[SendRecord, DeliveryReport, str]] = []
    matched: set[str] = set()
    for record in records:
        report = by_message_id.get(record.provider_message_id or "") or by_record_id.get(record.pk)
        if report is None:
            continue
        matched.add(_report_key(report))
        misfit = _misfit(record, report, provider)
        if misfit:
            rejected.append((record, report, misfit))
            continue
        if record.state in FINAL_STATES:
            result.already_final += 1
            continue
        _decide(record, report, now, daily)
        changed.append(record)
    # Reports mostly share their outcome: one UPDATE per distinct outcome, not a row-by-row write.
    groups: dict[tuple[str, int, str, str], list[int]] = {}
    for record in changed:
        groups.setdefault((record.state, record.status, record.provider_code, record.remark), []).append(
            record.pk
        )
    for (state, status, code, remark), group_ids in groups.items():
        for chunk in chunked(group_ids):
            SendRecord.objects.filter(pk__in=chunk).update(
                state=state, status=status, provider_code=code, remark=remark, finished_at=now, updated_at=now
            )
    unmatched = [report for report in first.values() if _report_key(report) not in matched]
    # Reports about submits whose answer was lost: the number ties them to the record.
    uncertain = _match_uncertain(provider, unmatched)
    for record, report in uncertain:
        matched.add(_report_key(report))
        _decide(record, report, now, daily)
        changed.append(record)
    bulk_save(
        [record for record, _ in uncertain],
        ["state", "status", "provider_code", "remark", "provider_message_id", "finished_at", "updated_at"],
    )
    _reject(provider, rejected)
    outbox.record_finished(changed)
    metrics.count_finished(changed, provider=provider)
    result.applied = len(changed)
    result.rejected = len(rejected)
    unmatched = [report for report in unmatched if _report_key(report) not in matched]
    return result, unmatched


@retry_on_deadlock()
def apply_delivery_reports(*, provider: str, reports: Sequence[DeliveryReport]) -> ReportResult:
    """Move records to their final state from a provider's reports, in bulk and idempotently.

    A report for a record already final changes nothing and counts nothing twice. The daily
    statistics change in the same transaction as the records. A report that names no record
    yet (it overtook the worker's commit) is kept and applied once the record carries its id.
    """
    with transaction.atomic():
        daily: DailyCounts = {}
        result, unmatched = _apply_reports(provider, reports, daily)
        pending = [
            PendingReport(
                provider=provider,
                provider_message_id=report.provider_message_id[:64],
                delivered=report.status is ReportStatus.DELIVERED,
                code=report.code[:64],
                description=report.description[:255],
                phone=report.phone[:24],
                occurred_at=report.occurred_at,
            )
            for report in unmatched
            if report.provider_message_id
        ]
        PendingReport.objects.bulk_create(pending, ignore_conflicts=True, batch_size=1000)
        bump_daily_statistics(daily)
    late = 0
    if pending:
        # The worker may have committed the ids after we looked and before we stored: look again,
        # now that our reports are committed (the worker looks after its own commit too).
        for chunk in chunked([row.provider_message_id for row in pending]):
            late += apply_pending_reports(provider=provider, message_ids=chunk)
    result.applied += late
    result.unknown = len(unmatched) - late
    if unmatched:
        logger.info(
            "%s: %s delivery report(s) kept until their records carry the id", provider, len(unmatched)
        )
    return result


def _as_report(row: PendingReport) -> DeliveryReport:
    return DeliveryReport(
        provider=row.provider,
        provider_message_id=row.provider_message_id,
        status=ReportStatus.DELIVERED if row.delivered else ReportStatus.FAILED,
        code=row.code,
        description=row.description,
        phone=row.phone,
        occurred_at=row.occurred_at,
    )


@retry_on_deadlock()
def apply_pending_reports(
    *, provider: str, message_ids: Sequence[str] | None = None, limit: int = 5000
) -> int:
    """Apply kept reports whose records now carry the id (all of the provider's, or those of
    ``message_ids``), and forget them. Joins the caller's transaction when there is one.

    The sweep (all of a provider's) skips kept reports another transaction holds. A look for
    ``message_ids`` (the worker after committing ids, the report handler after keeping reports)
    finds them without locking, then locks exactly those rows by primary key and waits for them:
    the holder may be the other side's look, which found no record because this side had not
    committed yet; skipping would leave the report to the sweep, seconds later (the bulk
    benchmark saw 300 records wait 10 s so)."""
    with transaction.atomic():
        if message_ids is None:
            query = PendingReport.objects.select_for_update(skip_locked=True).filter(provider=provider)
        else:
            # Found without locking, then locked by primary key: a locking read of 999 ids by the
            # unique (provider, id) index made MariaDB lock every kept report of the provider.
            found = list(
                PendingReport.objects.filter(
                    provider=provider, provider_message_id__in=list(message_ids)
                ).values_list("id", flat=True)[:limit]
            )
            if not found:
                return 0
            query = PendingReport.objects.select_for_update().filter(pk__in=found)
        rows = list(query.order_by("id")[:limit])
        if not rows:
            return 0
        daily: DailyCounts = {}
        result, unmatched = _apply_reports(provider, [_as_report(row) for row in rows], daily)
        still_unknown = {report.provider_message_id for report in unmatched}
        PendingReport.objects.filter(
            pk__in=[row.pk for row in rows if row.provider_message_id not in still_unknown]
        ).delete()
        bump_daily_statistics(daily)
    return result.applied


def sweep_pending_reports(*, max_age: dt.timedelta) -> int:
    """Beat: apply kept reports whose records have caught up; drop those older than ``max_age``
    (they belong to no record of ours)."""
    applied = sum(
        apply_pending_reports(provider=provider)
        for provider in PendingReport.objects.values_list("provider", flat=True).distinct()
    )
    PendingReport.objects.filter(received_at__lt=timezone.now() - max_age).delete()
    RejectedReport.objects.filter(received_at__lt=timezone.now() - max_age).delete()
    return applied

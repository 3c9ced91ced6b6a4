"""State changes of the station SMS domain. Each public function is one transaction."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from gm_server_notify import metrics
from gm_server_notify.api.errors import PlatformAPIError, PlatformError
from gm_server_notify.errors import InsufficientBalance, InvalidInput, NotFound
from providers.base import DeliveryReport, ReportStatus
from signatures.models import AuditStatus, Signature
from sms.bulk import chunked
from sms.content import REQUIRED_CONTENT_FIELDS, count_segments, render_station_message
from sms.models import (
    FINAL_STATES,
    BalanceLedger,
    BusinessType,
    Combo,
    DailyStatistics,
    LedgerReason,
    MessageBatch,
    PendingReport,
    RechargeRecord,
    RecordState,
    SendRecord,
    SendStatus,
    Station,
    TenantAccount,
)
from sms.phones import InvalidPhone, Phone, mask, parse_mobile
from sms.retry import retry_on_deadlock
from templates_mgmt.models import Template
from templates_mgmt.placeholders import TemplateError
from templates_mgmt.placeholders import render as render_template

logger = logging.getLogger(__name__)


# --- Balances: the one ledger function -----------------------------------------------------------


class AlreadyBooked(Exception):
    """A ledger entry with this (account, reason, ref) exists: the change was made before."""


def change_balance(
    *,
    station: Station | None = None,
    tenant: TenantAccount | None = None,
    delta: int,
    reason: LedgerReason,
    ref: str,
) -> int:
    """Add ``delta`` (negative to spend) to one account's balance and book it in the ledger.

    The balance can never go below zero, even under concurrency: the change is a conditional
    ``UPDATE … SET balance_nums = balance_nums + delta WHERE balance_nums >= -delta``. The
    ledger's unique ``(account, reason, ref)`` makes a repeated change (a second refund of the
    same record) raise ``AlreadyBooked`` and leave the balance untouched. Returns the new balance.
    """
    if (station is None) == (tenant is None):
        raise ValueError("change_balance needs exactly one of station or tenant")
    account = station if station is not None else tenant
    model = type(account)
    # Only a refund can be repeated (its ref is a record that may be failed twice); reservations,
    # recharges and charges carry fresh refs. Savepoints only where a repeat must be undone.
    repeatable = reason == LedgerReason.REFUND
    with transaction.atomic(savepoint=repeatable):
        query = model.objects.filter(pk=account.pk)
        if delta < 0:
            query = query.filter(balance_nums__gte=-delta)
        if not query.update(balance_nums=F("balance_nums") + delta):
            current = model.objects.filter(pk=account.pk).values_list("balance_nums", flat=True).first()
            raise InsufficientBalance(f"balance is {current or 0}, the send needs {-delta}", field="balance")
        balance_after = model.objects.filter(pk=account.pk).values_list("balance_nums", flat=True).get()
        entry = BalanceLedger(
            station=station, tenant=tenant, delta=delta, balance_after=balance_after, reason=reason, ref=ref
        )
        try:
            with transaction.atomic(savepoint=repeatable):
                entry.save(force_insert=True)
        except IntegrityError as exc:
            raise AlreadyBooked(f"{reason} {ref} was booked already") from exc
    account.balance_nums = balance_after
    return balance_after


# --- Recharges ---------------------------------------------------------------------------------


def validate_recharge(*, combo_id: int, recharge_nums: int, recharge_money: Decimal) -> Combo:
    """The checks of a recharge, on their own (the admin's form runs them before booking)."""
    combo = Combo.objects.filter(pk=combo_id, is_active=True).first()
    if combo is None:
        raise NotFound(f"combo {combo_id} does not exist", field="combo_id")
    if recharge_nums <= 0:
        raise InvalidInput("must be a positive number of messages", field="recharge_nums")
    if recharge_money < 0:
        raise InvalidInput("must not be negative", field="recharge_money")
    if not combo.is_custom and recharge_nums != combo.sms_nums:
        raise InvalidInput(f"combo {combo.pk} holds {combo.sms_nums} messages", field="recharge_nums")
    return combo


def recharge_station(
    *,
    station_id: str,
    combo_id: int,
    recharge_nums: int,
    recharge_money: Decimal,
    operator_name: str,
    deal_code: str = "",
    remark: str = "",
    unit_price: int | None = None,
    station_name: str = "",
) -> RechargeRecord:
    """Record a purchase and add its messages to the station's balance (the station is created
    on its first recharge). A fixed combo must be bought whole; a custom combo takes any amount."""
    combo = validate_recharge(combo_id=combo_id, recharge_nums=recharge_nums, recharge_money=recharge_money)
    with transaction.atomic():
        station, _ = Station.objects.get_or_create(
            station_id=station_id, defaults={"station_name": station_name}
        )
        record = RechargeRecord.objects.create(
            station=station,
            combo=combo,
            combo_name=combo.name,
            recharge_nums=recharge_nums,
            recharge_money=recharge_money,
            unit_price=unit_price if unit_price is not None else combo.unit_price,
            deal_code=deal_code,
            remark=remark,
            operator_name=operator_name,
        )
        change_balance(station=station, delta=recharge_nums, reason=LedgerReason.RECHARGE, ref=str(record.pk))
        updates: dict[str, Any] = {
            "total_recharge_nums": F("total_recharge_nums") + recharge_nums,
            "total_recharge_money": F("total_recharge_money") + recharge_money,
        }
        if station_name:
            updates["station_name"] = station_name
        Station.objects.filter(pk=station.pk).update(**updates)
    logger.info("station %s recharged %s messages (record %s)", station_id, recharge_nums, record.pk)
    return record


# --- Station sends -----------------------------------------------------------------------------


def _validated_content(business_type: int, sms_content: dict[str, Any] | None) -> dict[str, str]:
    content = sms_content or {}
    missing = [
        name for name in REQUIRED_CONTENT_FIELDS[business_type] if not str(content.get(name, "")).strip()
    ]
    if missing:
        raise InvalidInput(
            f"{', '.join(missing)} required for business_type {business_type}", field="sms_content"
        )
    return {name: str(content[name]).strip() for name in REQUIRED_CONTENT_FIELDS[business_type]}


def create_station_send(
    *,
    station_id: str,
    receive_phone: str,
    business_type: int,
    sms_content: dict[str, Any] | None,
    restaurant_id: int | None = None,
    receive_name: str | None = None,
) -> SendRecord:
    """Validate a station's message, reserve its billed segments and write its record.

    Nothing is written and nothing reserved when any check fails.
    """
    if business_type not in BusinessType.values:
        raise InvalidInput(f"unknown business type {business_type}; use 0, 1 or 2", field="business_type")
    try:
        phone = parse_mobile(receive_phone)
    except InvalidPhone as exc:
        raise InvalidInput(str(exc), field="receive_phone") from exc
    content = _validated_content(business_type, sms_content)
    text = render_station_message(business_type, content)
    segments = count_segments(text)
    with transaction.atomic():
        station = Station.objects.filter(station_id=station_id).first()
        if station is None:
            raise InsufficientBalance(
                f"station {station_id} has no SMS balance; recharge first", field="station_id"
            )
        record = SendRecord.objects.create(
            station_id=station_id,
            restaurant_id=restaurant_id,
            receive_name=receive_name or None,
            receive_phone=phone.national,
            phone_e164=phone.e164,
            business_type=business_type,
            sms_content=content,
            content=text,
            segments=segments,
        )
        change_balance(station=station, delta=-segments, reason=LedgerReason.RESERVE, ref=str(record.pk))
    logger.info("station %s added record %s to %s", station_id, record.pk, mask(phone.national))
    return record


def start_station_send(*, task_id: int) -> SendRecord:
    """Queue an added record for sending. Starting a record twice sends it once: only a record
    still ``created`` moves to ``queued`` and publishes a dispatch task (after commit)."""
    from sms import pipeline  # the pipeline imports services; import late to avoid a cycle

    with transaction.atomic():
        record = SendRecord.objects.select_for_update().filter(pk=task_id, station_id__isnull=False).first()
        if record is None:
            raise NotFound(f"task {task_id} does not exist", field="task_id")
        if record.state != RecordState.CREATED:
            return record
        record.state = RecordState.QUEUED
        record.queued_at = timezone.now()
        record.save(update_fields=["state", "queued_at", "updated_at"])
        bump_daily_statistics({(record.station_id, local_date(record)): Counter(total=1)})
        pipeline.queue_for_dispatch([record.pk])
    return record


def local_date(record: SendRecord) -> date:
    """The station's day a record belongs to (Asia/Shanghai)."""
    return timezone.localdate(record.created_at)


# --- Daily statistics --------------------------------------------------------------------------

_DAILY_FIELDS = {"total": "total_send_nums", "success": "success_send_nums", "failed": "send_failed_nums"}


def bump_daily_statistics(changes: dict[tuple[str, date], Counter[str]]) -> None:
    """Add counts to the per-station per-day aggregate, one statement per (station, day).

    Call inside the transaction that changes the records, so the two never disagree.
    """
    for (station_id, day), counts in sorted(changes.items()):
        updates = {
            _DAILY_FIELDS[key]: F(_DAILY_FIELDS[key]) + value for key, value in counts.items() if value
        }
        if not updates:
            continue
        if DailyStatistics.objects.filter(station_id=station_id, send_date=day).update(**updates):
            continue
        try:
            with transaction.atomic():
                DailyStatistics.objects.create(
                    station_id=station_id,
                    send_date=day,
                    **{_DAILY_FIELDS[key]: value for key, value in counts.items()},
                )
        except IntegrityError:
            # Another transaction created the row first: add to it instead.
            DailyStatistics.objects.filter(station_id=station_id, send_date=day).update(**updates)


# --- Delivery reports --------------------------------------------------------------------------


@dataclass
class ReportResult:
    applied: int = 0
    ignored: int = 0  # the record was final already: repeated or late report
    unknown: int = 0  # no record carries that id (yet): kept as a pending report


def _report_key(report: DeliveryReport) -> str:
    return report.provider_message_id or f"record:{report.record_id}"


def _apply_reports(
    provider: str, reports: Sequence[DeliveryReport]
) -> tuple[ReportResult, list[DeliveryReport]]:
    """Apply reports to the records they name, inside the caller's transaction. Returns the
    counts and the reports that matched no record."""
    result = ReportResult()
    by_message_id = {report.provider_message_id: report for report in reports if report.provider_message_id}
    by_record_id = {
        report.record_id: report for report in reports if report.record_id and not report.provider_message_id
    }
    if not by_message_id and not by_record_id:
        return result, [
            report for report in reports if not report.provider_message_id and not report.record_id
        ]
    now = timezone.now()
    # Find the ids without locking, then lock by primary key in id order: the order the workers
    # lock in, so report handlers and workers do not deadlock each other.
    matching = SendRecord.objects.filter(provider=provider, provider_message_id__in=list(by_message_id))
    ids = sorted(set(matching.values_list("id", flat=True)) | set(by_record_id))
    records = []
    for chunk in chunked(ids):
        records += list(SendRecord.objects.select_for_update().filter(pk__in=chunk).order_by("id"))
    changed: list[SendRecord] = []
    daily: dict[tuple[str, date], Counter[str]] = {}
    matched: set[str] = set()
    for record in records:
        report = by_message_id.get(record.provider_message_id or "") or by_record_id.get(record.pk)
        if report is None:
            continue
        matched.add(_report_key(report))
        if record.state in FINAL_STATES:
            result.ignored += 1
            continue
        delivered = report.status is ReportStatus.DELIVERED
        record.state = RecordState.DELIVERED if delivered else RecordState.FAILED
        record.status = SendStatus.SUCCESS if delivered else SendStatus.FAILED
        record.provider_code = report.code[:64]
        record.remark = "" if delivered else _failure_remark(report)
        record.finished_at = now
        changed.append(record)
        if record.station_id:
            key = (record.station_id, local_date(record))
            daily.setdefault(key, Counter())["success" if delivered else "failed"] += 1
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
    bump_daily_statistics(daily)
    metrics.count_finished(changed, provider=provider)
    result.applied = len(changed)
    unmatched = [report for report in reports if _report_key(report) not in matched]
    return result, unmatched


@retry_on_deadlock()
def apply_delivery_reports(*, provider: str, reports: Sequence[DeliveryReport]) -> ReportResult:
    """Move records to their final state from a provider's reports, in bulk and idempotently.

    A report for a record already final changes nothing and counts nothing twice. The daily
    statistics change in the same transaction as the records. A report that names no record
    yet (it overtook the worker's commit) is kept and applied once the record carries its id.
    """
    with transaction.atomic():
        result, unmatched = _apply_reports(provider, reports)
        pending = [
            PendingReport(
                provider=provider,
                provider_message_id=report.provider_message_id[:64],
                delivered=report.status is ReportStatus.DELIVERED,
                code=report.code[:64],
                description=report.description[:255],
                occurred_at=report.occurred_at,
            )
            for report in unmatched
            if report.provider_message_id
        ]
        PendingReport.objects.bulk_create(pending, ignore_conflicts=True, batch_size=1000)
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
        occurred_at=row.occurred_at,
    )


@retry_on_deadlock()
def apply_pending_reports(
    *, provider: str, message_ids: Sequence[str] | None = None, limit: int = 5000
) -> int:
    """Apply kept reports whose records now carry the id (all of the provider's, or those of
    ``message_ids``), and forget them. Joins the caller's transaction when there is one."""
    with transaction.atomic():
        query = PendingReport.objects.select_for_update(skip_locked=True).filter(provider=provider)
        if message_ids is not None:
            query = query.filter(provider_message_id__in=list(message_ids))
        rows = list(query.order_by("id")[:limit])
        if not rows:
            return 0
        result, unmatched = _apply_reports(provider, [_as_report(row) for row in rows])
        still_unknown = {report.provider_message_id for report in unmatched}
        PendingReport.objects.filter(
            pk__in=[row.pk for row in rows if row.provider_message_id not in still_unknown]
        ).delete()
    return result.applied


def sweep_pending_reports(*, max_age: dt.timedelta) -> int:
    """Beat: apply kept reports whose records have caught up; drop those older than ``max_age``
    (they belong to no record of ours)."""
    applied = sum(
        apply_pending_reports(provider=provider)
        for provider in PendingReport.objects.values_list("provider", flat=True).distinct()
    )
    PendingReport.objects.filter(received_at__lt=timezone.now() - max_age).delete()
    return applied


def _failure_remark(report: DeliveryReport) -> str:
    parts = [part for part in (report.code, report.description) if part]
    return (": ".join(parts) or "undelivered")[:255]


# --- Tenant sends and charges (seed 001) ---------------------------------------------------------

MAX_MOBILES_PER_MESSAGE = 10_000


def _tenant_account(user: Any) -> TenantAccount:
    account, _ = TenantAccount.objects.get_or_create(user=user)
    return account


def charge_tenant(*, username: str, charge: int) -> int:
    """Root adds ``charge`` messages to a tenant's balance (a ledger row); returns the new balance."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise PlatformAPIError(PlatformError.PARAMS_FAIL, f"user {username} does not exist")
    if charge <= 0:
        raise PlatformAPIError(PlatformError.PARAMS_FAIL, "charge must be positive")
    with transaction.atomic():
        account = _tenant_account(user)
        return change_balance(tenant=account, delta=charge, reason=LedgerReason.CHARGE, ref=uuid.uuid4().hex)


def _invalid_mobiles_detail(invalid: list[str]) -> str:
    shown = ", ".join(invalid[:20])
    more = f" and {len(invalid) - 20} more" if len(invalid) > 20 else ""
    return f"{shown}{more}"


def send_tenant_message(
    *, owner: Any, sign_id: int, temp_id: int, mobiles: Sequence[str], params: Sequence[str] = ()
) -> MessageBatch:
    """Validate a tenant's bulk message, reserve every recipient's segments, write one queued
    record per distinct number in bulk, and publish the dispatch after commit.

    Refused (with nothing written or reserved) when the sign or template is not the tenant's
    (ER:0023/ER:0024) or not passed (ER:0031/ER:0032), a mobile is invalid (ER:0033, naming
    them), the params do not fit the template (ER:0021) or the balance cannot cover it (ER:0034).
    """
    from sms import pipeline  # the pipeline imports this module

    sign = Signature.objects.filter(pk=sign_id, owner=owner).first()
    if sign is None:
        raise PlatformAPIError(PlatformError.SIGN_NOT_OF_USER, f"sign_id {sign_id}")
    template = Template.objects.filter(pk=temp_id, owner=owner, sign=sign).first()
    if template is None:
        raise PlatformAPIError(
            PlatformError.TEMP_NOT_OF_SIGN, f"temp_id {temp_id} is not of sign_id {sign_id}"
        )
    if sign.audit_status != AuditStatus.PASSED:
        raise PlatformAPIError(PlatformError.SIGN_NOT_PASSED, f"sign_id {sign_id} is {sign.audit_status}")
    if template.audit_status != AuditStatus.PASSED:
        raise PlatformAPIError(PlatformError.TEMP_NOT_PASSED, f"temp_id {temp_id} is {template.audit_status}")
    if not mobiles or len(mobiles) > MAX_MOBILES_PER_MESSAGE:
        raise PlatformAPIError(PlatformError.PARAMS_FAIL, f"mobiles: 1 to {MAX_MOBILES_PER_MESSAGE} numbers")
    phones: dict[str, Phone] = {}
    invalid: list[str] = []
    for raw in mobiles:
        try:
            phone = parse_mobile(raw)
        except InvalidPhone:
            invalid.append(str(raw))
            continue
        phones.setdefault(phone.e164, phone)  # a number listed twice is sent once
    if invalid:
        raise PlatformAPIError(PlatformError.INVALID_MOBILE, _invalid_mobiles_detail(invalid))
    try:
        body = render_template(template.template, [str(param) for param in params])
    except TemplateError as exc:
        raise PlatformAPIError(PlatformError.TEMPLATE_PARAMS_FAIL, str(exc)) from exc
    text = f"【{sign.signature}】{body}"
    segments = count_segments(text)
    batch_uuid = uuid.uuid4()
    now = timezone.now()
    with transaction.atomic():
        account = _tenant_account(owner)
        try:
            change_balance(
                tenant=account, delta=-segments * len(phones), reason=LedgerReason.RESERVE, ref=batch_uuid.hex
            )
        except InsufficientBalance as exc:
            raise PlatformAPIError(PlatformError.BALANCE_NOT_ENOUGH, exc.message) from exc
        batch = MessageBatch.objects.create(
            uuid=batch_uuid,
            tenant=account,
            sign_id=sign.pk,
            temp_id=template.pk,
            content=text,
            total=len(phones),
        )
        SendRecord.objects.bulk_create(
            [
                SendRecord(
                    batch=batch,
                    receive_phone=phone.national,
                    phone_e164=phone.e164,
                    content=text,
                    segments=segments,
                    state=RecordState.QUEUED,
                    queued_at=now,
                )
                for phone in phones.values()
            ],
            batch_size=2000,
        )
        pipeline.queue_for_dispatch(list(SendRecord.objects.filter(batch=batch).values_list("id", flat=True)))
    logger.info(
        "tenant %s queued batch %s: %s numbers, %s segments each", owner.pk, batch_uuid, len(phones), segments
    )
    return batch

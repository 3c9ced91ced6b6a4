"""State changes of the station SMS domain. Each public function is one transaction."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from gm_server_notify.errors import InsufficientBalance, InvalidInput, NotFound
from providers.base import DeliveryReport, ReportStatus
from sms.content import REQUIRED_CONTENT_FIELDS, count_segments, render_station_message
from sms.models import (
    FINAL_STATES,
    BalanceLedger,
    BusinessType,
    Combo,
    DailyStatistics,
    LedgerReason,
    RechargeRecord,
    RecordState,
    SendRecord,
    SendStatus,
    Station,
    TenantAccount,
)
from sms.phones import InvalidPhone, mask, parse_mobile

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
    with transaction.atomic():
        query = model.objects.filter(pk=account.pk)
        if delta < 0:
            query = query.filter(balance_nums__gte=-delta)
        if not query.update(balance_nums=F("balance_nums") + delta):
            current = model.objects.filter(pk=account.pk).values_list("balance_nums", flat=True).first()
            raise InsufficientBalance(f"balance is {current or 0}, the send needs {-delta}", field="balance")
        balance_after = model.objects.filter(pk=account.pk).values_list("balance_nums", flat=True).get()
        try:
            with transaction.atomic():
                BalanceLedger.objects.create(
                    station=station,
                    tenant=tenant,
                    delta=delta,
                    balance_after=balance_after,
                    reason=reason,
                    ref=ref,
                )
        except IntegrityError as exc:
            raise AlreadyBooked(f"{reason} {ref} was booked already") from exc
    account.balance_nums = balance_after
    return balance_after


# --- Recharges ---------------------------------------------------------------------------------


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
    combo = Combo.objects.filter(pk=combo_id, is_active=True).first()
    if combo is None:
        raise NotFound(f"combo {combo_id} does not exist", field="combo_id")
    if recharge_nums <= 0:
        raise InvalidInput("must be a positive number of messages", field="recharge_nums")
    if recharge_money < 0:
        raise InvalidInput("must not be negative", field="recharge_money")
    if not combo.is_custom and recharge_nums != combo.sms_nums:
        raise InvalidInput(f"combo {combo.pk} holds {combo.sms_nums} messages", field="recharge_nums")
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
    unknown: int = 0  # no record carries that id (yet)


def apply_delivery_reports(*, provider: str, reports: Sequence[DeliveryReport]) -> ReportResult:
    """Move records to their final state from a provider's reports, in bulk and idempotently.

    A report for a record already final changes nothing and counts nothing twice. The daily
    statistics change in the same transaction as the records.
    """
    result = ReportResult()
    by_message_id = {report.provider_message_id: report for report in reports if report.provider_message_id}
    by_record_id = {
        report.record_id: report for report in reports if report.record_id and not report.provider_message_id
    }
    if not by_message_id and not by_record_id:
        return result
    now = timezone.now()
    with transaction.atomic():
        records = list(
            SendRecord.objects.select_for_update()
            .filter(provider=provider, provider_message_id__in=list(by_message_id))
            .order_by("id")
        )
        if by_record_id:
            records += list(
                SendRecord.objects.select_for_update().filter(pk__in=list(by_record_id)).order_by("id")
            )
        changed: list[SendRecord] = []
        daily: dict[tuple[str, date], Counter[str]] = {}
        seen_message_ids: set[str] = set()
        for record in records:
            report = by_message_id.get(record.provider_message_id or "") or by_record_id.get(record.pk)
            if report is None:
                continue
            seen_message_ids.add(report.provider_message_id or str(record.pk))
            if record.state in FINAL_STATES:
                result.ignored += 1
                continue
            delivered = report.status is ReportStatus.DELIVERED
            record.state = RecordState.DELIVERED if delivered else RecordState.FAILED
            record.status = SendStatus.SUCCESS if delivered else SendStatus.FAILED
            record.provider_code = report.code[:64]
            record.remark = "" if delivered else _failure_remark(report)
            record.finished_at = now
            record.updated_at = now  # bulk_update does not touch auto_now fields
            changed.append(record)
            if record.station_id:
                key = (record.station_id, local_date(record))
                daily.setdefault(key, Counter())["success" if delivered else "failed"] += 1
        SendRecord.objects.bulk_update(
            changed,
            ["state", "status", "provider_code", "remark", "finished_at", "updated_at"],
            batch_size=500,
        )
        bump_daily_statistics(daily)
        result.applied = len(changed)
    result.unknown = len(reports) - result.applied - result.ignored
    if result.unknown:
        logger.warning("%s: %s delivery report(s) matched no record", provider, result.unknown)
    return result


def _failure_remark(report: DeliveryReport) -> str:
    parts = [part for part in (report.code, report.description) if part]
    return (": ".join(parts) or "undelivered")[:255]

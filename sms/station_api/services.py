"""State changes of the station API (seed 000): recharges, and adding and starting sends.

Each public function is one transaction. Balances change through ``sms.accounting.ledger``; the daily
statistics through ``sms.delivery.reports``; sending goes through ``sms.sending.pipeline``.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit import services as audit
from audit.models import AuditAction
from audit.services import Actor
from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, RateLimited
from providers.base import Region
from signatures.names import SignatureNameError, clean_signature
from sms.accounting.ledger import change_balance
from sms.core.content import (
    DOUYIN_BUSINESS_TYPES,
    DOUYIN_ORDER_ID_FIELD,
    REQUIRED_CONTENT_FIELDS,
    MessageTooLong,
    check_message_length,
    count_segments,
    render_station_message,
)
from sms.core.phones import (
    InvalidPhone,
    Phone,
    is_douyin_ciphertext,
    is_mainland_e164,
    mask,
    parse_douyin_ciphertext,
    parse_mobile,
    region_of,
)
from sms.delivery.reports import DailyCounts, bump_daily_statistics, count_daily
from sms.models import BusinessType, Combo, LedgerReason, RechargeRecord, RecordState, SendRecord, Station
from sms.sending import daily_cap, lanes, limits, suspension, validity
from sms.sending.pipeline import queue_for_dispatch
from sms.sending.routing import douyin_template

logger = logging.getLogger(__name__)


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
    # Ceilings against fat fingers; they also keep a station's running totals far from overflow.
    if recharge_nums > settings.SMS_RECHARGE_MAX_NUMS:
        raise InvalidInput(
            f"at most {settings.SMS_RECHARGE_MAX_NUMS} messages per recharge", field="recharge_nums"
        )
    if recharge_money > settings.SMS_RECHARGE_MAX_MONEY:
        raise InvalidInput(f"at most {settings.SMS_RECHARGE_MAX_MONEY} per recharge", field="recharge_money")
    return combo


def _same_recharge(
    record: RechargeRecord, *, combo: Combo, nums: int, money: Decimal, unit_price: Decimal | int
) -> bool:
    return (record.combo_id, record.recharge_nums, record.recharge_money, record.unit_price) == (
        combo.pk,
        nums,
        money,
        unit_price,
    )


def _booked_receipt(station: Station, deal_code: str) -> RechargeRecord | None:
    """The station's booking of a receipt, if any."""
    return RechargeRecord.objects.filter(station=station, deal_code=deal_code).first()


@retry_on_deadlock()
def recharge_station(
    *,
    station_id: str,
    combo_id: int,
    recharge_nums: int,
    recharge_money: Decimal,
    operator_name: str,
    deal_code: str = "",
    remark: str = "",
    unit_price: Decimal | None = None,
    station_name: str = "",
    client_name: str = "",
    actor: Actor | None = None,
) -> RechargeRecord:
    """Record a purchase and add its messages to the station's balance (the station is created
    on its first recharge). A fixed combo must be bought whole; a custom combo takes any amount.

    An operator's recharge (the admin) names its ``actor`` and is written to the audit log in the
    same transaction; a service client's (``recharge_record/create``) is not: its record and
    ledger row are its trail.

    A receipt (``deal_code``) is credited once per station: the same receipt with the same values
    returns the first recharge and credits nothing; with other values it is a ``Conflict``. The
    station's row lock serialises its recharges; the unique ``recharge_station_receipt_once``
    constraint refuses a second booking even without it, and that refusal gets the same answers.
    """
    combo = validate_recharge(combo_id=combo_id, recharge_nums=recharge_nums, recharge_money=recharge_money)
    price = unit_price if unit_price is not None else combo.unit_price

    def booked_already(station: Station) -> RechargeRecord | None:
        """The first booking of this receipt when it is presented again with the same values."""
        booked = _booked_receipt(station, deal_code) if deal_code else None
        if booked is None:
            return None
        if _same_recharge(booked, combo=combo, nums=recharge_nums, money=recharge_money, unit_price=price):
            logger.info("station %s: receipt of record %s presented again", station_id, booked.pk)
            return booked
        raise Conflict(
            f"deal_code {deal_code} was recharged already, as {booked.recharge_nums} messages "
            f"for {booked.recharge_money} (record {booked.pk})",
            field="deal_code",
        )

    with transaction.atomic():
        Station.objects.get_or_create(station_id=station_id, defaults={"station_name": station_name})
        # The station's row lock serialises its recharges, so one receipt cannot be booked twice.
        station = Station.objects.select_for_update().get(station_id=station_id)
        if (booked := booked_already(station)) is not None:
            return booked
        try:
            with transaction.atomic():
                record = RechargeRecord.objects.create(
                    station=station,
                    combo=combo,
                    combo_name=combo.name,
                    recharge_nums=recharge_nums,
                    recharge_money=recharge_money,
                    unit_price=price,
                    deal_code=deal_code,
                    remark=remark,
                    operator_name=operator_name,
                    client_name=client_name,
                )
        except IntegrityError:
            # Only the receipt constraint can refuse this row: booked concurrently past the lock.
            if (booked := booked_already(station)) is not None:
                return booked
            raise
        balance = change_balance(
            station=station, delta=recharge_nums, reason=LedgerReason.RECHARGE, ref=str(record.pk)
        )
        updates: dict[str, Any] = {
            "total_recharge_nums": F("total_recharge_nums") + recharge_nums,
            "total_recharge_money": F("total_recharge_money") + recharge_money,
        }
        if station_name:
            updates["station_name"] = station_name
        Station.objects.filter(pk=station.pk).update(**updates)
        if actor is not None:
            audit.record(
                actor=actor,
                action=AuditAction.STATION_RECHARGE,
                target=station,
                before={"balance_nums": balance - recharge_nums},
                after={
                    "balance_nums": balance,
                    "recharge_record": record.pk,
                    "recharge_nums": recharge_nums,
                    "recharge_money": recharge_money,
                    "combo": combo.pk,
                    "deal_code": deal_code,
                    "operator_name": operator_name,
                },
                reason=remark,
            )
    logger.info("station %s recharged %s messages (record %s)", station_id, recharge_nums, record.pk)
    return record


# --- Station sends -----------------------------------------------------------------------------


# A verify code is 4 to 6 ASCII digits (Tencent takes at most 6 digits in a verify-code variable).
STATION_VERIFY_CODE = re.compile(r"[0-9]{4,6}")


# A Douyin order number: ASCII digits (Douyin's are 19 today; room to grow).
DOUYIN_ORDER_ID = re.compile(r"[0-9]{1,32}")


def _validated_content(
    business_type: int, sms_content: dict[str, Any] | None, *, fields: tuple[str, ...] = ()
) -> dict[str, str]:
    """The type's fields (and ``fields``: a Douyin template's), stripped, as given; refused (1002,
    docs/content-rules.md) when one is missing, the signature has brackets inside its name, a
    value holds ``【】`` or the verify code is not 4 to 6 digits."""
    content = sms_content or {}
    wanted = tuple(dict.fromkeys((*REQUIRED_CONTENT_FIELDS[business_type], *fields)))
    missing = [name for name in wanted if not str(content.get(name, "")).strip()]
    if missing:
        raise InvalidInput(
            f"{', '.join(missing)} required for business_type {business_type}", field="sms_content"
        )
    values = {name: str(content[name]).strip() for name in wanted}
    try:
        clean_signature(values["sms_signature"])
    except SignatureNameError as exc:
        raise InvalidInput(str(exc), field="sms_content.sms_signature") from exc
    for name, value in values.items():
        if name != "sms_signature" and {"【", "】"} & set(value):
            raise InvalidInput("may not contain 【 or 】", field=f"sms_content.{name}")
    if "verify_code" in values and not STATION_VERIFY_CODE.fullmatch(values["verify_code"]):
        raise InvalidInput("a verify code is 4 to 6 digits", field="sms_content.verify_code")
    return values


def _douyin_order_id(sms_content: dict[str, Any] | None) -> str:
    """``sms_content.douyin_order_id``, stripped ("" when absent or blank: not a Douyin order)."""
    return str((sms_content or {}).get(DOUYIN_ORDER_ID_FIELD) or "").strip()


def _validated_douyin_send(
    *, receive_phone: str, business_type: int, sms_content: dict[str, Any] | None
) -> tuple[Phone, dict[str, str]]:
    """The recipient and content of a Douyin shop's order message (docs/api-station.md): an order
    notice (business type 0 or 1) addressed by ``sms_content.douyin_order_id`` (digits) or to a
    Douyin phone ciphertext (kept as given), to a mainland number otherwise, with every field
    ``SMS_DOUYIN_PROVIDER``'s template for the type fills its named variables from."""
    order_id = _douyin_order_id(sms_content)
    field = f"sms_content.{DOUYIN_ORDER_ID_FIELD}" if order_id else "receive_phone"
    if business_type not in DOUYIN_BUSINESS_TYPES:
        raise InvalidInput(
            f"a Douyin message is an order notice: business_type 0 or 1, not {business_type}", field=field
        )
    if order_id and not DOUYIN_ORDER_ID.fullmatch(order_id):
        raise InvalidInput("a Douyin order number is 1 to 32 digits", field=field)
    text = str(receive_phone).strip()
    try:
        phone = parse_douyin_ciphertext(text) if is_douyin_ciphertext(text) else parse_mobile(text)
    except InvalidPhone as exc:
        raise InvalidInput(str(exc), field="receive_phone") from exc
    if not phone.is_douyin_ciphertext and not is_mainland_e164(phone.e164):
        raise InvalidInput(
            "a Douyin order message goes to a mainland number or a Douyin phone ciphertext",
            field="receive_phone",
        )
    template = douyin_template(business_type)
    if template is None:
        raise InvalidInput(
            f"no Douyin template for business_type {business_type} (FW199_TEMPLATES)", field="business_type"
        )
    fields = tuple(template.params.values()) + ((DOUYIN_ORDER_ID_FIELD,) if order_id else ())
    return phone, _validated_content(business_type, sms_content, fields=fields)


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

    Nothing is written and nothing reserved when any check fails. A verify code (business type 2)
    must fit the mobile's ``SMS_VERIFY_LIMITS`` (``RateLimited`` naming the window otherwise). A
    Douyin shop's order message (``sms_content.douyin_order_id``, or a ``receive_phone`` that is a
    Douyin phone ciphertext) is checked as ``_validated_douyin_send`` says and goes to
    ``SMS_DOUYIN_PROVIDER``.
    """
    if business_type not in BusinessType.values:
        raise InvalidInput(f"unknown business type {business_type}; use 0, 1 or 2", field="business_type")
    if _douyin_order_id(sms_content) or is_douyin_ciphertext(str(receive_phone).strip()):
        phone, content = _validated_douyin_send(
            receive_phone=receive_phone, business_type=business_type, sms_content=sms_content
        )
    else:
        try:
            phone = parse_mobile(receive_phone)
        except InvalidPhone as exc:
            raise InvalidInput(str(exc), field="receive_phone") from exc
        content = _validated_content(business_type, sms_content)
    international = region_of(phone.e164) is Region.INTERNATIONAL
    text = render_station_message(business_type, content, international=international)
    try:
        check_message_length(text)
    except MessageTooLong as exc:
        raise InvalidInput(str(exc), field="sms_content") from exc
    segments = count_segments(text, gsm7_allowed=international)
    verify_code = business_type == BusinessType.REGISTRATION
    with limits.booked([phone.e164], verify_code=verify_code) as admission:
        if admission.refused:
            raise RateLimited(admission.refused[phone.e164].describe(), field="receive_phone")
        record = _write_station_send(
            station_id=station_id,
            phone=phone,
            business_type=business_type,
            content=content,
            text=text,
            segments=segments,
            restaurant_id=restaurant_id,
            receive_name=receive_name,
        )
    logger.info("station %s added record %s to %s", station_id, record.pk, mask(phone.national))
    return record


@retry_on_deadlock()
def _write_station_send(
    *,
    station_id: str,
    phone: Phone,
    business_type: int,
    content: dict[str, str],
    text: str,
    segments: int,
    restaurant_id: int | None,
    receive_name: str | None,
) -> SendRecord:
    with transaction.atomic():
        # The station's row lock: suspension, the daily cap and the balance are read as one.
        station = Station.objects.select_for_update().filter(station_id=station_id).first()
        if station is None:
            raise InsufficientBalance(
                f"station {station_id} has no SMS balance; recharge first", field="station_id"
            )
        suspension.check_station(station)
        daily_cap.check_daily_cap(station)
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
            lane=lanes.station_lane(business_type=business_type),
        )
        change_balance(station=station, delta=-segments, reason=LedgerReason.RESERVE, ref=str(record.pk))
    return record


@retry_on_deadlock()
def start_station_send(*, task_id: int) -> SendRecord:
    """Queue an added record for sending. Starting a record twice sends it once: only a record
    still ``created`` moves to ``queued`` and publishes a dispatch task (after commit). A verify
    code's validity counts from here (``sms.sending.validity``)."""
    with transaction.atomic():
        record = SendRecord.objects.select_for_update().filter(pk=task_id, station_id__isnull=False).first()
        if record is None:
            raise NotFound(f"task {task_id} does not exist", field="task_id")
        station = Station.objects.filter(station_id=record.station_id).first()
        if station is not None:
            suspension.check_station(station)
        if record.state != RecordState.CREATED:
            return record
        record.state = RecordState.QUEUED
        record.queued_at = timezone.now()
        record.expires_at = validity.station_expires_at(
            business_type=record.business_type, started_at=record.queued_at
        )
        record.save(update_fields=["state", "queued_at", "expires_at", "updated_at"])
        queue_for_dispatch([record.pk])
        daily: DailyCounts = {}
        count_daily(daily, record, "total")
        bump_daily_statistics(daily)  # last: its row lock is held only until the commit
    return record

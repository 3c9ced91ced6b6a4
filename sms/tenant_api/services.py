"""State changes of the tenant API (seed 001): root's charges and tenants' bulk messages.

Each public function is one transaction. Refusals are domain errors; the tenant API maps them to
the seed's ``ER:00xx`` codes (``gm_server_notify.api.errors``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import SYSTEM, Actor, record
from gm_server_notify import clock
from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import InvalidInput, NotFound, Reason
from signatures.models import AuditStatus, Signature
from signatures.services import own_signature
from sms.accounting.ledger import change_balance
from sms.core.bulk import db_datetime, insert_rows
from sms.core.content import MessageTooLong, check_message_length, compose_message, count_segments
from sms.core.phones import InvalidPhone, Phone, is_mainland_e164, parse_mobile
from sms.delivery import uplinks
from sms.guard import pumping
from sms.guard.screen import screen as guard_screen
from sms.marketing import hours, optout
from sms.models import (
    BlocklistEntry,
    LedgerReason,
    MessageBatch,
    RecordState,
    SendRecord,
    SendStatus,
    TenantAccount,
    Uplink,
    WebhookEndpoint,
)
from sms.sending import lanes, limits, suspension, validity
from sms.sending.pipeline import fail_records, queue_batch_for_dispatch
from sms.webhooks import outbox, urlguard
from templates_mgmt.models import Template, TemplateType
from templates_mgmt.placeholders import TemplateError, check_params
from templates_mgmt.placeholders import render as render_template

logger = logging.getLogger(__name__)

MAX_MOBILES_PER_MESSAGE = 10_000


def _tenant_account(user: Any) -> TenantAccount:
    account, _ = TenantAccount.objects.get_or_create(user=user)
    return account


@retry_on_deadlock()
def charge_tenant(*, username: str, charge: int, actor: Actor = SYSTEM) -> int:
    """Root adds ``charge`` messages to a tenant's balance (a ledger row, and an audit entry by
    ``actor`` in the same transaction); returns the new balance."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"user {username} does not exist", field="user")
    if charge <= 0:
        raise InvalidInput("charge must be positive", field="charge")
    with transaction.atomic():
        account = _tenant_account(user)
        ref = uuid.uuid4().hex
        balance = change_balance(tenant=account, delta=charge, reason=LedgerReason.CHARGE, ref=ref)
        record(
            actor=actor,
            action=AuditAction.TENANT_CHARGE,
            target=account,
            before={"user": username, "balance_nums": balance - charge},
            after={"user": username, "balance_nums": balance, "charge": charge, "ledger_ref": ref},
        )
        return balance


def set_tenant_price(*, account_id: int, price_fen_per_part: Decimal | None, actor: Actor = SYSTEM) -> None:
    """Set what a tenant pays per part, in fen (None: ``SMS_TENANT_DEFAULT_PRICE_FEN``): the
    console's revenue. Audited as ``tenant_price_change`` in the same transaction."""
    if price_fen_per_part is not None and price_fen_per_part < 0:
        raise InvalidInput("a price cannot be negative", field="price_fen_per_part")
    with transaction.atomic():
        account = TenantAccount.objects.select_for_update().get(pk=account_id)
        before = account.price_fen_per_part
        if before == price_fen_per_part:
            return
        TenantAccount.objects.filter(pk=account_id).update(price_fen_per_part=price_fen_per_part)
        record(
            actor=actor,
            action=AuditAction.TENANT_PRICE_CHANGE,
            target=account,
            before={"price_fen_per_part": None if before is None else str(before)},
            after={"price_fen_per_part": None if price_fen_per_part is None else str(price_fen_per_part)},
        )


def _invalid_mobiles_detail(invalid: list[str]) -> str:
    shown = ", ".join(invalid[:20])
    more = f" and {len(invalid) - 20} more" if len(invalid) > 20 else ""
    return f"{shown}{more}"


def send_tenant_message(
    *,
    owner: Any,
    sign_id: int,
    temp_id: int,
    mobiles: Sequence[str],
    params: Sequence[str] = (),
    callback_url: str = "",
    send_at: dt.datetime | None = None,
    validity_seconds: int | None = None,
    test: bool = False,
) -> MessageBatch:
    """Validate a tenant's bulk message, reserve every recipient's segments, write one queued
    record per distinct number in bulk, and publish the dispatch after commit.

    A batch with a later ``send_at`` (at most ``SMS_SEND_AT_MAX_DAYS`` ahead, never in the past:
    ER:0004), and a marketing batch (template type 3) outside ``SMS_MARKETING_HOURS``, is held:
    its records are ``scheduled`` and beat releases them at the batch's ``release_at``
    (``sms.sending.scheduling``); it is reserved and billed as any other. Marketing skips the
    numbers on the tenant's blocklist for the signature (``failed``, ``OPTED_OUT``, not charged).
    The tenant guard (``sms.guard``) fails the numbers outside the tenant's country allowlist
    (``BLOCKED:COUNTRY``) or in a prefix paused for it, or over the pumping limit
    (``PAUSED:PREFIX``), likewise.

    Refused (with nothing written or reserved) when the sign or template is not the tenant's
    (ER:0023/ER:0024) or not passed (ER:0031/ER:0032), a mobile is invalid (ER:0033, naming
    them), the params do not fit the template or its type (ER:0021: ``check_params``), the tenant
    lacks a capability the request needs (ER:0040 international, ER:0041 marketing, ER:0042
    scheduling) or the balance cannot cover it (ER:0034). A ``callback_url`` (this batch's
    webhook events go there instead of the tenant's ``v1/callback`` URL) must pass the SSRF guard
    (``sms.webhooks.urlguard``), and the tenant must have set ``v1/callback``, whose secret signs
    the pushes (ER:0004). ``validity_seconds`` (``sms.sending.validity``: 10 to 172,800, else
    ER:0004): a record not handed to a provider that long after it may first be sent fails
    ``EXPIRED`` and is refunded.

    ``test`` (the request came with the tenant's test password: docs/api-platform.md "Test mode"):
    checked exactly as above, but never charged (no balance check, no reservation), never booked
    against the verify-code limits, and written as a test batch, which only the sandbox sends.
    """
    sign, template = _passed_sign_and_template(owner=owner, sign_id=sign_id, temp_id=temp_id)
    phones = _distinct_phones(mobiles)
    texts = _render_texts(signature=sign.signature, template=template, params=params)
    account = _tenant_account(owner)
    suspension.check_tenant(account)
    # The tenant guard (sms.guard): capabilities refuse the request (ER:0040-ER:0042); numbers
    # outside the country allowlist or in a paused prefix fail at once, uncharged.
    refused = guard_screen(account=account, phones=phones, template_type=template.type, send_at=send_at)
    if callback_url:
        _check_callback_url(account, callback_url)
    now = clock.now()
    if send_at is not None:
        _check_send_at(now, send_at)
    validity.check_seconds(validity_seconds)  # the validity period: sms.sending.validity
    marketing = template.type == TemplateType.MARKETING
    if marketing:
        for e164 in optout.blocked_mobiles(tenant_id=account.pk, sign_id=sign.pk, mobiles_e164=list(phones)):
            refused[e164] = (optout.OPTED_OUT_CODE, optout.OPTED_OUT_REMARK)
    # Verify codes (type 1) go only to mobiles within SMS_VERIFY_LIMITS; the others fail as
    # LIMITED, uncharged, and the request succeeds for the rest.
    # Test mode books nothing against the limits (its messages reach nobody).
    verify_code = template.type == TemplateType.VERIFICATION and not test
    with (
        limits.booked([e164 for e164 in phones if e164 not in refused], verify_code=verify_code) as admission,
        # The pumping guard counts the verify codes still to be sent per number prefix.
        pumping.booked(
            account=account,
            phones={
                e164: phone
                for e164, phone in phones.items()
                if e164 not in refused and e164 not in admission.refused
            },
            verify_code=verify_code,
        ) as velocity,
    ):
        for e164, window in admission.refused.items():
            refused[e164] = (LIMITED_CODE, f"{LIMITED_CODE}: {window.describe()}")
        refused.update(velocity.refused)
        return _write_batch(
            account=account,
            batch=MessageBatch(
                sign_id=sign.pk,
                temp_id=template.pk,
                content=texts.text(international=False),
                total=len(phones),
                callback_url=callback_url,
                template_type=template.type,
                send_at=send_at,
                release_at=hours.release_time(now=now, send_at=send_at, marketing=marketing),
                test=test,
            ),
            contents={e164: texts.text(international=not is_mainland_e164(e164)) for e164 in phones},
            phones=phones,
            segments={e164: texts.segments(international=not is_mainland_e164(e164)) for e164 in phones},
            refused=refused,
            validity_seconds=validity_seconds,
        )


def _passed_sign_and_template(*, owner: Any, sign_id: int, temp_id: int) -> tuple[Signature, Template]:
    """The tenant's own signature and its template, both passed review (ER:0023/0024/0031/0032)."""
    sign = own_signature(owner=owner, sign_id=sign_id)
    template = Template.objects.filter(pk=temp_id, owner=owner, sign=sign).first()
    if template is None:
        raise NotFound(f"temp_id {temp_id} is not of sign_id {sign_id}", reason=Reason.TEMPLATE_NOT_OF_SIGN)
    if sign.audit_status != AuditStatus.PASSED:
        raise InvalidInput(f"sign_id {sign_id} is {sign.audit_status}", reason=Reason.SIGN_NOT_PASSED)
    if template.audit_status != AuditStatus.PASSED:
        raise InvalidInput(f"temp_id {temp_id} is {template.audit_status}", reason=Reason.TEMPLATE_NOT_PASSED)
    return sign, template


def _distinct_phones(mobiles: Sequence[str]) -> dict[str, Phone]:
    """Every number once, by E.164 (a number listed twice is sent once); ER:0033 naming the
    invalid ones, each with why (``wrong length``, ``premium-rate number``: docs/phones.md), or a
    parameter error for an empty or oversized list."""
    if not mobiles or len(mobiles) > MAX_MOBILES_PER_MESSAGE:
        raise InvalidInput(f"mobiles: 1 to {MAX_MOBILES_PER_MESSAGE} numbers")
    phones: dict[str, Phone] = {}
    invalid: list[str] = []
    for raw in mobiles:
        try:
            phone = parse_mobile(raw)
        except InvalidPhone as exc:
            invalid.append(f"{raw} ({exc.why})")
            continue
        phones.setdefault(phone.e164, phone)
    if invalid:
        raise InvalidInput(_invalid_mobiles_detail(invalid), field="mobiles", reason=Reason.INVALID_MOBILE)
    return phones


@dataclass(frozen=True)
class RenderedTexts:
    """A message's two forms and their billed parts: mainland numbers get ``【signature】body``,
    the others ``signature: body``, billed in GSM-7 septets when the text fits that alphabet
    (docs/content-rules.md). Counted once per message, not per recipient."""

    mainland: str
    international: str
    mainland_segments: int
    international_segments: int

    def text(self, *, international: bool) -> str:
        return self.international if international else self.mainland

    def segments(self, *, international: bool) -> int:
        return self.international_segments if international else self.mainland_segments


def _render_texts(*, signature: str, template: Template, params: Sequence[str]) -> RenderedTexts:
    """The template filled with ``params`` under ``signature``; ER:0021 when the params do not fit
    the template or its type, or a rendered text is too long."""
    values = [str(param) for param in params]
    try:
        check_params(template.type, values)
        body = render_template(template.template, values)
    except TemplateError as exc:
        raise InvalidInput(str(exc), field="params", reason=Reason.TEMPLATE_PARAMS) from exc
    mainland = compose_message(signature=signature, body=body, international=False)
    international = compose_message(signature=signature, body=body, international=True)
    try:
        check_message_length(mainland)
        check_message_length(international)
    except MessageTooLong as exc:
        raise InvalidInput(str(exc), field="params", reason=Reason.TEMPLATE_PARAMS) from exc
    return RenderedTexts(
        mainland=mainland,
        international=international,
        mainland_segments=count_segments(mainland, gsm7_allowed=False),
        international_segments=count_segments(international, gsm7_allowed=True),
    )


def _check_callback_url(account: TenantAccount, callback_url: str) -> None:
    """A batch's own webhook URL: the tenant must have set ``v1/callback`` (its secret signs the
    pushes) and the URL must pass the SSRF guard (ER:0004)."""
    if not WebhookEndpoint.objects.filter(tenant=account).exists():
        raise InvalidInput(
            "callback_url: set v1/callback first: its secret signs the pushes", field="callback_url"
        )
    try:
        urlguard.check_url(callback_url)
    except InvalidInput as exc:
        raise InvalidInput(f"callback_url: {exc.message}", field="callback_url") from exc


def _check_send_at(now: dt.datetime, send_at: dt.datetime) -> None:
    """``send_at`` between now (less ``SEND_AT_GRACE``) and ``SMS_SEND_AT_MAX_DAYS`` ahead."""
    latest = now + dt.timedelta(days=settings.SMS_SEND_AT_MAX_DAYS)
    if not now - SEND_AT_GRACE <= send_at <= latest:
        raise InvalidInput(
            f"send_at must be between now and {settings.SMS_SEND_AT_MAX_DAYS} days ahead", field="send_at"
        )


@retry_on_deadlock()
def _write_batch(
    *,
    account: TenantAccount,
    batch: MessageBatch,
    contents: dict[str, str],
    phones: dict[str, Phone],
    segments: dict[str, int],
    refused: dict[str, tuple[str, str]],
    validity_seconds: int | None = None,
) -> MessageBatch:
    """Reserve the segments of every sendable recipient, write ``batch`` (its ``content``: the
    mainland form of the text) and one record per distinct number with its own ``contents``
    (``refused`` ones, by code and remark: failed at once, uncharged), queued, or scheduled when
    the batch has a ``release_at``, expiring ``validity_seconds`` after they may first be sent;
    publish after commit. A test batch reserves nothing."""
    batch.uuid = uuid.uuid4()
    batch.tenant = account
    now = timezone.now()
    held = batch.release_at is not None
    billed = sum(count for e164, count in segments.items() if e164 not in refused)
    with transaction.atomic():
        if billed and not batch.test:
            change_balance(tenant=account, delta=-billed, reason=LedgerReason.RESERVE, ref=batch.uuid.hex)
        batch.save(force_insert=True)
        # Plain tuples, not model instances: a 10,000-mobile message is a handful of multi-row
        # INSERTs (sms.core.bulk.insert_rows).
        stamp = db_datetime(now)
        expires = validity.tenant_expires_at(validity_seconds=validity_seconds, release_at=batch.release_at)
        expires_at = None if expires is None else db_datetime(expires)
        sendable_state = RecordState.SCHEDULED if held else RecordState.QUEUED
        lane = lanes.tenant_lane(template_type=batch.template_type, recipients=batch.total)
        rows = []
        for phone in phones.values():
            code, remark = refused.get(phone.e164, ("", ""))
            failed = bool(code)
            rows.append(
                (
                    batch.pk,
                    phone.national,
                    phone.e164,
                    "{}",
                    contents[phone.e164],
                    0 if failed else segments[phone.e164],
                    RecordState.FAILED if failed else sendable_state,
                    SendStatus.FAILED if failed else SendStatus.SENDING,
                    remark[:255],
                    code,
                    stamp,
                    stamp,
                    None if failed or held else stamp,
                    stamp if failed else None,
                    "",
                    "",
                    0,
                    False,
                    lane,
                    None if failed else expires_at,
                    batch.test,
                )
            )
        insert_rows(SendRecord, RECORD_INSERT_FIELDS, rows)
        if refused:
            # Refused at once (verify-code limits, opt-outs): final already, so their webhook events too.
            outbox.record_finished(SendRecord.objects.filter(batch=batch, state=RecordState.FAILED))
        if not held:
            queue_batch_for_dispatch(batch_id=batch.pk)
    logger.info(
        "tenant %s %s %sbatch %s: %s numbers (%s refused), %s segments%s",
        account.user_id,
        "held" if held else "queued",
        "test " if batch.test else "",
        batch.uuid,
        len(phones),
        len(refused),
        billed,
        f", until {batch.release_at.isoformat()}" if held else "",
    )
    return batch


# The columns a new tenant record is written with (the others have database defaults or are null).
RECORD_INSERT_FIELDS = (
    "batch",
    "receive_phone",
    "phone_e164",
    "sms_content",
    "content",
    "segments",
    "state",
    "status",
    "remark",
    "provider_code",
    "created_at",
    "updated_at",
    "queued_at",
    "finished_at",
    "provider",
    "dispatch_id",
    "attempts",
    "refunded",
    "lane",
    "expires_at",
    "test",
)
LIMITED_CODE = "LIMITED"
CANCELLED_CODE = "CANCELLED"
# A send_at a little in the past (the client's clock, the request's transit) means "now".
SEND_AT_GRACE = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class CancelResult:
    """``DELETE v1/message``: records this call cancelled, records an earlier call cancelled, and
    records that had already gone (handed to a provider, or final before)."""

    cancelled: int
    already_cancelled: int
    already_gone: int


@retry_on_deadlock()
def cancel_message(*, owner: Any, batch_uuid: uuid.UUID, test: bool = False) -> CancelResult:
    """Cancel what of a tenant's batch has not been handed to a provider (``queued`` or
    ``scheduled``): those records end ``failed`` with ``CANCELLED``, refunded once (the ledger's
    ``(account, refund, record)`` is unique); a record a worker has claimed is gone. A second call
    cancels nothing more. ER:0004 when the uuid is not one of the tenant's batches of this mode
    (``test``: test mode's batches; live ones otherwise)."""
    batch = MessageBatch.objects.filter(uuid=batch_uuid, tenant__user=owner, test=test).first()
    if batch is None:
        raise InvalidInput(f"{batch_uuid} is not one of your messages", field="uuid")
    with transaction.atomic():
        # Locking reads wait for a worker's claim in progress and see its outcome.
        pending = list(
            SendRecord.objects.select_for_update()
            .filter(batch=batch, state__in=[RecordState.QUEUED, RecordState.SCHEDULED])
            .order_by("id")
            .only("id", "state", "batch_id", "station_id", "segments", "billed_parts", "created_at")
        )
        # The batch row before the balance (the lock order of sms.sending.scheduling): nothing is held now.
        MessageBatch.objects.filter(pk=batch.pk).update(release_at=None)
        cancelled = fail_records(records=pending, remark="cancelled by the tenant", code=CANCELLED_CODE)
        all_cancelled = SendRecord.objects.filter(batch=batch, provider_code=CANCELLED_CODE).count()
    logger.info("tenant %s cancelled %s record(s) of batch %s", batch.tenant_id, cancelled, batch.uuid)
    already_cancelled = all_cancelled - cancelled
    return CancelResult(
        cancelled=cancelled,
        already_cancelled=already_cancelled,
        already_gone=batch.total - all_cancelled,
    )


def _tenant_signature_id(owner: Any, sign_id: int | None) -> int:
    """The signature a blocklist call names (one of the owner's: ER:0023 otherwise), or 0 for
    every signature."""
    if not sign_id:
        return BlocklistEntry.EVERY_SIGNATURE
    return own_signature(owner=owner, sign_id=sign_id).pk


def blocklist_mobile(mobile: str) -> str:
    """``GET v1/blocklist``'s ``mobile`` in E.164 (ER:0033 when it is not a mobile number)."""
    return _blocklist_mobiles([mobile])[0]


def _blocklist_mobiles(mobiles: Sequence[str]) -> list[str]:
    e164s, invalid = [], []
    for raw in mobiles:
        try:
            e164s.append(parse_mobile(raw).e164)
        except InvalidPhone as exc:
            invalid.append(f"{raw} ({exc.why})")
    if invalid:
        raise InvalidInput(_invalid_mobiles_detail(invalid), field="mobiles", reason=Reason.INVALID_MOBILE)
    return list(dict.fromkeys(e164s))


@retry_on_deadlock()
def block_mobiles(*, owner: Any, mobiles: Sequence[str], sign_id: int | None = None) -> int:
    """``POST v1/blocklist``: stop the tenant's marketing to ``mobiles`` under ``sign_id`` (every
    signature when omitted). Repeating it changes nothing. Answers how many entries were new."""
    target = _tenant_signature_id(owner, sign_id)
    e164s = _blocklist_mobiles(mobiles)
    account = _tenant_account(owner)
    with transaction.atomic():
        return optout.add_entries(tenant_id=account.pk, sign_id=target, mobiles_e164=e164s, at=timezone.now())


@retry_on_deadlock()
def unblock_mobiles(*, owner: Any, mobiles: Sequence[str], sign_id: int | None = None) -> int:
    """``DELETE v1/blocklist``: remove the entries of ``mobiles`` under ``sign_id`` (the entries for
    every signature when omitted), whatever their source. Answers how many were removed."""
    target = _tenant_signature_id(owner, sign_id)
    e164s = _blocklist_mobiles(mobiles)
    account = _tenant_account(owner)
    with transaction.atomic():
        return optout.remove_entries(tenant_id=account.pk, sign_id=target, mobiles_e164=e164s)


# The longest text of a test reply (POST v1/test/uplink): an SMS reply is far shorter.
MAX_TEST_UPLINK_CHARS = 500


def record_test_uplink(*, owner: Any, mobile: str, content: str) -> Uplink:
    """``POST v1/test/uplink`` (test mode only): a reply ``content`` from ``mobile``, as if it
    answered the tenant's latest test message to that number; listed by ``GET v1/uplink`` in test
    mode. ER:0033 when ``mobile`` is not a mobile number; ER:0004 when the text is empty or too
    long, or no test message of the tenant went to that number within ``SMS_UPLINK_MATCH_DAYS``
    (nothing is written then). An opt-out keyword blocks nothing (``sms.delivery.uplinks``)."""
    e164 = _blocklist_mobiles([mobile])[0]
    if not content.strip() or len(content) > MAX_TEST_UPLINK_CHARS:
        raise InvalidInput(
            f"content: 1 to {MAX_TEST_UPLINK_CHARS} characters, not only spaces", field="content"
        )
    account = TenantAccount.objects.filter(user=owner).first()
    uplink = None
    if account is not None:
        uplink = uplinks.store_test_uplink(
            tenant_id=account.pk, phone_e164=e164, text=content, received_at=timezone.now()
        )
    if uplink is None:
        raise InvalidInput(
            f"mobile: no test message of yours went to {mobile} in the last "
            f"{settings.SMS_UPLINK_MATCH_DAYS} days",
            field="mobile",
        )
    return uplink

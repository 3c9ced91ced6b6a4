"""State changes of the tenant API (seed 001): root's charges and tenants' bulk messages.

Each public function is one transaction. Refusals are domain errors; the tenant API maps them to
the seed's ``ER:00xx`` codes (``gm_server_notify.api.errors``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import InvalidInput, NotFound, Reason
from signatures.models import AuditStatus
from signatures.services import own_signature
from sms import limits, outbox, suspension, urlguard
from sms.content import MessageTooLong, check_message_length, compose_message, count_segments
from sms.ledger import change_balance
from sms.limits import Window
from sms.models import (
    LedgerReason,
    MessageBatch,
    RecordState,
    SendRecord,
    SendStatus,
    TenantAccount,
    WebhookEndpoint,
)
from sms.phones import InvalidPhone, Phone, is_mainland_e164, parse_mobile
from sms.pipeline import queue_for_dispatch
from templates_mgmt.models import Template, TemplateType
from templates_mgmt.placeholders import TemplateError, check_params
from templates_mgmt.placeholders import render as render_template

logger = logging.getLogger(__name__)

MAX_MOBILES_PER_MESSAGE = 10_000


def _tenant_account(user: Any) -> TenantAccount:
    account, _ = TenantAccount.objects.get_or_create(user=user)
    return account


@retry_on_deadlock()
def charge_tenant(*, username: str, charge: int) -> int:
    """Root adds ``charge`` messages to a tenant's balance (a ledger row); returns the new balance."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"user {username} does not exist", field="user")
    if charge <= 0:
        raise InvalidInput("charge must be positive", field="charge")
    with transaction.atomic():
        account = _tenant_account(user)
        return change_balance(tenant=account, delta=charge, reason=LedgerReason.CHARGE, ref=uuid.uuid4().hex)


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
) -> MessageBatch:
    """Validate a tenant's bulk message, reserve every recipient's segments, write one queued
    record per distinct number in bulk, and publish the dispatch after commit.

    Refused (with nothing written or reserved) when the sign or template is not the tenant's
    (ER:0023/ER:0024) or not passed (ER:0031/ER:0032), a mobile is invalid (ER:0033, naming
    them), the params do not fit the template or its type (ER:0021: ``check_params``) or the
    balance cannot cover it (ER:0034). A ``callback_url`` (this batch's webhook events go there
    instead of the tenant's ``v1/callback`` URL) must pass the SSRF guard (``sms.urlguard``), and
    the tenant must have set ``v1/callback``, whose secret signs the pushes (ER:0004).
    """
    sign = own_signature(owner=owner, sign_id=sign_id)
    template = Template.objects.filter(pk=temp_id, owner=owner, sign=sign).first()
    if template is None:
        raise NotFound(f"temp_id {temp_id} is not of sign_id {sign_id}", reason=Reason.TEMPLATE_NOT_OF_SIGN)
    if sign.audit_status != AuditStatus.PASSED:
        raise InvalidInput(f"sign_id {sign_id} is {sign.audit_status}", reason=Reason.SIGN_NOT_PASSED)
    if template.audit_status != AuditStatus.PASSED:
        raise InvalidInput(f"temp_id {temp_id} is {template.audit_status}", reason=Reason.TEMPLATE_NOT_PASSED)
    if not mobiles or len(mobiles) > MAX_MOBILES_PER_MESSAGE:
        raise InvalidInput(f"mobiles: 1 to {MAX_MOBILES_PER_MESSAGE} numbers")
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
        raise InvalidInput(_invalid_mobiles_detail(invalid), field="mobiles", reason=Reason.INVALID_MOBILE)
    try:
        check_params(template.type, [str(param) for param in params])
        body = render_template(template.template, [str(param) for param in params])
    except TemplateError as exc:
        raise InvalidInput(str(exc), field="params", reason=Reason.TEMPLATE_PARAMS) from exc
    # Mainland numbers get 【signature】body; the others signature: body, billed in GSM-7
    # septets when the text fits that alphabet (docs/content-rules.md).
    texts = {
        international: compose_message(signature=sign.signature, body=body, international=international)
        for international in (False, True)
    }
    try:
        for text in texts.values():
            check_message_length(text)
    except MessageTooLong as exc:
        raise InvalidInput(str(exc), field="params", reason=Reason.TEMPLATE_PARAMS) from exc
    segment_counts = {
        international: count_segments(text, gsm7_allowed=international)
        for international, text in texts.items()
    }
    contents = {e164: texts[not is_mainland_e164(e164)] for e164 in phones}
    segments = {e164: segment_counts[not is_mainland_e164(e164)] for e164 in phones}
    # Verify codes (type 1) go only to mobiles within SMS_VERIFY_LIMITS; the others fail as
    # LIMITED, uncharged, and the request succeeds for the rest.
    account = _tenant_account(owner)
    suspension.check_tenant(account)
    if callback_url:
        if not WebhookEndpoint.objects.filter(tenant=account).exists():
            raise InvalidInput(
                "callback_url: set v1/callback first: its secret signs the pushes", field="callback_url"
            )
        try:
            urlguard.check_url(callback_url)
        except InvalidInput as exc:
            raise InvalidInput(f"callback_url: {exc.message}", field="callback_url") from exc
    verify_code = template.type == TemplateType.VERIFICATION
    with limits.booked(list(phones), verify_code=verify_code) as admission:
        return _write_batch(
            account=account,
            sign_id=sign.pk,
            temp_id=template.pk,
            text=texts[False],
            contents=contents,
            phones=phones,
            segments=segments,
            limited=admission.refused,
            callback_url=callback_url,
        )


@retry_on_deadlock()
def _write_batch(
    *,
    account: TenantAccount,
    sign_id: int,
    temp_id: int,
    text: str,
    contents: dict[str, str],
    phones: dict[str, Phone],
    segments: dict[str, int],
    limited: dict[str, Window],
    callback_url: str = "",
) -> MessageBatch:
    """Reserve the segments of every sendable recipient, write the batch (``text``: its mainland
    form) and one record per distinct number with its own ``contents`` (limited ones failed at
    once, uncharged), publish after commit."""
    batch_uuid = uuid.uuid4()
    now = timezone.now()
    billed = sum(count for e164, count in segments.items() if e164 not in limited)
    with transaction.atomic():
        if billed:
            change_balance(tenant=account, delta=-billed, reason=LedgerReason.RESERVE, ref=batch_uuid.hex)
        batch = MessageBatch.objects.create(
            uuid=batch_uuid,
            tenant=account,
            sign_id=sign_id,
            temp_id=temp_id,
            content=text,
            total=len(phones),
            callback_url=callback_url,
        )
        SendRecord.objects.bulk_create(
            [
                _limited_record(batch, phone, contents[phone.e164], limited[phone.e164], now)
                if phone.e164 in limited
                else SendRecord(
                    batch=batch,
                    receive_phone=phone.national,
                    phone_e164=phone.e164,
                    content=contents[phone.e164],
                    segments=segments[phone.e164],
                    state=RecordState.QUEUED,
                    queued_at=now,
                )
                for phone in phones.values()
            ],
            batch_size=2000,
        )
        if limited:
            # Refused at once (verify-code limits): final already, so their webhook events too.
            outbox.record_finished(SendRecord.objects.filter(batch=batch, state=RecordState.FAILED))
        queue_for_dispatch(
            list(
                SendRecord.objects.filter(batch=batch, state=RecordState.QUEUED).values_list("id", flat=True)
            )
        )
    logger.info(
        "tenant %s queued batch %s: %s numbers (%s limited), %s segments",
        account.user_id,
        batch_uuid,
        len(phones),
        len(limited),
        billed,
    )
    return batch


LIMITED_CODE = "LIMITED"


def _limited_record(batch: MessageBatch, phone: Phone, text: str, window: Window, now: Any) -> SendRecord:
    """A recipient over a verify-code limit: failed at once, billed nothing."""
    return SendRecord(
        batch=batch,
        receive_phone=phone.national,
        phone_e164=phone.e164,
        content=text,
        segments=0,
        state=RecordState.FAILED,
        status=SendStatus.FAILED,
        provider_code=LIMITED_CODE,
        remark=f"{LIMITED_CODE}: {window.describe()}",
        finished_at=now,
    )

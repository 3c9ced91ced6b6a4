"""Uplinks (replies): stored once, matched to the send they answer.

A reply comes pushed (``sms.delivery.intake``) or pulled (``sms.sending.sweeps.pull_uplinks``),
possibly both, and possibly pushed more than once: ``store_uplinks`` keeps each one once, by its natural key
(``InboundMessage.natural_key``, unique per provider in ``tbl_sms_uplink``), with insert-ignore.

Matching (``match_record``): the send record the number last received, accepted by a provider
(``submitted_at`` set), no earlier than ``SMS_UPLINK_MATCH_DAYS`` before the reply and no later
than the reply (plus ``CLOCK_SKEW``: providers stamp replies with their own clock, the gateway to
the second). An uplink that names a signature matches only messages sent under it (their text
starts with ``【signature】``, or ``signature: `` abroad); one that names only an extension
number matches only messages sent through that provider (the extension is the provider
account's); one that names neither matches the last message the number received through any
provider. No fit: the uplink is kept unmatched (the admin lists it). Test mode's records
(docs/api-platform.md "Test mode") reached nobody, so a real reply never matches one.

Test mode's replies come through ``POST v1/test/uplink`` instead (``store_test_uplink``): matched to
the tenant's latest test message to the number by the same window, kept as test uplinks (seen in
test mode only), and never on a blocklist: the blocklist is live, and test mode never changes it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gm_server_notify.db import retry_on_deadlock
from providers.base import InboundMessage
from providers.numbers import WrittenNumber
from signatures.names import strip_brackets
from sms.core.phones import InvalidPhone, parse_mobile
from sms.marketing import optout
from sms.models import SendRecord, Uplink

logger = logging.getLogger(__name__)

# How far a provider's clock may run behind ours (a reply stamped before the send it answers).
CLOCK_SKEW = dt.timedelta(seconds=60)


def _phone_filter(number: WrittenNumber) -> Q | None:
    """The send records whose ``phone_e164`` can be ``number`` as a provider wrote it
    (``providers.numbers``: E.164, a mainland number's 11 digits with or without 86, or seed
    002's masked ``138****1234``); None when it names none we can look up."""
    if number.masked:
        if not number.identifying:
            return None  # too little left to tell numbers apart
        return Q(phone_e164__startswith=number.e164_head, phone_e164__endswith=number.tail)
    return Q(phone_e164=number.e164) if number.e164 else None


def signature_filter(sign: str) -> Q:
    """Records sent under ``sign`` (brackets tolerated): ``【sign】…`` or, abroad, ``sign: …``."""
    name = strip_brackets(sign)
    return Q(content__startswith=f"【{name}】") | Q(content__startswith=f"{name}: ")


def match_record(*, message: InboundMessage, received_at: dt.datetime, window_days: int) -> SendRecord | None:
    """The send ``message`` answers (module docstring), or None."""
    by_phone = _phone_filter(message.number)
    if by_phone is None:
        return None
    query = SendRecord.objects.filter(
        by_phone,
        submitted_at__isnull=False,
        created_at__gte=received_at - dt.timedelta(days=window_days),
        created_at__lte=received_at + CLOCK_SKEW,
        test=False,
    )
    if strip_brackets(message.sign):
        query = query.filter(signature_filter(message.sign))
    elif message.extend.strip():
        query = query.filter(provider=message.provider)
    return query.select_related("batch").order_by("-created_at", "-id").first()


@retry_on_deadlock()
def store_uplinks(*, provider: str, messages: Sequence[InboundMessage]) -> int:
    """Keep ``messages`` (one provider's uplinks), each once, matched to the send it answers.
    Answers how many were new."""
    if not messages:
        return 0
    now = timezone.now()
    unique = {message.natural_key: message for message in messages}
    known = set(
        Uplink.objects.filter(provider=provider, uplink_key__in=list(unique)).values_list(
            "uplink_key", flat=True
        )
    )
    rows = []
    for key, message in unique.items():
        if key in known:
            continue
        received_at = message.received_at or now
        record = match_record(
            message=message, received_at=received_at, window_days=settings.SMS_UPLINK_MATCH_DAYS
        )
        rows.append(
            Uplink(
                provider=provider[:16],
                uplink_key=key,
                phone=message.phone[:24],
                text=message.text,
                sign=message.sign[:64],
                extend=message.extend[:32],
                received_at=received_at,
                raw=dict(message.raw),
                record=record,
                station_id=record.station_id if record else None,
                tenant_id=record.batch.tenant_id if record and record.batch else None,
                batch=record.batch if record else None,
            )
        )
    with transaction.atomic():
        # Insert-ignore: a copy stored meanwhile (a push racing a pull) is kept, this one dropped.
        Uplink.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        opt_outs = _block_opt_outs(provider, rows)
    matched = sum(1 for row in rows if row.record_id)
    logger.info(
        "%s uplink(s) from %s: %s new (%s matched, %s opt-outs), %s already stored",
        len(messages),
        provider,
        len(rows),
        matched,
        opt_outs,
        len(messages) - len(rows),
    )
    return len(rows)


# Test replies are stored under the sandbox's name, each POST one reply (a random key).
TEST_UPLINK_PROVIDER = "sandbox"


@retry_on_deadlock()
def store_test_uplink(
    *, tenant_id: int, phone_e164: str, text: str, received_at: dt.datetime
) -> Uplink | None:
    """A test reply from ``phone_e164``, as if it answered the tenant's latest test message to it
    (accepted by the sandbox within ``SMS_UPLINK_MATCH_DAYS``); None, with nothing written, when
    there is no such message. Never on a blocklist (the module's docstring)."""
    record = (
        SendRecord.objects.filter(
            phone_e164=phone_e164,
            test=True,
            batch__tenant_id=tenant_id,
            submitted_at__isnull=False,
            created_at__gte=received_at - dt.timedelta(days=settings.SMS_UPLINK_MATCH_DAYS),
            created_at__lte=received_at,
        )
        .select_related("batch")
        .order_by("-created_at", "-id")
        .first()
    )
    if record is None:
        return None
    uplink = Uplink.objects.create(
        provider=TEST_UPLINK_PROVIDER,
        uplink_key=uuid.uuid4().hex,
        phone=record.phone_e164[:24],
        text=text,
        received_at=received_at,
        record=record,
        tenant_id=tenant_id,
        batch=record.batch,
        test=True,
    )
    logger.info("test uplink %s stored for tenant account %s", uplink.pk, tenant_id)
    return uplink


def _full_e164(phone: str) -> str:
    """A reply's own number in E.164, or "" when it is masked or not a mobile number."""
    try:
        return parse_mobile(phone).e164
    except InvalidPhone:
        return ""


def _block_opt_outs(provider: str, rows: Sequence[Uplink]) -> int:
    """Blocklist the numbers of the opt-out replies among the rows just stored (``sms.marketing.optout``);
    the rows are read back for their ids (insert-ignore leaves them unset)."""
    by_key = {row.uplink_key: row for row in rows if optout.is_opt_out(row.text)}
    if not by_key:
        return 0
    stored = list(Uplink.objects.filter(provider=provider[:16], uplink_key__in=list(by_key)))
    phone_of = {}
    for uplink in stored:
        row = by_key[uplink.uplink_key]
        phone_of[uplink.pk] = row.record.phone_e164 if row.record is not None else _full_e164(uplink.phone)
    return optout.block_from_uplinks(stored, phone_of=phone_of)

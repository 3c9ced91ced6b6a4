"""Opt-outs: numbers that asked a tenant to stop its marketing.

A reply (uplink) whose text is an opt-out keyword (``SMS_OPT_OUT_KEYWORDS``, default
``T,TD,N,R,退订,取消,拒收,unsubscribe,stop``; compared after NFKC normalisation, trimming and case
folding, so ``Ｔｄ`` and `` td `` count) puts its number on the blocklist:

- of the signature of the tenant message it answers (``sms.delivery.uplinks.match_record``);
- of every signature of the tenant (``sign_id`` 0) when it answers no message but names a
  signature of the tenant (Tencent passes the signature replied to): the tenant is known, the
  message is not;
- of nobody when it answers no message and names no tenant's signature (it is kept in the uplinks
  and counted as unattributed); a reply to a station message blocks nothing, since stations send
  only transactional messages.

Entries are matched by ``phone_hash`` (``sms.core.phones.phone_hash``, keyed HMAC-SHA256 of the
E.164 number), never by the number itself: ``manage.py erase_mobile`` empties ``phone_e164`` and the
opt-out still holds.

Tenants add and remove entries themselves (``v1/blocklist``). Marketing to a blocked number is
not sent: ``failed`` with ``OPTED_OUT``, not charged, checked when the batch is accepted and again
when a held batch is released. Notices and verify codes are never blocked.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from signatures.models import Signature
from signatures.names import strip_brackets
from sms.core.bulk import chunked
from sms.core.phones import phone_hash
from sms.models import BlocklistEntry, MessageBatch, OptOutSource, TenantAccount, Uplink

logger = logging.getLogger(__name__)

OPTED_OUT_CODE = "OPTED_OUT"
OPTED_OUT_REMARK = "OPTED_OUT: the number opted out of this signature's marketing"


def is_opt_out(text: str) -> bool:
    """Whether a reply's text is an opt-out keyword."""
    normalised = unicodedata.normalize("NFKC", text).strip().casefold()
    return normalised in settings.SMS_OPT_OUT_KEYWORDS


@dataclass(frozen=True)
class OptOutTarget:
    tenant_id: int
    sign_id: int


def targets_of(uplink: Uplink) -> list[OptOutTarget]:
    """Whose marketing an opt-out reply stops (the module's docstring)."""
    if uplink.record_id is not None:
        if uplink.batch_id is None:
            return []  # a station's message: transactional only
        batch = MessageBatch.objects.filter(pk=uplink.batch_id).values("tenant_id", "sign_id").first()
        return [OptOutTarget(batch["tenant_id"], batch["sign_id"])] if batch else []
    name = strip_brackets(uplink.sign)
    if not name:
        return []
    owners = set(Signature.objects.filter(signature=name).values_list("owner_id", flat=True))
    return [
        OptOutTarget(tenant_id, BlocklistEntry.EVERY_SIGNATURE)
        for tenant_id in TenantAccount.objects.filter(user_id__in=owners).values_list("id", flat=True)
    ]


def block_from_uplinks(uplinks: Iterable[Uplink], *, phone_of: dict[int, str]) -> int:
    """Blocklist entries for the opt-out replies among ``uplinks`` (stored ones, with their ids),
    inside the caller's transaction; ``phone_of`` maps an uplink's id to its number in E.164 (the
    matched record's, or the reply's own when it is a full number). Insert-ignore: a number already
    blocked keeps its first source. Answers how many replies were opt-outs."""
    entries: list[BlocklistEntry] = []
    opt_outs = 0
    for uplink in uplinks:
        if not is_opt_out(uplink.text):
            continue
        opt_outs += 1
        phone = phone_of.get(uplink.pk, "")
        targets = targets_of(uplink) if phone else []
        if not targets:
            logger.info("an opt-out reply via %s names no tenant's message or signature", uplink.provider)
        entries += [
            BlocklistEntry(
                tenant_id=target.tenant_id,
                sign_id=target.sign_id,
                phone_e164=phone,
                phone_hash=phone_hash(phone),
                source=OptOutSource.UPLINK,
                uplink=uplink,
                source_text=uplink.text[:64],
                source_at=uplink.received_at,
            )
            for target in targets
        ]
    BlocklistEntry.objects.bulk_create(entries, ignore_conflicts=True, batch_size=1000)
    return opt_outs


def blocked_mobiles(*, tenant_id: int, sign_id: int, mobiles_e164: Sequence[str]) -> set[str]:
    """The numbers of ``mobiles_e164`` on the tenant's blocklist for ``sign_id`` (or for every
    signature), matched by their hash."""
    by_hash = {phone_hash(mobile): mobile for mobile in mobiles_e164}
    blocked: set[str] = set()
    for chunk in chunked(list(by_hash), 2000):
        blocked.update(
            by_hash[digest]
            for digest in BlocklistEntry.objects.filter(
                tenant_id=tenant_id,
                sign_id__in=[sign_id, BlocklistEntry.EVERY_SIGNATURE],
                phone_hash__in=chunk,
            ).values_list("phone_hash", flat=True)
        )
    return blocked


def add_entries(*, tenant_id: int, sign_id: int, mobiles_e164: Sequence[str], at: dt.datetime) -> int:
    """Block ``mobiles_e164`` for ``sign_id`` (0: every signature) by the tenant's own request;
    numbers already blocked there (erased or not) are left as they are. Answers how many were new."""
    by_hash = {phone_hash(mobile): mobile for mobile in mobiles_e164}
    already = set(
        BlocklistEntry.objects.filter(
            tenant_id=tenant_id, sign_id=sign_id, phone_hash__in=list(by_hash)
        ).values_list("phone_hash", flat=True)
    )
    fresh = {digest: mobile for digest, mobile in by_hash.items() if digest not in already}
    BlocklistEntry.objects.bulk_create(
        [
            BlocklistEntry(
                tenant_id=tenant_id,
                sign_id=sign_id,
                phone_e164=mobile,
                phone_hash=digest,
                source=OptOutSource.API,
                source_at=at,
            )
            for digest, mobile in fresh.items()
        ],
        ignore_conflicts=True,
    )
    return len(fresh)


def remove_entries(*, tenant_id: int, sign_id: int, mobiles_e164: Sequence[str]) -> int:
    """Unblock ``mobiles_e164`` for ``sign_id`` exactly (an entry for every signature is removed
    with ``sign_id`` 0), erased entries too. Answers how many entries were removed."""
    deleted, _ = BlocklistEntry.objects.filter(
        Q(tenant_id=tenant_id, sign_id=sign_id, phone_hash__in=[phone_hash(m) for m in mobiles_e164])
    ).delete()
    return deleted

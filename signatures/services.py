"""State changes of signatures. Refusals are domain errors whose ``reason`` names the seed's case."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction

from audit.models import AuditAction
from audit.services import SYSTEM, Actor, record
from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import InvalidInput, NotFound, Reason
from signatures import selectors
from signatures.models import AuditStatus, Signature
from signatures.names import SignatureNameError, clean_signature

REVIEW_DECISIONS = (AuditStatus.PASSED, AuditStatus.REJECTED)
ReviewedModel = TypeVar("ReviewedModel", bound=models.Model)


def own_signature(*, owner: AbstractBaseUser, sign_id: int) -> Signature:
    """One of the owner's signatures, or ``NotFound`` (ER:0023): the one ownership check of
    signatures, for templates and sends alike."""
    sign = selectors.signature_of(owner=owner, sign_id=sign_id)
    if sign is None:
        raise NotFound(f"sign_id {sign_id}", reason=Reason.SIGN_NOT_OWNED)
    return sign


def _checked_name(signature: str) -> str:
    """The name stored: enclosing brackets stripped, a bracket left inside refused (ER:0004)."""
    try:
        return clean_signature(signature)
    except SignatureNameError as exc:
        raise InvalidInput(str(exc), field="signature") from exc


@retry_on_deadlock()
def create_signature(
    *, owner: AbstractBaseUser, signature: str, source: str, pics: Sequence[str] = ()
) -> Signature:
    """A new signature, waiting for root's review; stored without brackets (``【去采购】`` →
    ``去采购``), refused when a bracket remains inside."""
    name = _checked_name(signature)
    return Signature.objects.create(owner=owner, signature=name, source=source, pics=list(pics))


@retry_on_deadlock()
def update_signature(
    *, owner: AbstractBaseUser, sign_id: int, signature: str, source: str, pics: Sequence[str] = ()
) -> Signature:
    """Edit one of the owner's signatures; the edit sends it back to review (ER:0011 if it is not
    theirs). The name is cleaned as on creation."""
    name = _checked_name(signature)
    with transaction.atomic():
        sign = Signature.objects.select_for_update().filter(pk=sign_id, owner=owner).first()
        if sign is None:
            raise NotFound(f"sign_id {sign_id} is not yours", reason=Reason.SIGN_NOT_EDITABLE)
        sign.signature, sign.source, sign.pics = name, source, list(pics)
        sign.audit_status, sign.reject_reason = AuditStatus.PENDING, ""
        sign.save()
    return sign


@retry_on_deadlock()
def delete_signature(*, owner: AbstractBaseUser, sign_id: int) -> None:
    """Delete one of the owner's signatures (ER:0012 if it is not theirs, or templates still use it)."""
    with transaction.atomic():
        sign = Signature.objects.select_for_update().filter(pk=sign_id, owner=owner).first()
        if sign is None:
            raise NotFound(f"sign_id {sign_id} is not yours", reason=Reason.SIGN_NOT_DELETABLE)
        if sign.templates.exists():
            raise InvalidInput("delete its templates first", reason=Reason.SIGN_NOT_DELETABLE)
        sign.delete()


@retry_on_deadlock()
def apply_review(
    model: type[ReviewedModel],
    *,
    pk: int,
    id_name: str,
    audit_status: str,
    reject_reason: str,
    action: AuditAction,
    actor: Actor,
) -> ReviewedModel:
    """Root's decision on a signature or a template: only ``passed`` or ``rejected`` (ER:0013
    otherwise); the reason is kept for a rejection and cleared for a pass. Written to the audit
    log (``action``, by ``actor``) in the same transaction."""
    if audit_status not in REVIEW_DECISIONS:
        raise InvalidInput("audit_status must be passed or rejected", reason=Reason.AUDIT_STATUS)
    with transaction.atomic():
        reviewed = model.objects.select_for_update().filter(pk=pk).first()
        if reviewed is None:
            raise NotFound(f"{id_name} {pk} does not exist")
        before = {"audit_status": reviewed.audit_status, "reject_reason": reviewed.reject_reason}
        reviewed.audit_status = audit_status
        reviewed.reject_reason = reject_reason if audit_status == AuditStatus.REJECTED else ""
        reviewed.save(update_fields=["audit_status", "reject_reason", "updated_at"])
        after = {"audit_status": reviewed.audit_status, "reject_reason": reviewed.reject_reason}
        record(actor=actor, action=action, target=reviewed, before=before, after=after)
    return reviewed


def review_signature(
    *, sign_id: int, audit_status: str, reject_reason: str = "", actor: Actor = SYSTEM
) -> Signature:
    """Root's review of a signature (``v2/signreview``, the admin's actions)."""
    return apply_review(
        Signature,
        pk=sign_id,
        id_name="sign_id",
        audit_status=audit_status,
        reject_reason=reject_reason,
        action=AuditAction.SIGNATURE_REVIEW,
        actor=actor,
    )

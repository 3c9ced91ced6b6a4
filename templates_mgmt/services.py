"""State changes of templates. Refusals are domain errors whose ``reason`` names the seed's case."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from audit.models import AuditAction
from audit.services import SYSTEM, Actor
from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import InvalidInput, NotFound, Reason
from signatures.models import AuditStatus, Signature
from signatures.services import apply_review, own_signature
from templates_mgmt.models import Template, TemplateType
from templates_mgmt.placeholders import TemplateError, validate_template


def _checked_type(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError as exc:
        raise InvalidInput("type must be 1, 2 or 3", reason=Reason.TEMPLATE_TYPE) from exc
    if number not in TemplateType.values:
        raise InvalidInput("type must be 1, 2 or 3", reason=Reason.TEMPLATE_TYPE)
    return number


# The opt-out instructions Chinese carriers and clouds accept in marketing SMS; SMS_OPT_OUT_HINTS
# adds more.
BUILT_IN_OPT_OUT_HINTS = ("回T退订", "退订回T", "拒收请回复R", "回TD退订")


def opt_out_hints() -> tuple[str, ...]:
    return (*BUILT_IN_OPT_OUT_HINTS, *settings.SMS_OPT_OUT_HINTS)


def _has_opt_out_hint(template: str) -> bool:
    """Whether the text carries an opt-out instruction (spaces and letter case aside)."""
    text = "".join(template.split()).casefold()
    return any("".join(hint.split()).casefold() in text for hint in opt_out_hints())


def _checked_template(template: str, template_type: int) -> str:
    try:
        validate_template(template)
    except TemplateError as exc:
        raise InvalidInput(str(exc), reason=Reason.TEMPLATE_PARAMS) from exc
    if template_type == TemplateType.MARKETING and not _has_opt_out_hint(template):
        raise InvalidInput(
            "a marketing template (type 3) must carry an opt-out instruction, one of: "
            + ", ".join(opt_out_hints()),
            reason=Reason.TEMPLATE_PARAMS,
        )
    return template


@retry_on_deadlock()
def create_template(
    *,
    owner: AbstractBaseUser,
    name: str,
    template: str,
    template_type: object,
    description: str,
    sign_id: int,
) -> Template:
    """A new template under one of the owner's signatures, waiting for review."""
    checked_type = _checked_type(template_type)
    text = _checked_template(template, checked_type)
    sign = own_signature(owner=owner, sign_id=sign_id)
    return Template.objects.create(
        owner=owner, sign=sign, name=name, template=text, type=checked_type, description=description
    )


def _owned_template(owner: AbstractBaseUser, sign: Signature, temp_id: int) -> Template:
    template = Template.objects.select_for_update().filter(pk=temp_id, owner=owner, sign=sign).first()
    if template is None:
        raise NotFound(f"temp_id {temp_id} is not of sign_id {sign.pk}", reason=Reason.TEMPLATE_NOT_OF_SIGN)
    return template


@retry_on_deadlock()
def update_template(
    *,
    owner: AbstractBaseUser,
    temp_id: int,
    sign_id: int,
    name: str,
    template: str,
    template_type: object,
    description: str,
) -> Template:
    """Edit a template that has not passed review (ER:0025: a passed template is kept as it was
    approved; create a new one). The edit sends it back to review."""
    checked_type = _checked_type(template_type)
    text = _checked_template(template, checked_type)
    with transaction.atomic():
        sign = own_signature(owner=owner, sign_id=sign_id)
        current = _owned_template(owner, sign, temp_id)
        if current.audit_status == AuditStatus.PASSED:
            raise InvalidInput(
                "a passed template cannot be edited: create a new one", reason=Reason.TEMPLATE_NOT_EDITABLE
            )
        current.name, current.template, current.type, current.description = (
            name,
            text,
            checked_type,
            description,
        )
        current.audit_status, current.reject_reason = AuditStatus.PENDING, ""
        current.save()
    return current


@retry_on_deadlock()
def delete_template(*, owner: AbstractBaseUser, sign_id: int, temp_id: int) -> None:
    with transaction.atomic():
        sign = own_signature(owner=owner, sign_id=sign_id)
        _owned_template(owner, sign, temp_id).delete()


def review_template(
    *, temp_id: int, audit_status: str, reject_reason: str = "", actor: Actor = SYSTEM
) -> Template:
    """Root's review of a template (``v2/tempreview``, the admin's actions), as for signatures."""
    return apply_review(
        Template,
        pk=temp_id,
        id_name="temp_id",
        audit_status=audit_status,
        reject_reason=reject_reason,
        action=AuditAction.TEMPLATE_REVIEW,
        actor=actor,
    )

"""Helpers for the tenant API suites: signatures, templates and balances through the real services."""

from __future__ import annotations

from signatures import services as signature_services
from signatures.models import Signature
from sms.tenant_api import services as tenant_services
from templates_mgmt import services as template_services
from templates_mgmt.models import Template


def make_signature(owner, *, passed: bool = True, signature: str = "去采购") -> Signature:
    sign = signature_services.create_signature(owner=owner, signature=signature, source="营业执照")
    if passed:
        sign = signature_services.review_signature(sign_id=sign.pk, audit_status="passed")
    return sign


def make_template(
    owner,
    sign: Signature,
    *,
    passed: bool = True,
    template: str = "您的验证码为{1}，{2}分钟内有效。",
    template_type: int = 1,
) -> Template:
    created = template_services.create_template(
        owner=owner,
        name="验证码",
        template=template,
        template_type=template_type,
        description="注册验证",
        sign_id=sign.pk,
    )
    if passed:
        created = template_services.review_template(temp_id=created.pk, audit_status="passed")
    return created


def tenant_ready(tenant, *, charge: int) -> tuple[Signature, Template]:
    """A passed signature and a passed notice template (``您的订单{1}已发货。``), and ``charge``
    messages on the tenant's balance: what a tenant needs to send through ``v1/message``."""
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=charge)
    return sign, template


ALLOWLIST_INLINE = "allowed_calling_codes"  # the admin inline's formset prefix


def tenant_admin_form(
    account, *, add_codes: tuple[int, ...] = (), remove_codes: tuple[int, ...] = (), **changes
):
    """What the admin's tenant account page posts: every field as it stands (a browser posts a
    ticked box as ``on`` and an unticked one not at all), the allowlist inline's rows (``remove_codes``
    ticked for deletion, ``add_codes`` as new rows), then ``changes`` (a flag: True or False)."""
    from sms.guard.capabilities import FLAGS
    from sms.models import AllowedCallingCode

    account.refresh_from_db()
    fields = {
        "charge": "",
        "suspended_reason": account.suspended_reason,
        "price_fen_per_part": "" if account.price_fen_per_part is None else str(account.price_fen_per_part),
        "daily_cap_parts": "" if account.daily_cap_parts is None else str(account.daily_cap_parts),
        "monthly_cap_parts": "" if account.monthly_cap_parts is None else str(account.monthly_cap_parts),
        **{flag: getattr(account, flag) for flag in FLAGS},
    }
    fields.update(changes)
    form = {name: value for name, value in fields.items() if value is not True and value is not False}
    form.update({flag: "on" for flag in FLAGS if fields[flag] is True})
    rows = list(AllowedCallingCode.objects.filter(tenant=account).order_by("id"))
    for index, row in enumerate(rows):
        form[f"{ALLOWLIST_INLINE}-{index}-id"] = row.pk
        form[f"{ALLOWLIST_INLINE}-{index}-tenant"] = account.pk
        form[f"{ALLOWLIST_INLINE}-{index}-calling_code"] = row.calling_code
        if row.calling_code in remove_codes:
            form[f"{ALLOWLIST_INLINE}-{index}-DELETE"] = "on"
    for index, code in enumerate(add_codes, start=len(rows)):
        form[f"{ALLOWLIST_INLINE}-{index}-tenant"] = account.pk
        form[f"{ALLOWLIST_INLINE}-{index}-calling_code"] = code
    form.update(
        {
            f"{ALLOWLIST_INLINE}-TOTAL_FORMS": len(rows) + len(add_codes),
            f"{ALLOWLIST_INLINE}-INITIAL_FORMS": len(rows),
            f"{ALLOWLIST_INLINE}-MIN_NUM_FORMS": 0,
            f"{ALLOWLIST_INLINE}-MAX_NUM_FORMS": 1000,
        }
    )
    return form


def allow_international(tenant, *calling_codes: int) -> None:
    """An operator enables the tenant's international sending and allows ``calling_codes`` (the
    guard's own services): what a tenant needs before ``v1/message`` takes numbers outside +86."""
    from sms.guard import services as guard_services
    from sms.models import TenantAccount

    account, _ = TenantAccount.objects.get_or_create(user=tenant)
    guard_services.set_capabilities(account_id=account.pk, changes={"international_enabled": True})
    for code in calling_codes:
        guard_services.allow_calling_code(account_id=account.pk, calling_code=code)

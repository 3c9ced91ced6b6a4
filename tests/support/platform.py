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

"""Which provider a record goes to, which one takes over when it is unavailable, and what the
adapter is handed for a record."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from providers.base import OutgoingMessage, ProviderAdapter
from providers.registry import adapter_class
from sms.content import signature_name, template_params
from sms.models import SendRecord
from sms.phones import is_mainland_e164


def route_for(record: SendRecord) -> str:
    """The provider a record goes to first: +86 station sends to SMS_DEFAULT_PROVIDER, tenant
    sends to SMS_TENANT_PROVIDER, every other country to SMS_INTERNATIONAL_PROVIDER."""
    if not is_mainland_e164(record.phone_e164):
        return settings.SMS_INTERNATIONAL_PROVIDER
    if record.batch_id is not None:
        return settings.SMS_TENANT_PROVIDER
    return settings.SMS_DEFAULT_PROVIDER


def next_provider(current: str, tried: Sequence[str], *, needs_text: bool) -> str | None:
    """The next provider of SMS_FAILOVER not tried yet that can carry the batch (tenant texts
    cannot go to providers that send only their own registered templates), or None."""
    for name in settings.SMS_FAILOVER:
        if name == current or name in tried:
            continue
        if needs_text and adapter_class(name).requires_template:
            continue
        return name
    return None


def outgoing_message(record: SendRecord, adapter: ProviderAdapter) -> OutgoingMessage:
    """What the adapter needs of a record: text for text providers, template and parameters
    for template providers (Tencent: the business type's template id)."""
    template_id, params, sign = "", (), ""
    if record.business_type is not None and record.sms_content:
        template_id = adapter.template_id_for(record.business_type)
        params = tuple(template_params(record.business_type, record.sms_content))
        sign = signature_name(record.sms_content.get("sms_signature", ""))
    return OutgoingMessage(
        record_id=record.pk,
        phone_e164=record.phone_e164,
        content=record.content,
        template_id=template_id,
        template_params=params,
        sign_name=sign,
    )

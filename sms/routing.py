"""Which provider a record goes to, which one takes over when it is unavailable, and what the
adapter is handed for a record.

Routing is per region (``providers.base.Region``: mainland +86, international). Each region has
its first providers (station ``SMS_DEFAULT_PROVIDER`` and tenant ``SMS_TENANT_PROVIDER`` for the
mainland, ``SMS_INTERNATIONAL_PROVIDER`` for every other country) and its own failover chain
(``SMS_FAILOVER_MAINLAND``, ``SMS_FAILOVER_INTERNATIONAL``). Whatever the settings say, a provider
is handed a batch only when it can carry every record of it (``unfit_reason``):

- it serves the region of every number (the adapter's ``regions``): an international number never
  goes to a domestic provider;
- tenant free text never goes to a provider that sends only registered templates
  (``requires_template``);
- a station message goes to a template provider only when that provider has a template for the
  message's business type (``template_id_for`` not empty).

``sms.checks`` refuses, at ``manage.py check``, settings that name a provider outside its region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings

from providers.base import OutgoingMessage, ProviderAdapter, Region
from providers.registry import UnknownProvider, adapter_class, get_adapter
from sms.content import signature_name, template_params
from sms.models import SendRecord
from sms.phones import region_of


@dataclass(frozen=True)
class BatchNeeds:
    """What a batch asks of a provider: the regions of its numbers, whether it holds tenant free
    text, and the business types of its station messages. A provider takes the batch only when it
    fits every record (a batch is never split on failover)."""

    regions: frozenset[Region]
    needs_text: bool = False
    business_types: frozenset[int] = frozenset()

    @classmethod
    def of(cls, records: Iterable[SendRecord]) -> BatchNeeds:
        """The needs of ``records`` taken together (every record is looked at, not the first)."""
        regions: set[Region] = set()
        business_types: set[int] = set()
        needs_text = False
        for record in records:
            regions.add(region_of(record.phone_e164))
            if record.business_type is None:
                needs_text = True
            else:
                business_types.add(int(record.business_type))
        return cls(frozenset(regions), needs_text, frozenset(business_types))


def failover_chain(region: Region) -> list[str]:
    """The providers a batch of ``region`` may fail over to, in order."""
    if region is Region.MAINLAND:
        return list(settings.SMS_FAILOVER_MAINLAND)
    return list(settings.SMS_FAILOVER_INTERNATIONAL)


def chain_for(needs: BatchNeeds) -> list[str]:
    """The failover chain of a batch: its region's chain (for a batch that spans regions, which
    the pipeline never builds, only the providers in the chain of every one of them)."""
    chains = [failover_chain(region) for region in sorted(needs.regions)]
    if not chains:
        return []
    return [name for name in chains[0] if all(name in chain for chain in chains[1:])]


def unfit_reason(name: str, needs: BatchNeeds) -> str:
    """Why provider ``name`` cannot carry a batch with ``needs`` ("" when it can)."""
    try:
        adapter = adapter_class(name)
    except UnknownProvider:
        return f"{name!r} is not a known provider"
    outside = needs.regions - adapter.regions
    if outside:
        return f"{name} does not serve {'/'.join(sorted(outside))} numbers"
    if adapter.requires_template:
        if needs.needs_text:
            return f"{name} sends only registered templates, not free text"
        configured = get_adapter(name)
        missing = sorted(kind for kind in needs.business_types if not configured.template_id_for(kind))
        if missing:
            return f"{name} has no template for business type {', '.join(map(str, missing))}"
    return ""


def can_carry(name: str, needs: BatchNeeds) -> bool:
    """Whether provider ``name`` may be handed a batch with ``needs`` (see the module's rules)."""
    return not unfit_reason(name, needs)


def next_provider(current: str, tried: Sequence[str], *, needs: BatchNeeds) -> str | None:
    """The next provider of the batch's failover chain, not ``current`` and not tried yet, that
    can carry the batch (``can_carry``), or None: then the batch fails."""
    for name in chain_for(needs):
        if name == current or name in tried:
            continue
        if can_carry(name, needs):
            return name
    return None


def configured_provider(record: SendRecord) -> str:
    """The provider the settings name for a record: SMS_INTERNATIONAL_PROVIDER outside +86,
    SMS_TENANT_PROVIDER for tenant sends, SMS_DEFAULT_PROVIDER for station sends."""
    if region_of(record.phone_e164) is Region.INTERNATIONAL:
        return settings.SMS_INTERNATIONAL_PROVIDER
    if record.batch_id is not None:
        return settings.SMS_TENANT_PROVIDER
    return settings.SMS_DEFAULT_PROVIDER


def route_for(record: SendRecord) -> str:
    """The provider a record goes to first: the configured one (``configured_provider``) when it
    can carry the record, else the first of the region's failover chain that can (a station
    business type the default provider has no template for goes to a text provider). When none
    can, the configured one: the dispatch refuses it and fails the record with the reason."""
    configured = configured_provider(record)
    needs = BatchNeeds.of([record])
    if can_carry(configured, needs):
        return configured
    return next_provider(configured, (), needs=needs) or configured


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

"""Which provider a record goes to, which one takes over when it is unavailable, and what the
adapter is handed for a record.

Routing is per region (``providers.base.Region``: mainland +86, international). Each region has
its first providers (station ``SMS_STATION_PROVIDER`` and tenant ``SMS_TENANT_PROVIDER`` for the
mainland, ``SMS_INTERNATIONAL_PROVIDER`` for every other country) and its own failover chain
(``SMS_FAILOVER_MAINLAND``, ``SMS_FAILOVER_INTERNATIONAL``). Whatever the settings say, a provider
is handed a batch only when it can carry every record of it (``unfit_reason``):

- it serves the region of every number (the adapter's ``regions``): an international number never
  goes to a domestic provider;
- tenant free text never goes to a provider that sends only registered templates
  (``requires_template``);
- a station message goes to a template provider only when that provider has a template for the
  message's business type (``template_id_for`` not empty);
- a Douyin shop's order message (``is_douyin``: addressed by ``sms_content.douyin_order_id`` or by
  a Douyin phone ciphertext) goes only to a provider that can address it (``addresses_douyin``:
  fw199) and has a Douyin template for its business type (``douyin_template_for``). It starts at
  ``SMS_DOUYIN_PROVIDER`` and never fails over to a provider of another kind: when that provider
  cannot take it the record fails with the reason;
- a test record (written in test mode, docs/api-platform.md "Test mode") goes only to the sandbox
  (``providers.sandbox``), and the sandbox takes nothing else: it has no failover, and a batch that
  reached the wrong side fails ``NoRoute`` at dispatch, never sent.

``sms.sending.checks`` refuses, at ``manage.py check``, settings that name a provider outside its region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings

from providers.base import DouyinTemplate, OutgoingMessage, ProviderAdapter, Region
from providers.registry import UnknownProvider, adapter_class, get_adapter
from providers.sandbox import NAME as SANDBOX
from sms.core.content import DOUYIN_ORDER_ID_FIELD, signature_name, template_params
from sms.core.phones import is_douyin_ciphertext, region_of
from sms.models import SendRecord


def is_douyin(record: SendRecord) -> bool:
    """Whether a record is a Douyin shop's order message: addressed by a Douyin order id
    (``sms_content.douyin_order_id``) or to a Douyin phone ciphertext."""
    content = record.sms_content or {}
    return bool(content.get(DOUYIN_ORDER_ID_FIELD)) or is_douyin_ciphertext(record.phone_e164)


def douyin_template(business_type: int) -> DouyinTemplate | None:
    """The template ``SMS_DOUYIN_PROVIDER`` sends Douyin order messages of ``business_type``
    with (None when it has none, or is not a provider that addresses Douyin orders)."""
    try:
        adapter = get_adapter(settings.SMS_DOUYIN_PROVIDER)
    except UnknownProvider:
        return None
    return adapter.douyin_template_for(business_type) if adapter.addresses_douyin else None


@dataclass(frozen=True)
class BatchNeeds:
    """What a batch asks of a provider: the regions of its numbers, whether it holds tenant free
    text, the business types of its station messages, and whether (and of which business types)
    it holds Douyin order messages, and whether its records are test ones, live ones or both
    (``modes``: the records' ``test``; live when not said). A provider takes the batch only when it
    fits every record (a batch is never split on failover)."""

    regions: frozenset[Region]
    needs_text: bool = False
    business_types: frozenset[int] = frozenset()
    douyin: bool = False
    douyin_types: frozenset[int] = frozenset()
    modes: frozenset[bool] = frozenset({False})

    @classmethod
    def of(cls, records: Iterable[SendRecord]) -> BatchNeeds:
        """The needs of ``records`` taken together (every record is looked at, not the first)."""
        regions: set[Region] = set()
        business_types: set[int] = set()
        douyin_types: set[int] = set()
        modes: set[bool] = set()
        needs_text = douyin = False
        for record in records:
            modes.add(bool(record.test))
            regions.add(region_of(record.phone_e164))
            if record.business_type is None:
                needs_text = True
            elif is_douyin(record):
                douyin = True
                douyin_types.add(int(record.business_type))
            else:
                business_types.add(int(record.business_type))
        return cls(
            frozenset(regions),
            needs_text,
            frozenset(business_types),
            douyin,
            frozenset(douyin_types),
            frozenset(modes) or frozenset({False}),
        )


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
    if adapter.sandbox and False in needs.modes:
        return f"{name} is test mode's sandbox: it takes test records only"
    if not adapter.sandbox and True in needs.modes:
        return f"test records go to the sandbox only, never to {name}"
    outside = needs.regions - adapter.regions
    if outside:
        return f"{name} does not serve {'/'.join(sorted(outside))} numbers"
    if needs.douyin:
        if not adapter.addresses_douyin:
            return f"{name} cannot address a Douyin order id or phone ciphertext"
        configured = get_adapter(name)
        missing = sorted(kind for kind in needs.douyin_types if configured.douyin_template_for(kind) is None)
        if missing:
            return f"{name} has no Douyin template for business type {', '.join(map(str, missing))}"
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
    """The provider the settings name for a record: the sandbox for a test record,
    SMS_DOUYIN_PROVIDER for Douyin order messages, SMS_INTERNATIONAL_PROVIDER outside +86,
    SMS_TENANT_PROVIDER for tenant sends, SMS_STATION_PROVIDER for station sends."""
    if record.test:
        return SANDBOX
    if record.batch_id is None and is_douyin(record):
        return settings.SMS_DOUYIN_PROVIDER
    if region_of(record.phone_e164) is Region.INTERNATIONAL:
        return settings.SMS_INTERNATIONAL_PROVIDER
    if record.batch_id is not None:
        return settings.SMS_TENANT_PROVIDER
    return settings.SMS_STATION_PROVIDER


def route_for(record: SendRecord) -> str:
    """The provider a record goes to first: the configured one (``configured_provider``) when it
    can carry the record, else the first of the region's failover chain that can (a station
    business type the station provider has no template for goes to a text provider). When none
    can, the configured one: the dispatch refuses it and fails the record with the reason (a
    Douyin order message has no chain to go to: only SMS_DOUYIN_PROVIDER's kind can carry it)."""
    configured = configured_provider(record)
    needs = BatchNeeds.of([record])
    if can_carry(configured, needs):
        return configured
    return next_provider(configured, (), needs=needs) or configured


def request_key(record: SendRecord) -> str:
    """What the records of one provider request must share, beside provider and region: the text
    (one ``content`` for the gateway and sjroom, one TemplateParamSet for Tencent); for Douyin
    order messages, whose variables travel per message, the template (by business type) and the
    signature only, so up to 100 of them go in one fw199 request."""
    if record.business_type is not None and is_douyin(record):
        signature = signature_name((record.sms_content or {}).get("sms_signature", ""))
        return f"douyin:{int(record.business_type)}:{signature}"
    return f"text:{record.content}"


def outgoing_message(record: SendRecord, adapter: ProviderAdapter) -> OutgoingMessage:
    """What the adapter needs of a record: text for text providers, template and parameters
    for template providers (Tencent: the business type's template id); for a Douyin order message,
    its Douyin order id or phone ciphertext and the Douyin template's named variables, filled from
    ``sms_content`` (``FW199_TEMPLATES``)."""
    if record.business_type is not None and record.sms_content and is_douyin(record):
        return douyin_message(record, adapter)
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


def douyin_message(record: SendRecord, adapter: ProviderAdapter) -> OutgoingMessage:
    """A Douyin order message: addressed by its order id, else by its phone ciphertext, with the
    adapter's Douyin template for its business type and that template's variables filled from
    ``sms_content`` (the dispatch checked the template exists: ``unfit_reason``)."""
    content = record.sms_content
    template = adapter.douyin_template_for(int(record.business_type))
    template_id, variables = "", {}
    if template is not None:
        template_id = template.template_id
        variables = {name: str(content.get(field, "")) for name, field in template.params.items()}
    ciphertext = record.phone_e164 if is_douyin_ciphertext(record.phone_e164) else ""
    return OutgoingMessage(
        record_id=record.pk,
        phone_e164=record.phone_e164,
        content=record.content,
        template_id=template_id,
        sign_name=signature_name(content.get("sms_signature", "")),
        order_id=str(content.get(DOUYIN_ORDER_ID_FIELD, "")),
        phone_ciphertext=ciphertext,
        template_vars=variables,
    )

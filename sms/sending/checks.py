"""System checks of the routing settings (``manage.py check``, and every command that runs the
checks, ``runserver`` and ``migrate`` among them).

Routing never hands a provider a number outside its regions whatever the settings say
(``sms.sending.routing``), but settings that ask for it are a mistake an operator should hear of before
the first send fails: each provider setting and failover chain must name known providers that
serve their region, and the providers that receive tenant free text must take free text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from providers.base import Region
from providers.registry import UnknownProvider, adapter_class, known_providers
from sms.core.content import station_templates
from sms.sending.routing import BatchNeeds, unfit_reason

# (setting, what it is given: the region of its numbers, tenant free text, Douyin order messages)
FIRST_PROVIDERS: tuple[tuple[str, BatchNeeds], ...] = (
    ("SMS_STATION_PROVIDER", BatchNeeds(frozenset({Region.MAINLAND}))),
    ("SMS_TENANT_PROVIDER", BatchNeeds(frozenset({Region.MAINLAND}), needs_text=True)),
    # station and tenant sends alike
    ("SMS_INTERNATIONAL_PROVIDER", BatchNeeds(frozenset({Region.INTERNATIONAL}), needs_text=True)),
    ("SMS_DOUYIN_PROVIDER", BatchNeeds(frozenset({Region.MAINLAND}), douyin=True)),
)
CHAINS: tuple[tuple[str, Region], ...] = (
    ("SMS_FAILOVER_MAINLAND", Region.MAINLAND),
    ("SMS_FAILOVER_INTERNATIONAL", Region.INTERNATIONAL),
)


def _provider_errors(setting: str, name: str, needs: BatchNeeds, error_id: str) -> list[checks.CheckMessage]:
    """An error when ``name`` (given by ``setting``) is unknown or cannot carry ``needs``."""
    try:
        adapter_class(name)
    except UnknownProvider:
        return [
            checks.Error(
                f"{setting} names {name!r}, which is not a known provider.",
                hint=f"Known providers: {', '.join(known_providers())}.",
                id="sms.E001",
            )
        ]
    reason = unfit_reason(name, needs)
    if not reason:
        return []
    return [
        checks.Error(
            f"{setting} names {name}, which cannot be given its {'/'.join(sorted(needs.regions))} "
            f"messages: {reason}.",
            hint="Name a provider that serves the region (its adapter's `regions`) and takes what the "
            "setting gives it; see docs/providers.md, routing and failover per region.",
            id=error_id,
        )
    ]


@checks.register("sms")
def check_routing(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The first providers and the failover chains serve their regions (sms.E001–E003); the
    station provider has a template for every station business type (sms.W001); the deprecated
    ``SMS_FAILOVER`` (sms.W002) and ``SMS_DEFAULT_PROVIDER`` (sms.W003)."""
    messages: list[checks.CheckMessage] = []
    for setting, needs in FIRST_PROVIDERS:
        messages += _provider_errors(setting, getattr(settings, setting), needs, "sms.E002")
    for setting, region in CHAINS:
        # A chain takes station and tenant batches alike; a template provider in it is skipped
        # for free text at failover, so only the region is required here.
        needs = BatchNeeds(frozenset({region}))
        for name in getattr(settings, setting):
            messages += _provider_errors(setting, name, needs, "sms.E003")
    station_provider = settings.SMS_STATION_PROVIDER
    if station_provider in known_providers() and adapter_class(station_provider).requires_template:
        business_types = frozenset(int(kind) for kind in station_templates())
        station = BatchNeeds(frozenset({Region.MAINLAND}), business_types=business_types)
        reason = unfit_reason(station_provider, station)
        if reason:
            messages.append(
                checks.Warning(
                    f"SMS_STATION_PROVIDER: {reason}.",
                    hint="Those station messages go to the first provider of SMS_FAILOVER_MAINLAND "
                    "that can carry them, or fail; register the template with the provider.",
                    id="sms.W001",
                )
            )
    if settings.SMS_FAILOVER:
        messages.append(
            checks.Warning(
                "SMS_FAILOVER is deprecated: it is the mainland failover chain, read only while "
                "SMS_FAILOVER_MAINLAND is unset.",
                hint="Rename it SMS_FAILOVER_MAINLAND; international numbers fail over along "
                "SMS_FAILOVER_INTERNATIONAL.",
                id="sms.W002",
            )
        )
    if settings.SMS_DEFAULT_PROVIDER:
        messages.append(
            checks.Warning(
                "SMS_DEFAULT_PROVIDER is deprecated: it is the provider of station sends to +86 "
                "numbers, read only while SMS_STATION_PROVIDER is unset.",
                hint="Rename it SMS_STATION_PROVIDER.",
                id="sms.W003",
            )
        )
    return messages

"""Provider pushes, parsed and applied: delivery reports move records, uplinks are stored once.

The HTTP side (``sms.pushes.views``) applies a push at once when it can and, when the database is
unreachable, hands the raw push to the broker for ``sms.tasks.apply_provider_push`` to apply
with retries: a push is acknowledged only once it is applied or queued (docs/architecture.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from providers.base import CallbackParseError, ProviderAdapter
from providers.registry import UnknownProvider, get_adapter
from sms.delivery import reports, uplinks

logger = logging.getLogger(__name__)

STATUS = "status"
UPLINK = "uplink"


class UnknownProviderPush(LookupError):
    """A push for a provider we do not have."""


def parse_push(
    *, provider: str, kind: str, body: bytes, content_type: str
) -> tuple[ProviderAdapter, list[Any]]:
    """The provider's adapter and the reports or uplinks of a ``status`` or ``uplink`` push.
    Raises ``UnknownProviderPush``, or ``CallbackParseError`` for a body that is not the
    provider's format (or a kind of push it does not make)."""
    try:
        adapter = get_adapter(provider)
    except UnknownProvider as exc:
        raise UnknownProviderPush(f"no provider {provider}") from exc
    parse = adapter.parse_status_callback if kind == STATUS else adapter.parse_uplink_callback
    try:
        return adapter, parse(body, content_type)
    except NotImplementedError as exc:
        raise CallbackParseError(f"{provider} has no {kind} push") from exc


def apply_push(*, provider: str, kind: str, items: Sequence[Any]) -> None:
    """Apply parsed push items: reports through ``sms.delivery.reports``, uplinks stored once and matched
    through ``sms.delivery.uplinks``."""
    if kind == STATUS:
        result = reports.apply_delivery_reports(provider=provider, reports=items)
        logger.info(
            "%s status push: %s applied, %s already final, %s unknown, %s rejected",
            provider,
            result.applied,
            result.already_final,
            result.unknown,
            result.rejected,
        )
    else:
        uplinks.store_uplinks(provider=provider, messages=items)

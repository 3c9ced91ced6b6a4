"""The tenant guard as ``v1/message`` meets it (``sms.tenant_api.services.send_tenant_message``):
the capabilities the request needs (``sms.guard.capabilities``: ER:0040 to ER:0042, the request
refused whole), then the numbers that fail at once, never sent and never charged: outside the
country allowlist (``BLOCKED:COUNTRY``, ``sms.guard.countries``) or in a prefix paused for the
tenant (``PAUSED:PREFIX``, ``sms.guard.pumping``). The verify codes' count per prefix is taken
later, around the write (``pumping.booked``), of the numbers still to be sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sms.core.phones import Phone
from sms.guard import capabilities, countries, pumping
from sms.models import TenantAccount


def screen(
    *, account: TenantAccount, phones: Mapping[str, Phone], template_type: int, send_at: dt.datetime | None
) -> dict[str, tuple[str, str]]:
    """Refuse the request when it needs a capability the tenant lacks; else the numbers of
    ``phones`` that fail at once, each with its code and remark."""
    capabilities.check_send(account=account, phones=phones, template_type=template_type, send_at=send_at)
    refused = countries.blocked(account=account, phones=phones)
    for e164, why in pumping.paused(account=account, phones=phones).items():
        refused.setdefault(e164, why)
    return refused

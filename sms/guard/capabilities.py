"""What an operator lets a tenant do (``TenantAccount``'s flags, edited in the admin): send
outside +86 (``international_enabled``, off until allowed), send marketing
(``marketing_enabled``), schedule (``scheduling_enabled``: ``send_at``) and read replies
(``uplinks_enabled``). A request that needs a capability the
tenant lacks is refused whole, with nothing written or reserved: ``ER:0040`` to ``ER:0043``
(``gm_server_notify.errors.NotEnabled`` with its reason).

- International is judged on the numbers: any number outside +86 needs it. Which calling codes
  the tenant may reach is the allowlist's business (``sms.guard.countries``).
- A marketing batch held for ``SMS_MARKETING_HOURS`` is not scheduling: the tenant did not ask for
  a time, the law did; only ``send_at`` needs ``scheduling``.
- Creating a marketing template is not refused: templates know nothing of accounts (``templates_mgmt``
  never imports ``sms``), and a tenant may have one reviewed before marketing is enabled.
- Uplinks off refuses ``GET v1/uplink`` only: replies are still stored and matched, and an opt-out
  reply still blocks marketing (the law requires it whatever the tenant reads).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from gm_server_notify.errors import NotEnabled, Reason
from providers.numbers import MAINLAND_COUNTRY_CODE
from sms.core.phones import Phone
from sms.models import TenantAccount
from templates_mgmt.models import TemplateType

# The flags, in the order the admin and the audit log show them.
FLAGS = ("international_enabled", "marketing_enabled", "scheduling_enabled", "uplinks_enabled")
SHOWN = 20
ASK_AN_OPERATOR = "an operator enables it for your account"


def check_send(
    *, account: TenantAccount, phones: Mapping[str, Phone], template_type: int, send_at: dt.datetime | None
) -> None:
    """Refuse a ``v1/message`` that needs a capability the tenant lacks: ER:0040 naming up to 20
    of its numbers outside +86, ER:0041 for a marketing template, ER:0042 for a ``send_at``."""
    if not account.international_enabled:
        abroad = [e164 for e164, phone in phones.items() if phone.country_code != MAINLAND_COUNTRY_CODE]
        if abroad:
            more = f" and {len(abroad) - SHOWN} more" if len(abroad) > SHOWN else ""
            raise NotEnabled(
                f"{', '.join(abroad[:SHOWN])}{more}: numbers outside +86 need international sending; "
                f"{ASK_AN_OPERATOR}",
                field="mobiles",
                reason=Reason.INTERNATIONAL_NOT_ENABLED,
            )
    if template_type == TemplateType.MARKETING and not account.marketing_enabled:
        raise NotEnabled(
            f"a marketing template (type 3) needs marketing; {ASK_AN_OPERATOR}",
            field="temp_id",
            reason=Reason.MARKETING_NOT_ENABLED,
        )
    if send_at is not None and not account.scheduling_enabled:
        raise NotEnabled(
            f"send_at needs scheduling; send without it, or {ASK_AN_OPERATOR}",
            field="send_at",
            reason=Reason.SCHEDULING_NOT_ENABLED,
        )


def check_uplinks(account: TenantAccount | None) -> None:
    """Refuse ``GET v1/uplink`` to a tenant without ``uplinks`` (ER:0043). A user without an
    account yet has the defaults: uplinks on."""
    if account is not None and not account.uplinks_enabled:
        raise NotEnabled(
            f"reading replies needs uplinks; {ASK_AN_OPERATOR}", reason=Reason.UPLINKS_NOT_ENABLED
        )

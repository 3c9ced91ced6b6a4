"""The country allowlist: the calling codes a tenant with ``international`` on may send to
(``AllowedCallingCode``, one row per code, added one by one by an operator in the admin: each add
and removal is audited, ``sms.guard.services``). +86 is always allowed.

A number outside the list is not refused with the request: its record fails at once with
``BLOCKED:COUNTRY`` (never sent, never charged, a webhook event like any final state) and the
rest of the batch goes out, as opt-outs do for marketing. ``check_calling_code`` is the rule of
what may be listed: a calling code libphonenumber knows, other than 86.
"""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers

from gm_server_notify.errors import InvalidInput
from providers.numbers import MAINLAND_COUNTRY_CODE as MAINLAND
from sms.core.phones import Phone
from sms.models import AllowedCallingCode, TenantAccount

BLOCKED_COUNTRY_CODE = "BLOCKED:COUNTRY"


def allowed_codes(account: TenantAccount) -> set[int]:
    """The calling codes the tenant may send to, +86 included."""
    return {
        MAINLAND,
        *AllowedCallingCode.objects.filter(tenant=account).values_list("calling_code", flat=True),
    }


def blocked(*, account: TenantAccount, phones: Mapping[str, Phone]) -> dict[str, tuple[str, str]]:
    """The numbers of ``phones`` whose calling code the tenant may not send to, each with its
    code and remark (``BLOCKED:COUNTRY``). Reads the allowlist only when a number is abroad."""
    if all(phone.country_code == MAINLAND for phone in phones.values()):
        return {}
    allowed = allowed_codes(account)
    return {
        e164: (
            BLOCKED_COUNTRY_CODE,
            f"{BLOCKED_COUNTRY_CODE}: +{phone.country_code} is not on your account's country "
            "allowlist; an operator must allow it",
        )
        for e164, phone in phones.items()
        if phone.country_code not in allowed
    }


def check_calling_code(calling_code: int) -> int:
    """``calling_code`` when it may be listed: one libphonenumber knows (``44``, ``1``, ``852``),
    not 86 (always allowed); ``InvalidInput`` otherwise."""
    if calling_code == MAINLAND:
        raise InvalidInput("+86 is always allowed: it is not listed", field="calling_code")
    if calling_code not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        raise InvalidInput(f"+{calling_code} is not a country calling code", field="calling_code")
    return calling_code

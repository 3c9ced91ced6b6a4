"""Domain errors: what services raise when they refuse a request.

Services never raise an API family's error. Each family maps a ``DomainError`` to its own body in
one place: the station envelope by the error's class (``gm_server_notify.api.envelope``), the
tenant ``{error, message}`` body by its ``reason`` where it has one, else by its class
(``gm_server_notify.api.errors``).
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Why the tenant domain (signatures, templates, tenant sends) refused a request, where the
    seed's error table tells the cases apart. Each maps to one seed ``ER:00xx`` code."""

    SIGN_NOT_EDITABLE = "sign_not_editable"  # ER:0011
    SIGN_NOT_DELETABLE = "sign_not_deletable"  # ER:0012
    AUDIT_STATUS = "audit_status"  # ER:0013
    TEMPLATE_PARAMS = "template_params"  # ER:0021
    TEMPLATE_TYPE = "template_type"  # ER:0022
    SIGN_NOT_OWNED = "sign_not_owned"  # ER:0023
    TEMPLATE_NOT_OF_SIGN = "template_not_of_sign"  # ER:0024
    TEMPLATE_NOT_EDITABLE = "template_not_editable"  # ER:0025
    SIGN_NOT_PASSED = "sign_not_passed"  # ER:0031
    TEMPLATE_NOT_PASSED = "template_not_passed"  # ER:0032
    INVALID_MOBILE = "invalid_mobile"  # ER:0033
    # A capability an operator has not granted the tenant (sms.guard.capabilities).
    INTERNATIONAL_NOT_ENABLED = "international_not_enabled"  # ER:0040
    MARKETING_NOT_ENABLED = "marketing_not_enabled"  # ER:0041
    SCHEDULING_NOT_ENABLED = "scheduling_not_enabled"  # ER:0042
    UPLINKS_NOT_ENABLED = "uplinks_not_enabled"  # ER:0043
    DAILY_CAP = "daily_cap"  # ER:0038
    MONTHLY_CAP = "monthly_cap"  # ER:0039
    TEST_DAILY_CEILING = "test_daily_ceiling"  # ER:0045


class DomainError(Exception):
    """A request the domain refuses. ``field`` names the offending input, when there is one;
    ``reason`` says which of the tenant API's cases it is, when it is one."""

    def __init__(self, message: str, *, field: str | None = None, reason: Reason | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason

    def describe(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(DomainError):
    """Input that is well-formed but not acceptable (bad phone, content not matching the type)."""


class NotFound(DomainError):
    """An id that names nothing the caller may see."""


class InsufficientBalance(DomainError):
    """The balance cannot cover the send."""


class Conflict(DomainError):
    """The request contradicts what was done before (a receipt already booked with other values)."""


class IdempotencyKeyReused(DomainError):
    """An ``Idempotency-Key`` presented again with a different request."""


class RequestInProgress(DomainError):
    """An ``Idempotency-Key`` whose first request is still being processed."""


class RateLimited(DomainError):
    """A limit of sends (verify codes to one mobile) is reached; ``message`` names the window."""


class NotEnabled(DomainError):
    """The account may not do this: an operator has not granted it the capability (its
    ``reason`` says which)."""


class CapReached(DomainError):
    """A tenant's send would take its parts of the day or month beyond its cap (``reason``:
    ``DAILY_CAP`` or ``MONTHLY_CAP``), or its test-mode messages of the day beyond test mode's
    ceiling (``TEST_DAILY_CEILING``); ``message`` names the cap, what was used and requested."""


class Suspended(DomainError):
    """An operator suspended this account's sending, for ``why``."""

    def __init__(self, why: str) -> None:
        super().__init__(f"sending suspended: {why}")
        self.why = why

"""Conditions the end-to-end tests wait on and assert: every record final, the books straight."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Sum

from sms.models import FINAL_STATES, BalanceLedger, SendRecord


def all_final(expected: int) -> Callable[[], bool]:
    """A ``wait_until`` condition: ``expected`` records are final."""
    return lambda: SendRecord.objects.filter(state__in=FINAL_STATES).count() == expected


def ledger_matches_balance(account: dict) -> bool:
    """``{"tenant": account}`` or ``{"station": station}``: its ledger adds up to its balance."""
    total = BalanceLedger.objects.filter(**account).aggregate(total=Sum("delta"))["total"] or 0
    owner = next(iter(account.values()))
    owner.refresh_from_db()
    return total == owner.balance_nums

"""Operators' changes to the tenant guard, each one transaction with its audit entry: a tenant's
capabilities (``tenant_capability_change``), its country allowlist (``allowlist_change``, one
entry per code added or removed) and lifting a prefix pause (``prefix_pause_lift``). Called by the
admin (``sms.console.admin``) with ``Actor.admin(request)``; a call that changes nothing writes
no entry."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import SYSTEM, Actor, record
from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import InvalidInput
from sms.guard import pumping
from sms.guard.capabilities import FLAGS
from sms.guard.countries import check_calling_code
from sms.models import AllowedCallingCode, PrefixPause, TenantAccount


@retry_on_deadlock()
def set_capabilities(
    *, account_id: int, changes: Mapping[str, bool], actor: Actor = SYSTEM
) -> dict[str, bool]:
    """Set the tenant's capability flags named in ``changes`` (``international_enabled``,
    ``marketing_enabled``, ``scheduling_enabled``, ``uplinks_enabled``: ``capabilities.FLAGS``),
    with one audit entry of the flags that changed, before and after. Answers what changed."""
    unknown = sorted(set(changes) - set(FLAGS))
    if unknown:
        raise InvalidInput(f"no such capability: {', '.join(unknown)}", field="capabilities")
    with transaction.atomic():
        account = TenantAccount.objects.select_for_update().get(pk=account_id)
        changed = {
            flag: bool(changes[flag])
            for flag in FLAGS
            if flag in changes and getattr(account, flag) != bool(changes[flag])
        }
        if not changed:
            return {}
        TenantAccount.objects.filter(pk=account_id).update(**changed)
        record(
            actor=actor,
            action=AuditAction.TENANT_CAPABILITY_CHANGE,
            target=account,
            before={flag: not value for flag, value in changed.items()},
            after=changed,
        )
    return changed


def _listed(account: TenantAccount) -> list[str]:
    return [
        f"+{code}"
        for code in AllowedCallingCode.objects.filter(tenant=account).values_list("calling_code", flat=True)
    ]


@retry_on_deadlock()
def allow_calling_code(*, account_id: int, calling_code: int, actor: Actor = SYSTEM) -> bool:
    """Add ``calling_code`` to the tenant's country allowlist (``InvalidInput`` for +86 or a code
    libphonenumber does not know). Answers whether it was new; an addition is audited with the
    list before and after."""
    check_calling_code(calling_code)
    with transaction.atomic():
        account = TenantAccount.objects.select_for_update().get(pk=account_id)
        before = _listed(account)
        _, created = AllowedCallingCode.objects.get_or_create(tenant=account, calling_code=calling_code)
        if created:
            record(
                actor=actor,
                action=AuditAction.ALLOWLIST_CHANGE,
                target=account,
                before={"calling_codes": before},
                after={"calling_codes": _listed(account), "added": f"+{calling_code}"},
            )
    return created


@retry_on_deadlock()
def disallow_calling_code(*, account_id: int, calling_code: int, actor: Actor = SYSTEM) -> bool:
    """Remove ``calling_code`` from the tenant's country allowlist. Answers whether it was listed;
    a removal is audited with the list before and after. Batches already accepted keep what was
    decided when they were (suspend the tenant to stop them)."""
    with transaction.atomic():
        account = TenantAccount.objects.select_for_update().get(pk=account_id)
        before = _listed(account)
        removed, _ = AllowedCallingCode.objects.filter(tenant=account, calling_code=calling_code).delete()
        if removed:
            record(
                actor=actor,
                action=AuditAction.ALLOWLIST_CHANGE,
                target=account,
                before={"calling_codes": before},
                after={"calling_codes": _listed(account), "removed": f"+{calling_code}"},
            )
    return bool(removed)


@retry_on_deadlock()
def lift_pause(*, pause_id: int, actor: Actor = SYSTEM) -> bool:
    """Lift a prefix pause in force: sends to the prefix resume at once and its count starts
    afresh. Answers whether it was in force; lifting is audited. A lifted or expired pause is left
    as it is."""
    now = timezone.now()
    with transaction.atomic():
        pause = PrefixPause.objects.select_for_update().get(pk=pause_id)
        if pause.lifted_at is not None or pause.until <= now:
            return False
        before = {"prefix": pause.prefix, "until": pause.until, "lifted_at": None, "lifted_by": ""}
        pause.lifted_at, pause.lifted_by = now, actor.name[:150]
        pause.save(update_fields=["lifted_at", "lifted_by"])
        record(
            actor=actor,
            action=AuditAction.PREFIX_PAUSE_LIFT,
            target=pause,
            before=before,
            after={**before, "lifted_at": now, "lifted_by": pause.lifted_by},
        )
        tenant_id, prefix = pause.tenant_id, pause.prefix
        transaction.on_commit(lambda: pumping.forget_counts(tenant_id=tenant_id, prefix=prefix), robust=True)
        # The alert resolves at the next evaluation: ask for it now.
        transaction.on_commit(pumping.ask_for_alerts, robust=True)
    return True

"""Lockout resets (django-axes) written to the audit log: one entry per access attempt cleared, in
the transaction that clears it, whether an operator deletes it in the admin (Axes › Access
attempts) or runs ``manage.py axes_reset_username`` (or ``axes_reset_ip``,
``axes_reset_ip_username``, ``axes_reset``: this app's commands of the same names come first)."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.models import AuditAction
from audit.services import Actor, record


def _attempt(attempt: AccessAttempt) -> dict[str, Any]:
    return {
        "username": attempt.username,
        "ip_address": attempt.ip_address,
        "failures_since_start": attempt.failures_since_start,
        "attempt_time": attempt.attempt_time,
    }


def _clear(*, actor: Actor, attempts: QuerySet[AccessAttempt], reason: str = "") -> int:
    """Delete ``attempts``, one audit entry each, in one transaction."""
    with transaction.atomic():
        cleared = list(attempts.select_for_update().order_by("pk"))
        for attempt in cleared:
            record(
                actor=actor,
                action=AuditAction.LOCKOUT_RESET,
                target=attempt,
                before=_attempt(attempt),
                after=None,
                reason=reason,
            )
        AccessAttempt.objects.filter(pk__in=[attempt.pk for attempt in cleared]).delete()
    return len(cleared)


def reset_lockouts(
    *, actor: Actor, ip: str | None = None, username: str | None = None, reason: str = ""
) -> int:
    """As ``axes.utils.reset`` with the database handler: clear the attempts of ``ip`` and/or
    ``username`` (every attempt when neither is given); answers how many were cleared."""
    attempts = AccessAttempt.objects.all()
    if ip:
        attempts = attempts.filter(ip_address=ip)
    if username:
        attempts = attempts.filter(username=username)
    return _clear(actor=actor, attempts=attempts, reason=reason)


class AuditedAccessAttemptAdmin(AccessAttemptAdmin):
    """axes' admin of access attempts; deleting one (resetting its lockout) is audited."""

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        _clear(actor=Actor.admin(request), attempts=AccessAttempt.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        _clear(actor=Actor.admin(request), attempts=queryset)


def install_admin(site: admin.AdminSite) -> None:
    """Swap axes' access-attempt admin for the audited one (when axes registered its admin)."""
    if site.is_registered(AccessAttempt):
        site.unregister(AccessAttempt)
        site.register(AccessAttempt, AuditedAccessAttemptAdmin)

"""The audit log: one append-only row per root or operator action (who, when, what, before, after).

Append-only: ``AuditEntry.save`` refuses to change a stored row, ``delete`` refuses, and so do the
queryset's ``update`` and ``delete`` (which ``bulk_update`` goes through); the admin shows the log
read-only; on MariaDB/MySQL and SQLite a database trigger refuses any ``UPDATE`` of the table
(migration ``0002``). A row can still be removed by someone with SQL access to the database
(``DELETE``/``TRUNCATE`` are left to the database's grants: Django's test flush needs them).
"""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """An attempt to change or delete an audit entry."""


class AuditAction(models.TextChoices):
    SIGNATURE_REVIEW = "signature_review", "signature review"
    TEMPLATE_REVIEW = "template_review", "template review"
    TENANT_CHARGE = "tenant_charge", "tenant charge"
    STATION_RECHARGE = "station_recharge", "station recharge"
    STATION_SUSPEND = "station_suspend", "station suspended"
    STATION_RESUME = "station_resume", "station resumed"
    TENANT_SUSPEND = "tenant_suspend", "tenant suspended"
    TENANT_RESUME = "tenant_resume", "tenant resumed"
    STATION_CHANGE = "station_change", "station changed"
    STATION_DELETE = "station_delete", "station deleted"
    COMBO_ADD = "combo_add", "combo added"
    COMBO_CHANGE = "combo_change", "combo changed"
    COMBO_DELETE = "combo_delete", "combo deleted"
    WEBHOOK_REDELIVERY = "webhook_redelivery", "dead webhook events redelivered"
    LOCKOUT_RESET = "lockout_reset", "login lockout reset"
    ERASURE = "erasure", "mobile number erased"
    STATION_EXPORT = "station_export", "station records exported"
    TENANT_PRICE_CHANGE = "tenant_price_change", "tenant price changed"
    # Written by features still to come (issues 26 and 32): each must
    # call ``audit.services.record`` with its action (docs/operations.md, "Audit log").
    CAP_CHANGE = "cap_change", "cap changed"
    ALLOWLIST_CHANGE = "allowlist_change", "allowlist changed"
    ALERT_ACKNOWLEDGEMENT = "alert_acknowledgement", "alert acknowledged"
    TENANT_CAPABILITY_CHANGE = "tenant_capability_change", "tenant capabilities changed"
    PREFIX_PAUSE_LIFT = "prefix_pause_lift", "prefix pause lifted"


class ActorKind(models.TextChoices):
    ADMIN = "admin", "admin"
    V2_API = "v2_api", "v2 API (root)"
    V1_API = "v1_api", "v1 API (a tenant)"
    COMMAND = "command", "management command"
    SYSTEM = "system", "system"


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit entries are append-only: they cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries are append-only: they cannot be deleted")


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now)
    # A name, not a foreign key: the entry outlives the user (and names commands and the system).
    actor = models.CharField(max_length=150)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=255, blank=True, default="")
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    reason = models.TextField(blank=True, default="")
    client_address = models.CharField(max_length=64, blank=True, default="")

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        db_table = "audit_entry"
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at"], name="audit_at_idx"),
            models.Index(fields=["action", "-at"], name="audit_action_at_idx"),
            models.Index(fields=["target_type", "target_id", "-at"], name="audit_target_at_idx"),
            models.Index(fields=["actor", "-at"], name="audit_actor_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target_type} {self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit entries are append-only: a stored entry cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries are append-only: they cannot be deleted")

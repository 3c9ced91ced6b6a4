"""The audit log in the admin, read-only for everyone (superusers included); and
``AuditedChangesMixin``, which writes an operator's adds, changes and deletes of a model to it."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.models import AuditEntry
from audit.services import Actor, record, snapshot


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Seen by superusers and by staff with ``audit.view_auditentry``; no one adds, changes or
    deletes (the model and its queryset refuse too)."""

    list_display = ["at", "actor", "actor_kind", "action", "target_type", "target_id", "client_address"]
    list_filter = ["action", "actor_kind", "at"]
    search_fields = ["=actor", "=target_id", "target_type"]
    show_full_result_count = False
    actions = None

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AuditEntry._meta.fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_fields(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditedChangesMixin:
    """For a ``ModelAdmin``: each row an operator adds, changes or deletes is one audit entry
    (``audit_actions``: the action of ``add``, ``change`` and ``delete``), with the changed fields'
    stored values before and after, in the admin's transaction. A save that changes nothing
    audited writes nothing."""

    audit_actions: ClassVar[dict[str, str]]
    audit_ignored_fields: ClassVar[tuple[str, ...]] = ("created_at", "updated_at")

    def _audited(self, obj: models.Model) -> dict[str, Any]:
        values = snapshot(obj)
        return {name: value for name, value in values.items() if name not in self.audit_ignored_fields}

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = type(obj)._default_manager.filter(pk=obj.pk).first() if change and obj.pk else None
        before = self._audited(stored) if stored is not None else None
        if stored is None:
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            after = self._audited(obj)
        else:
            # Only the fields the form changed: the rest of ``obj`` is as read when the page was
            # opened, and a whole-row save would undo what happened since (a balance moved by a
            # send or a recharge in between).
            concrete = {field.name for field in obj._meta.concrete_fields}
            fields = [name for name in form.changed_data if name in concrete]
            if not fields:
                return
            auto_now = [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
            obj.save(update_fields=[*fields, *auto_now])
            after = {name: value for name, value in self._audited(obj).items() if name in fields}
        if before is not None:
            changed = [name for name in after if before.get(name) != after[name]]
            if not changed:
                return
            before = {name: before.get(name) for name in changed}
            after = {name: after[name] for name in changed}
        record(
            actor=Actor.admin(request),
            action=self.audit_actions["change" if before is not None else "add"],
            target=obj,
            before=before,
            after=after,
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            self._record_delete(request, obj)
            super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                self._record_delete(request, obj)
            super().delete_queryset(request, queryset)  # type: ignore[misc]

    def _record_delete(self, request: HttpRequest, obj: Any) -> None:
        record(
            actor=Actor.admin(request),
            action=self.audit_actions["delete"],
            target=obj,
            before=self._audited(obj),
            after=None,
        )

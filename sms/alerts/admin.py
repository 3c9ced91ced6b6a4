"""The alerts in the admin, read only: they are opened and resolved by beat and acknowledged on
/dashboard/alerts (which writes the audit log)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from sms.models import Alert


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("id", "rule", "subject", "state", "value", "threshold", "opened_at", "resolved_at")
    list_filter = ("state", "rule")
    search_fields = ("subject", "message")
    ordering = ("-opened_at", "-id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False

"""Admin for templates, with the same review service as v2/tempreview."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from templates_mgmt import services
from templates_mgmt.models import Template


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "sign", "type", "audit_status", "reject_reason", "updated_at"]
    list_filter = ["audit_status", "type"]
    search_fields = ["name", "template", "owner__username"]
    readonly_fields = [
        "owner",
        "sign",
        "name",
        "template",
        "type",
        "description",
        "audit_status",
        "created_at",
        "updated_at",
    ]
    actions = ["approve", "reject"]

    @admin.action(description="Approve (passed)")
    def approve(self, request: HttpRequest, queryset: QuerySet[Template]) -> None:
        for template in queryset:
            services.review_template(temp_id=template.pk, audit_status="passed")
        self.message_user(request, f"{queryset.count()} template(s) passed")

    @admin.action(description="Reject (reason: the text in reject reason, or 'rejected by an operator')")
    def reject(self, request: HttpRequest, queryset: QuerySet[Template]) -> None:
        for template in queryset:
            services.review_template(
                temp_id=template.pk,
                audit_status="rejected",
                reject_reason=template.reject_reason or "rejected by an operator",
            )
        self.message_user(request, f"{queryset.count()} template(s) rejected")

"""Admin for templates, with the same review service as v2/tempreview."""

from __future__ import annotations

from django.contrib import admin

from audit.services import Actor
from signatures.admin import ReviewActionsMixin
from templates_mgmt import services
from templates_mgmt.models import Template


@admin.register(Template)
class TemplateAdmin(ReviewActionsMixin, admin.ModelAdmin):
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

    @staticmethod
    def review(pk: int, status: str, reason: str, actor: Actor) -> Template:
        return services.review_template(temp_id=pk, audit_status=status, reject_reason=reason, actor=actor)

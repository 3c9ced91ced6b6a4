"""Admin for signatures, with the same review service as v2/signreview."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from signatures import services
from signatures.models import Signature


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    list_display = ["id", "signature", "owner", "source", "audit_status", "reject_reason", "updated_at"]
    list_filter = ["audit_status"]
    search_fields = ["signature", "owner__username"]
    readonly_fields = ["owner", "signature", "source", "pics", "audit_status", "created_at", "updated_at"]
    actions = ["approve", "reject"]

    @admin.action(description="Approve (passed)")
    def approve(self, request: HttpRequest, queryset: QuerySet[Signature]) -> None:
        for sign in queryset:
            services.review_signature(sign_id=sign.pk, audit_status="passed")
        self.message_user(request, f"{queryset.count()} signature(s) passed")

    @admin.action(description="Reject (reason: the text in reject reason, or 'rejected by an operator')")
    def reject(self, request: HttpRequest, queryset: QuerySet[Signature]) -> None:
        for sign in queryset:
            services.review_signature(
                sign_id=sign.pk,
                audit_status="rejected",
                reject_reason=sign.reject_reason or "rejected by an operator",
            )
        self.message_user(request, f"{queryset.count()} signature(s) rejected")

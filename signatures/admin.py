"""Admin for signatures, with the same review service as v2/signreview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.services import Actor
from signatures import services
from signatures.models import Signature

REJECT_REASON = "rejected by an operator"


class ReviewActionsMixin:
    """Approve and reject actions that call a review service (``review(pk, status, reason, actor)``),
    each review written to the audit log as the operator's."""

    actions = ["approve", "reject"]
    review: Callable[..., Any]

    @admin.action(description="Approve (passed)")
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        for item in queryset:
            type(self).review(item.pk, "passed", "", Actor.admin(request))
        self.message_user(request, f"{queryset.count()} passed")

    @admin.action(description="Reject (reason: the text in reject reason, or 'rejected by an operator')")
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        for item in queryset:
            type(self).review(item.pk, "rejected", item.reject_reason or REJECT_REASON, Actor.admin(request))
        self.message_user(request, f"{queryset.count()} rejected")


@admin.register(Signature)
class SignatureAdmin(ReviewActionsMixin, admin.ModelAdmin):
    list_display = ["id", "signature", "owner", "source", "audit_status", "reject_reason", "updated_at"]
    list_filter = ["audit_status"]
    search_fields = ["signature", "owner__username"]
    readonly_fields = ["owner", "signature", "source", "pics", "audit_status", "created_at", "updated_at"]

    @staticmethod
    def review(pk: int, status: str, reason: str, actor: Actor) -> Signature:
        return services.review_signature(sign_id=pk, audit_status=status, reject_reason=reason, actor=actor)

"""Reads of the alerts: the console's list (open first, then acknowledged, then resolved, newest
first within each)."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from sms.models import Alert, AlertState

LISTED = 500


def alerts(*, state: str = "") -> QuerySet[Alert]:
    """The alerts in ``state`` (every state when empty), at most ``LISTED``."""
    queryset = Alert.objects.all()
    if state:
        queryset = queryset.filter(state=state)
    order = Case(
        When(state=AlertState.OPEN, then=Value(0)),
        When(state=AlertState.ACKNOWLEDGED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return queryset.annotate(rank=order).order_by("rank", "-opened_at", "-id")[:LISTED]

"""Dispatch lanes: which queue, and so which workers, a record goes out through.

Three lanes, each a Celery queue of its own with workers of its own (docs/architecture.md,
"Lanes"), so that work of one lane never takes the capacity of another:

- **priority** (``sms_priority``): verify codes: a station's registration message
  (``business_type`` 2) and a tenant's verification template (type 1). A person is waiting.
- **transactional** (``sms_transactional``): notices and station order messages.
- **bulk** (``sms_bulk``): marketing (template type 3), and any tenant message to more than
  ``SMS_BULK_LANE_THRESHOLD`` numbers, whatever its template type: a blast labelled as verify codes
  must not fill the priority lane. Senders take turns in it (``sms.sending.fairness``).

The lane is decided once, when the record is written, and kept on it (``SendRecord.lane``):
retries, failover and the sweeps publish a record on the lane it was written with.
"""

from __future__ import annotations

from django.conf import settings

from sms.models import BusinessType, Lane
from templates_mgmt.models import TemplateType

LANE_QUEUES: dict[int, str] = {
    Lane.PRIORITY: "sms_priority",
    Lane.TRANSACTIONAL: "sms_transactional",
    Lane.BULK: "sms_bulk",
}


def queue_of(lane: int) -> str:
    """The Celery queue of ``lane``; a lane this code does not know (a newer writer) is
    transactional."""
    return LANE_QUEUES.get(lane, LANE_QUEUES[Lane.TRANSACTIONAL])


def station_lane(*, business_type: int | None) -> Lane:
    """A station message: its registration code is a verify code; order messages are notices."""
    if business_type == BusinessType.REGISTRATION:
        return Lane.PRIORITY
    return Lane.TRANSACTIONAL


def tenant_lane(*, template_type: int, recipients: int) -> Lane:
    """A tenant message (one ``v1/message`` to ``recipients`` distinct numbers): its size first,
    then its template's type."""
    if recipients > settings.SMS_BULK_LANE_THRESHOLD or template_type == TemplateType.MARKETING:
        return Lane.BULK
    if template_type == TemplateType.VERIFICATION:
        return Lane.PRIORITY
    return Lane.TRANSACTIONAL


def tenant_sender(tenant_id: int) -> str:
    """Who takes turns in the bulk lane (``sms.sending.fairness``): one tenant is one sender."""
    return f"tenant:{tenant_id}"


def station_sender(station_id: str) -> str:
    return f"station:{station_id}"


def sender_of(*, tenant_id: int | None, station_id: str | None) -> str:
    """The sender of a record: its batch's tenant for a tenant message (``tenant_id`` given), else
    its station."""
    if tenant_id is not None:
        return tenant_sender(tenant_id)
    return station_sender(station_id or "")

"""State changes of the providers app."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from providers.base import InboundMessage
from providers.models import InboundSms


def store_inbound_messages(*, messages: Sequence[InboundMessage]) -> int:
    """Keep uplink replies, in one bulk insert."""
    with transaction.atomic():
        InboundSms.objects.bulk_create(
            [
                InboundSms(
                    provider=message.provider,
                    phone=message.phone[:24],
                    text=message.text,
                    sign=message.sign[:64],
                    extend=message.extend[:32],
                    received_at=message.received_at,
                    raw=dict(message.raw),
                )
                for message in messages
            ],
            batch_size=500,
        )
    return len(messages)

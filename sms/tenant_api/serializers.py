"""Input parsing and output shapes of the tenant API (seed 001's field names), and its schema's
components."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from gm_server_notify.api.fields import MAX_DATE, MIN_DATE, IdField, UnixSecondsField
from gm_server_notify.api.paging import OffsetPageSerializer, offset_list_schema
from sms.core.phones import display_mobile
from sms.tenant_api import services as tenant_services

# ``send_at`` and v1/uplink's ``since``: Unix seconds within the dates the API takes
# (fields.MIN_DATE … MAX_DATE).
MIN_UNIX = int(dt.datetime.combine(MIN_DATE, dt.time.min, tzinfo=dt.UTC).timestamp())


MAX_UNIX = int(dt.datetime.combine(MAX_DATE, dt.time.max, tzinfo=dt.UTC).timestamp())


class MessageRequest(serializers.Serializer):
    sign_id = IdField()
    temp_id = IdField()
    mobiles = serializers.ListField(
        child=serializers.CharField(max_length=32, allow_blank=True),
        min_length=1,
        max_length=tenant_services.MAX_MOBILES_PER_MESSAGE,
    )
    params = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True),
        required=False,
        default=list,
        max_length=20,
    )
    callback_url = serializers.CharField(
        max_length=500,
        required=False,
        default="",
        allow_blank=True,
        help_text="added: this batch's webhook events go here instead of the v1/callback URL "
        "(http or https, public addresses only; v1/callback must be set: its secret signs them)",
    )
    send_at = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=MIN_UNIX,
        max_value=MAX_UNIX,
        help_text="added: Unix seconds, at most 30 days ahead: the batch is accepted and billed now "
        "and held (its mobiles show queued) until then; marketing also until the marketing hours",
    )

    def validate_send_at(self, value: int | None) -> dt.datetime | None:
        return None if value is None else dt.datetime.fromtimestamp(value, tz=dt.UTC)


class MessageQuery(OffsetPageSerializer):
    uuid = serializers.UUIDField()
    page_size = serializers.IntegerField(
        required=False, default=1000, min_value=1, max_value=tenant_services.MAX_MOBILES_PER_MESSAGE
    )


class MessageAccepted(serializers.Serializer):
    uuid = serializers.CharField()


class MessageCancelQuery(serializers.Serializer):
    uuid = serializers.UUIDField()


class MessageCancelled(serializers.Serializer):
    uuid = serializers.CharField()
    cancelled = serializers.IntegerField(
        help_text="mobiles this call cancelled (failed, CANCELLED, refunded)"
    )
    already_cancelled = serializers.IntegerField(help_text="mobiles an earlier call cancelled")
    already_gone = serializers.IntegerField(
        help_text="mobiles already handed to a provider, or final before (refused at accept included)"
    )


class MessageItem(serializers.Serializer):
    mobile = serializers.CharField()
    state = serializers.ChoiceField(
        choices=["queued", "sending", "delivered", "failed", "unknown"],
        help_text="unknown: no report by the deadline, or the provider's answer was lost; a late "
        "report or a pull still decides it",
    )
    reason = serializers.CharField(help_text="why it failed or is unknown; empty otherwise")


class MessageCounts(serializers.Serializer):
    queued = serializers.IntegerField()
    sending = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField()


class MessageProgress(serializers.Serializer):
    uuid = serializers.CharField()
    total = serializers.IntegerField()
    counts = MessageCounts()
    items = MessageItem(many=True)
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()


class TenantBalanceOut(serializers.Serializer):
    balance = serializers.IntegerField()


class ChargeRequest(serializers.Serializer):
    user = serializers.CharField(max_length=150)
    charge = serializers.IntegerField(min_value=1, max_value=100_000_000)


class ChargeOut(serializers.Serializer):
    message = serializers.CharField()
    balance = serializers.IntegerField()


class UplinkQuery(OffsetPageSerializer):
    since = serializers.IntegerField(
        required=False,
        min_value=MIN_UNIX,
        max_value=MAX_UNIX,
        help_text="Unix seconds: only uplinks received at or after it",
    )


class TenantUplinkItem(serializers.Serializer):
    mobile = serializers.SerializerMethodField()
    text = serializers.CharField()
    sign = serializers.CharField()
    received_at = UnixSecondsField(help_text="Unix seconds")
    uuid = serializers.SerializerMethodField(help_text="the v1/message uuid it answers")

    def get_mobile(self, uplink: Any) -> str:
        return display_mobile(uplink.phone)

    def get_uuid(self, uplink: Any) -> str | None:
        return str(uplink.batch.uuid) if uplink.batch is not None else None


TenantUplinkList = offset_list_schema("TenantUplinkList", TenantUplinkItem)


class CallbackRequest(serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text="http or https; public addresses only")
    rotate_secret = serializers.BooleanField(
        required=False, default=False, help_text="answer a new secret (each time it is true)"
    )


class CallbackSetOut(serializers.Serializer):
    url = serializers.CharField()
    secret = serializers.CharField(
        allow_null=True,
        help_text="64 hex characters: shown on the first PUT and when rotate_secret is true, else null",
    )
    secret_hint = serializers.CharField(help_text="the secret's last 4 characters")


class CallbackOut(serializers.Serializer):
    url = serializers.CharField(allow_null=True, help_text="null: no callback set")
    secret_hint = serializers.CharField(allow_null=True, help_text="the secret's last 4 characters")


DELIVERY_STATUSES = ["delivered", "failed", "dead"]


class DeliveriesQuery(OffsetPageSerializer):
    status = serializers.ChoiceField(
        choices=DELIVERY_STATUSES,
        required=False,
        help_text="delivered (2xx), failed (retried later) or dead (some of its events had no retry left)",
    )


class DeliveryItem(serializers.Serializer):
    id = serializers.CharField()
    attempted_at = UnixSecondsField(help_text="Unix seconds")
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=DELIVERY_STATUSES, source="outcome")
    http_status = serializers.IntegerField(allow_null=True, help_text="null: no answer")
    error = serializers.CharField(help_text="empty when delivered")
    event_count = serializers.IntegerField()


DeliveryList = offset_list_schema("DeliveryList", DeliveryItem)


class BlocklistQuery(OffsetPageSerializer):
    mobile = serializers.CharField(max_length=32, required=False, help_text="only this number's entries")


class BlocklistChange(serializers.Serializer):
    mobiles = serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1,
        max_length=tenant_services.MAX_MOBILES_PER_MESSAGE,
    )
    sign_id = IdField(
        required=False,
        allow_null=True,
        default=None,
        help_text="one of your signatures; omitted: every signature",
    )


class BlocklistChanged(serializers.Serializer):
    added = serializers.IntegerField(required=False, help_text="POST: entries that were new")
    removed = serializers.IntegerField(required=False, help_text="DELETE: entries removed")


class BlocklistItem(serializers.Serializer):
    mobile = serializers.CharField(source="phone_e164")
    sign_id = serializers.SerializerMethodField(help_text="null: every signature of the tenant")
    source = serializers.ChoiceField(choices=["uplink", "api"])
    source_text = serializers.CharField(help_text="the reply's text (source uplink)")
    source_at = UnixSecondsField(help_text="Unix seconds: when the reply came or the call was made")

    def get_sign_id(self, entry: Any) -> str | None:
        return str(entry.sign_id) if entry.sign_id else None


BlocklistList = offset_list_schema("BlocklistList", BlocklistItem)

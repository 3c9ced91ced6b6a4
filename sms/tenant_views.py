"""The tenant side of sending (seed 001): v1/message, v1/balance and root's v2/charge, and
v1/uplink and the delivery webhooks' v1/callback (added beyond the seed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from gm_server_notify.api.errors import PlatformAPIError, PlatformError
from gm_server_notify.api.fields import MAX_DATE, MIN_DATE, IdField
from gm_server_notify.api.paging import OffsetPageSerializer, offset_page
from gm_server_notify.api.schema import PLATFORM_ERROR
from gm_server_notify.api.views import PlatformAPIView, RootAPIView, parse
from signatures.serializers import OkOut
from sms import selectors, tenant_services, webhooks
from sms.idempotency import IDEMPOTENCY_KEY, idempotent
from sms.phones import display_mobile

ERRORS = {400: PLATFORM_ERROR, 403: PLATFORM_ERROR}
KEYED_ERRORS = {**ERRORS, 409: PLATFORM_ERROR, 422: PLATFORM_ERROR}


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


@extend_schema_field(OpenApiTypes.INT)
class UnixSecondsField(serializers.Field):
    """A datetime as Unix seconds, as seed 001 lists times."""

    def to_representation(self, value: dt.datetime) -> int:
        return int(value.timestamp())


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


class TenantUplinkList(serializers.Serializer):
    items = TenantUplinkItem(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()


class MessageView(PlatformAPIView):
    @extend_schema(
        tags=["v1 messages"],
        summary="短信发送: up to 10,000 mobiles; answers at once, workers send",
        request=MessageRequest,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: MessageAccepted, **KEYED_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        batch = tenant_services.send_tenant_message(owner=request.user, **parse(MessageRequest, request.data))
        return Response({"uuid": str(batch.uuid)})

    @extend_schema(
        tags=["v1 messages"],
        summary="A batch's progress: counts and each mobile's state",
        parameters=[MessageQuery],
        responses={200: MessageProgress, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = parse(MessageQuery, request.query_params)
        progress = selectors.message_batch_progress(
            owner=request.user, batch_uuid=query["uuid"], page=query["page"], page_size=query["page_size"]
        )
        if progress is None:
            raise PlatformAPIError(
                PlatformError.PARAMS_FAIL, f"uuid {query['uuid']} is not one of your messages"
            )
        return Response(progress)

    @extend_schema(
        tags=["v1 messages"],
        summary="Cancel what of a batch has not been handed to a provider (added beyond seed 001)",
        parameters=[MessageCancelQuery],
        responses={200: MessageCancelled, **ERRORS},
    )
    def delete(self, request: Request) -> Response:
        query = parse(MessageCancelQuery, request.query_params)
        result = tenant_services.cancel_message(owner=request.user, batch_uuid=query["uuid"])
        return Response(
            {
                "uuid": str(query["uuid"]),
                "cancelled": result.cancelled,
                "already_cancelled": result.already_cancelled,
                "already_gone": result.already_gone,
            }
        )


class TenantBalanceView(PlatformAPIView):
    @extend_schema(
        tags=["v1 messages"], summary="The tenant's SMS balance", responses={200: TenantBalanceOut, **ERRORS}
    )
    def get(self, request: Request) -> Response:
        return Response({"balance": selectors.tenant_balance(user=request.user)})


class ChargeView(RootAPIView):
    @extend_schema(
        tags=["v2 charge"],
        summary="账户充值 (root only)",
        request=ChargeRequest,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: ChargeOut, **KEYED_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = parse(ChargeRequest, request.data)
        balance = tenant_services.charge_tenant(username=data["user"], charge=data["charge"])
        return Response({"message": "ok", "balance": balance})


class UplinkView(PlatformAPIView):
    """Added beyond seed 001: the replies to the tenant's messages (docs/api-platform.md)."""

    @extend_schema(
        tags=["v1 messages"],
        summary="上行短信 (added beyond seed 001): replies to the tenant's messages, newest first",
        parameters=[UplinkQuery],
        responses={200: TenantUplinkList, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = parse(UplinkQuery, request.query_params)
        since = query.get("since")
        items, total = offset_page(
            selectors.tenant_uplinks(
                owner=request.user,
                since=None if since is None else dt.datetime.fromtimestamp(since, tz=dt.UTC),
            ),
            page=query["page"],
            page_size=query["page_size"],
        )
        return Response(
            {
                "items": TenantUplinkItem(items, many=True).data,
                "total": total,
                "page": query["page"],
                "page_size": query["page_size"],
            }
        )


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


class DeliveryList(serializers.Serializer):
    items = DeliveryItem(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()


class CallbackView(PlatformAPIView):
    """Added beyond seed 001: where the tenant's delivery webhooks go (docs/api-platform.md)."""

    @extend_schema(
        tags=["v1 webhooks"],
        summary="The callback URL and the secret's last 4 characters",
        responses={200: CallbackOut, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.tenant_callback(owner=request.user))

    @extend_schema(
        tags=["v1 webhooks"],
        summary="Set the callback URL; the first call (and rotate_secret) answers the secret",
        request=CallbackRequest,
        responses={200: CallbackSetOut, **ERRORS},
    )
    def put(self, request: Request) -> Response:
        data = parse(CallbackRequest, request.data)
        result = webhooks.set_callback(
            owner=request.user, url=data["url"], rotate_secret=data["rotate_secret"]
        )
        return Response({"url": result.url, "secret": result.secret, "secret_hint": result.secret_hint})

    @extend_schema(
        tags=["v1 webhooks"],
        summary="Stop the pushes: forget the URL and secret, cancel pending events",
        responses={200: OkOut, **ERRORS},
    )
    def delete(self, request: Request) -> Response:
        webhooks.delete_callback(owner=request.user)
        return Response({"message": "ok"})


class CallbackDeliveriesView(PlatformAPIView):
    @extend_schema(
        tags=["v1 webhooks"],
        summary="The webhook POSTs made, newest first: when, the answer, the error, how many events",
        parameters=[DeliveriesQuery],
        responses={200: DeliveryList, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = parse(DeliveriesQuery, request.query_params)
        items, total = offset_page(
            selectors.webhook_deliveries(owner=request.user, outcome=query.get("status")),
            page=query["page"],
            page_size=query["page_size"],
        )
        return Response(
            {
                "items": DeliveryItem(items, many=True).data,
                "total": total,
                "page": query["page"],
                "page_size": query["page_size"],
            }
        )


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


class BlocklistList(serializers.Serializer):
    items = BlocklistItem(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()


class BlocklistView(PlatformAPIView):
    """Added beyond seed 001: the numbers that opted out of the tenant's marketing
    (docs/api-platform.md, "Marketing")."""

    delete_takes_body = True  # DELETE v1/blocklist has a body, as POST: in the schema too

    @extend_schema(
        tags=["v1 marketing"],
        summary="The numbers blocked from your marketing, newest first",
        parameters=[BlocklistQuery],
        responses={200: BlocklistList, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = parse(BlocklistQuery, request.query_params)
        mobile = query.get("mobile")
        items, total = offset_page(
            selectors.tenant_blocklist(
                owner=request.user,
                mobile_e164=None if mobile is None else tenant_services.blocklist_mobile(mobile),
            ),
            page=query["page"],
            page_size=query["page_size"],
        )
        return Response(
            {
                "items": BlocklistItem(items, many=True).data,
                "total": total,
                "page": query["page"],
                "page_size": query["page_size"],
            }
        )

    @extend_schema(
        tags=["v1 marketing"],
        summary="Block numbers from your marketing (one signature, or all); a repeat changes nothing",
        request=BlocklistChange,
        responses={200: BlocklistChanged, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = parse(BlocklistChange, request.data)
        added = tenant_services.block_mobiles(
            owner=request.user, mobiles=data["mobiles"], sign_id=data["sign_id"]
        )
        return Response({"added": added})

    @extend_schema(
        tags=["v1 marketing"],
        summary="Unblock numbers (the entries of that signature, or those for every signature)",
        request=BlocklistChange,
        responses={200: BlocklistChanged, **ERRORS},
    )
    def delete(self, request: Request) -> Response:
        data = parse(BlocklistChange, request.data)
        removed = tenant_services.unblock_mobiles(
            owner=request.user, mobiles=data["mobiles"], sign_id=data["sign_id"]
        )
        return Response({"removed": removed})

"""The tenant side of sending (seed 001): v1/message, v1/balance and root's v2/charge, and
v1/uplink and the delivery webhooks' v1/callback (added beyond the seed)."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from gm_server_notify.api.errors import PlatformAPIError, PlatformError
from gm_server_notify.api.paging import offset_list
from gm_server_notify.api.schema import PLATFORM_ERROR, OkOut
from gm_server_notify.api.views import PlatformAPIView, RootAPIView, parse
from sms.core.idempotency import IDEMPOTENCY_KEY, idempotent
from sms.tenant_api import selectors
from sms.tenant_api import services as tenant_services
from sms.tenant_api.serializers import (
    BlocklistChange,
    BlocklistChanged,
    BlocklistItem,
    BlocklistList,
    BlocklistQuery,
    CallbackOut,
    CallbackRequest,
    CallbackSetOut,
    ChargeOut,
    ChargeRequest,
    DeliveriesQuery,
    DeliveryItem,
    DeliveryList,
    MessageAccepted,
    MessageCancelled,
    MessageCancelQuery,
    MessageProgress,
    MessageQuery,
    MessageRequest,
    TenantBalanceOut,
    TenantUplinkItem,
    TenantUplinkList,
    UplinkQuery,
)
from sms.webhooks import services as webhooks

ERRORS = {400: PLATFORM_ERROR, 403: PLATFORM_ERROR}
KEYED_ERRORS = {**ERRORS, 409: PLATFORM_ERROR, 422: PLATFORM_ERROR}


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
        return Response(
            offset_list(
                selectors.tenant_uplinks(
                    owner=request.user,
                    since=None if since is None else dt.datetime.fromtimestamp(since, tz=dt.UTC),
                ),
                item=TenantUplinkItem,
                query=query,
            )
        )


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
        return Response(
            offset_list(
                selectors.webhook_deliveries(owner=request.user, outcome=query.get("status")),
                item=DeliveryItem,
                query=query,
            )
        )


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
        return Response(
            offset_list(
                selectors.tenant_blocklist(
                    owner=request.user,
                    mobile_e164=None if mobile is None else tenant_services.blocklist_mobile(mobile),
                ),
                item=BlocklistItem,
                query=query,
            )
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

"""Every provider push endpoint, one handler per kind (anymail's split: the adapter parses, the
app handles, so ``providers/`` never imports ``sms``).

- ``POST /providers/<name>/status`` and ``/providers/<name>/uplink``: the provider's own format,
  answered with the acknowledgement body the provider expects (``adapter.callback_ack``).
- ``POST /sms/callback``: Tencent's status push at seed 000's path: the same handler, answered
  in seed 000's envelope with Tencent's acknowledgement keys in the same body.

Each requires ``?token=SMS_CALLBACK_TOKEN`` (providers do not sign their pushes). A body that is
not the provider's format is 400; nothing here answers 500 for bad input.
"""

from __future__ import annotations

import logging
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gm_server_notify.api.auth import CallbackTokenPermission
from gm_server_notify.api.envelope import StationCode, station_body, station_ok
from gm_server_notify.api.schema import STATION_ERROR, station_envelope
from gm_server_notify.api.views import StationAPIView
from providers import services as provider_services
from providers.base import CallbackParseError, ProviderAdapter
from providers.registry import UnknownProvider, get_adapter
from sms import reports

logger = logging.getLogger(__name__)

STATUS = "status"
UPLINK = "uplink"


class UnknownProviderPush(LookupError):
    """A push to ``/providers/<name>/…`` for a provider we do not have."""


def handle_push(*, provider: str, kind: str, body: bytes, content_type: str) -> ProviderAdapter:
    """Parse a ``status`` or ``uplink`` push with the provider's adapter and apply it: reports
    move records, uplinks are stored. Returns the adapter (its ``callback_ack`` is the answer).
    Raises ``UnknownProviderPush`` or ``CallbackParseError``."""
    try:
        adapter = get_adapter(provider)
    except UnknownProvider as exc:
        raise UnknownProviderPush(f"no provider {provider}") from exc
    parse = adapter.parse_status_callback if kind == STATUS else adapter.parse_uplink_callback
    try:
        items: list[Any] = parse(body, content_type)
    except NotImplementedError as exc:
        raise CallbackParseError(f"{provider} has no {kind} push") from exc
    if kind == STATUS:
        result = reports.apply_delivery_reports(provider=provider, reports=items)
        logger.info(
            "%s status push: %s applied, %s already final, %s unknown",
            provider,
            result.applied,
            result.already_final,
            result.unknown,
        )
    else:
        provider_services.store_inbound_messages(messages=items)
    return adapter


_ACK = inline_serializer("ProviderCallbackAck", fields={"status": serializers.CharField()})
_ERROR = inline_serializer("ProviderCallbackError", fields={"error": serializers.CharField()})
_TOKEN = OpenApiParameter("token", str, required=True, description="SMS_CALLBACK_TOKEN")
_PROVIDER_SCHEMA = {
    "tags": ["providers (callbacks)"],
    "parameters": [_TOKEN],
    "request": {"application/json": {"type": "object"}},
    "responses": {200: _ACK, 400: _ERROR, 401: _ERROR, 404: _ERROR},
}


class _ProviderPushView(APIView):
    """``/providers/<name>/<kind>``: answers in the provider's own terms."""

    authentication_classes = []
    permission_classes = [CallbackTokenPermission]
    kind: str

    def post(self, request: Request, name: str) -> Response:
        try:
            adapter = handle_push(
                provider=name, kind=self.kind, body=request.body, content_type=request.content_type
            )
        except UnknownProviderPush as exc:
            return Response({"error": str(exc)}, status=404)
        except CallbackParseError as exc:
            logger.warning("%s %s callback refused: %s", name, self.kind, exc)
            return Response({"error": str(exc) or "not supported"}, status=400)
        return Response(adapter.callback_ack)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response is not None and response.status_code in (401, 403):
            response.status_code = 401
            response.data = {"error": "invalid or missing callback token"}
        return response


class ProviderStatusCallbackView(_ProviderPushView):
    kind = STATUS

    @extend_schema(summary="A provider's delivery-report push", **_PROVIDER_SCHEMA)
    def post(self, request: Request, name: str) -> Response:
        return super().post(request, name)


class ProviderUplinkCallbackView(_ProviderPushView):
    kind = UPLINK

    @extend_schema(summary="A provider's uplink (reply) push", **_PROVIDER_SCHEMA)
    def post(self, request: Request, name: str) -> Response:
        return super().post(request, name)


class SmsCallbackView(StationAPIView):
    """Tencent Cloud's status-report push at seed 000's path. The answer is seed 000's envelope
    with Tencent's own acknowledgement keys in the same body, so Tencent does not push the batch
    again."""

    authentication_classes = []
    permission_classes = [CallbackTokenPermission]

    @extend_schema(
        tags=["sms (station)"],
        summary="腾讯云短信回调 (status reports)",
        parameters=[_TOKEN],
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={200: station_envelope("CallbackAck"), 400: STATION_ERROR, 401: STATION_ERROR},
    )
    def post(self, request: Request) -> Response:
        try:
            adapter = handle_push(
                provider="tencent", kind=STATUS, body=request.body, content_type=request.content_type
            )
        except CallbackParseError as exc:
            logger.warning("tencent status callback refused: %s", exc)
            return Response(station_body(StationCode.INVALID_PARAMETER, str(exc)), status=400)
        return station_ok(None, **adapter.callback_ack)

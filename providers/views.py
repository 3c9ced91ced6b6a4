"""Provider callbacks: ``/providers/<name>/status`` and ``/providers/<name>/uplink``.

Each requires ``?token=SMS_CALLBACK_TOKEN``, parses the provider's own format with its adapter,
and answers HTTP 200 with the body the provider expects. A body that is not the provider's format
is 400; nothing here answers 500 for bad input. (Tencent's status push keeps seed 000's path
``/sms/callback``; ``/providers/tencent/status`` is the same handler without the envelope.)
"""

from __future__ import annotations

import logging

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gm_server_notify.api.auth import CallbackTokenPermission
from providers import services as provider_services
from providers.base import CallbackParseError, ProviderAdapter
from providers.registry import UnknownProvider, get_adapter
from sms import services as sms_services

logger = logging.getLogger(__name__)

_ACK = inline_serializer("ProviderCallbackAck", fields={"status": serializers.CharField()})
_ERROR = inline_serializer("ProviderCallbackError", fields={"error": serializers.CharField()})
_SCHEMA = {
    "tags": ["providers (callbacks)"],
    "parameters": [OpenApiParameter("token", str, required=True, description="SMS_CALLBACK_TOKEN")],
    "request": {"application/json": {"type": "object"}},
    "responses": {200: _ACK, 400: _ERROR, 401: _ERROR, 404: _ERROR},
}


class _ProviderCallbackView(APIView):
    authentication_classes = []
    permission_classes = [CallbackTokenPermission]

    def _adapter(self, name: str) -> ProviderAdapter | None:
        try:
            return get_adapter(name)
        except UnknownProvider:
            return None

    def handle_push(self, request: Request, name: str, *, kind: str) -> Response:
        """Parse a ``status`` or ``uplink`` push with the provider's adapter and apply it."""
        adapter = self._adapter(name)
        if adapter is None:
            return Response({"error": f"no provider {name}"}, status=404)
        parse_push = adapter.parse_status_callback if kind == "status" else adapter.parse_uplink_callback
        try:
            items = parse_push(request.body, request.content_type)
        except (CallbackParseError, NotImplementedError) as exc:
            logger.warning("%s %s callback refused: %s", name, kind, exc)
            return Response({"error": str(exc) or "not supported"}, status=400)
        if kind == "status":
            result = sms_services.apply_delivery_reports(provider=name, reports=items)
            logger.info(
                "%s status callback: %s applied, %s repeated, %s unknown",
                name,
                result.applied,
                result.ignored,
                result.unknown,
            )
        else:
            provider_services.store_inbound_messages(messages=items)
        return Response(adapter.callback_ack)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response is not None and response.status_code in (401, 403):
            response.status_code = 401
            response.data = {"error": "invalid or missing callback token"}
        return response


class ProviderStatusCallbackView(_ProviderCallbackView):
    @extend_schema(summary="A provider's delivery-report push", **_SCHEMA)
    def post(self, request: Request, name: str) -> Response:
        return self.handle_push(request, name, kind="status")


class ProviderUplinkCallbackView(_ProviderCallbackView):
    @extend_schema(summary="A provider's uplink (reply) push", **_SCHEMA)
    def post(self, request: Request, name: str) -> Response:
        return self.handle_push(request, name, kind="uplink")

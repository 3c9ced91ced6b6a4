"""Every provider push endpoint, one handler per kind (anymail's split: the adapter parses, the
app handles, so ``providers/`` never imports ``sms``).

- ``POST /providers/<name>/status`` and ``/providers/<name>/uplink``: the provider's own format,
  answered with the acknowledgement body the provider expects (``adapter.callback_ack``).
- ``POST /sms/callback``: Tencent's status push at seed 000's path: the same handler, answered
  in seed 000's envelope with Tencent's acknowledgement keys in the same body.

Each requires its provider's secret (providers do not sign their pushes): ``SMS_CALLBACK_TOKENS``'s
entry for the provider, else the shared ``SMS_CALLBACK_TOKEN``, as ``?token=`` or in an
``X-Callback-Token`` header (``gm_server_notify.api.auth.CallbackTokenPermission``). A body that is
not the provider's format is 400; nothing here answers 500 for bad input. A push is acknowledged
only once it is stored: applied to the database, or, while the database cannot be reached, queued
in the broker for a worker to apply with retries. When neither takes it the answer is 503, which
providers that retry (Tencent) take as "push again".
"""

from __future__ import annotations

import base64
import logging

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gm_server_notify.api.auth import CallbackTokenPermission
from gm_server_notify.api.envelope import StationCode, station_body, station_ok
from gm_server_notify.api.schema import STATION_ERROR, station_envelope
from gm_server_notify.api.views import StationAPIView
from gm_server_notify.db import TRANSIENT_ERRORS, drop_broken_connection
from providers.base import CallbackParseError, ProviderAdapter
from sms import tasks
from sms.core import metrics
from sms.delivery import intake
from sms.delivery.intake import STATUS, UPLINK, UnknownProviderPush

logger = logging.getLogger(__name__)

# How hard publishing a queued push tries before the provider is asked to push again.
_PUBLISH_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


class PushNotStored(Exception):
    """Neither the database nor the broker took the push: answer so the provider pushes again."""


def handle_push(*, provider: str, kind: str, body: bytes, content_type: str) -> ProviderAdapter:
    """Parse a ``status`` or ``uplink`` push and apply it, or, when the database cannot be
    reached, queue the raw push for a worker to apply with retries. Returns the adapter (its
    ``callback_ack`` is the answer). Raises ``UnknownProviderPush``, ``CallbackParseError`` or
    ``PushNotStored``."""
    try:
        adapter, items = intake.parse_push(provider=provider, kind=kind, body=body, content_type=content_type)
    except CallbackParseError:
        metrics.PROVIDER_PUSHES.labels(provider, kind, "rejected").inc()
        raise
    try:
        intake.apply_push(provider=provider, kind=kind, items=items)
    except TRANSIENT_ERRORS as exc:
        drop_broken_connection()
        logger.warning("%s %s push not applied (%s): queueing it", provider, kind, type(exc).__name__)
        try:
            tasks.apply_provider_push.apply_async(
                (provider, kind, base64.b64encode(body).decode("ascii"), content_type),
                retry=True,
                retry_policy=_PUBLISH_POLICY,
            )
        except Exception as publish_error:
            metrics.PROVIDER_PUSHES.labels(provider, kind, "refused").inc()
            logger.error("%s %s push not stored anywhere: %s", provider, kind, type(publish_error).__name__)
            raise PushNotStored(f"{provider} {kind} push not stored") from publish_error
        metrics.PROVIDER_PUSHES.labels(provider, kind, "queued").inc()
        return adapter
    metrics.PROVIDER_PUSHES.labels(provider, kind, "applied").inc()
    return adapter


_ACK = inline_serializer("ProviderCallbackAck", fields={"status": serializers.CharField()})
_ERROR = inline_serializer("ProviderCallbackError", fields={"error": serializers.CharField()})
_TOKEN = OpenApiParameter(
    "token",
    str,
    required=False,
    description="the provider's callback secret (SMS_CALLBACK_TOKENS, else SMS_CALLBACK_TOKEN); "
    "or send it in the X-Callback-Token header",
)
_PROVIDER_SCHEMA = {
    "tags": ["providers (callbacks)"],
    "parameters": [_TOKEN],
    "request": {"application/json": {"type": "object"}},
    "responses": {200: _ACK, 400: _ERROR, 401: _ERROR, 404: _ERROR, 503: _ERROR},
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
        except PushNotStored:
            return Response({"error": "temporarily unavailable: push again later"}, status=503)
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
    provider = "tencent"

    @extend_schema(
        tags=["sms (station)"],
        summary="腾讯云短信回调 (status reports)",
        parameters=[_TOKEN],
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={
            200: station_envelope("CallbackAck"),
            400: STATION_ERROR,
            401: STATION_ERROR,
            503: STATION_ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            adapter = handle_push(
                provider="tencent", kind=STATUS, body=request.body, content_type=request.content_type
            )
        except CallbackParseError as exc:
            logger.warning("tencent status callback refused: %s", exc)
            return Response(station_body(StationCode.INVALID_PARAMETER, str(exc)), status=400)
        except PushNotStored:
            body = station_body(StationCode.SERVICE_UNAVAILABLE, "temporarily unavailable: push again later")
            return Response(body, status=503)
        return station_ok(None, **adapter.callback_ack)

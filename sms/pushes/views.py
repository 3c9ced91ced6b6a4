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
only once it is stored: in the push inbox, which a worker drains (``sms.delivery.intake``), or,
while the database cannot be reached, queued in the broker for a worker to apply with retries.
When neither takes it the answer is 503, which providers that retry (Tencent) take as "push again".
"""

from __future__ import annotations

import base64
import logging

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gm_server_notify.api.auth import CallbackTokenPermission
from gm_server_notify.api.envelope import StationCode, station_body, station_ok
from gm_server_notify.api.schema import (
    BODY_MAX_EXAMPLE,
    CALLBACKS_TAG,
    answers,
    body_example,
    ok_answer,
    station_envelope,
    station_refusal,
)
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
    """Parse a ``status`` or ``uplink`` push and store it in the inbox for the workers to apply
    (``sms.delivery.intake``), or, when the database cannot be reached, queue the raw push on the
    broker for a worker to apply with retries. Returns the adapter (its ``callback_ack`` is the
    answer). Raises ``UnknownProviderPush``, ``CallbackParseError`` or ``PushNotStored``."""
    try:
        adapter, _ = intake.parse_push(provider=provider, kind=kind, body=body, content_type=content_type)
    except CallbackParseError:
        metrics.PROVIDER_PUSHES.labels(provider, kind, "rejected").inc()
        raise
    try:
        intake.store_push(provider=provider, kind=kind, body=body, content_type=content_type)
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
    metrics.PROVIDER_PUSHES.labels(provider, kind, "stored").inc()
    tasks.request_inbox_drain()
    return adapter


# --- The schema of the push endpoints: one copy each, for both kinds and seed 000's path --------

_ACK = inline_serializer(
    "ProviderCallbackAck",
    fields={
        "status": serializers.CharField(
            required=False, help_text="`ok`: stored (every provider but Tencent)"
        ),
        "result": serializers.IntegerField(required=False, help_text="Tencent's acknowledgement: 0"),
        "errmsg": serializers.CharField(required=False, help_text="Tencent's acknowledgement: `OK`"),
    },
)
_ERROR = inline_serializer(
    "ProviderCallbackError", fields={"error": serializers.CharField(help_text="what was wrong")}
)
_TOO_LARGE = inline_serializer(
    "RequestTooLarge", fields={"detail": serializers.CharField(help_text="the body's limit")}
)
_TOKEN = OpenApiParameter(
    "token",
    str,
    required=False,
    description="the provider's callback secret (SMS_CALLBACK_TOKENS, else SMS_CALLBACK_TOKEN); "
    "or send it in the X-Callback-Token header",
    examples=[OpenApiExample("the secret", value="test-callback-token")],
)
_PROVIDER = OpenApiParameter(
    "name",
    str,
    location=OpenApiParameter.PATH,
    description="the provider's name, as configured: `tencent`, `gateway` (seed 002), `fw199`, `sjroom`; "
    "a push kind the provider does not make is 400",
    examples=[OpenApiExample("the domestic gateway", value="gateway")],
)


def _failure(schema: object, description: str, error: str) -> OpenApiResponse:
    return OpenApiResponse(
        schema, description=description, examples=[OpenApiExample("refused", value={"error": error})]
    )


_PROVIDER_RESPONSES = {
    200: OpenApiResponse(
        _ACK,
        description="stored (applied, or queued while the database is down): the acknowledgement the "
        "provider expects",
        examples=[
            OpenApiExample("most providers", value={"status": "ok"}),
            OpenApiExample("tencent", value={"result": 0, "errmsg": "OK"}),
        ],
    ),
    400: _failure(
        _ERROR,
        "not the provider's format, or a kind of push it does not make",
        "a status report needs sendId, mobile and status",
    ),
    401: _failure(_ERROR, "no, or a wrong, callback secret", "invalid or missing callback token"),
    404: _failure(_ERROR, "no provider of that name", "no provider nosuch"),
    413: OpenApiResponse(
        _TOO_LARGE,
        description="a body over `REQUEST_BODY_MAX_BYTES`",
        examples=[OpenApiExample("too large", value={"detail": BODY_MAX_EXAMPLE})],
    ),
    503: _failure(
        _ERROR,
        "neither the database nor the broker could store the push: push again",
        "temporarily unavailable: push again later",
    ),
}
_PUSH = """\
Requires the provider's secret (`SMS_CALLBACK_TOKENS[name]`, else `SMS_CALLBACK_TOKEN`) as `?token=`
or in an `X-Callback-Token` header (providers do not sign their pushes). The body is the provider's
own format (a JSON object, or an array of them where the provider batches); one that is not is 400,
never a 500. The push is acknowledged only once it is stored: applied to the database or, while the
database cannot be reached, queued for a worker to apply with retries; when neither takes it the
answer is 503, which providers that retry take as "push again". """
_PROVIDER_SCHEMA = {
    "tags": [CALLBACKS_TAG],
    "parameters": [_PROVIDER, _TOKEN],
    "request": {"application/json": {"type": "object", "additionalProperties": True}},
    "responses": _PROVIDER_RESPONSES,
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

    @extend_schema(
        summary="A provider's delivery-report push",
        description=_PUSH
        + "Each report moves its record to delivered or failed once (a repeated or late report changes "
        "nothing); a report for a message not recorded yet is kept until it is.",
        examples=[
            body_example(
                "gateway",
                {"sendId": "d-20261123-0001", "mobile": "13112341234", "status": "DELIVRD"},
                "seed 002's report: DELIVRD is delivered, anything else failed",
            )
        ],
        **_PROVIDER_SCHEMA,
    )
    def post(self, request: Request, name: str) -> Response:
        return super().post(request, name)


class ProviderUplinkCallbackView(_ProviderPushView):
    kind = UPLINK

    @extend_schema(
        summary="A provider's uplink (reply) push",
        description=_PUSH
        + "Each reply is stored once however often it arrives, matched to the message it answers "
        "(listed by /sms/uplink/get or v1/uplink), and an opt-out reply blocks the number from the "
        "tenant's marketing.",
        examples=[
            body_example(
                "gateway",
                {"mobile": "13112341234", "content": "TD", "times": "2026-11-23 21:07:40", "extNo": ""},
                "seed 002's reply",
            )
        ],
        **_PROVIDER_SCHEMA,
    )
    def post(self, request: Request, name: str) -> Response:
        return super().post(request, name)


_TENCENT_ACK = station_envelope(
    "CallbackAck",
    extra={
        "result": serializers.IntegerField(help_text="Tencent's acknowledgement: 0"),
        "errmsg": serializers.CharField(help_text="Tencent's acknowledgement: `OK`"),
    },
)


class SmsCallbackView(StationAPIView):
    """Tencent Cloud's status-report push at seed 000's path. The answer is seed 000's envelope
    with Tencent's own acknowledgement keys in the same body, so Tencent does not push the batch
    again."""

    authentication_classes = []
    permission_classes = [CallbackTokenPermission]
    provider = "tencent"

    @extend_schema(
        tags=[CALLBACKS_TAG],
        summary="腾讯云短信回调: Tencent Cloud's delivery reports (seed 000's path)",
        description="""\
Configure Tencent's status-report push URL as `https://<host>/sms/callback?token=<SMS_CALLBACK_TOKEN>`.
The body is Tencent's JSON array of reports. Each report moves its record (found by `sid`, the
`SerialNo` SendSms returned) to delivered or failed and counts it in the day's statistics, in one
transaction; the failure reason (`errmsg: description`) lands in the record's `remark`. A repeated
or late report changes nothing and counts nothing twice; an unknown `sid` is logged and
acknowledged. The answer is seed 000's envelope with Tencent's acknowledgement (`"result": 0,
"errmsg": "OK"`) in the same body, so Tencent does not push the batch again. A body that is not
Tencent's format is `1002` (HTTP 400), never a 500; `1098` (HTTP 503) asks Tencent to push again.""",
        parameters=[_TOKEN],
        request={
            "application/json": {"type": "array", "items": {"type": "object", "additionalProperties": True}}
        },
        examples=[
            body_example(
                "one report",
                [
                    {
                        "user_receive_time": "2026-11-23 10:00:00",
                        "nationcode": "86",
                        "mobile": "13112341234",
                        "report_status": "SUCCESS",
                        "errmsg": "DELIVRD",
                        "description": "用户短信送达成功",
                        "sid": "no-such-sid",
                    }
                ],
            )
        ],
        responses=answers(
            ok_answer(
                _TENCENT_ACK,
                {"code": 0, "msg": "ok", "data": None, "result": 0, "errmsg": "OK"},
                "stored: `code` 0 with Tencent's acknowledgement",
            ),
            station_refusal(
                StationCode.INVALID_PARAMETER,
                "body is not a JSON array of status reports",
                when="not Tencent's format",
            ),
            station_refusal(
                StationCode.UNAUTHENTICATED,
                "invalid or missing callback token",
                when="no, or a wrong, callback token",
            ),
            station_refusal(StationCode.PAYLOAD_TOO_LARGE, BODY_MAX_EXAMPLE),
            station_refusal(StationCode.SERVICE_UNAVAILABLE, "temporarily unavailable: push again later"),
        ),
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

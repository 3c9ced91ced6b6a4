"""The seed-001 error body of the tenant ``v1/*`` and root ``v2/*`` API: ``{error, message}``.

The codes, HTTP statuses and messages of the seed's table are kept word for word (including its
spelling, ``prams fail``). Codes the seed lacks but a client needs are added in the same style
and listed in docs/api-platform.md.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from enum import Enum
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from gm_server_notify.api.auth import LiveCredentialsRequired, TestCredentialsRequired
from gm_server_notify.api.envelope import (
    UNAVAILABLE_MSG,
    StationCode,
    database_down,
    describe_validation_error,
    station_body,
    with_retry_after,
)
from gm_server_notify.errors import (
    DomainError,
    IdempotencyKeyReused,
    InsufficientBalance,
    RateLimited,
    Reason,
    RequestInProgress,
    Suspended,
)

logger = logging.getLogger(__name__)


class PlatformError(Enum):
    """``(error code, HTTP status, message)``, as the seed's error table has them."""

    AUTH_NOT_PASS = ("ER:0001", 400, "auth not pass")
    NOT_JSON = ("ER:0002", 400, "post data is not json")
    ROOT_ONLY = ("ER:0003", 400, "please use root user request")
    PARAMS_FAIL = ("ER:0004", 400, "prams fail")
    # Added: not in the seed's table, same style.
    METHOD_NOT_ALLOWED = ("ER:0005", 405, "method not allowed")
    NOT_FOUND = ("ER:0006", 404, "resource not found")
    TOO_MANY_REQUESTS = ("ER:0007", 429, "too many requests")
    REQUEST_TOO_LARGE = ("ER:0008", 413, "request too large")
    SERVICE_UNAVAILABLE = ("ER:0098", 503, "service unavailable")
    SERVER_ERROR = ("ER:0099", 500, "server error")
    # The seed's business errors.
    EDIT_SIGN_FAIL = ("ER:0011", 403, "edit sign fail")
    DELETE_SIGN_FAIL = ("ER:0012", 403, "delete sign fail")
    SIGN_AUDIT_STATUS_FAIL = ("ER:0013", 403, "sign audit_status fail")
    TEMPLATE_PARAMS_FAIL = ("ER:0021", 403, "template prams fail")
    TEMPLATE_TYPE_FAIL = ("ER:0022", 403, "template type fail")
    SIGN_NOT_OF_USER = ("ER:0023", 403, "sign id is not belong to user")
    TEMP_NOT_OF_SIGN = ("ER:0024", 403, "temp id is not belong to sign")
    TEMP_STATUS_FAIL = ("ER:0025", 403, "edit temp fail, temp status fail.")
    SIGN_NOT_PASSED = ("ER:0031", 403, "sign is not passed")
    TEMP_NOT_PASSED = ("ER:0032", 403, "temp is not passed")
    INVALID_MOBILE = ("ER:0033", 403, "invalidate mobile exist")
    # Added by the platform issue: a send the tenant's balance cannot cover.
    BALANCE_NOT_ENOUGH = ("ER:0034", 403, "balance not enough")
    # Added by the safe-retries issue: Idempotency-Key.
    IDEMPOTENCY_KEY_REUSED = ("ER:0035", 422, "idempotency key reused")
    REQUEST_IN_PROGRESS = ("ER:0036", 409, "request in progress")
    SUSPENDED = ("ER:0037", 403, "sending suspended")
    # Added by issue 26: capabilities an operator grants a tenant (docs/api-platform.md).
    INTERNATIONAL_NOT_ENABLED = ("ER:0040", 403, "international not enabled")
    MARKETING_NOT_ENABLED = ("ER:0041", 403, "marketing not enabled")
    SCHEDULING_NOT_ENABLED = ("ER:0042", 403, "scheduling not enabled")
    UPLINKS_NOT_ENABLED = ("ER:0043", 403, "uplinks not enabled")
    # Added by issue 26 (test mode): a test-mode-only call made with the live password.
    TEST_CREDENTIALS_ONLY = ("ER:0044", 403, "test credentials only")
    # Added by issue 26: a send beyond the tenant's daily or monthly cap of parts (v1/limits).
    DAILY_CAP_REACHED = ("ER:0038", 403, "daily cap reached")
    MONTHLY_CAP_REACHED = ("ER:0039", 403, "monthly cap reached")
    # Test mode's own ceiling of messages per tenant and China-time day (SMS_TEST_MODE_DAILY_MESSAGES).
    TEST_CEILING_REACHED = ("ER:0045", 403, "test mode daily ceiling reached")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def message(self) -> str:
        return self.value[2]


class PlatformAPIError(Exception):
    """Raise to answer ``{error, message}``; ``detail`` is appended to the seed's message."""

    def __init__(self, error: PlatformError, detail: str = "") -> None:
        super().__init__(f"{error.code} {error.message} {detail}".strip())
        self.error = error
        self.detail = detail


_REASON_ERRORS = {
    Reason.SIGN_NOT_EDITABLE: PlatformError.EDIT_SIGN_FAIL,
    Reason.SIGN_NOT_DELETABLE: PlatformError.DELETE_SIGN_FAIL,
    Reason.AUDIT_STATUS: PlatformError.SIGN_AUDIT_STATUS_FAIL,
    Reason.TEMPLATE_PARAMS: PlatformError.TEMPLATE_PARAMS_FAIL,
    Reason.TEMPLATE_TYPE: PlatformError.TEMPLATE_TYPE_FAIL,
    Reason.SIGN_NOT_OWNED: PlatformError.SIGN_NOT_OF_USER,
    Reason.TEMPLATE_NOT_OF_SIGN: PlatformError.TEMP_NOT_OF_SIGN,
    Reason.TEMPLATE_NOT_EDITABLE: PlatformError.TEMP_STATUS_FAIL,
    Reason.SIGN_NOT_PASSED: PlatformError.SIGN_NOT_PASSED,
    Reason.TEMPLATE_NOT_PASSED: PlatformError.TEMP_NOT_PASSED,
    Reason.INVALID_MOBILE: PlatformError.INVALID_MOBILE,
    Reason.INTERNATIONAL_NOT_ENABLED: PlatformError.INTERNATIONAL_NOT_ENABLED,
    Reason.MARKETING_NOT_ENABLED: PlatformError.MARKETING_NOT_ENABLED,
    Reason.SCHEDULING_NOT_ENABLED: PlatformError.SCHEDULING_NOT_ENABLED,
    Reason.UPLINKS_NOT_ENABLED: PlatformError.UPLINKS_NOT_ENABLED,
    Reason.DAILY_CAP: PlatformError.DAILY_CAP_REACHED,
    Reason.MONTHLY_CAP: PlatformError.MONTHLY_CAP_REACHED,
    Reason.TEST_DAILY_CEILING: PlatformError.TEST_CEILING_REACHED,
}


def platform_error_for(exc: DomainError) -> PlatformError:
    """The seed's code for a domain refusal: by its reason, else by its kind."""
    if exc.reason is not None:
        return _REASON_ERRORS[exc.reason]
    if isinstance(exc, InsufficientBalance):
        return PlatformError.BALANCE_NOT_ENOUGH
    if isinstance(exc, IdempotencyKeyReused):
        return PlatformError.IDEMPOTENCY_KEY_REUSED
    if isinstance(exc, RequestInProgress):
        return PlatformError.REQUEST_IN_PROGRESS
    if isinstance(exc, RateLimited):
        return PlatformError.TOO_MANY_REQUESTS
    if isinstance(exc, Suspended):
        return PlatformError.SUSPENDED
    return PlatformError.PARAMS_FAIL


# The detail of ER:0098 while the database cannot be reached.
UNAVAILABLE_DETAIL = "retry later"


def platform_body(error: PlatformError, detail: str = "") -> dict[str, str]:
    message = f"{error.message}: {detail}" if detail else error.message
    return {"error": error.code, "message": message}


def platform_error(error: PlatformError, detail: str = "") -> Response:
    return Response(platform_body(error, detail), status=error.http_status)


def platform_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Render any exception raised in a v1/v2 view as ``{error, message}``."""
    if database_down(exc, type(context.get("view")).__name__):
        return with_retry_after(platform_error(PlatformError.SERVICE_UNAVAILABLE, UNAVAILABLE_DETAIL))
    if isinstance(exc, PlatformAPIError):
        return platform_error(exc.error, exc.detail)
    if isinstance(exc, DomainError):
        # The seed's message already says "sending suspended": add only the reason.
        detail = exc.why if isinstance(exc, Suspended) else exc.message
        return platform_error(platform_error_for(exc), detail)
    if isinstance(exc, (exceptions.ParseError, exceptions.UnsupportedMediaType)):
        return platform_error(PlatformError.NOT_JSON)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return platform_error(PlatformError.AUTH_NOT_PASS)
    # Test mode (docs/api-platform.md "Test mode"): the credentials are right, for the other mode.
    if isinstance(exc, LiveCredentialsRequired):
        return platform_error(PlatformError.AUTH_NOT_PASS, str(exc.detail))
    if isinstance(exc, TestCredentialsRequired):
        return platform_error(PlatformError.TEST_CREDENTIALS_ONLY, str(exc.detail))
    if isinstance(exc, exceptions.PermissionDenied):
        return platform_error(PlatformError.ROOT_ONLY)
    if isinstance(exc, exceptions.ValidationError):
        return platform_error(PlatformError.PARAMS_FAIL, describe_validation_error(exc.detail))
    if isinstance(exc, SuspiciousOperation):
        # Django's own parsing limits (more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters).
        return platform_error(PlatformError.PARAMS_FAIL, str(exc))
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return platform_error(PlatformError.NOT_FOUND)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return platform_error(PlatformError.METHOD_NOT_ALLOWED, str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        return platform_error(PlatformError.TOO_MANY_REQUESTS, str(exc.detail))
    if isinstance(exc, exceptions.APIException):
        return Response(platform_body(PlatformError.PARAMS_FAIL, str(exc.detail)), status=exc.status_code)
    logger.exception("unhandled error in platform API view %s", type(context.get("view")).__name__)
    return platform_error(PlatformError.SERVER_ERROR)


def fallback_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """For DRF views outside both families (schema, health): DRF's own handling."""
    return drf_exception_handler(exc, context)


# --- Django-level handlers: a request that never reaches a view still gets its family's body ---

_PLATFORM_PREFIXES = ("/v1/", "/v2/")


def _json_for_path(request: HttpRequest, status_code: int, detail: str = "") -> JsonResponse:
    """The error body of the family the path belongs to, for requests no view answers."""
    path = request.path
    if path.startswith("/sms/") or path == "/sms":
        code = {
            404: StationCode.NOT_FOUND,
            400: StationCode.INVALID_PARAMETER,
            413: StationCode.PAYLOAD_TOO_LARGE,
            503: StationCode.SERVICE_UNAVAILABLE,
        }.get(status_code, StationCode.SERVER_ERROR)
        msg = detail or {404: "not found", 400: "bad request", 503: UNAVAILABLE_MSG}.get(
            status_code, "internal error"
        )
        return JsonResponse(station_body(code, msg), status=status_code)
    if path.startswith(_PLATFORM_PREFIXES) or path in ("/v1", "/v2"):
        error = {
            404: PlatformError.NOT_FOUND,
            400: PlatformError.PARAMS_FAIL,
            413: PlatformError.REQUEST_TOO_LARGE,
            503: PlatformError.SERVICE_UNAVAILABLE,
        }.get(status_code, PlatformError.SERVER_ERROR)
        if status_code == 503:
            detail = detail or UNAVAILABLE_DETAIL
        return JsonResponse(platform_body(error, detail), status=status_code)
    default = {
        404: "not found",
        400: "bad request",
        413: "request body too large",
        503: "service unavailable: retry later",
    }
    return JsonResponse({"detail": detail or default.get(status_code, "server error")}, status=status_code)


class RequestSizeLimitMiddleware:
    """Refuse a body larger than ``REQUEST_BODY_MAX_BYTES`` before any view reads it: HTTP 413 in
    the family's body (station 1011, tenant ER:0008). A body without a length (chunked) is bounded
    by Django's own ``DATA_UPLOAD_MAX_MEMORY_SIZE``, set to the same limit, and the front proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _json_for_path(request, 400, "Content-Length is not a number")
        if length > settings.REQUEST_BODY_MAX_BYTES:
            return _json_for_path(
                request, 413, f"the body may be at most {settings.REQUEST_BODY_MAX_BYTES} bytes"
            )
        return self.get_response(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_for_path(request, 400)


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_for_path(request, 404)


def handler500(request: HttpRequest) -> JsonResponse:
    """An exception no view rendered (a middleware's query, a commit, a view outside both
    families, the admin): 503 with ``Retry-After`` when it says the database cannot be reached,
    else 500. Django calls this while handling the exception, so ``sys.exc_info`` holds it."""
    exc = sys.exc_info()[1]
    if exc is not None and database_down(exc, request.path):
        return with_retry_after(_json_for_path(request, 503))
    return _json_for_path(request, 500)

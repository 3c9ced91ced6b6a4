"""The seed-000 envelope of the station ``/sms/*`` API: ``{code, msg, data}``.

``code`` 0 is success. Every failure answers a non-zero ``code`` with a ``msg`` that says what
was wrong, ``data: null``, and an HTTP status that matches the kind of failure (see
docs/api-station.md for the table).
"""

from __future__ import annotations

import logging
from enum import IntEnum
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from gm_server_notify.db import database_unreachable, drop_broken_connection
from gm_server_notify.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidInput,
    NotFound,
    RateLimited,
    RequestInProgress,
    Suspended,
)

logger = logging.getLogger(__name__)


class StationCode(IntEnum):
    """The station API's codes; 0 is success, the rest name the failure."""

    OK = 0
    INVALID_JSON = 1001
    INVALID_PARAMETER = 1002
    UNAUTHENTICATED = 1003
    NOT_FOUND = 1004
    METHOD_NOT_ALLOWED = 1005
    INSUFFICIENT_BALANCE = 1006
    CONFLICT = 1007
    THROTTLED = 1008
    IDEMPOTENCY_KEY_REUSED = 1009
    SUSPENDED = 1010
    PAYLOAD_TOO_LARGE = 1011
    FORBIDDEN = 1012
    SERVICE_UNAVAILABLE = 1098
    SERVER_ERROR = 1099


_HTTP_STATUS = {
    StationCode.INVALID_JSON: status.HTTP_400_BAD_REQUEST,
    StationCode.INVALID_PARAMETER: status.HTTP_400_BAD_REQUEST,
    StationCode.UNAUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    StationCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    StationCode.METHOD_NOT_ALLOWED: status.HTTP_405_METHOD_NOT_ALLOWED,
    StationCode.INSUFFICIENT_BALANCE: status.HTTP_403_FORBIDDEN,
    StationCode.CONFLICT: status.HTTP_409_CONFLICT,
    StationCode.THROTTLED: status.HTTP_429_TOO_MANY_REQUESTS,
    StationCode.IDEMPOTENCY_KEY_REUSED: status.HTTP_422_UNPROCESSABLE_ENTITY,
    StationCode.SUSPENDED: status.HTTP_403_FORBIDDEN,
    StationCode.PAYLOAD_TOO_LARGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    StationCode.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    StationCode.SERVICE_UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    StationCode.SERVER_ERROR: status.HTTP_500_INTERNAL_SERVER_ERROR,
}


_DOMAIN_CODES = {
    InvalidInput: StationCode.INVALID_PARAMETER,
    NotFound: StationCode.NOT_FOUND,
    InsufficientBalance: StationCode.INSUFFICIENT_BALANCE,
    Conflict: StationCode.CONFLICT,
    RequestInProgress: StationCode.CONFLICT,
    RateLimited: StationCode.THROTTLED,
    Suspended: StationCode.SUSPENDED,
    IdempotencyKeyReused: StationCode.IDEMPOTENCY_KEY_REUSED,
}


def station_http_status(code: StationCode) -> int:
    """The HTTP status that goes with a failure's code."""
    return _HTTP_STATUS[code]


def station_body(code: StationCode, msg: str, data: Any = None) -> dict[str, Any]:
    """The envelope as a plain dict."""
    return {"code": int(code), "msg": msg, "data": data}


def station_ok(data: Any = None, *, pagination: dict[str, Any] | None = None, **extra: Any) -> Response:
    """A success answer; ``pagination`` sits beside ``data`` for paged lists."""
    body = station_body(StationCode.OK, "ok", data)
    if pagination is not None:
        body["pagination"] = pagination
    body.update(extra)
    return Response(body)


def station_error(code: StationCode, msg: str) -> Response:
    return Response(station_body(code, msg), status=_HTTP_STATUS[code])


# What a station client is told while the database cannot be reached (code 1098, HTTP 503).
UNAVAILABLE_MSG = "temporarily unavailable: retry later"


AnyResponse = TypeVar("AnyResponse", bound=HttpResponse)


def with_retry_after(response: AnyResponse) -> AnyResponse:
    """``response`` (a 503) with ``Retry-After``: seconds after which a retry may find the
    database back (``DATABASE_RETRY_AFTER_SECONDS``)."""
    response["Retry-After"] = str(settings.DATABASE_RETRY_AFTER_SECONDS)
    return response


def database_down(exc: BaseException, where: str) -> bool:
    """Whether ``exc`` says the database cannot be reached (``gm_server_notify.db``); if so the
    broken connection is dropped, so the next request connects afresh, and a line is logged (no
    trace: it is the database's state, not a bug)."""
    if not database_unreachable(exc):
        return False
    drop_broken_connection()
    logger.warning("database unreachable in %s: %s %s", where, type(exc).__name__, exc)
    return True


def describe_validation_error(detail: Any, prefix: str = "") -> str:
    """Flatten DRF's nested error detail to one line that names the offending field(s)."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            name = prefix if field == "non_field_errors" else f"{prefix}{field}"
            parts.append(describe_validation_error(value, f"{name}." if name else ""))
        return "; ".join(part for part in parts if part)
    if isinstance(detail, list):
        messages = [describe_validation_error(item, prefix) for item in detail]
        return "; ".join(dict.fromkeys(m for m in messages if m))
    field = prefix.rstrip(".")
    return f"{field}: {detail}" if field else str(detail)


def station_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Render any exception raised in a station view as the envelope; never a stack trace."""
    if database_down(exc, type(context.get("view")).__name__):
        return with_retry_after(station_error(StationCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MSG))
    if isinstance(exc, DomainError):
        return station_error(_DOMAIN_CODES.get(type(exc), StationCode.INVALID_PARAMETER), exc.describe())
    if isinstance(exc, exceptions.ParseError):
        return station_error(StationCode.INVALID_JSON, f"request body is not valid JSON: {exc.detail}")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return station_error(StationCode.INVALID_JSON, "request body must be JSON (application/json)")
    if isinstance(exc, exceptions.ValidationError):
        return station_error(StationCode.INVALID_PARAMETER, describe_validation_error(exc.detail))
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response = station_error(StationCode.UNAUTHENTICATED, str(exc.detail))
        response["WWW-Authenticate"] = 'Bearer realm="sms"'
        return response
    if isinstance(exc, exceptions.PermissionDenied):
        # A valid service token whose client lacks the view's scope, or is bound to other
        # stations (gm_server_notify.api.auth, sms.station_api.binding).
        if getattr(exc.detail, "code", None) in ("missing_scope", "station_not_bound"):
            return station_error(StationCode.FORBIDDEN, str(exc.detail))
        return station_error(StationCode.UNAUTHENTICATED, str(exc.detail))
    if isinstance(exc, SuspiciousOperation):
        # Django's own limits on what it parses (DATA_UPLOAD_MAX_NUMBER_FIELDS: a query string of
        # more than 1000 parameters) are the caller's error, as Django answers 400 outside DRF.
        return station_error(StationCode.INVALID_PARAMETER, str(exc))
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return station_error(StationCode.NOT_FOUND, "not found")
    if isinstance(exc, exceptions.MethodNotAllowed):
        return station_error(StationCode.METHOD_NOT_ALLOWED, str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        return station_error(StationCode.THROTTLED, str(exc.detail))
    if isinstance(exc, exceptions.APIException):
        return Response(station_body(StationCode.INVALID_PARAMETER, str(exc.detail)), status=exc.status_code)
    logger.exception("unhandled error in station API view %s", type(context.get("view")).__name__)
    return station_error(StationCode.SERVER_ERROR, "internal error")

"""Structured logs: a request id on every line of a request, and no full phone number anywhere.

``RequestIdMiddleware`` takes the caller's ``X-Request-ID`` (or makes one), answers it back, and
keeps it in a context variable that ``RequestIdFilter`` puts on every record. ``MaskPhonesFilter``
rewrites mainland mobile numbers in the final message (``13112341234`` → ``131****1234``), and
Douyin phone ciphertexts (``$Dcwm…$1$$`` → ``$Dcwm****``), so a careless log call cannot leak
one. ``JsonFormatter`` (python-json-logger's) and ``PlainFormatter`` write the time the one way every
log line of the service does: ISO 8601 in UTC, with its zone (docs/operations.md, "Logs").
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger import json as jsonlogger

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
# A Douyin phone ciphertext (seed 003's ``post_tel``): ``$index$data$version$$``, base64 between.
_DOUYIN_CIPHERTEXT = re.compile(r"(\$[A-Za-z0-9+/=]{4})[A-Za-z0-9+/=]*\$[A-Za-z0-9+/=*$]*")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def mask_phones(text: str) -> str:
    text = _DOUYIN_CIPHERTEXT.sub(lambda match: f"{match.group(1)}****", text)
    return _MOBILE.sub(lambda match: f"{match.group(1)}****{match.group(3)}", text)


def iso_time(created: float) -> str:
    """``2026-12-04T14:33:05.123+00:00``: UTC whatever the process's zone (Django sets the
    process's zone to TIME_ZONE, China time, so ``time.localtime`` would not do)."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(jsonlogger.JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_time(record.created)


class PlainFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_time(record.created)


class MaskPhonesFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestIdMiddleware:
    """Give every request an id (the caller's ``X-Request-ID`` when it is sane) for its logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response

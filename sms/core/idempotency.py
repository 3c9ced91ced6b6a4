"""``Idempotency-Key`` on the POSTs that create a record or move money (the IETF httpapi draft's
and Stripe's semantics): a caller that retries after a dropped connection gets the first answer
again, and nothing is written, reserved or sent twice.

- The key (1–255 printable ASCII characters) is scoped to the caller and the path; a tenant's
  test mode (its test password) is a caller of its own, so a live and a test request with the same
  key never meet.
- The first request with a key claims it (a committed ``processing`` row), does its work, and
  stores its status and body in the same transaction as the work.
- The same key and the same body (a hash of the parsed body) answer the stored status and body
  with ``Idempotent-Replayed: true``; another body is 422; while the first is still being
  processed, 409. A request that failed with a server error releases its key, so a retry runs.
- A claim older than ``IDEMPOTENCY_LOCK_SECONDS`` belongs to a request that died: the next one
  takes it over.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from gm_server_notify.api.auth import is_test_mode
from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import IdempotencyKeyReused, InvalidInput, RequestInProgress
from sms.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="1-255 printable ASCII characters, scoped to the caller and the path: a retry with the "
    "same key and body answers the first answer again (header Idempotent-Replayed: true) and changes "
    "nothing; with another body it is refused (422), while the first request runs too (409). Answers "
    "are kept a day (IDEMPOTENCY_TTL_SECONDS)",
    examples=[OpenApiExample("a key per order", value="order-20261125-0042-sms")],
)
# The answer's header saying it is the stored answer of an earlier request with the same key.
IDEMPOTENT_REPLAYED = OpenApiParameter(
    REPLAYED_HEADER,
    str,
    location=OpenApiParameter.HEADER,
    response=[200],
    description="true when this is the stored answer of an earlier request with the same Idempotency-Key "
    "(nothing was done again); absent otherwise",
)
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class InvalidKey(ValueError):
    """The header is empty, too long or not printable ASCII."""


class KeyReused(Exception):
    """The key was used with another request body."""


class KeyInProgress(Exception):
    """A request with this key is still being processed."""


@dataclasses.dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: Any


def request_hash(data: Any) -> str:
    """A hash of the parsed body, independent of key order and spacing."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def checked_key(raw: str) -> str:
    if not _VALID_KEY.fullmatch(raw):
        raise InvalidKey(f"{HEADER} must be 1 to 255 printable ASCII characters")
    return raw


def _claim(*, scope: str, path: str, key: str, digest: str) -> IdempotencyKey | StoredAnswer:
    """Claim the key (committed at once, so a concurrent request sees it), or return the answer
    stored under it. Raises ``KeyReused`` or ``KeyInProgress``."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                scope=scope, path=path, key=key, request_hash=digest, locked_at=now
            )
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.get(scope=scope, path=path, key=key)
    if existing.request_hash != digest:
        raise KeyReused
    if existing.state == IdempotencyKey.DONE:
        return StoredAnswer(existing.status_code or 200, existing.body)
    stale = now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    if existing.locked_at < stale and IdempotencyKey.objects.filter(
        pk=existing.pk, state=IdempotencyKey.PROCESSING, locked_at=existing.locked_at
    ).update(locked_at=now):
        existing.locked_at = now
        return existing  # its first request died: this one takes the key over
    raise KeyInProgress


def run_once(
    *, scope: str, path: str, key: str, data: Any, handle: Callable[[], Response]
) -> tuple[Response, bool]:
    """Answer a keyed request: run ``handle`` once per (scope, path, key) and store its answer in
    the same transaction as its work. Returns the response and whether it is a replay."""
    claimed = _claim(scope=scope, path=path, key=key, digest=request_hash(data))
    if isinstance(claimed, StoredAnswer):
        return Response(claimed.body, status=claimed.status), True

    @retry_on_deadlock()
    def work() -> Response:
        with transaction.atomic():
            response = handle()
            if response.status_code < 500:
                IdempotencyKey.objects.filter(pk=claimed.pk).update(
                    state=IdempotencyKey.DONE, status_code=response.status_code, body=response.data
                )
            return response

    try:
        response = work()
    except BaseException:
        IdempotencyKey.objects.filter(pk=claimed.pk, state=IdempotencyKey.PROCESSING).delete()
        raise
    if response.status_code >= 500:
        IdempotencyKey.objects.filter(pk=claimed.pk, state=IdempotencyKey.PROCESSING).delete()
    return response, False


def purge_expired() -> int:
    """Beat: forget keys older than ``IDEMPOTENCY_TTL_SECONDS``."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a view's ``post``: with an ``Idempotency-Key`` header it runs once per key (see
    the module); without one it runs as it always did."""

    @functools.wraps(view_method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw = request.headers.get(HEADER)
        if raw is None:
            return view_method(view, request, *args, **kwargs)
        try:
            key = checked_key(raw)
        except InvalidKey as exc:
            raise InvalidInput(str(exc), field=HEADER) from exc
        user = request.user
        scope = f"user:{user.pk}" if getattr(user, "pk", None) else f"client:{user}"
        if is_test_mode(request):
            scope += ":test"
        try:
            response, replayed = run_once(
                scope=scope[:64],
                path=request.path[:64],
                key=key,
                data=request.data,
                handle=lambda: view_method(view, request, *args, **kwargs),
            )
        except KeyReused as exc:
            raise IdempotencyKeyReused("Idempotency-Key reused with a different request") from exc
        except KeyInProgress as exc:
            raise RequestInProgress("a request with this Idempotency-Key is still being processed") from exc
        if replayed:
            response[REPLAYED_HEADER] = "true"
        return response

    return wrapper

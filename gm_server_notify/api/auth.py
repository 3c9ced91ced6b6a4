"""Authentication of the two API families.

- ``/sms/*``: a bearer token from ``SMS_SERVICE_TOKENS`` (the order and registration services
  and the station admin front end's back end hold one each).
- ``v1/*`` and ``v2/*``: HTTP Basic against Django users; superusers are the seed's ``root``.
  Failed attempts are counted per client address and throttled.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, BasicAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceClient:
    """The caller of the station API: a service holding one of the configured tokens."""

    token_index: int
    is_authenticated: bool = True
    is_superuser: bool = False
    is_staff: bool = False
    pk: None = None

    def __str__(self) -> str:
        return f"service-client-{self.token_index}"


def token_matches(presented: str, configured: list[str]) -> int | None:
    """Index of the configured token equal to ``presented`` (constant-time compare), or None."""
    match = None
    for index, token in enumerate(configured):
        # Compare against every token so the time taken does not reveal which one matched.
        if hmac.compare_digest(presented.encode(), token.encode()):
            match = index
    return match


class ServiceTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` against ``SMS_SERVICE_TOKENS``; none configured = closed."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ServiceClient, str] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("invalid bearer token header")
        try:
            presented = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("invalid bearer token header") from exc
        index = token_matches(presented, settings.SMS_SERVICE_TOKENS)
        if index is None:
            raise exceptions.AuthenticationFailed("invalid service token")
        return ServiceClient(token_index=index), presented

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="sms"'


class IsServiceClient(BasePermission):
    """Only callers that presented a valid service token."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, ServiceClient)


def client_address(request: Request) -> str:
    """The caller's address: the socket's peer, or behind our nginx (``TRUST_X_FORWARDED_FOR``,
    set by make run and compose) the last ``X-Forwarded-For`` entry, the one nginx appended.
    Entries before it are whatever the client sent and are never trusted."""
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded[-1]:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "unknown")


def _failure_key(address: str) -> str:
    return f"auth-failures:{address}"


def _cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception as exc:  # noqa: BLE001 - the cache is an optimisation here
        logger.warning("auth cache unavailable: %s", type(exc).__name__)
        return None


def _cache_set(key: str, value: Any, timeout: int) -> None:
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the cache is an optimisation here
        logger.warning("auth cache unavailable: %s", type(exc).__name__)


def _cached_failures(address: str) -> int:
    """Failed attempts from ``address`` in the window; 0 when the cache is unreachable (the
    throttle fails open rather than locking every tenant out during a Redis restart)."""
    try:
        return int(cache.get(_failure_key(address), 0))
    except Exception as exc:  # noqa: BLE001 - any cache error: count nothing, log it
        logger.warning("auth failure counter unavailable: %s", type(exc).__name__)
        return 0


class TenantBasicAuthentication(BasicAuthentication):
    """HTTP Basic against Django users, with failed attempts throttled per client address."""

    www_authenticate_realm = "gm_server_notify"

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        address = client_address(request)
        failures = _cached_failures(address)
        if failures >= settings.AUTH_FAILURE_LIMIT:
            raise exceptions.Throttled(
                wait=settings.AUTH_FAILURE_WINDOW_SECONDS,
                detail="too many failed authentication attempts from this address",
            )
        try:
            result = super().authenticate(request)
        except exceptions.AuthenticationFailed:
            self._count_failure(address)
            raise
        return result

    def authenticate_credentials(
        self, userid: str, password: str, request: Request | None = None
    ) -> tuple[Any, None]:
        """Check the password once per ``AUTH_CACHE_SECONDS``: Django's PBKDF2 costs a quarter
        of a second per check, which Basic auth would pay on every request.

        The cache key is an HMAC (keyed with SECRET_KEY) of the credentials, never the password;
        the entry holds the user's password hash, so a changed password invalidates it at once.
        """
        key = (
            "auth-ok:"
            + hmac.new(settings.SECRET_KEY.encode(), f"{userid}\0{password}".encode(), "sha256").hexdigest()
        )
        cached = _cache_get(key)
        if cached is not None:
            user = get_user_model().objects.filter(pk=cached["user"], is_active=True).first()
            if user is not None and hmac.compare_digest(user.password, cached["hash"]):
                return user, None
        user, auth = super().authenticate_credentials(userid, password, request)
        _cache_set(key, {"user": user.pk, "hash": user.password}, settings.AUTH_CACHE_SECONDS)
        return user, auth

    @staticmethod
    def _count_failure(address: str) -> None:
        key = _failure_key(address)
        try:
            # add() is atomic where the backend supports it: the window starts at the first failure.
            if not cache.add(key, 1, timeout=settings.AUTH_FAILURE_WINDOW_SECONDS):
                try:
                    cache.incr(key)
                except ValueError:
                    cache.set(key, 1, timeout=settings.AUTH_FAILURE_WINDOW_SECONDS)
        except Exception as exc:  # noqa: BLE001 - a cache outage must not take logins down with it
            logger.warning("auth failure counter unavailable: %s", type(exc).__name__)


class IsTenant(BasePermission):
    """Any authenticated Django user (a tenant or root)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)


class IsRoot(BasePermission):
    """Only superusers: the seed's ``root``."""

    message = "please use root user request"

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_superuser)


class CallbackTokenPermission(BasePermission):
    """Provider callbacks carry their provider's secret (providers do not sign their pushes), as
    ``?token=`` or in an ``X-Callback-Token`` header where the vendor lets us set one. The secret
    is ``SMS_CALLBACK_TOKENS[provider]``, else the shared ``SMS_CALLBACK_TOKEN``; the provider is
    the view's ``provider`` or its ``name`` URL argument. With no secret configured every callback
    is refused."""

    message = "invalid or missing callback token"

    def has_permission(self, request: Request, view: Any) -> bool:
        provider = getattr(view, "provider", "") or view.kwargs.get("name", "")
        configured = settings.SMS_CALLBACK_TOKENS.get(provider) or settings.SMS_CALLBACK_TOKEN
        presented = request.headers.get("X-Callback-Token") or request.query_params.get("token", "")
        return bool(configured) and hmac.compare_digest(presented.encode(), configured.encode())

"""Authentication of the two API families.

- ``/sms/*``: a bearer token of a named, scoped service client (``SMS_SERVICE_CLIENTS``, or the
  older ``SMS_SERVICE_TOKENS`` as clients with every scope). Each station view declares the scope
  it needs (``send``, ``recharge``, ``read``); ``/metrics`` needs ``metrics``. A client may be
  bound to stations (``"stations": [...]``): it then reaches only those (``sms.station_api.binding``).
- ``v1/*`` and ``v2/*``: HTTP Basic against Django users; superusers are the seed's ``root``.
  Failed logins lock the username for the client address (django-axes, gm_server_notify.lockout).
  A tenant's test password (a second password, checked by an authentication backend of the app that
  keeps it: ``sms.tenant_api.credentials``) signs the same user in, in test mode: ``request.auth``
  is ``TEST_MODE`` (``LIVE_MODE`` otherwise; docs/api-platform.md "Test mode").
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_credentials
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, load_backend
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, BasicAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from gm_server_notify.lockout import LoginSlotBusy, client_address, login_slot, record_failure

logger = logging.getLogger(__name__)

SCOPES = ("send", "recharge", "read", "metrics")
# The code of the PermissionDenied a client without the view's scope gets (the station envelope
# answers it 403, code 1012).
MISSING_SCOPE = "missing_scope"
# The code of the PermissionDenied a client bound to stations gets for another station, or for a
# read of every station (answered 403, code 1012 too: the client may not make this call).
STATION_NOT_BOUND = "station_not_bound"
# A station id as the station API takes it (sms.station_api.serializers.STATION_ID).
STATION_ID_MAX_LENGTH = 32


@dataclass(frozen=True)
class ServiceClient:
    """The caller of the station API: a configured service client (``request.user``)."""

    name: str
    scopes: frozenset[str]
    # The stations it may reach; None: every station (an unbound client).
    stations: frozenset[str] | None = None
    is_authenticated: bool = True
    is_superuser: bool = False
    is_staff: bool = False
    pk: None = None

    def __str__(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def bound(self) -> bool:
        return self.stations is not None

    def reaches(self, station_id: str) -> bool:
        """Whether the client may act on or read ``station_id``."""
        return self.stations is None or station_id in self.stations


def _bound_stations(name: str, entry: dict[str, Any]) -> frozenset[str] | None:
    """The ``stations`` of a client entry: absent (or null) is unbound; otherwise a non-empty list
    of station ids (1-32 characters, no surrounding spaces)."""
    stations = entry.get("stations")
    if stations is None:
        return None
    if (
        not isinstance(stations, list)
        or not stations
        or not all(
            isinstance(station, str)
            and station
            and station == station.strip()
            and len(station) <= STATION_ID_MAX_LENGTH
            for station in stations
        )
    ):
        raise ImproperlyConfigured(
            f"SMS_SERVICE_CLIENTS: client {name!r}: stations must be a non-empty list of station ids "
            f"(1-{STATION_ID_MAX_LENGTH} characters, no surrounding spaces)"
        )
    if "metrics" in entry.get("scopes", []):
        # /metrics counts every station's traffic: a bound client may not read it.
        raise ImproperlyConfigured(
            f"SMS_SERVICE_CLIENTS: client {name!r}: a client bound to stations cannot have the metrics scope"
        )
    return frozenset(stations)


def configured_clients() -> list[tuple[ServiceClient, str]]:
    """Every configured client with its token: ``SMS_SERVICE_CLIENTS``, then the tokens of
    ``SMS_SERVICE_TOKENS`` as ``token-1``, ``token-2``… with every scope.

    Raises ImproperlyConfigured for an entry without a name or token, a name used twice, a name
    longer than 64 characters, an unknown scope, or ``stations`` that is not a non-empty list of
    station ids (checked at start-up too)."""
    clients: list[tuple[ServiceClient, str]] = []
    for entry in settings.SMS_SERVICE_CLIENTS:
        if not isinstance(entry, dict):
            raise ImproperlyConfigured(
                "SMS_SERVICE_CLIENTS: each client is an object {name, token, scopes[, stations]}"
            )
        name, token, scopes = entry.get("name"), entry.get("token"), entry.get("scopes", [])
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise ImproperlyConfigured("SMS_SERVICE_CLIENTS: every client needs a name of 1-64 characters")
        if not isinstance(token, str) or not token:
            raise ImproperlyConfigured(f"SMS_SERVICE_CLIENTS: client {name!r} has no token")
        if not isinstance(scopes, list) or not set(scopes) <= set(SCOPES):
            raise ImproperlyConfigured(
                f"SMS_SERVICE_CLIENTS: client {name!r}: scopes must be a list among {', '.join(SCOPES)}"
            )
        stations = _bound_stations(name, entry)
        clients.append((ServiceClient(name=name.strip(), scopes=frozenset(scopes), stations=stations), token))
    for index, token in enumerate(settings.SMS_SERVICE_TOKENS, start=1):
        clients.append((ServiceClient(name=f"token-{index}", scopes=frozenset(SCOPES)), token))
    names = [client.name for client, _ in clients]
    if len(set(names)) != len(names):
        raise ImproperlyConfigured(f"SMS_SERVICE_CLIENTS: client names must be unique: {names}")
    return clients


def token_matches(presented: str, configured: list[str]) -> int | None:
    """Index of the configured token equal to ``presented`` (constant-time compare), or None."""
    match = None
    for index, token in enumerate(configured):
        # Compare against every token so the time taken does not reveal which one matched.
        if hmac.compare_digest(presented.encode(), token.encode()):
            match = index
    return match


def service_client_for(presented: str) -> ServiceClient | None:
    """The configured client whose token is ``presented``, or None."""
    clients = configured_clients()
    index = token_matches(presented, [token for _, token in clients])
    return None if index is None else clients[index][0]


class ServiceTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` of a configured service client; none configured = closed."""

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
        client = service_client_for(presented)
        if client is None:
            raise exceptions.AuthenticationFailed("invalid service token")
        return client, presented

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="sms"'


class HasServiceScope(BasePermission):
    """A service client holding the scope the view declares (``required_scope``). A view that
    declares none refuses every client: a new view is closed until it says what it needs."""

    code = MISSING_SCOPE

    def has_permission(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "required_scope", None)
        if scope is None and request.method in SAFE_METHODS:
            scope = "read"
        client = request.user
        if not isinstance(client, ServiceClient):
            return False
        if scope is None or not client.has_scope(scope):
            self.message = f"service client {client.name!r} lacks the {scope!r} scope this call needs"
            return False
        return True


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


@dataclass(frozen=True)
class TenantMode:
    """``request.auth`` of a ``v1``/``v2`` request: whether it was signed in with the tenant's
    test password."""

    test: bool = False


LIVE_MODE = TenantMode(test=False)
TEST_MODE = TenantMode(test=True)
# The keyword the tenant API passes to ``authenticate``: a backend that signs users in with their
# test password does so only when given it, so the test password never opens the admin.
ALLOW_TEST_PASSWORD = "allow_test_password"
# What such a backend sets (True) on the user it returns; it also answers ``credential_hash(user)``,
# the hash a cached test-mode login is checked against.
TEST_MODE_ATTRIBUTE = "signed_in_for_test"


def is_test_mode(request: Request) -> bool:
    """Whether a tenant API request was signed in with the test password."""
    return getattr(request, "auth", None) == TEST_MODE


class LiveCredentialsRequired(exceptions.PermissionDenied):
    """Test credentials on a call that changes what both modes share (answered ``ER:0001``)."""

    default_detail = (
        "test credentials only send messages and read: use the live password to change signatures, "
        "templates, the blocklist or the callback"
    )


class TestCredentialsRequired(exceptions.PermissionDenied):
    """Live credentials on a test-mode-only call (answered ``ER:0044``)."""

    default_detail = "this call takes the tenant's test password"


def _current_hash(user: Any, backend: str) -> str:
    """What a cached login is checked against: the user's password hash, or for a test-mode login
    (``backend``: the backend that signed it in) the test password's hash ("" when that backend
    is no longer configured: the login is checked afresh)."""
    if not backend:
        return user.password
    if backend not in settings.AUTHENTICATION_BACKENDS:
        return ""
    return load_backend(backend).credential_hash(user)


def _locked_out() -> exceptions.Throttled:
    return exceptions.Throttled(
        wait=settings.AUTH_FAILURE_WINDOW_SECONDS,
        detail="too many failed logins for this account from this address",
    )


class TenantBasicAuthentication(BasicAuthentication):
    """HTTP Basic against Django users; a username locked for the client address (axes) is
    refused with 429 before any password is looked at, even a right one that is cached."""

    www_authenticate_realm = "gm_server_notify"

    def authenticate_credentials(
        self, userid: str, password: str, request: Request | None = None
    ) -> tuple[Any, TenantMode]:
        """Check the password once per ``AUTH_CACHE_SECONDS``: Django's PBKDF2 costs a quarter
        of a second per check, which Basic auth would pay on every request.

        The cache key is an HMAC (keyed with SECRET_KEY) of the credentials, never the password;
        the entry holds the user's password hash (a test-mode login: its test password's hash), so
        a changed password invalidates it at once.
        The lockout is asked first, so a cached credential of a locked username is refused too.
        A password is checked only inside the username's attempt slot for the address
        (``login_slot``): the lockout check, the check and the count of a failure are one step.
        """
        # axes works on Django's request (its middleware and the admin use the same one).
        http_request = request._request if request is not None else None
        credentials = get_credentials(userid)
        if not AxesProxyHandler.is_allowed(http_request, credentials):
            record_failure(http_request, userid, locked_out=True)
            raise _locked_out()
        key = (
            "auth-ok:"
            + hmac.new(settings.SECRET_KEY.encode(), f"{userid}\0{password}".encode(), "sha256").hexdigest()
        )
        cached = _cache_get(key)
        if cached is not None:
            backend = cached.get("backend", "")
            user = get_user_model().objects.filter(pk=cached["user"], is_active=True).first()
            if user is not None and hmac.compare_digest(_current_hash(user, backend), cached["hash"]):
                return user, TEST_MODE if backend else LIVE_MODE
        try:
            with login_slot(userid, client_address(http_request)):
                # Again inside the slot: the attempts before this one may have set the lock.
                if not AxesProxyHandler.is_allowed(http_request, credentials):
                    record_failure(http_request, userid, locked_out=True)
                    raise _locked_out()
                # AxesBackend, ModelBackend, then the test password's; a failure is counted by
                # axes' receiver of user_login_failed before the slot is released.
                user = authenticate(
                    request=http_request, username=userid, password=password, **{ALLOW_TEST_PASSWORD: True}
                )
        except LoginSlotBusy as exc:
            raise exceptions.Throttled(detail="too many login attempts at once for this account") from exc
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        backend = user.backend if getattr(user, TEST_MODE_ATTRIBUTE, False) else ""
        _cache_set(
            key,
            {"user": user.pk, "hash": _current_hash(user, backend), "backend": backend},
            settings.AUTH_CACHE_SECONDS,
        )
        return user, TEST_MODE if backend else LIVE_MODE


class IsTenant(BasePermission):
    """Any authenticated Django user (a tenant or root)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)


class LiveForChanges(BasePermission):
    """Test credentials send messages and read: a call that changes what both modes share
    (signatures, templates, the blocklist, the callback) needs the live password, unless the view
    declares it part of test mode (``test_mode_writes = True``: ``v1/message``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if is_test_mode(request) and request.method not in SAFE_METHODS:
            if not getattr(view, "test_mode_writes", False):
                raise LiveCredentialsRequired()
        return True


class TestCredentialsOnly(BasePermission):
    """Only the tenant's test password (``POST v1/test/uplink``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not is_test_mode(request):
            raise TestCredentialsRequired()
        return True


class IsRoot(BasePermission):
    """Only superusers, with their live password: the seed's ``root`` (a test password is never
    root's)."""

    message = "please use root user request"

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.is_superuser
            and not is_test_mode(request)
        )


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

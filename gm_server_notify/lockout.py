"""The login lockout shared by the tenant API's Basic auth and the admin login (django-axes).

- A username is locked for one client address after ``AUTH_FAILURE_LIMIT`` failed logins from
  that address (axes' ``AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]``, database
  handler): other usernames, and the same username from other addresses, keep working.
- The client address is ``REMOTE_ADDR``, or, behind the ``TRUSTED_PROXIES``, the one the proxies
  put in ``X-Forwarded-For`` (django-ipware).
- ``login_slot`` serialises the attempts on one username from one address (a MariaDB/MySQL named
  lock; on SQLite, the embedded default, a lock file under ``GM_VAR_DIR``), so "is it locked?",
  the password check and the count of a failure are one step: parallel guesses cannot check more
  passwords than the limit allows.
- Every failed login is logged (username and address; never the password) and counted in
  ``/metrics`` (``auth_login_failures_total``).

This module imports no app.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.db import connection
from django.http import HttpRequest, HttpResponse
from ipware.ip import get_client_ip
from prometheus_client import Counter

logger = logging.getLogger(__name__)

# How long an attempt waits for the one before it on the same username and address.
SLOT_WAIT_SECONDS = 10
# SQLite's slots: lock files, one per stripe of the (username, address) hashes.
FILE_SLOT_STRIPES = 64

LOGIN_FAILURES = Counter(
    "auth_login_failures_total",
    "Failed logins: wrong credentials (bad_credentials) or refused because the username is locked "
    "for the client address (locked_out), by surface (api: v1/v2 Basic auth; admin: /admin/login/).",
    ["surface", "outcome"],
)


class LoginSlotBusy(Exception):
    """The attempts before this one on the same username and address did not finish in time."""


# --- axes settings read at each attempt -----------------------------------------------------------


def failure_limit(request: Any, credentials: dict[str, Any] | None = None) -> int:
    """``AXES_FAILURE_LIMIT``: ``AUTH_FAILURE_LIMIT``."""
    return settings.AUTH_FAILURE_LIMIT


def cool_off(request: Any = None) -> timedelta:
    """``AXES_COOLOFF_TIME``: ``AUTH_FAILURE_WINDOW_SECONDS``."""
    return timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)


def client_address(request: Any) -> str:
    """The client's address: ``REMOTE_ADDR``, unless the request came through the configured
    ``TRUSTED_PROXIES`` (``REMOTE_ADDR`` is the last of them and ``X-Forwarded-For`` names the
    others in order): then the address the first proxy saw. A forged ``X-Forwarded-For`` from a
    client that is not behind the proxies is ignored."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    proxies = list(settings.TRUSTED_PROXIES)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").strip()
    if not proxies or not forwarded:
        return remote
    # The whole chain the request travelled, client first and the proxy that connected to us last,
    # checked by ipware against the trusted proxies hop by hop from the end.
    chain = SimpleNamespace(META={"HTTP_X_FORWARDED_FOR": f"{forwarded}, {remote}"})
    address, _routable = get_client_ip(
        chain,
        proxy_order="left-most",
        proxy_trusted_ips=proxies,
        request_header_order=("HTTP_X_FORWARDED_FOR",),
        strict=False,
    )
    return address or remote


def _surface(request: Any) -> str:
    path = getattr(request, "path", "") or ""
    return "admin" if path.startswith("/admin/") else "api"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``, called by axes' middleware for a request it marked locked.

    The API answers its own family's body (``ER:0007``, or ``ER:0001`` for the failure that set
    the lock), so its response is kept; the admin login gets a plain 429."""
    if _surface(request) == "api" and original_response is not None:
        return original_response
    return HttpResponse(
        "Too many failed logins for this account from your address; try again in "
        f"{settings.AUTH_FAILURE_WINDOW_SECONDS} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )


# --- logging and counting ---------------------------------------------------------------------------


def record_failure(request: Any, username: str | None, *, locked_out: bool) -> None:
    """Log and count one failed login. Never the password: only the username and the address."""
    surface = _surface(request)
    outcome = "locked_out" if locked_out else "bad_credentials"
    LOGIN_FAILURES.labels(surface, outcome).inc()
    logger.warning(
        "login failed (%s): username=%r address=%s surface=%s",
        outcome,
        username,
        client_address(request) if request is not None else "unknown",
        surface,
    )


def on_user_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    """Receiver of Django's ``user_login_failed`` (connected by the app's ``ready``).

    Axes' backend marks a request it refused for a locked username ``axes_locked_out`` before the
    signal; axes' handler also marks the failure that sets the lock, but that one has its failure
    count (``axes_failures_since_start``) filled in: it is a wrong password, not a refusal."""
    refused = bool(getattr(request, "axes_locked_out", False)) and (
        getattr(request, "axes_failures_since_start", None) is None
    )
    record_failure(request, (credentials or {}).get("username"), locked_out=refused)


# --- one attempt at a time per username and address -------------------------------------------------


def _slot_name(username: str, address: str) -> str:
    # Named locks are server-wide: the database name keeps two databases on one server apart.
    # MySQL limits the name to 64 characters.
    key = f"{settings.DATABASES['default']['NAME']}\0{username}\0{address}"
    return "gmsn-login-" + hashlib.sha256(key.encode()).hexdigest()[:40]


@contextlib.contextmanager
def _file_slot(name: str) -> Iterator[None]:
    """The slot as an exclusive ``flock`` on one of ``FILE_SLOT_STRIPES`` files under
    ``GM_VAR_DIR``: SQLite has no named locks, and its processes (make run's web and intake) share
    that folder on one machine. ``flock`` belongs to the open file, so two threads of one process
    exclude each other as two processes do. Striped, so guesses at random usernames cannot grow
    the folder; two usernames on one stripe only take turns."""
    folder = Path(settings.VAR_DIR) / "login-slots"
    folder.mkdir(exist_ok=True)
    stripe = int(name[-8:], 16) % FILE_SLOT_STRIPES
    deadline = time.monotonic() + SLOT_WAIT_SECONDS
    with open(folder / f"{stripe:03d}.lock", "ab") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # flock has no timeout of its own: poll, as GET_LOCK's wait would.
                if time.monotonic() >= deadline:
                    raise LoginSlotBusy(name) from None
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def login_slot(username: str, address: str) -> Iterator[None]:
    """Hold the one attempt slot of ``username`` from ``address``: MariaDB/MySQL ``GET_LOCK``, or
    a lock file on SQLite (``_file_slot``). Raises ``LoginSlotBusy`` after ``SLOT_WAIT_SECONDS``."""
    name = _slot_name(username, address)
    if connection.vendor != "mysql":
        with _file_slot(name):
            yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", [name, SLOT_WAIT_SECONDS])
        (acquired,) = cursor.fetchone()
    if acquired != 1:
        raise LoginSlotBusy(name)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT RELEASE_LOCK(%s)", [name])


class SerialisedAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, checking a password only inside the username's attempt slot."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        try:
            with login_slot(username, client_address(self.request) if self.request else "unknown"):
                return super().clean()
        except LoginSlotBusy as exc:
            raise forms.ValidationError("Too many login attempts at once; try again.") from exc

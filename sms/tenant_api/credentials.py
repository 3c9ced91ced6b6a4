"""A tenant's test password (docs/api-platform.md "Test mode"): setting it, and the Django
authentication backend that signs a tenant in with it.

The test password is a second password of the same user, kept hashed (Django's ``make_password``)
on the tenant's ``TenantAccount``. The tenant API's Basic authentication
(``gm_server_notify.api.auth.TenantBasicAuthentication``) asks Django's ``authenticate`` with
``allow_test_password``; the backends run in order (axes' lockout check, the live password, then
this one), so a live password is still checked first, and only when every backend refuses does
Django signal the failed login that axes counts: a wrong password counts toward the lockout exactly
as before, a right test password does not. Without ``allow_test_password`` (the admin's login) this
backend signs nobody in.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from gm_server_notify.api.auth import ALLOW_TEST_PASSWORD, TEST_MODE_ATTRIBUTE
from gm_server_notify.errors import InvalidInput, NotFound
from sms.models import TenantAccount


class TestPasswordBackend(BaseBackend):
    """Signs a user in with its test password, for the tenant API only; the user it returns
    carries ``TEST_MODE_ATTRIBUTE`` (the request then runs in test mode)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if not kwargs.get(ALLOW_TEST_PASSWORD) or not username or not password:
            return None
        row = (
            TenantAccount.objects.filter(user__username=username)
            .exclude(test_password="")
            .values_list("user_id", "test_password")
            .first()
        )
        if row is None or not check_password(password, row[1]):
            return None
        user = get_user_model().objects.filter(pk=row[0], is_active=True).first()
        if user is None:
            return None
        setattr(user, TEST_MODE_ATTRIBUTE, True)
        return user

    def credential_hash(self, user: Any) -> str:
        """The hash a cached test-mode login is checked against: a new test password (or none)
        invalidates it at once."""
        return TenantAccount.objects.filter(user=user).values_list("test_password", flat=True).first() or ""

    def get_user(self, user_id: int) -> None:
        """Never a session: the test password signs in API requests only."""
        return None


def is_test_password(*, username: str, password: str) -> bool:
    """Whether ``password`` is the test password of ``username`` (False when it has none)."""
    encoded = (
        TenantAccount.objects.filter(user__username=username).values_list("test_password", flat=True).first()
    )
    return bool(encoded) and check_password(password, encoded)


def set_test_password(*, username: str, password: str) -> bool:
    """Give the existing user ``username`` a test password, replacing the one it had: its live
    password, signatures, templates and balance are left as they are. Answers whether it had one
    before. ``NotFound`` for an unknown or inactive user; ``InvalidInput`` when ``password`` is its
    live password (one password could not tell the modes apart)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"no user named {username}: create it first (without --test)", field="username")
    if not user.is_active:
        raise InvalidInput(f"user {username} is inactive", field="username")
    if user.check_password(password):
        raise InvalidInput("the test password must differ from the live password", field="password")
    with transaction.atomic():
        account, _ = TenantAccount.objects.get_or_create(user=user)
        account = TenantAccount.objects.select_for_update().get(pk=account.pk)
        had = bool(account.test_password)
        TenantAccount.objects.filter(pk=account.pk).update(
            test_password=make_password(password), updated_at=timezone.now()
        )
    return had

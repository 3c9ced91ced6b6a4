"""manage.py create_api_user: the password comes from API_USER_PASSWORD or a prompt, never argv
(issue 19, finding 4: ``--password`` put passwords in shell history); ``--test`` gives an existing
tenant its test password (issue 26)."""

import io
import sys

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_creates_tenant_from_the_environment_variable(monkeypatch):
    monkeypatch.setenv("API_USER_PASSWORD", "s3cret-pass")
    out = io.StringIO()
    call_command("create_api_user", "dcs", stdout=out)
    user = get_user_model().objects.get(username="dcs")
    assert user.check_password("s3cret-pass")
    assert not user.is_superuser
    assert "s3cret-pass" not in out.getvalue()


def test_root_flag_creates_superuser(monkeypatch):
    monkeypatch.setenv("API_USER_PASSWORD", "s3cret-pass")
    call_command("create_api_user", "root", root=True)
    assert get_user_model().objects.get(username="root").is_superuser


def test_prompts_twice_on_a_terminal(monkeypatch):
    monkeypatch.delenv("API_USER_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["typed-password", "typed-password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    call_command("create_api_user", "dcs")
    assert get_user_model().objects.get(username="dcs").check_password("typed-password")


def test_prompted_passwords_must_match(monkeypatch):
    monkeypatch.delenv("API_USER_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["typed-password", "typo-password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="did not match"):
        call_command("create_api_user", "dcs")
    assert not get_user_model().objects.filter(username="dcs").exists()


def test_without_a_terminal_or_the_variable_it_refuses(monkeypatch):
    monkeypatch.delenv("API_USER_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    with pytest.raises(CommandError, match="API_USER_PASSWORD"):
        call_command("create_api_user", "dcs")


def test_short_password_is_refused(monkeypatch):
    monkeypatch.setenv("API_USER_PASSWORD", "short")
    with pytest.raises(CommandError):
        call_command("create_api_user", "dcs")
    assert not get_user_model().objects.filter(username="dcs").exists()


# --- --test: the test password of an existing tenant (docs/api-platform.md "Test mode") ----------


def _test_hash(username: str) -> str:
    from sms.models import TenantAccount

    return (
        TenantAccount.objects.filter(user__username=username).values_list("test_password", flat=True).first()
        or ""
    )


def test_test_sets_a_second_password_and_leaves_the_tenant_as_it_was(monkeypatch):
    from signatures.models import Signature
    from tests.support.platform import make_signature

    monkeypatch.setenv("API_USER_PASSWORD", "live-password")
    call_command("create_api_user", "dcs")
    user = get_user_model().objects.get(username="dcs")
    make_signature(user)
    live_hash = user.password
    monkeypatch.setenv("API_USER_PASSWORD", "test-password")
    out = io.StringIO()
    call_command("create_api_user", "dcs", test=True, stdout=out)
    assert out.getvalue().strip() == "set the test password of dcs"
    user.refresh_from_db()
    assert user.password == live_hash and user.check_password("live-password")
    assert not user.is_superuser and Signature.objects.filter(owner=user).count() == 1
    encoded = _test_hash("dcs")
    assert encoded and "test-password" not in encoded and check_password("test-password", encoded)
    assert "test-password" not in out.getvalue()


def test_test_again_rotates_the_test_password(monkeypatch):
    monkeypatch.setenv("API_USER_PASSWORD", "live-password")
    call_command("create_api_user", "dcs")
    monkeypatch.setenv("API_USER_PASSWORD", "first-test-password")
    call_command("create_api_user", "dcs", test=True)
    monkeypatch.setenv("API_USER_PASSWORD", "second-test-password")
    out = io.StringIO()
    call_command("create_api_user", "dcs", test=True, stdout=out)
    assert out.getvalue().strip() == "replaced the test password of dcs"
    assert check_password("second-test-password", _test_hash("dcs"))
    assert not check_password("first-test-password", _test_hash("dcs"))


def test_test_on_an_unknown_tenant_fails_clearly_and_creates_nobody(monkeypatch):
    monkeypatch.setenv("API_USER_PASSWORD", "test-password")
    with pytest.raises(CommandError, match="no user named ghost: create it first"):
        call_command("create_api_user", "ghost", test=True)
    assert not get_user_model().objects.filter(username="ghost").exists()


def test_the_live_and_the_test_password_must_differ(monkeypatch):
    monkeypatch.setenv("API_USER_PASSWORD", "same-password")
    call_command("create_api_user", "dcs")
    with pytest.raises(CommandError, match="must differ from the live password"):
        call_command("create_api_user", "dcs", test=True)
    assert _test_hash("dcs") == ""
    monkeypatch.setenv("API_USER_PASSWORD", "test-password")
    call_command("create_api_user", "dcs", test=True)
    with pytest.raises(CommandError, match="must differ from the test password"):
        call_command("create_api_user", "dcs")
    assert get_user_model().objects.get(username="dcs").check_password("same-password")


def test_root_and_test_together_are_refused(monkeypatch):
    monkeypatch.setenv("API_USER_PASSWORD", "test-password")
    with pytest.raises(CommandError, match="never root's"):
        call_command("create_api_user", "root", root=True, test=True)
    assert not get_user_model().objects.filter(username="root").exists()


def test_a_short_test_password_is_refused(monkeypatch):
    monkeypatch.setenv("API_USER_PASSWORD", "live-password")
    call_command("create_api_user", "dcs")
    monkeypatch.setenv("API_USER_PASSWORD", "short")
    with pytest.raises(CommandError):
        call_command("create_api_user", "dcs", test=True)
    assert _test_hash("dcs") == ""

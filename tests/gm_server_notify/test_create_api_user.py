"""manage.py create_api_user: the password comes from API_USER_PASSWORD or a prompt, never argv
(issue 19, finding 4: ``--password`` put passwords in shell history)."""

import io
import sys

import pytest
from django.contrib.auth import get_user_model
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

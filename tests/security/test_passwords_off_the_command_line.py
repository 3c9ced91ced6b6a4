"""Issue 19, finding 4: ``create_api_user --password PW`` put tenants' passwords in shell history
(and in ``ps``). The command now reads API_USER_PASSWORD or prompts; ``--password`` is refused."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_a_password_on_the_command_line_is_refused_and_not_stored(monkeypatch):
    monkeypatch.delenv("API_USER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="shell history"):
        call_command("create_api_user", "dcs", "--password", "s3cret-pass")
    assert not get_user_model().objects.filter(username="dcs").exists()


def test_the_help_offers_no_password_option():
    result = subprocess.run(
        [sys.executable, "manage.py", "create_api_user", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--password" not in result.stdout and "API_USER_PASSWORD" in result.stdout

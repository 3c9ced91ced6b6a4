"""manage.py create_api_user."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_creates_tenant_that_can_authenticate():
    call_command("create_api_user", "dcs", password="s3cret-pass")
    user = get_user_model().objects.get(username="dcs")
    assert user.check_password("s3cret-pass")
    assert not user.is_superuser


def test_root_flag_creates_superuser():
    call_command("create_api_user", "root", password="s3cret-pass", root=True)
    assert get_user_model().objects.get(username="root").is_superuser


def test_short_password_is_refused():
    with pytest.raises(CommandError):
        call_command("create_api_user", "dcs", password="short")
    assert not get_user_model().objects.filter(username="dcs").exists()

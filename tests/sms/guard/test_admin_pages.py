"""The guard in the operators' admin: a tenant account's page shows its capabilities and its
country allowlist (an inline), the list filters by capability, and the prefix pauses are listed
with whether each is still in force."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from sms.models import PrefixPause, TenantAccount
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    return client


def test_the_tenant_page_shows_the_capabilities_and_the_allowlist(operator, tenant):
    account = TenantAccount.objects.create(user=tenant, international_enabled=True)
    account.allowed_calling_codes.create(calling_code=44)
    page = operator.get(f"/admin/sms/tenantaccount/{account.pk}/change/").content.decode()
    for field in ("international_enabled", "marketing_enabled", "scheduling_enabled", "uplinks_enabled"):
        assert f'name="{field}"' in page
    assert 'name="allowed_calling_codes-0-calling_code"' in page and 'value="44"' in page
    assert "+86 is always allowed" in page
    listed = operator.get("/admin/sms/tenantaccount/", {"international_enabled__exact": "1"})
    assert listed.status_code == 200 and tenant.username in listed.content.decode()


def test_the_pauses_are_listed_with_whether_they_are_in_force(operator, tenant):
    account = TenantAccount.objects.create(user=tenant)
    now = timezone.now()
    fields = {"tenant": account, "codes": 21, "limit": 20, "started_at": now}
    PrefixPause.objects.create(prefix="+86 1391234", until=now + dt.timedelta(hours=1), **fields)
    PrefixPause.objects.create(prefix="+86 1391235", until=now - dt.timedelta(hours=1), **fields)
    page = operator.get("/admin/sms/prefixpause/").content.decode()
    assert "+86 1391234" in page and "+86 1391235" in page
    assert page.count('alt="True"') == 1 and page.count('alt="False"') == 1
    assert "Lift the selected pauses" in page
    assert operator.get("/admin/sms/prefixpause/add/").status_code == 403  # pauses come from the guard

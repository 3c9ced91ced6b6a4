"""Behind nginx every request reaches gunicorn from the proxy's address. Failed logins are counted
per client address, so without the forwarded address one attacker's failures would lock every
tenant out (and a client-sent X-Forwarded-For must not let an attacker pick its own bucket)."""

import pytest

from tests.support.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.urls("tests.gm_server_notify.plumbing_urls")

VALID = {"station_id": "T7442", "count": 2}


def _fail(api_client, forwarded_for: str) -> str:
    api_client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header("dcs", "wrong"))
    return api_client.post(
        "/v1/echo", VALID, format="json", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for
    ).json()["error"]


def _login(api_client, forwarded_for: str) -> int:
    api_client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header("dcs", TEST_PASSWORD))
    return api_client.post(
        "/v1/echo", VALID, format="json", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for
    ).status_code


@pytest.mark.django_db
def test_behind_nginx_failures_count_per_forwarded_client_not_per_proxy(api_client, tenant, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # nginx, on loopback
    settings.AUTH_FAILURE_LIMIT = 3
    # The attacker varies the entry it controls; nginx appends the address it saw: 203.0.113.9.
    errors = [_fail(api_client, f"10.0.0.{index}, 203.0.113.9") for index in range(4)]
    assert errors == ["ER:0001", "ER:0001", "ER:0001", "ER:0007"]
    # Another client behind the same proxy still logs in.
    assert _login(api_client, "198.51.100.7") == 200
    assert _login(api_client, "203.0.113.9") == 429


@pytest.mark.django_db
def test_x_forwarded_for_is_ignored_when_gunicorn_is_reached_directly(api_client, tenant, settings):
    settings.TRUSTED_PROXIES = []
    settings.AUTH_FAILURE_LIMIT = 3
    errors = [_fail(api_client, f"10.0.0.{index}") for index in range(4)]
    assert errors[-1] == "ER:0007"

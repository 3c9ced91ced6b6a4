"""Issue 19, findings 2 and 3: failed logins lock one username from one address, not everyone.

Before: the v1/v2 Basic auth counted failures per client address only, so one tenant's wrong
passwords locked every tenant out of that address (all of them, behind a proxy); the check and
the count were two steps, so parallel guesses checked more passwords than the limit; the admin
login had no limit and logged nothing. Now django-axes counts per (username, address) in the
database, the attempts on one username from one address are serialised, and the admin login is
under the same rule.
"""

from __future__ import annotations

import logging
import threading
from unittest import mock

import pytest
from django.contrib.auth.hashers import check_password
from django.db import connection
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from tests.support.factories import SLOW_HASHER, TEST_PASSWORD, UserFactory

V1 = "/v1/signature"
WRONG = "not-the-password-0000"


def get(client: APIClient, username: str, password: str, **extra):
    client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header(username, password))
    return client.get(V1, **extra)


def failures(surface: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("auth_login_failures_total", {"surface": surface, "outcome": outcome})
        or 0.0
    )


# --- v1/v2 Basic auth -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_25_wrong_passwords_for_one_tenant_leave_another_tenants_credentials_working_from_the_same_address(
    api_client, tenant, other_tenant, settings
):
    assert settings.AUTH_FAILURE_LIMIT == 20
    answers = [get(api_client, "dcs", WRONG) for _ in range(25)]
    # The first 20 are wrong passwords; from the 21st the username is locked for this address.
    assert [a.json()["error"] for a in answers[:20]] == ["ER:0001"] * 20
    assert {(a.status_code, a.json()["error"]) for a in answers[20:]} == {(429, "ER:0007")}
    assert answers[20].json()["message"].startswith("too many requests")
    # Another tenant, same address: works.
    assert get(api_client, "other", TEST_PASSWORD).status_code == 200
    # The locked tenant, right password, same address: still 429 until the window passes.
    locked = get(api_client, "dcs", TEST_PASSWORD)
    assert (locked.status_code, locked.json()["error"]) == (429, "ER:0007")


@pytest.mark.django_db
def test_a_locked_username_still_works_from_another_address(api_client, tenant, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    for _ in range(3):
        get(api_client, "dcs", WRONG)
    assert get(api_client, "dcs", TEST_PASSWORD).status_code == 429
    assert get(api_client, "dcs", TEST_PASSWORD, REMOTE_ADDR="10.9.9.9").status_code == 200


@pytest.mark.django_db
def test_a_cached_verified_credential_is_refused_while_its_username_is_locked(api_client, tenant, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    assert get(api_client, "dcs", TEST_PASSWORD).status_code == 200  # verified and cached
    for _ in range(3):
        get(api_client, "dcs", WRONG)
    with mock.patch("django.contrib.auth.base_user.check_password", side_effect=check_password) as checked:
        answer = get(api_client, "dcs", TEST_PASSWORD)
    assert (answer.status_code, answer.json()["error"]) == (429, "ER:0007")
    assert checked.call_count == 0  # refused before any password is looked at


@pytest.mark.django_db
def test_the_window_is_auth_failure_window_seconds_and_the_lock_lifts_after_it(api_client, tenant, settings):
    from datetime import timedelta

    from axes.models import AccessAttempt

    settings.AUTH_FAILURE_LIMIT = 3
    for _ in range(3):
        get(api_client, "dcs", WRONG)
    assert get(api_client, "dcs", TEST_PASSWORD).status_code == 429
    # Age the failures past the window (instead of waiting 300 s).
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS + 1)
        attempt.save()
    assert get(api_client, "dcs", TEST_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_failed_logins_are_logged_with_the_username_never_the_password_and_counted_in_metrics(
    api_client, tenant, settings, caplog
):
    settings.AUTH_FAILURE_LIMIT = 2
    password = "Sup3r-secret-guess-42"
    before_bad, before_locked = failures("api", "bad_credentials"), failures("api", "locked_out")
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            get(api_client, "dcs", password)
    assert failures("api", "bad_credentials") == before_bad + 2
    assert failures("api", "locked_out") == before_locked + 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "login failed (bad_credentials): username='dcs'" in logged
    assert "login failed (locked_out): username='dcs'" in logged
    assert password not in logged


@pytest.mark.django_db
def test_metrics_endpoint_shows_the_failed_login_counter(api_client, station_client, tenant):
    get(api_client, "dcs", WRONG)
    body = station_client.get("/metrics").content.decode()
    assert 'auth_login_failures_total{outcome="bad_credentials",surface="api"}' in body


@pytest.fixture
def _default_combos_afterwards(django_db_blocker):
    """A transactional test empties every table when it ends, the data migration's combos
    included; put them back for the tests that follow (set up before ``transactional_db``, so
    torn down after its flush)."""
    yield
    import importlib

    from django.apps import apps

    with django_db_blocker.unblock():
        importlib.import_module("sms.migrations.0002_default_combos").create_combos(apps, None)


def test_60_parallel_wrong_guesses_check_no_more_passwords_than_the_limit(
    _default_combos_afterwards, transactional_db, settings
):
    settings.PASSWORD_HASHERS = [SLOW_HASHER]
    UserFactory(username="dcs")
    limit, guesses = settings.AUTH_FAILURE_LIMIT, 60
    checks, checks_lock = [], threading.Lock()

    def counting_check(*args, **kwargs):
        with checks_lock:
            checks.append(1)
        return check_password(*args, **kwargs)

    barrier = threading.Barrier(guesses)
    statuses: list[int] = []

    def guess(n: int) -> None:
        try:
            client = APIClient()
            barrier.wait()
            statuses.append(get(client, "dcs", f"{WRONG}-{n}").status_code)
        finally:
            connection.close()

    with mock.patch("django.contrib.auth.base_user.check_password", side_effect=counting_check):
        threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(statuses) == guesses
    assert len(checks) == limit
    assert sorted(statuses) == [400] * limit + [429] * (guesses - limit)


# --- the client address ---------------------------------------------------------------------------


class Meta:
    def __init__(self, **meta: str) -> None:
        self.META = meta


def client_address(request: Meta) -> str:
    from gm_server_notify.lockout import client_address

    return client_address(request)


def test_without_trusted_proxies_the_address_is_remote_addr_and_x_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert (
        client_address(Meta(REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="203.0.113.7")) == "198.51.100.9"
    )


def test_behind_a_trusted_proxy_the_address_is_the_one_it_forwarded(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.5"]
    via_proxy = Meta(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client_address(via_proxy) == "203.0.113.7"
    # A client's own forged entry is left of the one the proxy appended: not believed.
    forged = Meta(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    assert client_address(forged) == "203.0.113.7"
    # Straight to the service (not through the proxy): the header is the client's own, ignored.
    direct = Meta(REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_address(direct) == "198.51.100.9"


def test_two_trusted_proxies_in_the_order_a_request_passes_them(settings):
    settings.TRUSTED_PROXIES = ["192.0.2.0/24", "10.0.0.5"]
    chain = Meta(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7, 192.0.2.10")
    assert client_address(chain) == "203.0.113.7"


@pytest.mark.django_db
def test_behind_the_proxy_one_clients_failures_do_not_lock_the_same_tenant_elsewhere(
    api_client, tenant, settings
):
    settings.TRUSTED_PROXIES = ["10.0.0.5"]
    settings.AUTH_FAILURE_LIMIT = 3
    attacker = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    for n in range(4):
        # Forging another address in front does not give the attacker fresh attempts.
        get(api_client, "dcs", WRONG, **{**attacker, "HTTP_X_FORWARDED_FOR": f"1.1.1.{n}, 203.0.113.7"})
    assert get(api_client, "dcs", TEST_PASSWORD, **attacker).status_code == 429
    tenant_office = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "198.51.100.2"}
    assert get(api_client, "dcs", TEST_PASSWORD, **tenant_office).status_code == 200


# --- the admin login ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_30_wrong_admin_passwords_are_refused_before_the_31st_try(client, settings):
    UserFactory(username="boss", is_superuser=True, is_staff=True)
    before = failures("admin", "bad_credentials")
    statuses = [
        client.post("/admin/login/", {"username": "boss", "password": WRONG, "next": "/admin/"}).status_code
        for _ in range(30)
    ]
    limit = settings.AUTH_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the login form again, with its error
    assert statuses[limit - 1 :] == [429] * (30 - limit + 1)
    assert failures("admin", "bad_credentials") == before + limit
    right = client.post("/admin/login/", {"username": "boss", "password": TEST_PASSWORD, "next": "/admin/"})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another operator at the same address logs in.
    UserFactory(username="ops", is_superuser=True, is_staff=True)
    other = client.post("/admin/login/", {"username": "ops", "password": TEST_PASSWORD, "next": "/admin/"})
    assert other.status_code == 302 and client.session["_auth_user_id"]

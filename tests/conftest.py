"""Fixtures shared by every suite."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings as django_settings
from django.core.servers.basehttp import WSGIServer
from rest_framework.test import APIClient

from sms.sending import fairness
from tests.support.factories import TEST_PASSWORD, UserFactory
from tests.support.worker import WorkerProcess, purge_broker

# The live server (pytest-django's live_server: Django's threaded WSGIServer) listens with a backlog
# of 10. Fifty clients connecting at once on a loaded machine overflow it, and the kernel resets the
# connections it dropped (tests/e2e/test_pipeline_promises.py saw 13 of 50 reset in CI). The
# service's own gunicorn (make run) has a backlog of 2048; the tests' server gets room for theirs.
WSGIServer.request_queue_size = 256

SERVICE_TOKEN = "test-service-token"

# make test-fast (TEST_FAST=1) leaves these to make test, each with its reason (-ra prints them).
FAST_RUN_SKIPS = {
    "worker": "starts a Celery worker, which needs a Redis or RabbitMQ broker",
    "fuzz": "schemathesis against the live service, about 40 s an API family (make fuzz: longer)",
    "make_run": "starts make run's stack, on its own embedded default whatever the suite's database "
    "(about two minutes in all)",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TEST_FAST") != "1":
        return
    for item in items:
        for marker, reason in FAST_RUN_SKIPS.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=f"left to make test: {reason}"))
                break


@pytest.fixture(autouse=True)
def _service_token(settings) -> None:
    # Fast hashing: the suite creates many users; production keeps Django's PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SMS_SERVICE_TOKENS = [SERVICE_TOKEN]
    settings.SMS_CALLBACK_TOKEN = "test-callback-token"


@pytest.fixture(autouse=True)
def business_clock():
    """The business clock (``gm_server_notify.clock``: sending hours, scheduled sends), shared by
    the test process and its workers; ``business_clock.set_now(moment)`` moves it. Back to the
    system clock after every test."""
    from gm_server_notify import clock

    clock.reset()
    yield clock
    clock.reset()


@pytest.fixture(autouse=True)
def _no_name_lookup_leaves_loopback(monkeypatch) -> None:
    """No traffic leaves loopback, name lookups included: the webhook URLs' SSRF guard resolves
    host names (``sms.webhooks.urlguard``), and the fuzzer PUTs random ones. In the test process only
    ``localhost`` resolves (to loopback); any other name does not; IP literals need no lookup.
    A test that needs a public name patches ``_getaddrinfo`` itself. (Worker processes never
    resolve: their tests set ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``.)"""
    from sms.webhooks import urlguard

    def offline(host: str, port: int) -> list[str]:
        if host.lower().rstrip(".") == "localhost":
            return ["127.0.0.1", "::1"]
        raise socket.gaierror(socket.EAI_NONAME, f"{host}: no name lookups in tests")

    monkeypatch.setattr(urlguard, "_getaddrinfo", offline)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def station_client() -> APIClient:
    """A client of the /sms/* API holding a valid service token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {SERVICE_TOKEN}")
    return client


@pytest.fixture
def tenant(db):
    return UserFactory(username="dcs")


@pytest.fixture
def root_user(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def other_tenant(db):
    return UserFactory(username="other")


@pytest.fixture
def basic_client() -> Callable[..., APIClient]:
    """``basic_client(user)``: a client sending HTTP Basic credentials for that user."""

    def make(user, password: str = TEST_PASSWORD) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header(user.username, password))
        return client

    return make


@pytest.fixture
def start_worker(transactional_db) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker()`` starts a real Celery worker process on the test database and broker."""
    if not django_settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://")):
        pytest.fail("worker tests need a real broker (redis or amqp): run them through `make test`")
    purge_broker()
    started: list[WorkerProcess] = []

    def start(**kwargs) -> WorkerProcess:
        worker = WorkerProcess(**kwargs)
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()
    purge_broker()


@pytest.fixture(autouse=True)
def _default_combos(request):
    """Transactional tests empty every table afterwards, the data migration's combos included."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction", False)
    if not transactional and not {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    import importlib

    from django.apps import apps

    request.getfixturevalue("transactional_db")
    importlib.import_module("sms.migrations.0002_default_combos").create_combos(apps, None)


@pytest.fixture
def parking():
    """The bulk lane's parked batches (``sms.sending.fairness``), empty before and after; skipped
    where there is no Redis to park them in (``make test-fast``)."""
    if not fairness.park(sender="probe", payload={}):
        pytest.skip("no Redis to park bulk batches in: run through `make test`")
    fairness.purge()
    yield fairness
    fairness.purge()

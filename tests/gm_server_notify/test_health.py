"""Liveness (/healthz) never fails a request; readiness (/readyz) names what is down."""

from __future__ import annotations

import functools
from unittest import mock

import pytest
from django.core.cache import cache

from gm_server_notify.celery import app
from gm_server_notify.health import record_worker_heartbeat

pytestmark = pytest.mark.django_db


def _cache_down():
    return mock.patch.object(cache, "get", side_effect=ConnectionError("cache down")), mock.patch.object(
        cache, "set", side_effect=ConnectionError("cache down")
    )


def test_healthz_answers_200_when_the_cache_is_down(client):
    get, set_ = _cache_down()
    with get, set_:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"] == "error: ConnectionError"


def test_healthz_answers_200_when_the_database_is_down(client):
    with mock.patch("gm_server_notify.health.connection.cursor", side_effect=OSError("db down")):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "error: OSError"


def test_readyz_is_ready_when_every_dependency_answers(client):
    record_worker_heartbeat()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ready" and response.json()["down"] == []


def test_readyz_names_the_workers_without_a_heartbeat(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["worker"]


def test_readyz_names_a_stale_heartbeat(client, settings):
    record_worker_heartbeat()
    settings.READINESS_HEARTBEAT_MAX_AGE = -1
    assert client.get("/readyz").json()["down"] == ["worker"]


def test_readyz_names_the_cache_when_it_is_down(client):
    record_worker_heartbeat()
    get, set_ = _cache_down()
    with get, set_:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "cache" in response.json()["down"]


def test_readyz_names_the_broker_when_nothing_listens_there(client):
    record_worker_heartbeat()
    nothing_listens = functools.partial(app.connection_for_write, "redis://127.0.0.1:9/0")
    with mock.patch.object(app, "connection_for_write", nothing_listens):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]

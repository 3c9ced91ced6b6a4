"""Prometheus metrics: ``GET /metrics``, for a service client holding the ``metrics`` scope.

The metrics themselves belong to the apps that count them (``sms.core.metrics``); apps whose
metrics are read at scrape time register a collector here (``register_collector``) from their
``AppConfig.ready``, so this module imports no app.

gunicorn runs several workers and Celery a pool: with ``PROMETHEUS_MULTIPROC_DIR`` set (``make
run`` sets it) every process writes its values there and a scrape adds them up
(prometheus_client's multiprocess mode). Without it the process's own registry is reported.
"""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from gm_server_notify.api.auth import service_client_for

_scrape_time_collectors: list[Collector] = []


def register_collector(collector: Collector) -> None:
    """Add a collector that is asked at every scrape (once per collector)."""
    if collector not in _scrape_time_collectors:
        _scrape_time_collectors.append(collector)


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def scrape_registry() -> CollectorRegistry:
    """What a scrape reports: every process's values (multiprocess mode) or this process's,
    and the registered scrape-time collectors."""
    registry = CollectorRegistry()
    if multiprocess_mode():
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    for collector in _scrape_time_collectors:
        registry.register(collector)
    return registry


def _authorized(request: HttpRequest) -> bool:
    parts = request.headers.get("Authorization", "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return False
    client = service_client_for(parts[1])
    return client is not None and client.has_scope("metrics")


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` with ``Authorization: Bearer <the token of a client with the metrics scope>``
    (every ``SMS_SERVICE_TOKENS`` token has it)."""
    if not _authorized(request):
        response = HttpResponse(
            "a service token with the metrics scope is required\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)

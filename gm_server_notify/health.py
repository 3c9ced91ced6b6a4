"""Liveness of the service and the pieces it depends on, for /healthz and the operators."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

HEARTBEAT_KEY = "worker-heartbeat"


def record_worker_heartbeat() -> None:
    """Stamp the time a worker last ran a task (kept a day, so staleness stays visible)."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=86400)


def worker_heartbeat_age() -> float | None:
    """Seconds since a worker last ran the heartbeat task, or None if it never did."""
    stamped = cache.get(HEARTBEAT_KEY)
    return None if stamped is None else max(0.0, time.time() - float(stamped))


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy; say which kind
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_cache() -> str:
    try:
        cache.set("healthz-probe", 1, timeout=10)
        if cache.get("healthz-probe") != 1:
            return "error: cache did not keep a value"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and cache answer, 503 otherwise; the worker's age is informative."""
    checks: dict[str, Any] = {"database": _check_database(), "cache": _check_cache()}
    age = worker_heartbeat_age()
    checks["worker_heartbeat_age_seconds"] = None if age is None else round(age, 1)
    healthy = checks["database"] == "ok" and checks["cache"] == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )

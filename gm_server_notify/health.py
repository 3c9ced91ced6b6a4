"""Liveness and readiness of the service, for orchestrators and operators.

- ``GET /healthz`` (liveness): answers 200 whenever this process can serve a request, with the
  state of each dependency for information. It never answers 500 or 503: a database outage must
  not make an orchestrator restart web processes that will work again once it is back.
- ``GET /readyz`` (readiness): 200 when the database, the cache, the broker answer and a worker
  has run a task recently; otherwise 503 naming what is down (``"down": ["database", …]``), so a
  load balancer stops sending traffic here and an operator sees why.

Every check is guarded: a dependency that is down is reported, never raised.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from gm_server_notify.celery import app

HEARTBEAT_KEY = "worker-heartbeat"


def record_worker_heartbeat() -> None:
    """Stamp the time a worker last ran a task (kept a day, so staleness stays visible)."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=86400)


def worker_heartbeat_age() -> float | None:
    """Seconds since a worker last ran the heartbeat task, or None if it never did (or the cache
    cannot say)."""
    try:
        stamped = cache.get(HEARTBEAT_KEY)
    except Exception:  # noqa: BLE001 - a cache that is down cannot tell; /readyz reports the cache
        return None
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


def _check_broker() -> str:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, timeout=settings.READINESS_TIMEOUT_SECONDS
            )
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_worker(age: float | None) -> str:
    if age is None:
        return "error: no worker heartbeat yet"
    if age > settings.READINESS_HEARTBEAT_MAX_AGE:
        return f"error: last heartbeat {age:.0f}s ago"
    return "ok"


def _checks() -> dict[str, Any]:
    age = worker_heartbeat_age()
    return {
        "database": _check_database(),
        "cache": _check_cache(),
        "worker_heartbeat_age_seconds": None if age is None else round(age, 1),
    }


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 while this process serves; the checks are for information."""
    checks = _checks()
    healthy = checks["database"] == "ok" and checks["cache"] == "ok"
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": checks})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 503 naming each dependency that is down."""
    checks = _checks()
    checks["broker"] = _check_broker()
    checks["worker"] = _check_worker(checks["worker_heartbeat_age_seconds"])
    down = [name for name in ("database", "cache", "broker", "worker") if checks[name] != "ok"]
    return JsonResponse(
        {"status": "not ready" if down else "ready", "down": down, "checks": checks},
        status=503 if down else 200,
    )

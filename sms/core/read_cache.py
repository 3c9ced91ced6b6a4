"""Reads served from the Django cache for a stated staleness (the statistics of the station API).

A cached read is at most ``seconds`` old. The cache is an optimisation only: when it cannot be
read or written (Redis down, a value that does not unpickle), the read goes to the database and
answers as if nothing were cached; it never fails because of the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Bump when what a key holds changes shape, so a deploy never reads the old shape.
_VERSION = 1


def cache_key(name: str, **params: Any) -> str:
    """``name`` and a digest of ``params`` (any length, any text: the key stays short and safe)."""
    if not params:
        return f"read:{_VERSION}:{name}"
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return f"read:{_VERSION}:{name}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


def cached(key: str, compute: Callable[[], T], *, seconds: int) -> T:
    """What ``compute`` answered at most ``seconds`` ago under ``key``, else ``compute()`` now
    (then kept for ``seconds``). ``seconds`` ≤ 0 always computes."""
    if seconds <= 0:
        return compute()
    try:
        hit = cache.get(key)
    except Exception as exc:  # noqa: BLE001 - a cache that is down means a read of the database
        logger.warning("read cache unavailable (%s): reading the database", type(exc).__name__)
        return compute()
    if hit is not None:
        return hit
    value = compute()
    try:
        cache.set(key, value, timeout=seconds)
    except Exception as exc:  # noqa: BLE001 - the answer is already in hand
        logger.warning("read cache unavailable (%s): not kept", type(exc).__name__)
    return value

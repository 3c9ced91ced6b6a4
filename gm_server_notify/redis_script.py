"""A Lua script run atomically in the project's Redis (``REDIS_URL``): one lazily created client
and one registered script per use, shared by the rate limiter and the verify-code limits."""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings


class RedisScript:
    """``script(keys=[…], args=[…])`` runs the Lua source in Redis; ``client()`` is None where
    the project runs without Redis (the embedded default)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._client: redis.Redis | None = None
        self._url = ""
        self._script: Any = None

    def client(self) -> redis.Redis | None:
        if not settings.REDIS_URL:
            return None
        # A client of the URL configured now: a test that points the process at a Redis of its
        # own (tests/support/infra.py) is followed, and back again afterwards.
        if self._client is None or self._url != settings.REDIS_URL:
            self._client = redis.Redis.from_url(settings.REDIS_URL)
            self._url = settings.REDIS_URL
            self._script = self._client.register_script(self.source)
        return self._client

    def __call__(self, *, keys: list[str], args: list[Any], client: Any = None) -> Any:
        self.client()
        return self._script(keys=keys, args=args, client=client)

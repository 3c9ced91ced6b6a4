"""A per-provider rate limit (messages per second) shared by every worker, kept in Redis.

GCRA, the token bucket's single-number form: Redis keeps, per provider, the time at which the
provider is free again (the "theoretical arrival time"). A request for ``n`` messages may start
at that time; if that is less than ``max_wait`` seconds away the slot is booked (the time moves
``n / rate`` later) and the caller waits until it; otherwise nothing is booked and the caller is
told how long to stay away. The script runs atomically in Redis, so concurrent workers never
overbook.

A ``priority`` request (the verify codes' lane) may start up to ``SMS_PRIORITY_RATE_HEADROOM_SECONDS``
ahead of that time: capacity the other lanes never book, since they never book more than
``max_wait`` ahead. Its messages still move the time later, so the other lanes make up for them
afterwards: over time the provider's rate holds; a verify code does not queue behind a blast's
bookings, and a blast only ever waits for verify codes.

Without ``REDIS_URL`` (the embedded default) there is no shared store and no limit.
"""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings

from gm_server_notify.redis_script import RedisScript

logger = logging.getLogger(__name__)

_SCRIPT = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local headroom = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - headroom - now
if wait < 0 then wait = 0 end
if wait > max_wait then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(tat + cost), 'EX', 3600)
return tostring(-1 - wait)
"""
_limiter = RedisScript(_SCRIPT)


def reserve(
    provider: str, messages: int, *, max_wait: float | None = None, priority: bool = False
) -> tuple[bool, float]:
    """Book ``messages`` of ``provider``'s rate. ``(True, wait)``: booked, start in ``wait``
    seconds. ``(False, wait)``: not booked, come back in ``wait`` seconds. ``priority``: the
    priority lane's headroom applies (the module's docstring)."""
    rate = float(settings.SMS_PROVIDERS.get(provider, {}).get("rate_per_second") or 0)
    if rate <= 0 or messages <= 0 or _limiter.client() is None:
        return True, 0.0
    limit = settings.SMS_RATE_LIMIT_MAX_WAIT if max_wait is None else max_wait
    headroom = settings.SMS_PRIORITY_RATE_HEADROOM_SECONDS if priority else 0.0
    try:
        answer = float(
            _limiter(keys=[f"ratelimit:{provider}"], args=[time.time(), messages / rate, limit, headroom])
        )
    except redis.RedisError as exc:
        # The limiter protects the provider, but must not stop sending when Redis hiccups.
        logger.warning("rate limiter unavailable (%s): sending unthrottled", type(exc).__name__)
        return True, 0.0
    if answer < 0:
        return True, -1 - answer
    return False, answer

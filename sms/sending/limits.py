"""Verify-code limits per mobile (anti SMS bombing): ``SMS_VERIFY_LIMITS``, default
``1/60s,5/1h,10/1d``, as sliding windows.

With Redis (``REDIS_URL``) every web process shares one sorted set per mobile, and a Lua script
checks every window and books the send in one atomic step, so concurrent requests to one mobile
admit exactly the limit. Without Redis (the embedded default) the Django cache keeps a counter per
mobile and window: the same limits, but two processes racing at the very same instant may both pass,
and ``release`` gives nothing back (no bookings are kept): documented in docs/api-station.md.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from gm_server_notify import durations
from gm_server_notify.redis_script import RedisScript

logger = logging.getLogger(__name__)

_WINDOW = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")

# KEYS[1]: the mobile's sorted set. ARGV: now, member, then (seconds, limit) per window.
# Returns 0 when booked, else the 1-based index of the first window that is full.
_SCRIPT = """
local now = tonumber(ARGV[1])
local longest = 0
for i = 3, #ARGV, 2 do
  local seconds = tonumber(ARGV[i])
  if seconds > longest then longest = seconds end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
for i = 3, #ARGV, 2 do
  local seconds, limit = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if redis.call('ZCOUNT', KEYS[1], now - seconds, '+inf') >= limit then
    return (i - 1) / 2
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(longest))
return 0
"""


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: int
    text: str  # as configured: "1/60s"

    def describe(self) -> str:
        return f"verify codes to this mobile: {self.limit} per {self.text.split('/', 1)[1]}"


def parse_limits(spec: str) -> list[Window]:
    """``"1/60s,5/1h,10/1d"`` → windows; an empty spec is no limit."""
    windows = []
    for part in filter(None, (piece.strip() for piece in spec.split(","))):
        match = _WINDOW.fullmatch(part)
        if not match:
            raise ValueError(f"SMS_VERIFY_LIMITS: {part!r} is not like 5/1h")
        limit, amount, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
        windows.append(Window(limit=limit, seconds=int(durations.seconds(f"{amount}{unit}")), text=part))
    return windows


@dataclass(frozen=True)
class Admission:
    """Which mobiles may get a verify code now, the refused ones with the window they broke, and
    the bookings to give back if the send is not made after all."""

    admitted: list[str]
    refused: dict[str, Window]
    bookings: list[tuple[str, str]]


_booking = RedisScript(_SCRIPT)


def _key(mobile_e164: str) -> str:
    return f"verify-limit:{mobile_e164}"


def admit(mobiles_e164: Sequence[str]) -> Admission:
    """Book one verify code for each of ``mobiles_e164`` within ``SMS_VERIFY_LIMITS``."""
    windows = parse_limits(settings.SMS_VERIFY_LIMITS)
    if not windows or not mobiles_e164:
        return Admission(list(mobiles_e164), {}, [])
    client = _booking.client()
    if client is None:
        return _admit_in_cache(mobiles_e164, windows)
    now = time.time()
    args = [arg for window in windows for arg in (window.seconds, window.limit)]
    members = {mobile: uuid.uuid4().hex for mobile in mobiles_e164}
    pipe = client.pipeline(transaction=False)
    for mobile, member in members.items():
        _booking(keys=[_key(mobile)], args=[now, member, *args], client=pipe)
    answers = pipe.execute()
    admitted, refused, bookings = [], {}, []
    for (mobile, member), answer in zip(members.items(), answers, strict=True):
        if int(answer) == 0:
            admitted.append(mobile)
            bookings.append((mobile, member))
        else:
            refused[mobile] = windows[int(answer) - 1]
    return Admission(admitted, refused, bookings)


def peek(mobiles_e164: Sequence[str]) -> dict[str, Window]:
    """The mobiles of ``mobiles_e164`` a verify code would be refused to now, with the first
    window each would break, as ``admit`` decides; nothing is booked (``POST
    v1/message/estimate``). A read: a send racing it may still take the last place."""
    windows = parse_limits(settings.SMS_VERIFY_LIMITS)
    if not windows or not mobiles_e164:
        return {}
    client = _booking.client()
    if client is None:
        now = int(time.time())
        full = {}
        for mobile in mobiles_e164:
            window = next(
                (w for w in windows if (cache.get(_cache_key(mobile, w, now)) or 0) >= w.limit), None
            )
            if window is not None:
                full[mobile] = window
        return full
    now = time.time()
    pipe = client.pipeline(transaction=False)
    for mobile in mobiles_e164:
        for window in windows:
            pipe.zcount(_key(mobile), now - window.seconds, "+inf")
    counts = iter(pipe.execute())
    full = {}
    for mobile in mobiles_e164:
        mobile_counts = [int(next(counts)) for _ in windows]
        window = next((w for w, count in zip(windows, mobile_counts, strict=True) if count >= w.limit), None)
        if window is not None:
            full[mobile] = window
    return full


@contextmanager
def booked(mobiles_e164: Sequence[str], *, verify_code: bool) -> Iterator[Admission]:
    """Book verify codes for the mobiles while the block writes the send (nothing is booked when
    the message is not a verify code); a block that raises gives the bookings back, so a send
    that was never made costs the mobile nothing."""
    admission = admit(mobiles_e164) if verify_code else Admission(list(mobiles_e164), {}, [])
    try:
        yield admission
    except BaseException:
        release(admission)
        raise


def release(admission: Admission) -> None:
    """Give back the bookings of a send that was not made (refused later, rolled back)."""
    client = _booking.client()
    if client is None or not admission.bookings:
        return
    pipe = client.pipeline(transaction=False)
    for mobile, member in admission.bookings:
        pipe.zrem(_key(mobile), member)
    pipe.execute()


def _cache_key(mobile: str, window: Window, now: int) -> str:
    """The embedded default's counter of ``mobile`` in ``window``'s fixed window holding ``now``."""
    return f"{_key(mobile)}:{window.seconds}:{now // window.seconds}"


def _admit_in_cache(mobiles: Sequence[str], windows: list[Window]) -> Admission:
    """The embedded default's approximation: a counter per mobile and fixed window."""
    now = int(time.time())
    admitted, refused = [], {}
    for mobile in mobiles:
        keys = [(_cache_key(mobile, w, now), w) for w in windows]
        full = next((w for key, w in keys if (cache.get(key) or 0) >= w.limit), None)
        if full is not None:
            refused[mobile] = full
            continue
        for key, window in keys:
            if not cache.add(key, 1, timeout=window.seconds):
                cache.incr(key)
        admitted.append(mobile)
    return Admission(admitted, refused, [])

"""The pumping guard: SMS pumping (artificially inflated traffic) has bots ask a tenant's sign-up
or login form for verify codes to numbers the fraudster is paid for, walking a range number by
number. Each code costs the tenant; no single number gets many, so the per-mobile verify-code
limits (``sms.sending.limits``) never trip.

The rule: per tenant and number prefix (``prefix_of``: the calling code and the national number
without its last ``SMS_PUMPING_RANGE_DIGITS``, default 4, digits: a block of 10,000 numbers in any
country; for the mainland's 11 digits the first 7, ``+86 1391234``, an HLR block), at most
``SMS_PUMPING_MAX_PER_PREFIX_HOUR`` (default 20) verify codes (template type 1) in a sliding hour.
The code over the limit, and every later one of the same request, fail ``PAUSED:PREFIX`` (never
sent, never charged), and the prefix is paused for that tenant for ``SMS_PUMPING_PAUSE_HOURS``
(default 24) or until an operator lifts it in the admin (``PrefixPause``,
``sms.guard.services.lift_pause``, audited). While it is paused, every record of the tenant to the
prefix fails ``PAUSED:PREFIX`` whatever its template's type. A pause opens an alert
(``prefix_paused``, ``sms.alerts.rules``) at once: an evaluation is asked for when it commits.
Defaults and their reasons: docs/security.md.

Counting is atomic in Redis: one sorted set per tenant and prefix, and a Lua script that drops
entries older than the hour, admits codes up to the limit and books them, in one step, so
concurrent requests into one prefix admit exactly the limit. Without Redis (the embedded default)
the Django cache keeps a counter per tenant, prefix and clock hour: the same limit in fixed hours,
and two processes racing at the same instant may both pass. A request refused after counting
(``ER:0034``, a rollback) gives its bookings back, and opens no pause: pauses open only after the
batch is written.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from gm_server_notify.redis_script import RedisScript
from sms.core import broker
from sms.core.phones import Phone
from sms.models import PrefixPause, TenantAccount

logger = logging.getLogger(__name__)

PAUSED_CODE = "PAUSED:PREFIX"
WINDOW_SECONDS = 3600
# Asked for when a pause opens, by name (sms.tasks imports the rooms, never the reverse).
EVALUATE_ALERTS_TASK = "sms.evaluate_alerts"

# KEYS[1]: the tenant's prefix's sorted set. ARGV: now, window seconds, limit, then one member per
# code asked for, in the request's order. Admits the codes while fewer than the limit are booked in
# the window; returns {admitted, booked in the window after admitting}.
_SCRIPT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local booked = redis.call('ZCARD', KEYS[1])
local admitted = 0
for i = 4, #ARGV do
  if booked >= limit then break end
  redis.call('ZADD', KEYS[1], now, ARGV[i])
  booked = booked + 1
  admitted = admitted + 1
end
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return {admitted, booked}
"""
_counting = RedisScript(_SCRIPT)


def prefix_of(phone: Phone) -> str:
    """``+86 1391234`` for +8613912345678, ``+65 9123`` for +6591234567: the calling code and the
    national number without its last ``SMS_PUMPING_RANGE_DIGITS`` digits (at least one digit is
    kept). A range of numbers, never a number: a fixed count of leading digits would make ranges
    of ten numbers in a country of 8-digit numbers, which pumping could walk without ever tripping."""
    national = phone.e164[1 + len(str(phone.country_code)) :]
    kept = max(1, len(national) - settings.SMS_PUMPING_RANGE_DIGITS)
    return f"+{phone.country_code} {national[:kept]}"


def _key(tenant_id: int, prefix: str) -> str:
    return f"pumping:{tenant_id}:{prefix.replace(' ', '')}"


def _china_time(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def paused_remark(prefix: str, until: dt.datetime) -> str:
    return (
        f"{PAUSED_CODE}: sends to {prefix} are paused for your account until {_china_time(until)} "
        "(China time): too many verify codes to it within an hour"
    )


def pauses_in_force(*, tenant_id: int, now: dt.datetime) -> dict[str, PrefixPause]:
    """The tenant's pauses in force now, by prefix."""
    return {
        pause.prefix: pause
        for pause in PrefixPause.objects.filter(tenant_id=tenant_id, lifted_at__isnull=True, until__gt=now)
    }


def paused(*, account: TenantAccount, phones: Mapping[str, Phone]) -> dict[str, tuple[str, str]]:
    """The numbers of ``phones`` in a prefix paused for the tenant, each with its code and remark."""
    in_force = pauses_in_force(tenant_id=account.pk, now=timezone.now())
    if not in_force:
        return {}
    refused = {}
    for e164, phone in phones.items():
        pause = in_force.get(prefix_of(phone))
        if pause is not None:
            refused[e164] = (PAUSED_CODE, paused_remark(pause.prefix, pause.until))
    return refused


@dataclass(frozen=True)
class Trip:
    """A prefix that went over the limit in this request."""

    codes: int  # booked in the hour, and asked for over the limit
    limit: int
    until: dt.datetime


@dataclass
class Velocity:
    """What counting a request's verify codes decided: the numbers refused (over their prefix's
    limit), the prefixes that tripped, and the bookings to give back if the send is not made."""

    refused: dict[str, tuple[str, str]] = field(default_factory=dict)
    tripped: dict[str, Trip] = field(default_factory=dict)
    bookings: list[tuple[str, str]] = field(default_factory=list)  # Redis: (key, member)
    counted: list[tuple[str, int]] = field(default_factory=list)  # the cache: (key, admitted)


def count(*, account: TenantAccount, phones: Mapping[str, Phone]) -> Velocity:
    """Book one verify code for each of ``phones`` (in their order) within its prefix's limit."""
    limit = settings.SMS_PUMPING_MAX_PER_PREFIX_HOUR
    velocity = Velocity()
    if limit <= 0 or not phones:
        return velocity
    by_prefix: dict[str, list[str]] = {}
    for e164, phone in phones.items():
        by_prefix.setdefault(prefix_of(phone), []).append(e164)
    client = _counting.client()
    if client is None:
        answers = _count_in_cache(account.pk, by_prefix, limit, velocity)
    else:
        now = time.time()
        members = {prefix: [uuid.uuid4().hex for _ in numbers] for prefix, numbers in by_prefix.items()}
        pipe = client.pipeline(transaction=False)
        for prefix, booked in members.items():
            _counting(
                keys=[_key(account.pk, prefix)], args=[now, WINDOW_SECONDS, limit, *booked], client=pipe
            )
        answers = {}
        for (prefix, booked), (admitted, in_window) in zip(members.items(), pipe.execute(), strict=True):
            answers[prefix] = (int(admitted), int(in_window))
            velocity.bookings.extend((_key(account.pk, prefix), member) for member in booked[: int(admitted)])
    until = timezone.now() + dt.timedelta(hours=settings.SMS_PUMPING_PAUSE_HOURS)
    for prefix, numbers in by_prefix.items():
        admitted, in_window = answers[prefix]
        over = numbers[admitted:]
        if not over:
            continue
        velocity.tripped[prefix] = Trip(codes=in_window + len(over), limit=limit, until=until)
        for e164 in over:
            velocity.refused[e164] = (PAUSED_CODE, paused_remark(prefix, until))
    return velocity


def _count_in_cache(
    tenant_id: int, by_prefix: dict[str, list[str]], limit: int, velocity: Velocity
) -> dict[str, tuple[int, int]]:
    """The embedded default's approximation: a counter per tenant, prefix and clock hour."""
    hour = int(time.time()) // WINDOW_SECONDS
    answers = {}
    for prefix, numbers in by_prefix.items():
        key = f"{_key(tenant_id, prefix)}:{hour}"
        booked = cache.get(key) or 0
        admitted = max(0, min(len(numbers), limit - booked))
        if admitted:
            if not cache.add(key, admitted, timeout=WINDOW_SECONDS):
                cache.incr(key, admitted)
            velocity.counted.append((key, admitted))
        answers[prefix] = (admitted, booked + admitted)
    return answers


def release(velocity: Velocity) -> None:
    """Give back the bookings of a send that was not made (refused later, rolled back)."""
    if velocity.counted:
        for key, admitted in velocity.counted:
            try:
                cache.decr(key, admitted)
            except ValueError:
                pass  # the hour's counter expired meanwhile
    client = _counting.client()
    if client is None or not velocity.bookings:
        return
    pipe = client.pipeline(transaction=False)
    for key, member in velocity.bookings:
        pipe.zrem(key, member)
    pipe.execute()


@contextmanager
def booked(*, account: TenantAccount, phones: Mapping[str, Phone], verify_code: bool) -> Iterator[Velocity]:
    """Count the verify codes of ``phones`` while the block writes the send (nothing is counted for
    other templates). A block that raises gives the bookings back; one that returns opens the
    pauses of the prefixes that tripped (after the batch is written: its refused records already
    say ``PAUSED:PREFIX``)."""
    velocity = count(account=account, phones=phones) if verify_code else Velocity()
    try:
        yield velocity
    except BaseException:
        release(velocity)
        raise
    if velocity.tripped:
        try:
            open_pauses(account=account, tripped=velocity.tripped)
        except Exception:
            # The batch is written and its records refused; the next code into the prefix finds
            # it over the limit again and opens the pause then.
            logger.exception("tenant %s: a prefix pause could not be opened", account.pk)


def open_pauses(*, account: TenantAccount, tripped: Mapping[str, Trip]) -> list[PrefixPause]:
    """Pause the prefixes that ``tripped`` for the tenant (one transaction; a prefix already paused
    is left as it is) and ask for an alert evaluation once committed."""
    now = timezone.now()
    opened = []
    with transaction.atomic():
        # The tenant's row serialises concurrent trips of one prefix: one pause, not two.
        list(TenantAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk", flat=True))
        in_force = pauses_in_force(tenant_id=account.pk, now=now)
        for prefix, trip in tripped.items():
            if prefix in in_force:
                continue
            opened.append(
                PrefixPause.objects.create(
                    tenant_id=account.pk,
                    prefix=prefix,
                    codes=trip.codes,
                    limit=trip.limit,
                    started_at=now,
                    until=trip.until,
                )
            )
        if opened:
            transaction.on_commit(ask_for_alerts, robust=True)
    for pause in opened:
        logger.warning(
            "tenant %s: prefix %s paused until %s (%s verify codes within an hour, limit %s)",
            account.pk,
            pause.prefix,
            pause.until.isoformat(),
            pause.codes,
            pause.limit,
        )
    return opened


def ask_for_alerts() -> None:
    try:
        broker.send_task(EVALUATE_ALERTS_TASK)
    except Exception:
        logger.warning("asking for an alert evaluation failed; beat evaluates within a minute", exc_info=True)


def forget_counts(*, tenant_id: int, prefix: str) -> None:
    """Start the prefix's count afresh (a lifted pause): otherwise the hour's codes that tripped it
    would trip it again at the next one."""
    cache.delete(f"{_key(tenant_id, prefix)}:{int(time.time()) // WINDOW_SECONDS}")
    client = _counting.client()
    if client is not None:
        client.delete(_key(tenant_id, prefix))

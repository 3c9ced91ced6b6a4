"""The one way a write transaction is run: re-run it when the database chose it as a deadlock
victim or a lock wait timed out.

Every service, report handler and sweep that writes is decorated with ``retry_on_deadlock``.
On 1213 (deadlock) MySQL/MariaDB roll the whole transaction back; on 1205 (lock wait timeout) the
exception leaves ``transaction.atomic`` and Django rolls the rest back. Either way nothing of the
attempt remains (its ``on_commit`` callbacks are dropped too), so running the function again from
the start is safe; only the outermost call retries (inside another transaction the rollback is
the caller's to repeat). Lock orders that keep deadlocks rare are listed in docs/architecture.md.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# MySQL/MariaDB: 1213 deadlock, 1205 lock wait timeout. The whole transaction was rolled back,
# so running it again is safe. (SQLite: "database is locked".)
_RETRYABLE_CODES = {1213, 1205}


# What a task or a report handler retries with backoff instead of failing: the database, the cache
# or the broker could not be reached or dropped the connection (MySQLdb raises OperationalError
# and InterfaceError for those; a SQL mistake is a ProgrammingError, DataError or IntegrityError
# and is not retried).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    ConnectionError,
)


# MySQL/MariaDB errors that say the server cannot be reached or cannot serve this connection now:
# the client's own (CR_*, 2000-2999: 2002/2003 cannot connect, 2006 gone away, 2013 lost during a
# query) and the server's 1040 too many connections, 1053 shutting down, 1152 aborted connection,
# 1158-1161 network read/write, 1203 the user's connections, 1927 connection killed, 4031
# disconnected for inactivity. Not 1205/1213 (a lock wait or a deadlock: the database answered).
_UNREACHABLE_SERVER_CODES = {1040, 1053, 1152, 1158, 1159, 1160, 1161, 1203, 1927, 4031}


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, says the database could not be
    reached or dropped the connection: a request meeting it answers 503 (try again), not 500.

    Every ``InterfaceError`` (a connection already closed or broken) counts; an
    ``OperationalError`` counts by its MySQL/MariaDB code. Lock waits, deadlocks, SQL mistakes
    (``ProgrammingError``, ``DataError``, ``IntegrityError``) and SQLite's errors do not: the
    database answered them."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, InterfaceError):
            return True
        if isinstance(current, OperationalError):
            code = current.args[0] if current.args else None
            if isinstance(code, int) and (2000 <= code < 3000 or code in _UNREACHABLE_SERVER_CODES):
                return True
        current = current.__cause__
    return False


def backoff_seconds(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))


def drop_broken_connection() -> None:
    """Forget a database connection that failed, so the next query opens a fresh one (not inside
    a transaction: that one's owner rolls it back)."""
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:
        logger.debug("closing a broken database connection failed", exc_info=True)


def _retryable(exc: OperationalError) -> bool:
    code = exc.args[0] if exc.args else None
    return code in _RETRYABLE_CODES or "database is locked" in str(exc)


def retry_on_deadlock(attempts: int = 8) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry the wrapped transactional function when it lost a deadlock; only at the outermost
    level (inside another transaction the rollback is not ours to repeat)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, attempts + 1):
                try:
                    return function(*args, **kwargs)
                except OperationalError as exc:
                    if connection.in_atomic_block or not _retryable(exc) or attempt == attempts:
                        raise
                    logger.warning("%s lost a deadlock (attempt %s), retrying", function.__name__, attempt)
                    # Full jitter, growing: the transactions that collided do not collide again.
                    time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
            raise AssertionError("unreachable")

        return wrapper

    return decorate

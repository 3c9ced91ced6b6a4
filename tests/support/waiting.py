"""Waiting on conditions, never on sleeps: how the suite stays green on a slow machine.

Every wait for something to happen polls a condition until a deadline. Deadlines are generous
and multiplied by ``TEST_TIME_SCALE`` (default 3): a passing wait returns as soon as its condition
holds, so a large deadline costs nothing when things work and only makes a loaded machine slower,
never red. (A wait that expects nothing to happen, e.g. no heartbeat without beat, is not scaled:
a slower machine only makes it more certain.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

TIME_SCALE = float(os.environ.get("TEST_TIME_SCALE", "3"))


def scaled(seconds: float) -> float:
    """A deadline of ``seconds`` on an idle machine, scaled for this one."""
    return seconds * TIME_SCALE


def poll(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Whether ``predicate`` became true within the scaled ``timeout``."""
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, message: str = "") -> None:
    """Return once ``predicate`` holds; fail after the scaled ``timeout``."""
    if not poll(predicate, timeout):
        raise AssertionError(f"timed out after {scaled(timeout):.0f}s: {message}")

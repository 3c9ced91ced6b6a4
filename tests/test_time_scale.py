"""``TEST_TIME_SCALE`` reaches every wait: ``wait_until``/``poll`` and the worker's own waits
give up only after the scaled deadline (tests/support/waiting.py). A fake clock keeps these tests
instant."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import waiting
from tests.support import worker as worker_module

REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    """``time.monotonic`` and ``time.sleep`` of a clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(waiting, "time", fake)
    monkeypatch.setattr(waiting, "TIME_SCALE", 4.0)
    return fake


@pytest.mark.parametrize(("value", "expected"), [(None, 3 * 2.5), ("5", 5 * 2.5), ("0.5", 0.5 * 2.5)])
def test_the_scale_is_read_from_test_time_scale(value, expected):
    env = {key: item for key, item in os.environ.items() if key != "TEST_TIME_SCALE"}
    if value is not None:
        env["TEST_TIME_SCALE"] = value
    out = subprocess.run(
        [sys.executable, "-c", "from tests.support.waiting import scaled; print(scaled(2.5))"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=waiting.scaled(60),
    ).stdout
    assert float(out) == expected


def test_wait_until_gives_up_only_after_the_scaled_timeout(clock):
    started = clock.now
    with pytest.raises(AssertionError, match="timed out after 40s"):
        waiting.wait_until(lambda: False, timeout=10, message="never")
    assert clock.now - started == pytest.approx(40, abs=0.2)


def test_wait_until_returns_once_the_condition_holds_past_the_unscaled_timeout(clock):
    started = clock.now
    waiting.wait_until(lambda: clock.now - started >= 25, timeout=10, message="after 25 s")
    assert clock.now - started < 40


def test_a_worker_waits_for_its_ping_until_the_scaled_timeout(clock, monkeypatch):
    class Alive:
        returncode = None

        def poll(self):
            return None

    def no_answer(*, destination, timeout):
        clock.sleep(timeout)
        return []

    monkeypatch.setattr(worker_module, "time", clock)
    monkeypatch.setattr(worker_module.celery_app.control, "ping", no_answer)
    worker = object.__new__(worker_module.WorkerProcess)
    worker.name, worker.process, worker.log_path = "test-scale@localhost", Alive(), Path("worker.log")
    started = clock.now
    with pytest.raises(TimeoutError, match="not ready after 240s"):
        worker.wait_ready(timeout=60)
    assert clock.now - started == pytest.approx(240, abs=1)

"""Beat stops between ticks: SIGTERM or Ctrl-C only asks it to (gm_server_notify/celery.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from celery.beat import Service

from gm_server_notify.celery import app, stop_beat_between_ticks
from tests.support.make_run import NOT_INHERITED, REPO_ROOT
from tests.support.waiting import scaled, wait_until


@pytest.fixture
def restored_signal_handlers():
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_only_asks_beat_to_stop_and_raises_nothing_where_it_lands(
    signum, tmp_path, restored_signal_handlers
):
    service = Service(app=app, schedule_filename=str(tmp_path / "schedule"))
    stop_beat_between_ticks(sender=service)

    # Celery's own handler would save the schedule and raise SystemExit right here.
    os.kill(os.getpid(), signum)

    assert service._is_shutdown.is_set()


def test_beat_stopped_by_sigterm_exits_0_at_its_next_wake_up_and_keeps_its_schedule(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(GM_EMBEDDED_DEFAULTS="1", GM_VAR_DIR=str(tmp_path), WORKER_HEARTBEAT_SECONDS="1")
    schedule = tmp_path / "celerybeat-schedule"
    log_path = tmp_path / "beat.log"
    with log_path.open("wb") as log:
        beat = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gm_server_notify",
                "--quiet",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(schedule),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        # Ticking: it has sent the heartbeat (due every second) at least twice.
        wait_until(
            lambda: log_path.read_text().count("Sending due task worker-heartbeat") >= 2,
            timeout=60,
            message="beat ticking",
        )
        beat.send_signal(signal.SIGTERM)
        assert beat.wait(timeout=scaled(10)) == 0, log_path.read_text()[-3000:]
    finally:
        if beat.poll() is None:
            beat.kill()
            beat.wait()
    assert "Traceback" not in log_path.read_text()
    assert list(tmp_path.glob("celerybeat-schedule*")), "the schedule was not saved"

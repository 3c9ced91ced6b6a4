"""Tasks reach a real worker process only after their transaction commits."""

import time

import pytest
from django.db import transaction

from gm_server_notify.health import worker_heartbeat_age
from gm_server_notify.tasks import record_worker_heartbeat
from tests.support.waiting import scaled

pytestmark = pytest.mark.worker


def _wait_for_heartbeat(timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        age = worker_heartbeat_age()
        if age is not None:
            return age
        time.sleep(0.1)
    return None


def test_task_queued_on_commit_runs_in_worker_process(start_worker):
    start_worker()
    assert worker_heartbeat_age() is None
    with transaction.atomic():
        record_worker_heartbeat.delay_on_commit()
    assert _wait_for_heartbeat(timeout=scaled(20)) is not None


def test_task_queued_in_rolled_back_transaction_never_runs(start_worker):
    worker = start_worker()

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        record_worker_heartbeat.delay_on_commit()
        raise Rollback
    # The worker has taken a task published on the heartbeat's queue (no route: the default one)
    # after the rollback, so the heartbeat, had it been published, would have been taken first.
    taken = worker.drain(queue="default")
    assert taken[record_worker_heartbeat.name] == 0
    assert worker_heartbeat_age() is None

"""The simulator's ``answer_delay_ms``: a provider that takes a send request at once and answers
it late, so that a test can kill the worker waiting on the answer (tests/e2e/test_worker_killed_mid_request.py)."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.providers.test_simulator_pushes import _send
from tests.support.waiting import scaled, wait_until


def test_a_delayed_answer_comes_after_the_request_was_taken_and_only_for_that_provider(simulator):
    simulator.configure(answer_delay_ms={"gateway": 600_000})
    answered: list[str] = []
    sender = threading.Thread(
        target=lambda: answered.append(_send(simulator.url, ["13100001234"])), daemon=True
    )
    sender.start()
    wait_until(lambda: simulator.stats().get("gateway", {}).get("answers_held") == 1, message="answer held")
    # Taken while the answer is held: the number counted, its report queued (held for the pull).
    assert simulator.stats()["gateway"]["numbers"] == 1
    assert [report["mobile"] for report in simulator.state.held_reports["gateway"]] == ["13100001234"]
    assert answered == []
    simulator.configure(answer_delay_ms={"tencent": 600_000})  # another provider's: still held
    assert simulator.stats()["gateway"]["answers_held"] == 1 and answered == []
    # Lowered: the held answer is released once the new delay is over; new requests are not held.
    simulator.configure(answer_delay_ms={"gateway": 0})
    sender.join(timeout=scaled(5))
    assert len(answered) == 1 and answered[0]
    assert _send(simulator.url, ["13100011234"])
    assert simulator.stats()["gateway"]["answers_held"] == 0


@pytest.mark.parametrize(
    "value", [{"nobody": 10}, {"gateway": -1}, {"gateway": "slow"}, {"gateway": True}, [1000], 1000]
)
def test_a_bad_answer_delay_is_refused_and_changes_nothing(simulator, value):
    answer = requests.post(f"{simulator.url}/_sim/config", json={"answer_delay_ms": value}, timeout=5)
    assert answer.status_code == 400
    assert simulator.state.config.answer_delay_ms == {}

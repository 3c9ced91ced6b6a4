"""The accepting-sends benchmark still runs (a few seconds; figures are not asserted)."""

import json
from pathlib import Path

import pytest

from tests.bench.running import run_bench

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "var" / "bench" / "accept_sends.json"

pytestmark = pytest.mark.worker


def test_accept_sends_benchmark_smoke_runs_without_errors():
    RESULT.unlink(missing_ok=True)  # a stale result cannot pass for this run's
    completed = run_bench("bench.accept_sends", timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(RESULT.read_text())
    [run] = result["runs"]
    assert run["project"]["requests"] > 0 and run["floor"]["requests"] > 0
    assert run["project"]["errors"] == 0 and run["floor"]["errors"] == 0

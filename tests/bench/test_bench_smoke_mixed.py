"""The mixed-load benchmark runs end to end at smoke size (figures are printed, never asserted)."""

import json
from pathlib import Path

import pytest

from tests.bench.running import run_bench

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "var" / "bench" / "mixed_load.json"
SMOKE_TOTAL = 500


@pytest.mark.worker
def test_mixed_load_smoke_reads_every_endpoint_during_the_blast():
    RESULT.unlink(missing_ok=True)
    run = run_bench("bench.mixed_load", timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(RESULT.read_text())
    assert result["smoke"] is True
    blast = result["blast"]
    assert blast["complete"] is True
    assert blast["exactly_once"] is True
    assert blast["simulator"]["numbers"] == SMOKE_TOTAL
    # The blast's reports pushed one a request (seed 002), as the result records.
    assert result["push_batch"] == result["configuration"]["push_batch"] == 1
    assert blast["simulator"]["status_pushes"] == blast["simulator"]["reports_pushed"] > 0
    for phase in ("during_blast", "idle"):
        endpoints = result[phase]["endpoints"]
        assert len(endpoints) == 4, phase
        for endpoint in endpoints:
            assert endpoint["requests"] > 0, (phase, endpoint["endpoint"])
            assert endpoint["bad_answers"] == 0, (phase, endpoint["endpoint"])
            assert endpoint["p99_ms"] is not None, (phase, endpoint["endpoint"])
        overall = result[phase]["overall"]
        assert overall["requests"] == sum(row["requests"] for row in endpoints)
        assert overall["latency_samples"] == sum(row["latency_samples"] for row in endpoints)

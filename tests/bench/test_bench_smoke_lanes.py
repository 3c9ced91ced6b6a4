"""The lanes benchmark runs end to end at smoke size (figures are printed, never asserted)."""

import json
from pathlib import Path

import pytest

from tests.bench.running import run_bench

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "var" / "bench" / "lanes.json"
SMOKE = {"blast": 3_000, "codes": 10, "notices": 2, "storm": 500}


@pytest.mark.worker
def test_lanes_smoke_measures_every_phase_and_sends_nothing_twice():
    RESULT.unlink(missing_ok=True)
    run = run_bench("bench.lanes", timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(RESULT.read_text())
    assert result["smoke"] is True and result["problems"] == []
    config = result["configuration"]
    assert {key: config[key] for key in SMOKE} == SMOKE
    lanes, before = result["lanes"], result["before"]
    # Every idle code and message was measured; under load, as many as the load lasted for.
    assert lanes["idle"]["codes"]["n"] == SMOKE["codes"]
    for kind in ("notice10", "bulk150"):
        assert lanes["idle"]["messages"][kind]["n"] == SMOKE["notices"]
    for phase in (lanes["idle"], lanes["storm"], lanes["blast"], before["blast"]):
        assert (phase["codes"]["lost"], phase["codes"]["errors"]) == (0, [])
    assert lanes["idle"]["codes"]["pipeline"]["n"] == SMOKE["codes"]
    # The storm's single pushes were all answered and applied once.
    assert lanes["storm"]["wrk"]["complete"] and lanes["storm"]["storm_applied"]
    # Both shapes handed the whole blast over and applied its reports; the simulator took each
    # number once.
    for run_result in (lanes, before):
        blast = run_result["blast"]
        assert blast["handed_over"] and blast["recipients_per_s"] > 0
        assert blast["final"]["complete"] and blast["final_recipients_per_s"] > 0
        assert set(blast["states"]) <= {"delivered", "failed"}
        assert sum(blast["states"].values()) == SMOKE["blast"]
        for counts in run_result["simulator"].values():
            assert counts["duplicated_numbers"] == 0
            assert counts["numbers"] == counts["distinct_numbers"]
    assert set(result["goals"]) >= {
        "codes p99 during the blast",
        "blast throughput to final, lanes / before",
        "blast throughput to hand-off, lanes / before",
    }
    assert result["commit"] and isinstance(result["dirty"], bool)

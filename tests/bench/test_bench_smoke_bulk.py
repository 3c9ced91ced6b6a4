"""The bulk-send benchmark runs end to end at smoke size (figures are printed, never asserted)."""

import json
from pathlib import Path

import pytest

from tests.bench.running import run_bench

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "var" / "bench" / "bulk_send.json"
SMOKE_TOTAL = 500
SMOKE_BASELINE = 200


@pytest.mark.worker
def test_bulk_send_smoke_delivers_every_number_exactly_once():
    RESULT.unlink(missing_ok=True)
    run = run_bench("bench.bulk_send", timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(RESULT.read_text())
    assert result["smoke"] is True
    assert result["total"] == SMOKE_TOTAL
    assert result["simulator"]["numbers"] == SMOKE_TOTAL
    assert result["simulator"]["distinct"] == SMOKE_TOTAL
    assert result["simulator"]["duplicated"] == 0
    assert result["final"] == SMOKE_TOTAL
    assert set(result["states"]) <= {"delivered", "failed"}
    assert sum(result["states"].values()) == SMOKE_TOTAL
    baseline = result["baseline"]
    assert baseline["recipients"] == SMOKE_BASELINE
    assert sum(baseline["states"].get(state, 0) for state in ("delivered", "failed")) == SMOKE_BASELINE
    assert (baseline["simulator"]["numbers"], baseline["simulator"]["duplicated"]) == (SMOKE_BASELINE, 0)
    # Seed 002's push shape by default, and the result says so: one report a request, the
    # simulator's CPU per push, the commit and whether the tree was dirty.
    assert result["push_batch"] == result["configuration"]["push_batch"] == 1
    for simulator in (result["simulator"], baseline["simulator"]):
        assert simulator["push_batch"] == 1
        assert simulator["status_pushes"] == simulator["reports_pushed"] > 0
        assert simulator["cpu_ms_per_push"] > 0
    assert result["commit"] and isinstance(result["dirty"], bool)
    assert result["service_cpu_ms_per_recipient"] > 0
    # The run's CPU per component (docs/performance.md, "where the CPU goes"): each of the stack's
    # processes is counted, the web and MariaDB (500 accepts and reports) measurably worked, and
    # no more was counted than the cores had. (10 ms ticks: a short run's small parts may read 0.)
    cpu = result["cpu_s"]
    assert {"web", "worker", "beat", "simulator"} <= set(cpu["by_name"])
    assert cpu["by_name"]["web"] > 0
    assert cpu["services"]["mariadb"] > 0
    assert sum(cpu["by_name"].values()) + sum(cpu["services"].values()) <= cpu["available_s"] * 1.1

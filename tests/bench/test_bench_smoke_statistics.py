"""The statistics-at-scale benchmark still runs (20,000 records; figures are not asserted)."""

import json
from pathlib import Path

import pytest

from tests.bench.running import run_bench

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "var" / "bench" / "statistics_scale.json"

pytestmark = pytest.mark.worker


def test_statistics_scale_benchmark_smoke_runs_without_errors_or_full_scans():
    RESULT.unlink(missing_ok=True)  # a stale result cannot pass for this run's
    completed = run_bench("bench.statistics_scale", timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(RESULT.read_text())
    assert result["smoke"] is True
    assert result["load"]["records"] == 20_000
    endpoints = result["endpoints"]
    assert len(endpoints) >= 8
    for endpoint in endpoints:
        assert endpoint["requests"] > 0, endpoint["endpoint"]
        assert endpoint["errors"] == 0, endpoint["endpoint"]
        assert endpoint["send_record_full_scan"] is False, (endpoint["endpoint"], endpoint["explain"])
        assert endpoint["explain"], endpoint["endpoint"]
    console = {shape["endpoint"]: shape for shape in result["console"]}
    for page in (
        "/dashboard page",
        "/dashboard/reconciliation page (yesterday)",
        "/dashboard/alerts page",
        "alerts",
    ):
        assert page in console, sorted(console)
    for shape in console.values():
        assert shape["requests"] > 0 and shape["errors"] == 0, shape

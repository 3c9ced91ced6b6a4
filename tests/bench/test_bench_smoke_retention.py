"""The retention benchmark still runs (20,000 records; figures are not asserted)."""

import json
from pathlib import Path

import pytest

from tests.bench.running import run_bench

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "var" / "bench" / "retention.json"

pytestmark = pytest.mark.worker


def test_retention_benchmark_smoke_erases_every_final_record_older_than_the_retention():
    RESULT.unlink(missing_ok=True)  # a stale result cannot pass for this run's
    completed = run_bench("bench.retention", timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(RESULT.read_text())
    assert result["smoke"] is True
    first = result["first_run"]
    assert first["erased"]["tbl_sms_send_record"] == first["expected_final_records_older_than_retention"] > 0
    assert result["final_records_older_than_retention_left_unerased"] == 0
    assert result["second_run"]["erased"] == 0
    assert result["probe_during_first_run"]["insert"]["operations"] > 0

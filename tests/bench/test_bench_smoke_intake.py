"""The intake benchmark runs end to end at smoke size (figures are printed, never asserted)."""

import json
from pathlib import Path

import pytest

from tests.bench.running import run_bench

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "var" / "bench" / "intake.json"
SMOKE_PUSHES = 2_000


@pytest.mark.worker
def test_intake_smoke_applies_every_pushed_report_once():
    RESULT.unlink(missing_ok=True)
    run = run_bench("bench.intake", timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(RESULT.read_text())
    assert result["smoke"] is True
    assert result["config"]["pushes"] == SMOKE_PUSHES
    wrk, applied = result["wrk"], result["apply"]
    # Every record's push was answered 2xx, and each report moved its record once: the records,
    # the stations' day rows and the emptied inbox agree, resends (wrk's last repeats) included.
    assert wrk["complete"] and wrk["answered"] >= SMOKE_PUSHES
    assert (wrk["non_2xx"], wrk["socket_errors"]) == (0, 0)
    assert applied["states"] == {"delivered": SMOKE_PUSHES}
    assert applied["daily"] == {"total": SMOKE_PUSHES, "success": SMOKE_PUSHES, "failed": 0}
    assert (applied["pending_reports"], applied["rejected_reports"], applied["inbox_left"]) == (0, 0, 0)
    assert applied["exactly_once"] and applied["lag_s"] is not None
    # The CPU of each component was counted: the web took the pushes, MariaDB stored them.
    cpu = result["cpu_s"]
    assert {"web", "worker", "beat"} <= set(cpu["by_name"])
    assert cpu["by_name"]["web"] > 0 and cpu["services"]["mariadb"] > 0
    assert result["cpu_ms_per_push"]["total"] > 0

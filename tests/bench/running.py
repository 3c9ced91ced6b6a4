"""Running a benchmark from a smoke test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.waiting import scaled

REPO = Path(__file__).resolve().parents[2]


def run_bench(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m <module> --smoke <args>``, within ``timeout`` seconds (scaled). Past it the
    benchmark gets SIGTERM, which unwinds it like Ctrl-C (bench.harness): the stack it started is
    stopped, not left running to take the next run's tasks, as a SIGKILL of the benchmark alone
    would leave it."""
    with subprocess.Popen(
        [sys.executable, "-m", module, "--smoke", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                stdout, stderr = process.communicate(timeout=scaled(60))
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            raise AssertionError(
                f"{module} did not finish within {scaled(timeout):.0f} s\n{stdout[-3000:]}{stderr[-3000:]}"
            ) from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

"""Benchmark 1: accepting sends. ``POST /sms/send/add`` at 32 concurrent connections for 20 s
against its floor (``bench/floor.py``: one INSERT and one publish, nothing else), both served by
the same gunicorn settings, measured with wrk in the same run.

    .venv/bin/python -m bench.accept_sends            # the full run (about a minute per config)
    .venv/bin/python -m bench.accept_sends --smoke    # a few seconds, for the test suite
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis

from bench import harness

# An order notice (business type 0): every request sends the same body, and verify codes to one
# mobile are limited (SMS_VERIFY_LIMITS), which would measure the limiter instead of accepting.
SEND_BODY = {
    "station_id": "T7442",
    "receive_phone": "13112341234",
    "sms_content": {"order_id": "PL2026112500001", "sms_signature": "[去采购报价单]"},
    "business_type": 0,
}
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, p50/p99 in ms, and every kind of error from wrk's ``--latency`` output."""

    def latency(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        return round(float(match.group(1)) * _UNITS[match.group(2)], 2) if match else float("nan")

    requests_per_s = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests": total,
        "requests_per_s": round(requests_per_s, 1),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket.groups())) if socket else 0),
    }


def run_wrk(url: str, body: dict[str, Any], *, connections: int, seconds: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does)")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(body, handle, ensure_ascii=False)
    env = {"WRK_BODY_FILE": handle.name, "WRK_TOKEN": harness.SERVICE_TOKEN, "PATH": "/usr/bin:/bin"}
    script = str(harness.REPO / "bench" / "wrk" / "post_json.lua")
    # One wrk thread: the load generator must not take a core from the two the service has.
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(handle.name).unlink()
    return parse_wrk(output)


def seed_station(balance: int) -> None:
    from sms.station_api import services

    harness.truncate(
        "tbl_sms_balance_ledger",
        "tbl_sms_send_record",
        "tbl_sms_recharge_record",
        "tbl_sms_statistics",
        "tbl_sms_daily_statistics",
    )
    # In recharges within the per-recharge ceiling (SMS_RECHARGE_MAX_NUMS).
    from django.conf import settings

    while balance > 0:
        nums = min(balance, settings.SMS_RECHARGE_MAX_NUMS)
        services.recharge_station(
            station_id="T7442",
            combo_id=4,
            recharge_nums=nums,
            recharge_money=Decimal("0.00"),
            operator_name="bench",
        )
        balance -= nums


def measure(config: dict[str, str], *, connections: int, seconds: int) -> dict[str, Any]:
    """One gunicorn configuration: the project, then the floor, each on a fresh server."""
    web_env = {"WEB_CONCURRENCY": config["workers"], "WEB_THREADS": config["threads"], "CONN_MAX_AGE": "60"}
    with harness.running_stack(worker=False, simulator=False, web_env=web_env) as stack:
        project = run_wrk(f"{stack.url}/sms/send/add", SEND_BODY, connections=connections, seconds=seconds)
    with harness.running_stack(
        worker=False, simulator=False, web_env=web_env, web_settings="bench.floor"
    ) as stack:
        floor = run_wrk(f"{stack.url}/floor", {}, connections=connections, seconds=seconds)
    redis.Redis.from_url(harness.BENCH_BROKER).delete("bench_floor")
    ratio = round(project["requests_per_s"] / floor["requests_per_s"], 2) if floor["requests_per_s"] else 0.0
    return {
        "gunicorn": {"workers": int(config["workers"]), "threads": int(config["threads"])},
        "project": project,
        "floor": floor,
        "ratio": ratio,
        "goals": {
            "ratio_at_least_0.5": ratio >= 0.5,
            "p99_under_100ms": project["p99_ms"] < 100,
            "zero_errors": project["errors"] == 0,
        },
    }


CONFIGS = [
    {"workers": "2", "threads": "4"},
    {"workers": "3", "threads": "4"},
    {"workers": "4", "threads": "2"},
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="2 s at 4 connections, one configuration")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    seconds, connections = (2, 4) if args.smoke else (args.seconds, args.connections)
    configs = CONFIGS[:1] if args.smoke else CONFIGS

    harness.prepare_database()
    harness.setup_django()
    seed_station(100_000_000)
    runs = [measure(config, connections=connections, seconds=seconds) for config in configs]
    best = max(runs, key=lambda run: run["project"]["requests_per_s"])
    harness.record(
        "accept_sends",
        {"connections": connections, "seconds": seconds, "best": best, "runs": runs},
        smoke=args.smoke,
    )
    for run in runs:
        g, p, f = run["gunicorn"], run["project"], run["floor"]
        print(
            f"gunicorn {g['workers']}x{g['threads']}: project {p['requests_per_s']} req/s, "
            f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, errors {p['errors']} | "
            f"floor {f['requests_per_s']} req/s | ratio {run['ratio']}"
        )


if __name__ == "__main__":
    main()

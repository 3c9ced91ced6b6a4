"""Benchmark 4: the read endpoints while a bulk send runs.

A 100,000-recipient send (``bench.bulk_send``'s project run: ten ``v1/message`` calls of 10,000,
the same stack, the beat) and, for its whole duration, wrk driving the statistics endpoints at 8
concurrent connections: one wrk process (one thread, 2 connections) per endpoint, all at once, so
that each endpoint's percentiles are its own (wrk's Lua cannot time single requests); each wrk
writes its whole latency histogram (``bench/wrk/rotate_get.lua``), and the four are merged for
the overall percentiles. The endpoints (parameters as ``bench.statistics_scale``'s: 31-day ranges
ending today, a different station per request):

- ``GET /sms/data_center/get`` (bearer ``SMS_SERVICE_TOKENS``)
- ``GET /sms/statistics_detail/get``, first page
- ``GET /sms/send_record/get``, first page
- ``GET /v1/message?uuid=`` of the blast's first batch (HTTP Basic as its tenant, 1,000 a page):
  its wrk starts when that call has answered; the others just before the first call

wrk stops when every record of the blast is final. Then the same four run ``--idle-seconds`` more
on the quiet stack, for comparison. Before the blast 20 stations get 40,000 send records over 31
days, their daily statistics and their balances (``statistics_scale.load_stations``, about a
second), so the statistics have something to read.

    .venv/bin/python -m bench.mixed_load            # 100,000 recipients
    .venv/bin/python -m bench.mixed_load --smoke    # 500 recipients, 2 s idle, for the test suite
    .venv/bin/python -m bench.mixed_load --recipients 10000 --broker rabbitmq --nodes 2
    .venv/bin/python -m bench.mixed_load --push-batch 100   # reports pushed 100 to a request

The simulator pushes each of the blast's reports in a request of its own, as seed 002's gateway
does (``--push-batch N``: JSON arrays of up to N, the shortcut the earlier figures were measured
with); the results record ``push_batch``.

Figures: per endpoint and overall, p50/p99 (ms), requests/s and bad answers during the blast and
when idle; the blast's own recipients/s and elapsed. Goal: p99 < 50 ms for every endpoint and
overall during the blast. Benchmarks print figures; they never fail on a time (the run fails
only when records do not all become final, or an endpoint answers wrongly before the blast).
Results: ``bench/results/mixed_load<config>.json`` (``--smoke``: var/bench/), ``<config>`` as
``bulk_send``'s layout (``-push100`` …), then ``-readweb<N>``, ``-r<recipients>`` and
``-conn<N>`` when not the defaults.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import math
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from bench import accept_sends, bulk_send, harness, statistics_scale

CONNECTIONS_PER_ENDPOINT = 2
P99_GOAL_MS = 50.0
STATIONS = 20
STATION_RECORDS = 40_000
STATION_DAYS = 31
SEED = 20261202
SCRIPT = harness.REPO / "bench" / "wrk" / "rotate_get.lua"
STATION_EXPECT = '^{"code":0,'  # the station envelope of a success (Lua pattern)
PLATFORM_REJECT = '"error"'  # a platform (v1) error body


@dataclass
class Target:
    """One endpoint wrk drives: its paths (rotated), its Authorization and how a good answer looks."""

    name: str
    paths: list[str]
    auth: str
    expect: str = ""
    reject: str = ""


@dataclass
class WrkRun:
    target: Target
    popen: subprocess.Popen
    report: Path
    output: Path
    started: float
    stopped: float = 0.0


@dataclass
class Histogram:
    """wrk's latency histogram: microseconds → count."""

    counts: dict[int, int] = field(default_factory=dict)

    def add(self, other: Histogram) -> None:
        for value, count in other.counts.items():
            self.counts[value] = self.counts.get(value, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percentile_ms(self, q: float) -> float | None:
        """The ``q`` quantile as wrk computes it (``stats_percentile``: the first value whose
        cumulative count reaches ``round(q * count + 0.5)``); ``q`` 1.0 is the maximum."""
        total = self.total
        if not total:
            return None
        values = sorted(self.counts)
        if q >= 1.0:
            return round(values[-1] / 1000, 2)
        rank, seen = math.floor(q * total + 1.0), 0
        for value in values:
            seen += self.counts[value]
            if seen >= rank:
                return round(value / 1000, 2)
        return round(values[-1] / 1000, 2)


def bearer() -> str:
    return f"Bearer {harness.SERVICE_TOKEN}"


def basic() -> str:
    token = base64.b64encode(f"{bulk_send.USERNAME}:{bulk_send.PASSWORD}".encode()).decode()
    return f"Basic {token}"


def station_targets(stations: int) -> list[Target]:
    """The three station endpoints, each request on the next of the stations (a seeded order)."""
    from django.utils import timezone

    end = timezone.localdate()
    start = end - dt.timedelta(days=statistics_scale.WINDOW_DAYS - 1)
    window = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    codes = [statistics_scale.station_code(index) for index in range(stations)]
    random.Random(SEED).shuffle(codes)

    def paths(path: str) -> list[str]:
        return [f"{path}?{urlencode({'station_id': code, **window})}" for code in codes]

    return [
        Target("GET /sms/data_center/get (31 days)", paths("/sms/data_center/get"), bearer(), STATION_EXPECT),
        Target(
            "GET /sms/statistics_detail/get (first page)",
            ["/sms/statistics_detail/get"],
            bearer(),
            STATION_EXPECT,
        ),
        Target(
            "GET /sms/send_record/get (first page, 31 days)",
            paths("/sms/send_record/get"),
            bearer(),
            STATION_EXPECT,
        ),
    ]


def batch_target(uuid: str) -> Target:
    return Target(
        "GET /v1/message?uuid= (a 10,000-mobile batch of the blast)",
        [f"/v1/message?{urlencode({'uuid': uuid})}"],
        basic(),
        reject=PLATFORM_REJECT,
    )


def check(url: str, target: Target) -> None:
    """One request of each path kind before wrk starts: a wrong answer here is a set-up error."""
    answer = requests.get(url + target.paths[0], headers={"Authorization": target.auth}, timeout=30)
    body = answer.text
    good = answer.status_code == 200 and (
        body.startswith('{"code":0,') if target.expect else '"error"' not in body
    )
    if not good:
        raise SystemExit(f"{target.name}: HTTP {answer.status_code} {body[:300]}")


def start_wrk(url: str, target: Target, *, connections: int, seconds: float, workdir: Path) -> WrkRun:
    """One wrk (one thread) on ``target`` for at most ``seconds`` (``stop_wrk`` ends it sooner)."""
    slug = "".join(char if char.isalnum() else "_" for char in target.name)[:60]
    paths_file = workdir / f"{slug}.paths"
    paths_file.write_text("\n".join(target.paths) + "\n")
    report = workdir / f"{slug}.report"
    report.unlink(missing_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "WRK_PATHS_FILE": str(paths_file),
        "WRK_AUTH": target.auth,
        "WRK_EXPECT": target.expect,
        "WRK_REJECT": target.reject,
        "WRK_REPORT": str(report),
    }
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, int(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    output = workdir / f"{slug}.out"
    popen = subprocess.Popen(
        [*command, "-s", str(SCRIPT), url], env=env, stdout=output.open("wb"), stderr=subprocess.STDOUT
    )
    return WrkRun(target=target, popen=popen, report=report, output=output, started=time.monotonic())


def stop_wrk(run: WrkRun) -> None:
    """SIGINT: wrk stops, prints its summary and runs the script's ``done()``."""
    if run.popen.poll() is None:
        run.popen.send_signal(signal.SIGINT)
    run.popen.wait(timeout=30)
    run.stopped = time.monotonic()


def read_report(run: WrkRun) -> tuple[dict[str, Any], Histogram]:
    figures: dict[str, Any] = {}
    histogram = Histogram()
    if not run.report.exists():
        raise RuntimeError(f"wrk wrote no report for {run.target.name} (exit {run.popen.returncode})")
    for line in run.report.read_text().splitlines():
        key, *values = line.split()
        if key == "latency":
            histogram.counts[int(values[0])] = int(values[1])
        else:
            figures[key] = int(values[0])
    return figures, histogram


def summarise(runs: list[WrkRun]) -> dict[str, Any]:
    """Per endpoint and overall: requests, requests/s, p50/p99/max, bad answers, socket errors.

    The latencies are wrk's histogram as its ``done()`` sees it, after wrk 4.1's correction for
    coordinated omission (``stats_correct``: for each response slower than twice the mean interval
    between one connection's requests, the samples a client sending at that constant rate would
    also have seen), the same figures wrk prints (``wrk_p50_ms``, ``wrk_p99_ms``); so
    ``latency_samples`` exceeds ``requests`` when some answers were slow. Overall: the four
    histograms merged."""
    endpoints, overall = [], Histogram()
    bad = errors = 0
    for run in runs:
        figures, histogram = read_report(run)
        overall.add(histogram)
        seconds = figures.get("duration_us", 0) / 1e6
        bad += figures.get("bad", 0)
        errors += figures.get("socket_errors", 0)
        reported = accept_sends.parse_wrk(run.output.read_text())
        endpoints.append(
            {
                "endpoint": run.target.name,
                "requests": figures.get("requests", 0),
                "latency_samples": histogram.total,
                "seconds": round(seconds, 2),
                "requests_per_s": round(figures.get("requests", 0) / seconds, 1) if seconds else 0.0,
                "p50_ms": histogram.percentile_ms(0.50),
                "p99_ms": histogram.percentile_ms(0.99),
                "max_ms": histogram.percentile_ms(1.0),
                "bad_answers": figures.get("bad", 0),
                "socket_errors": figures.get("socket_errors", 0),
                # wrk's own figures from the same histogram, as a check of the merge.
                "wrk_p50_ms": reported["p50_ms"],
                "wrk_p99_ms": reported["p99_ms"],
            }
        )
    return {
        "endpoints": endpoints,
        "overall": {
            "requests": sum(row["requests"] for row in endpoints),
            "latency_samples": overall.total,
            "requests_per_s": round(sum(row["requests_per_s"] for row in endpoints), 1),
            "p50_ms": overall.percentile_ms(0.50),
            "p99_ms": overall.percentile_ms(0.99),
            "max_ms": overall.percentile_ms(1.0),
            "bad_answers": bad,
            "socket_errors": errors,
        },
    }


class StatisticsLoad:
    """``bulk_send.Companion``: wrk on the station endpoints from the clock's start, on the blast's
    first batch from its answer, all stopped when every record is final."""

    def __init__(
        self,
        *,
        stations: int,
        connections: int,
        deadline_s: float,
        idle_seconds: float,
        workdir: Path,
        read_web: int = 0,
        broker_url: str | None = None,
    ) -> None:
        self.stations, self.connections, self.deadline_s = stations, connections, deadline_s
        self.idle_seconds, self.workdir = idle_seconds, workdir
        self.read_web, self.broker_url = read_web, broker_url
        self.read_url = ""
        self.stack: harness.Stack | None = None
        self.runs: list[WrkRun] = []
        self.idle_runs: list[WrkRun] = []
        self.first_uuid: str | None = None

    def start(self, target: Target) -> None:
        assert self.stack is not None
        self.runs.append(
            start_wrk(
                self.read_url,
                target,
                connections=self.connections,
                seconds=self.deadline_s,
                workdir=self.workdir,
            )
        )

    def start_read_web(self, stack: harness.Stack) -> str:
        """A second gunicorn of ``read_web`` processes for the reads alone, as an operator would
        route the dashboard's paths (nginx) away from the web that takes the sends and reports."""
        port = harness.free_port()
        env = harness.base_environment(
            stack.web_port, stack.sim_port, broker=self.broker_url, WEB_CONCURRENCY=str(self.read_web)
        )
        stack.start("readweb", harness.gunicorn_command(port), env)
        url = f"http://127.0.0.1:{port}"
        harness.wait_for_http(f"{url}/healthz")
        return url

    def started(self, stack: harness.Stack) -> None:
        self.stack = stack
        self.read_url = self.start_read_web(stack) if self.read_web else stack.url
        targets = station_targets(self.stations)
        for target in targets:
            check(self.read_url, target)
        for target in targets:
            self.start(target)

    def accepted(self, uuid: str) -> None:
        if self.first_uuid is None:
            self.first_uuid = uuid
            self.start(batch_target(uuid))

    def finished(self) -> None:
        """Stop the blast's wrk; then the same four for ``idle_seconds`` on the quiet stack."""
        for run in self.runs:
            stop_wrk(run)
        if self.idle_seconds <= 0:
            return
        assert self.stack is not None and self.first_uuid is not None
        for target in [*station_targets(self.stations), batch_target(self.first_uuid)]:
            self.idle_runs.append(
                start_wrk(
                    self.read_url,
                    target,
                    connections=self.connections,
                    seconds=self.idle_seconds,
                    workdir=self.workdir / "idle",
                )
            )
        for run in self.idle_runs:
            run.popen.wait(timeout=self.idle_seconds + 60)
            run.stopped = time.monotonic()


def seed_stations(stations: int, records: int) -> None:
    """The stations' records, daily statistics and balances, after ``bulk_send.seed`` emptied the
    send records."""
    harness.truncate("tbl_sms_statistics", "tbl_sms_daily_statistics")
    loaded = statistics_scale.load_stations(
        records=records,
        stations=stations,
        days=STATION_DAYS,
        rng=random.Random(SEED),
        now_us=int(time.time() * 1_000_000),
    )
    print(f"seeded {stations} stations: {loaded.records:,} records in {loaded.seconds:.1f} s", flush=True)


def goals_of(blast: dict[str, Any]) -> dict[str, Any]:
    goals = {}
    for row in [*blast["endpoints"], {"endpoint": "overall", **blast["overall"]}]:
        p99 = row["p99_ms"]
        goals[f"p99 {row['endpoint']}"] = bulk_send.goal(
            p99, f"< {P99_GOAL_MS:g} ms", lambda p99=p99: p99 is not None and p99 < P99_GOAL_MS
        )
    return goals


def print_result(result: dict[str, Any]) -> None:
    run = result["blast"]
    print()
    print("  configuration: " + ", ".join(f"{k} {v}" for k, v in result["configuration"].items()))
    print(
        f"  blast: {run['recipients']:,} recipients in {run['elapsed_s']} s = {run['recipients_per_s']:,}/s"
        f" (accepted after {run['accepted_s']} s; exactly once: {run['exactly_once']};"
        f" {run['simulator']['status_pushes']:,} report pushes)"
    )
    width = max(len(row["endpoint"]) for row in result["during_blast"]["endpoints"])
    print(
        f"\n  {'endpoint':<{width}}  {'req/s':>7}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}  "
        f"{'bad':>4}  {'idle p50':>8}  {'idle p99':>8}"
    )
    idle = {row["endpoint"]: row for row in (result["idle"] or {"endpoints": []})["endpoints"]}
    rows = [
        *result["during_blast"]["endpoints"],
        {"endpoint": "overall", **result["during_blast"]["overall"]},
    ]
    if result["idle"]:
        idle["overall"] = result["idle"]["overall"]
    for row in rows:
        quiet = idle.get(row["endpoint"], {})
        print(
            f"  {row['endpoint']:<{width}}  {row.get('requests_per_s', '')!s:>7}  {row['p50_ms']!s:>7}  "
            f"{row['p99_ms']!s:>7}  {row['max_ms']!s:>7}  {row['bad_answers'] + row['socket_errors']:>4}  "
            f"{quiet.get('p50_ms', '')!s:>8}  {quiet.get('p99_ms', '')!s:>8}"
        )
    print()
    bulk_send.print_goals(result["goals"])
    print()


def results_suffix(args: argparse.Namespace, layout: bulk_send.Layout, total: int) -> str:
    """The layout's part of the name (``bulk_send.Layout.suffix``: ``-push100`` …), then what else
    is not the default, so a run never overwrites another configuration's figures."""
    parts = []
    if args.read_web:
        parts.append(f"readweb{args.read_web}")
    if total != bulk_send.default_recipients(args.smoke):
        parts.append(f"r{total}")
    if args.connections != CONNECTIONS_PER_ENDPOINT:
        parts.append(f"conn{args.connections}")
    return layout.suffix() + "".join(f"-{part}" for part in parts)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=None, help="the blast; default 100,000 (smoke 500)")
    parser.add_argument("--threads", type=int, default=1, help="client threads posting the blast's calls (1)")
    parser.add_argument("--broker", choices=harness.BROKERS, default="redis")
    parser.add_argument("--nodes", type=int, default=1, help="worker nodes (1)")
    parser.add_argument("--concurrency", type=int, default=bulk_send.CONCURRENCY, help="per node (2)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS_PER_ENDPOINT, help="per endpoint (2)")
    parser.add_argument(
        "--idle-seconds", type=float, default=None, help="after the blast; default 10 (smoke 2)"
    )
    parser.add_argument("--stations", type=int, default=STATIONS)
    parser.add_argument("--station-records", type=int, default=None, help="default 40,000 (smoke 5,000)")
    parser.add_argument(
        "--read-web",
        type=int,
        default=0,
        help="serve the reads from a second gunicorn of this many processes (0: the one web)",
    )
    parser.add_argument(
        "--push-batch",
        type=int,
        default=1,
        help="gateway reports per simulator push: 1, seed 002's one object a request (default); "
        "N > 1: JSON arrays of up to N, a shortcut",
    )
    parser.add_argument("--smoke", action="store_true", help="500 recipients, 5,000 station records")
    args = parser.parse_args(argv)
    total = args.recipients or bulk_send.default_recipients(args.smoke)
    if not 0 < total <= bulk_send.MAX_RECIPIENTS:
        parser.error("--recipients must be between 1 and 1,000,000")
    if not 1 <= args.push_batch <= 3000:
        parser.error("--push-batch must be between 1 and 3,000")
    return args


def layout_of(args: argparse.Namespace) -> bulk_send.Layout:
    return bulk_send.Layout(
        broker=args.broker,
        nodes=args.nodes,
        concurrency=args.concurrency,
        client_threads=args.threads,
        push_batch=args.push_batch,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    total = args.recipients or bulk_send.default_recipients(args.smoke)
    idle_seconds = args.idle_seconds if args.idle_seconds is not None else (2.0 if args.smoke else 10.0)
    station_records = args.station_records or (5_000 if args.smoke else STATION_RECORDS)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    layout = layout_of(args)
    harness.prepare_database()
    harness.setup_django(broker=layout.broker_url)
    bulk_send.purge_broker()
    workdir = harness.OUTPUT_DIR / "mixed_load"
    (workdir / "idle").mkdir(parents=True, exist_ok=True)
    load = StatisticsLoad(
        stations=args.stations,
        connections=args.connections,
        deadline_s=bulk_send.deadline_for(total),
        idle_seconds=idle_seconds,
        workdir=workdir,
        read_web=args.read_web,
        broker_url=layout.broker_url,
    )
    calls = bulk_send.default_calls(total) if not args.smoke else 2
    blast = bulk_send.project_run(
        total,
        calls,
        layout,
        report_delay_ms=None,
        logs="mixed_load",
        companion=load,
        after_seed=lambda: seed_stations(args.stations, station_records),
    )
    during = summarise(load.runs)
    idle = summarise(load.idle_runs) if load.idle_runs else None
    result = {
        "configuration": {
            **layout.describe(),
            "connections_per_endpoint": args.connections,
            "read_web_processes": args.read_web,
        },
        "push_batch": layout.push_batch,
        "shortcuts": bulk_send.shortcuts(layout),
        "stations": args.stations,
        "station_records": station_records,
        "blast": blast,
        "during_blast": during,
        "idle": idle,
        "idle_seconds": idle_seconds,
        "goals": goals_of(during),
    }
    harness.record(f"mixed_load{results_suffix(args, layout, total)}", result, smoke=args.smoke)
    print_result(result)
    if not blast["complete"]:
        print("records of the blast were not all final: see var/bench/*.log", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

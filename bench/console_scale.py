"""The console part of benchmark 3 (``bench.statistics_scale``): 100 tenants' records beside the
stations', the traffic rollup over all of them, then p50 and p95 of every ``/dashboard/api/``
endpoint (30 and 90 China-time days, without and with a filter) and of the console's pages,
signed in as staff over HTTP. The issue's bar: every p95 under 300 ms.

Tenant records: ``tenant_records`` over the ``days`` before now, in one batch per tenant and day;
tenants' template types 1 / 2 / 3 (verify, notice, marketing) in turn; providers gateway 60 %,
tencent 30 %, sjroom 10 %; regions +86 95 %, +1 3 %, +44 2 %; delivered 90 %, failed 6 % (four
codes), unknown 1 %, submitted 3 %.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import requests

from bench.statistics_scale import (
    DAY_US,
    RECORD_INSERT,
    SIGNATURE,
    Clock,
    bulk_execute,
    insert_rows,
    quantile_ms,
)

TENANTS = 100
TENANT_PREFIX = "bench-tn"
STAFF_USERNAME = "bench-operator"
STAFF_PASSWORD = "bench-operator-password"  # a throwaway staff user of the bench database
P95_GOAL_MS = 300.0
WARMUP = 3
ENDPOINTS = ("summary", "series", "failures", "latency", "health", "money", "balances", "top")
TRAFFIC_TABLES = (
    "tbl_sms_traffic_hour",
    "tbl_sms_traffic_hour_total",
    "tbl_sms_traffic_day_total",
    "tbl_sms_traffic_owner_day",
    "tbl_sms_traffic_watermark",
)
CODES = ("UNDELIV", "MK:0001", "EXPIRED", "BLACKLIST")


def tenant_name(index: int) -> str:
    return f"{TENANT_PREFIX}{index + 1:03d}"


def tenant_record_statements(
    *, batches: list[tuple[int, int]], records: int, start_us: int, span_us: int, rng: random.Random
) -> Iterator[str]:
    """Multi-row INSERTs of tenant records; ``batches`` are (batch id, local day index from the
    start) in day order, and each record goes to a batch of its day."""
    text = Clock().text
    rand, randrange = rng.random, rng.randrange
    per_day: dict[int, list[int]] = {}
    for batch_id, day in batches:
        per_day.setdefault(day, []).append(batch_id)
    step = span_us / records
    rows: list[str] = []
    for i in range(records):
        created = start_us + int((i + rand()) * step)
        day_batches = per_day[min(int((created - start_us) // DAY_US), max(per_day))]
        batch_id = day_batches[randrange(len(day_batches))]
        u = rand()
        provider = "gateway" if u < 0.6 else "tencent" if u < 0.9 else "sjroom"
        r = rand()
        digits = f"{randrange(100_000_000):08d}"
        phone = f"+86139{digits}" if r < 0.95 else f"+1202{digits[:7]}" if r < 0.98 else f"+447{digits[:9]}"
        v = rand()
        ctext, qtext, stext = text(created), text(created + 20_000), text(created + 400_000)
        if v < 0.90:
            state, status, code = "delivered", 1, ""
            finished = text(created + 400_000 + randrange(1_000_000, 20_000_000))
        elif v < 0.96:
            state, status, code = "failed", 2, CODES[randrange(len(CODES))]
            finished = text(created + 400_000 + randrange(1_000_000, 60_000_000))
        else:
            state, status, code, finished = ("unknown" if v < 0.97 else "submitted"), 0, "", ""
        final = f"'{finished}','{finished}'" if finished else f"NULL,'{stext}'"
        rows.append(
            f"(NULL,{batch_id},NULL,NULL,'{phone}','{phone}',NULL,'{{}}','{SIGNATURE}x',1,"
            f"'{state}',{status},'{code}','{provider}','t-{i:010d}','{code}','',1,0,"
            f"'{ctext}','{qtext}','{stext}',{final})"
        )
        if len(rows) == 5_000:
            yield RECORD_INSERT + ",".join(rows)
            rows = []
    if rows:
        yield RECORD_INSERT + ",".join(rows)


def load_tenants(*, records: int, days: int, now_us: int, rng: random.Random) -> dict[str, Any]:
    """100 tenants (accounts with balances and prices), one batch per tenant and day, and their
    records."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from sms.models import MessageBatch, TenantAccount

    user_model = get_user_model()
    user_model.objects.filter(username__startswith=TENANT_PREFIX).delete()
    users = user_model.objects.bulk_create(
        [user_model(username=tenant_name(index), password="!") for index in range(TENANTS)]
    )
    users = list(user_model.objects.filter(username__startswith=TENANT_PREFIX).order_by("username"))
    TenantAccount.objects.bulk_create(
        [
            TenantAccount(
                user=user, balance_nums=rng.randrange(0, 200_000), price_fen_per_part=None if index % 3 else 6
            )
            for index, user in enumerate(users)
        ]
    )
    accounts = list(
        TenantAccount.objects.filter(user__in=users).order_by("user__username").values_list("pk", flat=True)
    )
    span_us = days * DAY_US
    start_us = now_us - span_us
    clock = Clock()
    batch_rows = []
    for day in range(days):
        created = clock.text(start_us + day * DAY_US)
        for index, account in enumerate(accounts):
            batch_rows.append(
                (
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)).replace("-", ""),
                    account,
                    1,
                    1,
                    "x",
                    0,
                    index % 3 + 1,
                    created,
                )
            )
    insert_rows(
        "tbl_sms_message_batch",
        ("uuid", "tenant_id", "sign_id", "temp_id", "content", "total", "template_type", "created_at"),
        batch_rows,
    )
    batches = []
    first_us = start_us
    for pk, created in (
        MessageBatch.objects.filter(tenant_id__in=accounts).values_list("pk", "created_at").order_by("pk")
    ):
        day = int((created.timestamp() * 1_000_000 - first_us) // DAY_US)
        batches.append((pk, max(0, min(day, days - 1))))
    loaded, seconds = bulk_execute(
        tenant_record_statements(
            batches=batches, records=records, start_us=start_us, span_us=span_us, rng=rng
        ),
        rows_total=records,
        label="tenant records",
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE tbl_sms_send_record")
        cursor.fetchall()
    return {
        "tenants": TENANTS,
        "tenant_batches": len(batches),
        "tenant_records": loaded,
        "seconds": round(seconds, 1),
    }


# Tencent says what it billed (its Fee) for each record it accepted; one in 200 it billed a part
# more than we reserved, and the ledger booked the difference (a reconcile entry of -1).
BILLED_MORE_EVERY = 200


def seed_provider_bills() -> dict[str, Any]:
    """What the reconciliation page reads beside the records: Tencent's bill for each of its
    final records (``billed_parts``), one in ``BILLED_MORE_EVERY`` a part more than reserved, and
    those differences' reconcile ledger entries. Kept when already there (``--reuse``)."""
    from django.db import connection

    from sms.models import BalanceLedger, LedgerReason, SendRecord

    if BalanceLedger.objects.filter(reason=LedgerReason.RECONCILE).exists():
        return {"reused": True}
    started = time.perf_counter()
    final = "provider = 'tencent' AND state IN ('delivered', 'failed')"
    delta = "CAST(segments AS SIGNED) - CAST(billed_parts AS SIGNED)"  # unsigned columns
    # The records read once in id order, each joined to its account: left to itself the optimizer
    # walked the (provider, ...) index and looked up every Tencent row (over 7 minutes).
    with connection.cursor() as cursor:
        if not SendRecord.objects.filter(billed_parts__isnull=False).exists():
            cursor.execute(
                "UPDATE tbl_sms_send_record"
                f" SET billed_parts = segments + (id % {BILLED_MORE_EVERY} = 7) WHERE {final}"
            )
        cursor.execute(
            "INSERT INTO tbl_sms_balance_ledger"
            " (station_id, tenant_id, delta, balance_after, reason, ref, created_at)"
            f" SELECT STRAIGHT_JOIN s.id, NULL, {delta}, 0, 'reconcile', r.id, r.finished_at"
            " FROM tbl_sms_send_record r FORCE INDEX (PRIMARY)"
            " JOIN tbl_sms_statistics s ON s.station_id = r.station_id"
            f" WHERE {final} AND billed_parts <> segments"
        )
        cursor.execute(
            "INSERT INTO tbl_sms_balance_ledger"
            " (station_id, tenant_id, delta, balance_after, reason, ref, created_at)"
            f" SELECT STRAIGHT_JOIN NULL, b.tenant_id, {delta}, 0, 'reconcile', r.id, r.finished_at"
            " FROM tbl_sms_send_record r FORCE INDEX (PRIMARY)"
            " JOIN tbl_sms_message_batch b ON b.id = r.batch_id"
            f" WHERE {final} AND billed_parts <> segments"
        )
        cursor.execute("SELECT COUNT(*) FROM tbl_sms_balance_ledger WHERE reason = 'reconcile'")
        (differences,) = cursor.fetchone()
        cursor.execute("ANALYZE TABLE tbl_sms_send_record")
        cursor.fetchall()
    return {"billed_more": differences, "seconds": round(time.perf_counter() - started, 1)}


def roll_up(*, reuse: bool = False) -> dict[str, Any]:
    """The first rollup over everything loaded (no watermark: every hour from the oldest record),
    then the next run (the beat's minute: nothing changed). ``reuse``: keep the traffic rows of a
    previous run when there are any, and time the next run only."""
    from django.db import connection

    from bench import harness
    from sms.accounting import traffic
    from sms.models import TrafficDayTotal, TrafficHour, TrafficHourTotal, TrafficOwnerDay

    figures: dict[str, Any] = {}
    if reuse and TrafficHour.objects.exists():
        figures["reused"] = True
    else:
        harness.truncate(*TRAFFIC_TABLES)
        started = time.perf_counter()
        report = traffic.roll_up()
        figures.update(hours=report.hours, seconds=round(time.perf_counter() - started, 1))
    started = time.perf_counter()
    again = traffic.roll_up()
    rerun = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table in TRAFFIC_TABLES[:4]:
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
    return {
        **figures,
        "traffic_hour_rows": TrafficHour.objects.count(),
        "traffic_hour_total_rows": TrafficHourTotal.objects.count(),
        "traffic_day_total_rows": TrafficDayTotal.objects.count(),
        "traffic_owner_day_rows": TrafficOwnerDay.objects.count(),
        "next_run_hours": again.hours,
        "next_run_seconds": round(rerun, 2),
    }


def staff_session(url: str) -> requests.Session:
    """A requests session signed in to the admin as a staff user."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user_model.objects.filter(username=STAFF_USERNAME).delete()
    user_model.objects.create_user(username=STAFF_USERNAME, password=STAFF_PASSWORD, is_staff=True)
    session = requests.Session()
    session.get(f"{url}/admin/login/", timeout=30)
    response = session.post(
        f"{url}/admin/login/",
        data={
            "username": STAFF_USERNAME,
            "password": STAFF_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{url}/admin/login/"},
        timeout=30,
    )
    if "sessionid" not in session.cookies:
        raise SystemExit(f"could not sign in as staff: HTTP {response.status_code}")
    return session


def shapes(*, stations: int, today: Any) -> list[tuple[str, str, Any]]:
    """(name, path, params(i)) of every measured request shape."""
    import datetime as dt

    rng = random.Random(7)
    station_ids = [f"T{rng.randrange(stations) + 1:04d}" for _ in range(50)]
    tenant_ids = [tenant_name(rng.randrange(TENANTS)) for _ in range(50)]
    result = []
    for days in (30, 90):
        window = {"from": (today - dt.timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
        for endpoint in ENDPOINTS:
            result.append((f"{endpoint} ({days} days)", f"/dashboard/api/{endpoint}", lambda i, w=window: w))
            result.append(
                (
                    f"{endpoint} ({days} days, station=)",
                    f"/dashboard/api/{endpoint}",
                    lambda i, w=window: {**w, "station": station_ids[i % 50]},
                )
            )
            result.append(
                (
                    f"{endpoint} ({days} days, tenant=)",
                    f"/dashboard/api/{endpoint}",
                    lambda i, w=window: {**w, "tenant": tenant_ids[i % 50]},
                )
            )
            result.append(
                (
                    f"{endpoint} ({days} days, provider=gateway&region=+86)",
                    f"/dashboard/api/{endpoint}",
                    lambda i, w=window: {**w, "provider": "gateway", "region": "+86"},
                )
            )
    week = {"from": (today - dt.timedelta(days=6)).isoformat(), "to": today.isoformat(), "grain": "hour"}
    result.append(("series (7 days, hourly)", "/dashboard/api/series", lambda i: week))
    result.append(
        (
            "series (7 days, hourly, tenant=)",
            "/dashboard/api/series",
            lambda i: {**week, "tenant": tenant_ids[i % 50]},
        )
    )
    result.append(("/dashboard page", "/dashboard", lambda i: {}))
    # The console's other pages and the alerts' JSON (issue 32: every page and endpoint).
    yesterday = {"date": (today - dt.timedelta(days=1)).isoformat()}
    result.append(
        ("/dashboard/reconciliation page (yesterday)", "/dashboard/reconciliation", lambda i: yesterday)
    )
    result.append(("/dashboard/alerts page", "/dashboard/alerts", lambda i: {}))
    result.append(("alerts", "/dashboard/api/alerts", lambda i: {}))
    return result


def measure(*, url: str, stations: int, requests_per_shape: int) -> list[dict[str, Any]]:
    from django.utils import timezone

    session = staff_session(url)
    report = []
    for name, path, params in shapes(stations=stations, today=timezone.localdate()):
        for i in range(WARMUP):
            session.get(url + path, params=params(i), timeout=120)
        times, errors = [], 0
        for i in range(requests_per_shape):
            started = time.perf_counter()
            response = session.get(url + path, params=params(i), timeout=120)
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1
                if errors <= 2:
                    print(f"{name}: HTTP {response.status_code} {response.text[:200]}", flush=True)
        row = {
            "endpoint": name,
            "requests": requests_per_shape,
            "p50_ms": quantile_ms(times, 0.50),
            "p95_ms": quantile_ms(times, 0.95),
            "max_ms": round(max(times) * 1000, 2),
            "errors": errors,
        }
        row["goal_met"] = row["p95_ms"] < P95_GOAL_MS and not errors
        print(f"{name}: p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, errors {errors}", flush=True)
        report.append(row)
    return report

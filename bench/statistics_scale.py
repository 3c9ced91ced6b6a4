"""Benchmark 3: statistics at scale. Bulk-loads send records for many stations over many days
(5,000,000 records, 1,000 stations, 90 days by default; a reproducible seed), then measures p50
and p99 of the read endpoints over HTTP (gunicorn, one client, sequential requests) and checks
with ``EXPLAIN`` that none of their queries scans the whole send-record table.

    .venv/bin/python -m bench.statistics_scale            # the full run (loading takes minutes)
    .venv/bin/python -m bench.statistics_scale --smoke    # 20,000 records, for the test suite
    .venv/bin/python -m bench.statistics_scale --reuse    # measure again without reloading

Endpoints (31-day ranges ending today, Asia/Shanghai; a different station per request):

- ``GET /sms/data_center/get``
- ``GET /sms/statistics_detail/get``, first page and with ``q`` (a station name)
- ``GET /sms/send_record/get``, first page and tenth page (walking ``pagination.page_obj``), each
  also with ``search_text``: on the first page a selective search (the last four digits of one of
  the station's numbers: the whole range is read to fill a page), on the tenth page a broad one
  (``88``: about one record in twelve matches, so ten pages exist)
- ``GET /v1/message?uuid=`` for a 10,000-mobile batch (HTTP Basic as the batch's tenant, the
  default ``page_size`` of 1000), and ``GET /v1/balance`` beside it as the cost of HTTP Basic
  alone (informational: not one of the goals)

Goals: every p50 under 20 ms, every p99 under 50 ms, no full scan of ``tbl_sms_send_record`` in
any ``EXPLAIN`` (type ``ALL``, or ``index``: every entry of one of its indexes). Benchmarks print
figures; they never fail on a time.

Each endpoint also reports ``selector_warm_p50_ms``: what its selector takes in this process, the
same query repeated (so its pages are cached). Far below the HTTP p50, the difference is the
request itself (HTTP Basic's password hash) or pages read from disk by a cold query.

Loading: multi-row INSERTs of 5,000 rows on a connection of its own, 50,000 rows per transaction,
unique and foreign key checks off, a thread building the next statement while the server runs
the current one. Datetimes are written as Django writes them with ``USE_TZ`` on MySQL: naive UTC.
The daily statistics are counted while the records are generated (per Asia/Shanghai day) and
checked against the records for three stations afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import queue
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from bench import harness

SEED = 20261123
WINDOW_DAYS = 31
ROWS_PER_STATEMENT = 5_000
STATEMENTS_PER_TRANSACTION = 10  # 50,000 rows
BATCH_MOBILES = 10_000
WARMUP = 5
P50_GOAL_MS = 20.0
P99_GOAL_MS = 50.0
BROAD_SEARCH = "88"
TENANT_USERNAME = "bench-tenant"
TENANT_PASSWORD = "bench-tenant-password"  # a throwaway user of the bench database

TABLES = (
    "tbl_sms_send_record",
    "tbl_sms_message_batch",
    "tbl_sms_balance_ledger",
    "tbl_sms_recharge_record",
    "tbl_sms_tenant_account",
    "tbl_sms_statistics",
    "tbl_sms_daily_statistics",
    "tbl_sms_traffic_hour",
    "tbl_sms_traffic_hour_total",
    "tbl_sms_traffic_day_total",
    "tbl_sms_traffic_owner_day",
    "tbl_sms_traffic_watermark",
)
RECORD_COLUMNS = (
    "station_id",
    "batch_id",
    "restaurant_id",
    "receive_name",
    "receive_phone",
    "phone_e164",
    "business_type",
    "sms_content",
    "content",
    "segments",
    "state",
    "status",
    "remark",
    "provider",
    "provider_message_id",
    "provider_code",
    "dispatch_id",
    "attempts",
    "refunded",
    "created_at",
    "queued_at",
    "submitted_at",
    "finished_at",
    "updated_at",
)
RECORD_INSERT = f"INSERT INTO tbl_sms_send_record ({', '.join(RECORD_COLUMNS)}) VALUES "
MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 170 176 177 178 180 181 182 183 185 186 187 188 189 191 198 199"
).split()
# Literals only from these fixed sets and digits go into the SQL: no quoting needed.
NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴霞", "徐鹏", "孙丽")
SIGNATURE = "【去采购报价单】"

DAY_US = 86_400_000_000
LOCAL_OFFSET_US = 8 * 3_600_000_000  # Asia/Shanghai: UTC+8, no daylight saving time
EPOCH = dt.date(1970, 1, 1)


def station_code(index: int) -> str:
    return f"T{index + 1:04d}"


class Clock:
    """Formats epoch microseconds as the naive UTC ``DATETIME(6)`` text Django stores with
    ``USE_TZ`` on MySQL, fast enough for millions of rows."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def day(self, index: int) -> str:
        text = self._days.get(index)
        if text is None:
            text = self._days[index] = (EPOCH + dt.timedelta(days=index)).isoformat()
        return text

    def text(self, us: int) -> str:
        day, rest = divmod(us, DAY_US)
        seconds, micro = divmod(rest, 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{self.day(day)} {hours:02d}:{minutes:02d}:{seconds:02d}.{micro:06d}"


@dataclass
class Daily:
    """Per (station index, local day index): [total, delivered, failed]."""

    counts: dict[tuple[int, int], list[int]] = field(default_factory=dict)


def record_statements(
    *, records: int, stations: int, start_us: int, span_us: int, rng: random.Random, daily: Daily
) -> Iterator[str]:
    """Multi-row INSERTs of station send records in ``created_at`` (and so id) order.

    Business type 0 / 1 / 2 at 45 / 45 / 10 %; delivered 93 %, failed 5 %, submitted 2 %.
    """
    clock = Clock()
    text = clock.text
    rand, randrange = rng.random, rng.randrange
    prefixes, names, counts = MOBILE_PREFIXES, NAMES, daily.counts
    n_prefixes, n_names = len(prefixes), len(names)
    step = span_us / records
    rows: list[str] = []
    for i in range(records):
        created = start_us + int((i + rand()) * step)
        station = randrange(stations)
        u = rand()
        business_type = 0 if u < 0.45 else 1 if u < 0.9 else 2
        v = rand()
        phone = f"{prefixes[randrange(n_prefixes)]}{randrange(100_000_000):08d}"
        name = f"'{names[randrange(n_names)]}'" if rand() < 0.3 else "NULL"
        if business_type == 2:
            restaurant = "NULL"
            content = f"{SIGNATURE}您的验证码为{randrange(1_000_000):06d}，5分钟内有效。"
        else:
            restaurant = str(randrange(1, 50_000))
            content = f"{SIGNATURE}您的订单GM{i:010d}已发货，请注意查收。"
        key = (station, (created + LOCAL_OFFSET_US) // DAY_US)
        counter = counts.get(key)
        if counter is None:
            counter = counts[key] = [0, 0, 0]
        counter[0] += 1
        created_text = text(created)
        queued_text = text(created + 20_000)
        submitted_text = text(created + 400_000)
        if v < 0.93:
            counter[1] += 1
            finished_text = text(created + 4_000_000)
            tail = f"'delivered',1,'','tencent','bench-{i:010d}','',''"
            final = f"'{finished_text}','{finished_text}'"
        elif v < 0.98:
            counter[2] += 1
            finished_text = text(created + 6_000_000)
            tail = f"'failed',2,'UNDELIV','tencent','bench-{i:010d}','',''"
            final = f"'{finished_text}','{finished_text}'"
        else:
            tail = f"'submitted',0,'','tencent','bench-{i:010d}','',''"
            final = f"NULL,'{submitted_text}'"
        rows.append(
            f"('{station_code(station)}',NULL,{restaurant},{name},'{phone}','+86{phone}',"
            f"{business_type},'{{}}','{content}',1,{tail},1,0,"
            f"'{created_text}','{queued_text}','{submitted_text}',{final})"
        )
        if len(rows) == ROWS_PER_STATEMENT:
            yield RECORD_INSERT + ",".join(rows)
            rows = []
    if rows:
        yield RECORD_INSERT + ",".join(rows)


def batch_statements(*, batch_id: int, now_us: int, rng: random.Random) -> Iterator[str]:
    """The tenant batch's 10,000 records (no station), sent within the last hour: delivered 80 %,
    failed 5 %, submitted 10 %, queued 5 %."""
    text = Clock().text
    rows = []
    start = now_us - 3_600_000_000
    for i in range(BATCH_MOBILES):
        created = start + i * 1000
        phone = f"{MOBILE_PREFIXES[rng.randrange(len(MOBILE_PREFIXES))]}{rng.randrange(100_000_000):08d}"
        v = rng.random()
        ctext, qtext, stext = text(created), text(created + 20_000), text(created + 400_000)
        if v < 0.8:
            tail = f"'delivered',1,'','tencent','batch-{i:06d}','','',1,0,'{ctext}','{qtext}','{stext}'"
            tail += f",'{text(created + 4_000_000)}','{text(created + 4_000_000)}'"
        elif v < 0.85:
            tail = f"'failed',2,'UNDELIV','tencent','batch-{i:06d}','','',1,0,'{ctext}','{qtext}','{stext}'"
            tail += f",'{text(created + 6_000_000)}','{text(created + 6_000_000)}'"
        elif v < 0.95:
            tail = f"'submitted',0,'','tencent','batch-{i:06d}','','',1,0,'{ctext}','{qtext}','{stext}'"
            tail += f",NULL,'{stext}'"
        else:
            tail = f"'queued',0,'','',NULL,'','',0,0,'{ctext}','{qtext}',NULL,NULL,'{qtext}'"
        rows.append(
            f"(NULL,{batch_id},NULL,NULL,'{phone}','+86{phone}',NULL,'{{}}',"
            f"'{SIGNATURE}您的验证码为123456，5分钟内有效。',1,{tail})"
        )
        if len(rows) == ROWS_PER_STATEMENT:
            yield RECORD_INSERT + ",".join(rows)
            rows = []
    if rows:
        yield RECORD_INSERT + ",".join(rows)


def bulk_execute(statements: Iterator[str], *, rows_total: int, label: str) -> tuple[int, float]:
    """Runs the statements on a connection of its own (unique and foreign key checks off), in
    transactions of ``STATEMENTS_PER_TRANSACTION``; a thread builds the next statements while the
    server runs the current one. Prints rows/s as it goes. Returns (rows, seconds)."""
    import MySQLdb
    from django.db import connection

    pending: queue.Queue[Any] = queue.Queue(maxsize=4)
    done = object()

    def produce() -> None:
        try:
            for statement in statements:
                pending.put(statement)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            pending.put(exc)
        else:
            pending.put(done)

    raw = MySQLdb.connect(**connection.get_connection_params())
    cursor = raw.cursor()
    cursor.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    raw.autocommit(False)
    producer = threading.Thread(target=produce, daemon=True)
    started = time.perf_counter()
    producer.start()
    loaded = statements_run = 0
    report_every = max(rows_total // 20, ROWS_PER_STATEMENT)
    next_report = report_every
    try:
        while True:
            item = pending.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            loaded += cursor.execute(item)
            statements_run += 1
            if statements_run % STATEMENTS_PER_TRANSACTION == 0:
                raw.commit()
            if loaded >= next_report:
                elapsed = time.perf_counter() - started
                rate = loaded / elapsed
                print(
                    f"{label}: {loaded:,}/{rows_total:,} rows, {elapsed:.0f} s, {rate:,.0f} rows/s",
                    flush=True,
                )
                next_report += report_every
        raw.commit()
    finally:
        cursor.close()
        raw.close()
        producer.join(timeout=5)
    return loaded, time.perf_counter() - started


def insert_rows(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    from django.db import connection, transaction

    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            cursor.executemany(sql, rows[start : start + ROWS_PER_STATEMENT])


def check_daily(station_indexes: list[int]) -> None:
    """The daily aggregate matches the records (recounted from the records for a few stations)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for index in station_indexes:
            code = station_code(index)
            cursor.execute(
                "SELECT DATE(CONVERT_TZ(created_at, '+00:00', '+08:00')) AS d, COUNT(*), "
                "SUM(status = 1), SUM(status = 2) FROM tbl_sms_send_record WHERE station_id = %s "
                "GROUP BY d ORDER BY d",
                [code],
            )
            from_records = [(d, int(t), int(s), int(f)) for d, t, s, f in cursor.fetchall()]
            cursor.execute(
                "SELECT send_date, total_send_nums, success_send_nums, send_failed_nums "
                "FROM tbl_sms_daily_statistics WHERE station_id = %s ORDER BY send_date",
                [code],
            )
            from_daily = [tuple(row) for row in cursor.fetchall()]
            if from_records != from_daily:
                raise SystemExit(f"daily statistics of {code} do not match its records")


@dataclass
class StationLoad:
    """What ``load_stations`` wrote."""

    records: int
    seconds: float
    daily_rows: int
    started_other_tables: float  # perf_counter when the records were done


def load_stations(*, records: int, stations: int, days: int, rng: random.Random, now_us: int) -> StationLoad:
    """Loads the stations' send records (over the ``days`` before ``now_us``), their daily
    statistics and the stations (``tbl_sms_statistics``), into tables the caller has emptied.
    ``bench.mixed_load`` seeds a few stations with it."""
    span_us = days * DAY_US
    daily = Daily()

    rows, seconds = bulk_execute(
        record_statements(
            records=records,
            stations=stations,
            start_us=now_us - span_us,
            span_us=span_us,
            rng=rng,
            daily=daily,
        ),
        rows_total=records,
        label="send records",
    )

    started = time.perf_counter()
    clock = Clock()
    daily_rows = [
        (station_code(station), clock.day(day), total, success, failed)
        for (station, day), (total, success, failed) in sorted(daily.counts.items())
    ]
    insert_rows(
        "tbl_sms_daily_statistics",
        ("station_id", "send_date", "total_send_nums", "success_send_nums", "send_failed_nums"),
        daily_rows,
    )
    sent: dict[int, int] = {}
    for (station, _day), (total, _s, _f) in daily.counts.items():
        sent[station] = sent.get(station, 0) + total
    now_text = clock.text(now_us)
    station_rows = []
    for index in range(stations):
        balance = rng.randrange(0, 100_000)
        recharged = balance + sent.get(index, 0)
        station_rows.append(
            (
                station_code(index),
                f"站点{index + 1}",
                balance,
                recharged,
                f"{recharged / 10:.2f}",
                now_text,
                now_text,
            )
        )
    insert_rows(
        "tbl_sms_statistics",
        (
            "station_id",
            "station_name",
            "balance_nums",
            "total_recharge_nums",
            "total_recharge_money",
            "created_at",
            "updated_at",
        ),
        station_rows,
    )
    return StationLoad(
        records=rows, seconds=seconds, daily_rows=len(daily_rows), started_other_tables=started
    )


def load(*, records: int, stations: int, days: int, tenant_records: int) -> dict[str, Any]:
    """Empties the tables and loads stations, records, daily statistics, the tenant batch and
    the console's 100 tenants with ``tenant_records`` records (``bench.console_scale``)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench import console_scale
    from sms.models import MessageBatch, TenantAccount

    harness.truncate(*TABLES)
    get_user_model().objects.filter(username=TENANT_USERNAME).delete()
    rng = random.Random(SEED)
    now_us = int(time.time() * 1_000_000)
    loaded = load_stations(records=records, stations=stations, days=days, rng=rng, now_us=now_us)

    user = get_user_model().objects.create_user(username=TENANT_USERNAME, password=TENANT_PASSWORD)
    account = TenantAccount.objects.create(user=user, balance_nums=1_000_000)
    batch = MessageBatch.objects.create(
        uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
        tenant=account,
        sign_id=1,
        temp_id=1,
        content=f"{SIGNATURE}您的验证码为123456，5分钟内有效。",
        total=BATCH_MOBILES,
    )
    bulk_execute(
        batch_statements(batch_id=batch.pk, now_us=now_us, rng=rng),
        rows_total=BATCH_MOBILES,
        label="batch records",
    )
    tenants = console_scale.load_tenants(records=tenant_records, days=days, now_us=now_us, rng=rng)
    with connection.cursor() as cursor:
        for table in ("tbl_sms_send_record", "tbl_sms_statistics", "tbl_sms_daily_statistics"):
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
    check_daily(sorted({0, stations // 2, stations - 1}))
    return {
        "records": loaded.records,
        "seconds": round(loaded.seconds, 1),
        "rows_per_s": round(loaded.records / loaded.seconds) if loaded.seconds else 0,
        "daily_statistics_rows": loaded.daily_rows,
        "stations": stations,
        "batch_records": BATCH_MOBILES,
        "console_tenants": tenants,
        "other_tables_seconds": round(time.perf_counter() - loaded.started_other_tables, 1),
    }


def loaded_already(*, records: int, stations: int, days: int, tenant_records: int) -> bool:
    from bench.console_scale import TENANTS
    from sms.models import MessageBatch, SendRecord, Station

    return (
        Station.objects.count() == stations
        and MessageBatch.objects.count() == 1 + TENANTS * days
        and SendRecord.objects.count() == records + BATCH_MOBILES + tenant_records
    )


# --- Measuring -----------------------------------------------------------------------------------


@dataclass
class Endpoint:
    """One measured request shape: ``request(i)`` gives the path, query and auth of request i;
    ``selector()`` runs in-process what the view runs (for EXPLAIN and the selector's own time)."""

    name: str
    request: Callable[[int], tuple[str, dict[str, Any], Any]]
    selector: Callable[[], Any]
    platform: bool = False
    informational: bool = False
    notes: dict[str, Any] = field(default_factory=dict)


def quantile_ms(times: list[float], q: float) -> float:
    ordered = sorted(times)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return round(ordered[index] * 1000, 2)


def answer_ok(response: requests.Response, *, platform: bool) -> bool:
    if response.status_code != 200:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return "error" not in body if platform else body.get("code") == 0


def time_requests(session: requests.Session, url: str, endpoint: Endpoint, count: int) -> dict[str, Any]:
    for i in range(WARMUP):
        path, params, auth = endpoint.request(i)
        session.get(url + path, params=params, auth=auth, timeout=60)
    times, errors = [], 0
    for i in range(count):
        path, params, auth = endpoint.request(i)
        started = time.perf_counter()
        response = session.get(url + path, params=params, auth=auth, timeout=60)
        times.append(time.perf_counter() - started)
        if not answer_ok(response, platform=endpoint.platform):
            errors += 1
            if errors <= 3:
                print(f"{endpoint.name}: HTTP {response.status_code} {response.text[:300]}", flush=True)
    return {
        "requests": count,
        "p50_ms": quantile_ms(times, 0.50),
        "p99_ms": quantile_ms(times, 0.99),
        "max_ms": round(max(times) * 1000, 2),
        "errors": errors,
    }


FULL_SCAN_TYPES = ("ALL", "index")


def explain(selector: Callable[[], Any]) -> tuple[list[dict[str, Any]], bool]:
    """EXPLAIN every SELECT the selector runs (the SQL as sent to the server, parameters
    interpolated by the driver). A full scan: ``tbl_sms_send_record`` read with type ``ALL``
    (the table) or ``index`` (a whole index)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        selector()
    rows, full_scan = [], False
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN " + sql)
            names = [column[0] for column in cursor.description]
            for values in cursor.fetchall():
                row = dict(zip(names, values, strict=True))
                compact = {key: row.get(key) for key in ("table", "type", "key", "rows", "Extra")}
                rows.append(compact)
                if row.get("table") == "tbl_sms_send_record" and row.get("type") in FULL_SCAN_TYPES:
                    full_scan = True
    return rows, full_scan


def selector_p50_ms(selector: Callable[[], Any], count: int) -> float:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        selector()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def build_endpoints(
    *, session: requests.Session, url: str, stations: int, requests_per_endpoint: int
) -> list[Endpoint]:
    """The measured endpoints, each request on a different station (seeded choice)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from gm_server_notify.api.paging import PageRequest
    from sms.core.days import local_day_bounds
    from sms.models import MessageBatch, SendRecord
    from sms.station_api import selectors
    from sms.station_api.selectors import DEFAULT_RECORD_STATUSES, DEFAULT_RECORD_TYPES
    from sms.tenant_api import selectors as tenant_selectors

    rng = random.Random(SEED + 1)
    targets = [
        station_code(index) for index in rng.sample(range(stations), min(stations, requests_per_endpoint))
    ]
    target = targets.__getitem__

    def pick(i: int) -> str:
        return target(i % len(targets))

    end = timezone.localdate()
    start = end - dt.timedelta(days=WINDOW_DAYS - 1)
    window = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    lower, _upper = local_day_bounds(start, end)

    # A selective search per station: the last four digits of one of its listed numbers.
    searches = {}
    for code in targets:
        phone = (
            SendRecord.objects.filter(
                station_id=code,
                created_at__gte=lower,
                business_type__in=DEFAULT_RECORD_TYPES,
                status__in=DEFAULT_RECORD_STATUSES,
            )
            .order_by("-created_at", "-id")
            .values_list("receive_phone", flat=True)
            .first()
        )
        searches[code] = (phone or "0000")[-4:]

    def tenth_page_cursors(search_text: str) -> tuple[dict[str, tuple[str, int]], list[int]]:
        """Walks nine pages of each target station over HTTP (untimed): the cursor of its tenth
        page, or of the last page when it has fewer."""
        cursors, reached = {}, []
        for code in targets:
            page_obj, page = "", 1
            while page < 10:
                params = {"station_id": code, **window, "search_text": search_text}
                if page_obj:
                    params["page_obj"] = page_obj
                body = session.get(f"{url}/sms/send_record/get", params=params, timeout=60).json()
                if body.get("code") != 0 or not body["pagination"]["more"]:
                    break
                page_obj, page = body["pagination"]["page_obj"], page + 1
            cursors[code] = (page_obj, page)
            reached.append(page)
        return cursors, reached

    plain_cursors, plain_reached = tenth_page_cursors("")
    broad_cursors, broad_reached = tenth_page_cursors(BROAD_SEARCH)

    def one_page(code: str, search_text: str, page: PageRequest) -> Any:
        return selectors.send_records_page(
            station_id=code,
            start_date=start,
            end_date=end,
            search_text=search_text,
            business_type=None,
            status=None,
            page=page,
        )

    def tenth_page_selector(code: str, search_text: str) -> Callable[[], Any]:
        """The tenth page's own query (or the last page's when there are fewer): the cursor is
        fetched once here, outside what is explained and timed."""
        page = PageRequest()
        for _ in range(9):
            result = one_page(code, search_text, page)
            if not result.more:
                break
            page = PageRequest(page_obj=result.page_obj)
        return lambda: one_page(code, search_text, page)

    batch = MessageBatch.objects.select_related("tenant__user").get(tenant__user__username=TENANT_USERNAME)
    tenant = get_user_model().objects.get(username=TENANT_USERNAME)
    basic = (TENANT_USERNAME, TENANT_PASSWORD)
    first = targets[0]
    name_rng = random.Random(SEED + 2)
    names = [f"站点{name_rng.randrange(stations) + 1}" for _ in range(len(targets))]

    def send_record(search: Callable[[str], str], cursors: dict[str, tuple[str, int]] | None) -> Callable:
        def request(i: int) -> tuple[str, dict[str, Any], Any]:
            code = pick(i)
            params = {"station_id": code, **window}
            text = search(code)
            if text:
                params["search_text"] = text
            if cursors is not None and cursors[code][0]:
                params["page_obj"] = cursors[code][0]
            return "/sms/send_record/get", params, None

        return request

    return [
        Endpoint(
            "GET /sms/data_center/get (31 days)",
            lambda i: ("/sms/data_center/get", {"station_id": pick(i), **window}, None),
            lambda: selectors.daily_send_statistics(station_id=first, start_date=start, end_date=end),
        ),
        Endpoint(
            "GET /sms/statistics_detail/get (first page)",
            lambda i: ("/sms/statistics_detail/get", {}, None),
            lambda: selectors.station_statistics_page(station_ids=[], q="", page=PageRequest()),
        ),
        Endpoint(
            "GET /sms/statistics_detail/get (q=station name)",
            lambda i: ("/sms/statistics_detail/get", {"q": names[i % len(names)]}, None),
            lambda: selectors.station_statistics_page(station_ids=[], q=names[0], page=PageRequest()),
        ),
        Endpoint(
            "GET /sms/send_record/get (first page)",
            send_record(lambda code: "", None),
            lambda: one_page(first, "", PageRequest()),
        ),
        Endpoint(
            "GET /sms/send_record/get (first page, search_text=4 digits)",
            send_record(searches.__getitem__, None),
            lambda: one_page(first, searches[first], PageRequest()),
            notes={"search_text": "last four digits of one of the station's numbers"},
        ),
        Endpoint(
            "GET /sms/send_record/get (tenth page)",
            send_record(lambda code: "", plain_cursors),
            tenth_page_selector(first, ""),
            notes={"page_reached_min": min(plain_reached), "page_reached_max": max(plain_reached)},
        ),
        Endpoint(
            f"GET /sms/send_record/get (tenth page, search_text={BROAD_SEARCH})",
            send_record(lambda code: BROAD_SEARCH, broad_cursors),
            tenth_page_selector(first, BROAD_SEARCH),
            notes={"page_reached_min": min(broad_reached), "page_reached_max": max(broad_reached)},
        ),
        Endpoint(
            "GET /v1/message?uuid= (10,000-mobile batch)",
            lambda i: ("/v1/message", {"uuid": str(batch.uuid)}, basic),
            lambda: tenant_selectors.message_batch_progress(
                owner=tenant, batch_uuid=batch.uuid, page=1, page_size=1000
            ),
            platform=True,
            notes={"page_size": 1000},
        ),
        Endpoint(
            "GET /v1/balance (HTTP Basic alone, informational)",
            lambda i: ("/v1/balance", {}, basic),
            lambda: tenant_selectors.tenant_balance(user=tenant),
            platform=True,
            informational=True,
        ),
    ]


def measure(
    *, stations: int, requests_per_endpoint: int, console_requests: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The station endpoints' figures, and the console's (``bench.console_scale``)."""
    from bench import console_scale

    results = []
    with harness.running_stack(worker=False, simulator=False) as stack:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {harness.SERVICE_TOKEN}"
        endpoints = build_endpoints(
            session=session, url=stack.url, stations=stations, requests_per_endpoint=requests_per_endpoint
        )
        tenant_session = requests.Session()
        for endpoint in endpoints:
            client = tenant_session if endpoint.platform else session
            timing = time_requests(client, stack.url, endpoint, requests_per_endpoint)
            p50, p99, errors = timing["p50_ms"], timing["p99_ms"], timing["errors"]
            print(f"{endpoint.name}: p50 {p50} ms, p99 {p99} ms, errors {errors}", flush=True)
            results.append((endpoint, timing))
        console = console_scale.measure(url=stack.url, stations=stations, requests_per_shape=console_requests)
    report = []
    for endpoint, timing in results:
        plan, full_scan = explain(endpoint.selector)
        goal_met = timing["p50_ms"] < P50_GOAL_MS and timing["p99_ms"] < P99_GOAL_MS and not full_scan
        report.append(
            {
                "endpoint": endpoint.name,
                **timing,
                "goal_met": goal_met,
                "informational": endpoint.informational,
                "selector_warm_p50_ms": selector_p50_ms(endpoint.selector, min(requests_per_endpoint, 50)),
                "send_record_full_scan": full_scan,
                "explain": plan,
                **endpoint.notes,
            }
        )
    return report, console


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--stations", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument(
        "--tenant-records", type=int, default=500_000, help="the console's 100 tenants' records"
    )
    parser.add_argument(
        "--console-requests", type=int, default=40, help="timed requests per console request shape"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="20,000 records, 20 stations, 10 days, 20 requests"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the data of a previous run with the same sizes, if it is there",
    )
    args = parser.parse_args()
    if args.smoke:
        args.records, args.stations, args.days, args.requests = 20_000, 20, 10, 20
        args.tenant_records, args.console_requests = 2_000, 3

    harness.prepare_database()
    harness.setup_django()
    from bench import console_scale

    sizes = {"records": args.records, "stations": args.stations, "days": args.days}
    if args.reuse and loaded_already(**sizes, tenant_records=args.tenant_records):
        print("reusing the loaded data", flush=True)
        loaded: dict[str, Any] = {"reused": True}
    else:
        loaded = load(**sizes, tenant_records=args.tenant_records)
    bills = console_scale.seed_provider_bills()
    print(f"provider bills: {bills}", flush=True)
    rollup = console_scale.roll_up(reuse="reused" in loaded)
    print(f"traffic rollup: {rollup}", flush=True)
    endpoints, console = measure(
        stations=args.stations, requests_per_endpoint=args.requests, console_requests=args.console_requests
    )
    goals = [row for row in endpoints if not row["informational"]]
    harness.record(
        "statistics_scale",
        {
            "parameters": {
                "records": args.records,
                "stations": args.stations,
                "days": args.days,
                "requests_per_endpoint": args.requests,
                "seed": SEED,
                "window_days": WINDOW_DAYS,
                "tenants": console_scale.TENANTS,
                "tenant_records": args.tenant_records,
                "console_requests_per_shape": args.console_requests,
            },
            "load": loaded,
            "traffic_rollup": rollup,
            "provider_bills": bills,
            "endpoints": endpoints,
            "console": console,
            "goals": {
                "p50_under_20ms": all(row["p50_ms"] < P50_GOAL_MS for row in goals),
                "p99_under_50ms": all(row["p99_ms"] < P99_GOAL_MS for row in goals),
                "no_send_record_full_scan": not any(row["send_record_full_scan"] for row in endpoints),
                "console_p95_under_300ms": all(row["goal_met"] for row in console),
            },
        },
        smoke=args.smoke,
    )
    if "seconds" in loaded:
        rate = loaded["rows_per_s"]
        print(f"\nloaded {loaded['records']:,} send records in {loaded['seconds']} s ({rate:,} rows/s)")
    width = max(len(row["endpoint"]) for row in endpoints)
    print(
        f"\n{'endpoint':<{width}}  {'p50 ms':>8}  {'p99 ms':>8}  {'warm sel':>8}  errors    goal  full scan"
    )
    for row in endpoints:
        goal = "-" if row["informational"] else ("met" if row["goal_met"] else "MISSED")
        print(
            f"{row['endpoint']:<{width}}  {row['p50_ms']:>8}  {row['p99_ms']:>8}  "
            f"{row['selector_warm_p50_ms']:>8}  {row['errors']:>6}  {goal:>6}  "
            f"{'YES' if row['send_record_full_scan'] else 'no'}"
        )
    width = max(len(row["endpoint"]) for row in console)
    print(f"\n{'console (staff session)':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  errors    goal")
    for row in console:
        goal = "met" if row["goal_met"] else "MISSED"
        print(
            f"{row['endpoint']:<{width}}  {row['p50_ms']:>8}  {row['p95_ms']:>8}  "
            f"{row['errors']:>6}  {goal:>6}"
        )


if __name__ == "__main__":
    main()

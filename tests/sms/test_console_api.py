"""The console's JSON at /dashboard/api/* (sms/console/api.py): seeded station and tenant traffic
gives exact totals in every endpoint, filters and grains, China-time day edges, CSV equal to the
JSON, bad parameters answered 400 (never 500), and staff only (403 JSON).

These are staff-session endpoints, outside the OpenAPI schema the fuzzer reads
(tests/fuzz/test_schemathesis.py), hence the hand-written table of bad input below."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers.base import ProviderBalance
from sms.accounting import traffic
from sms.models import (
    FINAL_STATES,
    PendingReport,
    RecordState,
    SendRecord,
    Station,
    TenantAccount,
    TrafficHour,
    WebhookEvent,
)
from tests.support.factories import UserFactory
from tests.support.traffic import at, record, seed

pytestmark = pytest.mark.django_db

ENDPOINTS = ("summary", "series", "failures", "latency", "health", "money", "balances", "top")
BOTH_DAYS = "from=2026-12-01&to=2026-12-02"
ZERO = dict.fromkeys(RecordState.values, 0)


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(username="operator", is_staff=True))
    return client


@pytest.fixture
def seeded(settings):
    settings.SMS_TENANT_DEFAULT_PRICE_FEN = 5.0
    settings.SMS_PROVIDER_PRICES = {"tencent": {"+86": 4, "*": 30}, "gateway": {"+86": 3}}
    batches = seed()
    Station.objects.create(
        station_id="S1", balance_nums=30, total_recharge_nums=200, total_recharge_money=Decimal("10.00")
    )
    TenantAccount.objects.filter(user__username="dcs").update(price_fen_per_part=Decimal("6"))
    traffic.roll_up()
    return batches


def get(client, endpoint: str, query: str = BOTH_DAYS, status: int = 200) -> dict:
    response = client.get(f"/dashboard/api/{endpoint}?{query}")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def states(**counts: int) -> dict[str, int]:
    return {**ZERO, **counts}


def test_summary_shows_station_and_tenant_traffic_per_state(staff, seeded):
    body = get(staff, "summary")
    assert body["channels"] == {
        "station": states(delivered=5, failed=2, queued=1),
        # The complaint: tenant traffic was invisible on the dashboard.
        "tenant": states(delivered=4, failed=1, unknown=1),
    }
    assert (body["from"], body["to"], body["records"], body["parts"]) == ("2026-12-01", "2026-12-02", 14, 16)
    assert (body["delivered"], body["failed"], body["unknown"], body["delivery_rate"]) == (9, 3, 1, 0.75)
    assert body["units"]["parts"]


def test_summary_days_are_china_time_days(staff, seeded):
    # 23:59 on the 1st belongs to the 1st; 00:00 and 00:30 on the 2nd (16:00 UTC on the 1st) to the 2nd.
    first = get(staff, "summary", "from=2026-12-01&to=2026-12-01")["channels"]
    second = get(staff, "summary", "from=2026-12-02&to=2026-12-02")["channels"]
    assert first == {
        "station": states(delivered=5, failed=1, queued=1),
        "tenant": states(delivered=3, failed=1, unknown=1),
    }
    assert second == {"station": states(failed=1), "tenant": states(delivered=1)}


@pytest.mark.parametrize(
    ("query", "station", "tenant"),
    [
        ("tenant=dcs", {}, {"delivered": 3, "failed": 1, "unknown": 1}),
        ("station=S1", {"delivered": 4, "failed": 2, "queued": 1}, {}),
        ("channel=tenant", {}, {"delivered": 4, "failed": 1, "unknown": 1}),
        ("provider=gateway", {}, {"delivered": 3, "failed": 1, "unknown": 1}),
        ("region=%2B1", {"delivered": 1}, {}),
        ("region=US", {"delivered": 1}, {}),
        ("kind=verify", {"failed": 1}, {"delivered": 1}),
        ("kind=verify&station=S1", {"failed": 1}, {}),
    ],
)
def test_summary_filters(staff, seeded, query, station, tenant):
    body = get(staff, "summary", f"{BOTH_DAYS}&{query}")
    assert body["channels"] == {"station": states(**station), "tenant": states(**tenant)}


def test_series_per_day_and_per_china_time_hour(staff, seeded):
    assert get(staff, "series")["points"] == [
        {"at": "2026-12-01", "delivered": 8, "failed": 2, "unknown": 1, "other": 1},
        {"at": "2026-12-02", "delivered": 1, "failed": 1, "unknown": 0, "other": 0},
    ]
    hourly = get(staff, "series", f"{BOTH_DAYS}&grain=hour")
    assert hourly["grain"] == "hour"
    assert len(hourly["points"]) == 48
    busy = {
        point["at"]: point
        for point in hourly["points"]
        if any(point[name] for name in ("delivered", "failed", "unknown", "other"))
    }
    assert busy == {
        "2026-12-01T10:00:00+08:00": {
            "at": "2026-12-01T10:00:00+08:00",
            "delivered": 7,
            "failed": 2,
            "unknown": 1,
            "other": 1,
        },
        "2026-12-01T23:00:00+08:00": {
            "at": "2026-12-01T23:00:00+08:00",
            "delivered": 1,
            "failed": 0,
            "unknown": 0,
            "other": 0,
        },
        "2026-12-02T00:00:00+08:00": {
            "at": "2026-12-02T00:00:00+08:00",
            "delivered": 1,
            "failed": 1,
            "unknown": 0,
            "other": 0,
        },
    }
    # One tenant's hours.
    dcs = get(staff, "series", f"{BOTH_DAYS}&grain=hour&tenant=dcs")["points"]
    assert sum(point["delivered"] for point in dcs) == 3


def test_failures_are_the_top_provider_codes_with_an_example_record_each(staff, seeded):
    e1 = SendRecord.objects.filter(provider_code="E1").order_by("id").first()
    undeliv = SendRecord.objects.get(provider_code="UNDELIV")
    assert get(staff, "failures")["failures"] == [
        {"provider": "tencent", "code": "E1", "count": 2, "example_record_id": e1.pk},
        {"provider": "gateway", "code": "UNDELIV", "count": 1, "example_record_id": undeliv.pk},
    ]
    # The example belongs to the owner asked about.
    assert get(staff, "failures", f"{BOTH_DAYS}&tenant=dcs")["failures"] == [
        {"provider": "gateway", "code": "UNDELIV", "count": 1, "example_record_id": undeliv.pk}
    ]
    assert get(staff, "failures", f"{BOTH_DAYS}&limit=1")["failures"][0]["code"] == "E1"


def test_latency_percentiles_per_provider(staff, seeded):
    assert get(staff, "latency")["providers"] == [
        {"provider": "gateway", "count": 4, "p50_ms": 2000, "p90_ms": 2000, "p99_ms": 2000},
        {"provider": "sjroom", "count": 1, "p50_ms": 2000, "p90_ms": 2000, "p99_ms": 2000},
        # 6 records within 2 s, 1 within 3 s: the 90th and 99th percentiles fall in the 3 s bucket.
        {"provider": "tencent", "count": 7, "p50_ms": 2000, "p90_ms": 3000, "p99_ms": 3000},
    ]


def _latency_from_the_hours(owner: str) -> dict[str, dict[str, int]]:
    """One owner's final records' latency buckets per provider, merged from its hourly rows."""
    merged: dict[str, dict[str, int]] = {}
    for provider, buckets in TrafficHour.objects.filter(owner=owner, state__in=FINAL_STATES).values_list(
        "provider", "latency_buckets"
    ):
        into = merged.setdefault(provider, {})
        for bound, count in buckets.items():
            into[bound] = into.get(bound, 0) + count
    return merged


@pytest.mark.parametrize("owner", ["station=S1", "tenant=dcs", "tenant=ops"])
def test_one_owners_latency_reads_its_owner_day_rows_and_equals_its_hours(staff, seeded, owner):
    with CaptureQueriesContext(connection) as queries:
        body = get(staff, "latency", f"{BOTH_DAYS}&{owner}")
    assert not any("`tbl_sms_traffic_hour`" in query["sql"] for query in queries.captured_queries)
    hours = _latency_from_the_hours(owner.split("=")[1])
    assert body["providers"]
    assert [(item["provider"], item["count"]) for item in body["providers"]] == [
        (provider, sum(buckets.values())) for provider, buckets in sorted(hours.items()) if buckets
    ]
    for item in body["providers"]:
        assert item["p90_ms"] == traffic.latency_percentile(hours[item["provider"]], 0.90)


def test_money_revenue_cost_and_margin_per_provider_and_owner(staff, seeded):
    body = get(staff, "money")
    # S1 pays 5 fen (10.00 CNY for 200), dcs 6 (its account), ops the default 5, S2 nothing yet.
    assert body["totals"] == {
        "charged_parts": 13,
        "provider_parts": 16,
        "revenue_fen": 59.0,
        "cost_fen": 132.0,
        "margin_fen": -73.0,
    }
    owners = {(item["channel"], item["owner"]): item for item in body["owners"]}
    assert owners[("station", "S1")] == {
        "channel": "station",
        "owner": "S1",
        "price_fen_per_part": 5.0,
        "charged_parts": 6,
        "provider_parts": 6,
        "revenue_fen": 30.0,
        "cost_fen": 24.0,
        "margin_fen": 6.0,
    }
    assert (owners[("station", "S2")]["cost_fen"], owners[("station", "S2")]["margin_fen"]) == (90.0, -90.0)
    assert (owners[("tenant", "dcs")]["revenue_fen"], owners[("tenant", "dcs")]["cost_fen"]) == (24.0, 18.0)
    assert owners[("tenant", "ops")]["revenue_fen"] == 5.0
    providers = {item["provider"]: item for item in body["providers"]}
    assert {name: (item["revenue_fen"], item["cost_fen"]) for name, item in providers.items()} == {
        "": (5.0, 0.0),  # S1's queued record: charged, never handed to a provider
        "gateway": (24.0, 18.0),
        "sjroom": (5.0, 0.0),
        "tencent": (25.0, 114.0),
    }
    assert body["unpriced"] == [{"provider": "sjroom", "region": "+86", "provider_parts": 1}]
    assert get(staff, "money", f"{BOTH_DAYS}&tenant=dcs")["totals"]["revenue_fen"] == 24.0


def test_top_owners_by_records(staff, seeded):
    owners = get(staff, "top")["owners"]
    assert [(item["channel"], item["owner"], item["records"]) for item in owners] == [
        ("station", "S1", 7),
        ("tenant", "dcs", 5),
        ("station", "S2", 1),
        ("tenant", "ops", 1),
    ]
    assert owners[0]["delivery_rate"] == round(4 / 6, 4)
    assert [item["owner"] for item in get(staff, "top", f"{BOTH_DAYS}&channel=tenant&limit=1")["owners"]] == [
        "dcs"
    ]


def test_balances_with_units_and_days_left_at_the_last_weeks_rate(staff, seeded):
    cached = {"tencent": ProviderBalance("tencent", 900), "sjroom": ProviderBalance("sjroom", 70, "money")}
    with (
        mock.patch("sms.console.selectors.cached_provider_balances", return_value=cached),
        mock.patch("django.utils.timezone.localdate", return_value=dt.date(2026, 12, 5)),
    ):
        body = get(staff, "balances")
    assert body["providers"] == [
        # 9 parts in 7 days.
        {"provider": "tencent", "remaining": 900, "unit": "messages", "per_day": 1.29, "days_left": 700.0},
        # Its one part has no price: its use and days left are not known.
        {"provider": "sjroom", "remaining": 70, "unit": "CNY", "per_day": None, "days_left": None},
    ]
    assert [(item["owner"], item["balance"], item["days_left"]) for item in body["low_accounts"]] == [
        ("dcs", 0, 0.0),
        ("ops", 0, 0.0),
        ("S1", 30, 35.0),  # 6 parts charged in 7 days
    ]


def test_a_money_balance_lasts_at_its_regions_prices_and_no_use_has_no_days_left(staff, seeded):
    cached = {"tencent": ProviderBalance("tencent", 10, "money"), "idle": ProviderBalance("idle", 5)}
    with (
        mock.patch("sms.console.selectors.cached_provider_balances", return_value=cached),
        mock.patch("django.utils.timezone.localdate", return_value=dt.date(2026, 12, 5)),
    ):
        body = get(staff, "balances")
    assert body["providers"] == [
        # 6 parts to +86 at 4 fen and 3 billed to +1 at the "*" 30 fen: 114 fen in 7 days.
        {"provider": "tencent", "remaining": 10, "unit": "CNY", "per_day": 0.16, "days_left": 61.4},
        {"provider": "idle", "remaining": 5, "unit": "messages", "per_day": 0.0, "days_left": None},
    ]


def test_health_is_read_live(staff, seeded):
    now = timezone.now()
    record(now - dt.timedelta(minutes=5), station_id="S1", state="submitted")
    SendRecord.objects.filter(state="submitted").update(
        submitted_at=now - dt.timedelta(seconds=120), updated_at=now - dt.timedelta(seconds=120)
    )
    PendingReport.objects.create(provider="tencent", provider_message_id="m1", delivered=True)
    dead = SendRecord.objects.filter(batch__isnull=False).first()
    WebhookEvent.objects.create(
        record=dead, tenant=dead.batch.tenant, url="https://x.test/", state="dead", next_attempt_at=now
    )
    body = get(staff, "health")
    assert (body["unknown_records"], body["awaiting_report"], body["pending_reports"]) == (1, 1, 1)
    assert (body["queued_records"], body["dead_webhook_events"]) == (1, 1)
    assert 120 <= body["oldest_awaiting_report_seconds"] < 180


def _csv(client, endpoint: str, query: str) -> list[list[str]]:
    response = client.get(f"/dashboard/api/{endpoint}?{query}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def _cells(*values) -> list[str]:
    return ["" if value is None else str(value) for value in values]


TABLES = {
    "summary": lambda body: (
        [["channel", "state", "records"]]
        + [
            _cells(channel, state, count)
            for channel, counts in body["channels"].items()
            for state, count in counts.items()
        ]
    ),
    "series": lambda body: (
        [["at", "delivered", "failed", "unknown", "other"]]
        + [_cells(*point.values()) for point in body["points"]]
    ),
    "failures": lambda body: (
        [["provider", "code", "count", "example_record_id"]]
        + [_cells(*item.values()) for item in body["failures"]]
    ),
    "latency": lambda body: (
        [["provider", "count", "p50_ms", "p90_ms", "p99_ms"]]
        + [_cells(*item.values()) for item in body["providers"]]
    ),
    "top": lambda body: (
        [["channel", "owner", "records", "delivered", "failed", "parts", "delivery_rate"]]
        + [_cells(*item.values()) for item in body["owners"]]
    ),
    "money": lambda body: (
        [
            [
                "section",
                "channel",
                "name",
                "charged_parts",
                "provider_parts",
                "revenue_fen",
                "cost_fen",
                "margin_fen",
            ]
        ]
        + [_cells("total", "", "", *body["totals"].values())]
        + [_cells("provider", "", *item.values()) for item in body["providers"]]
        + [
            _cells("owner", item["channel"], item["owner"], *list(item.values())[3:])
            for item in body["owners"]
        ]
    ),
    "balances": lambda body: (
        [["kind", "name", "remaining", "unit", "per_day", "days_left"]]
        + [_cells("provider", *item.values()) for item in body["providers"]]
        + [_cells(*item.values()) for item in body["low_accounts"]]
    ),
}


@pytest.mark.parametrize("endpoint", sorted(TABLES))
@pytest.mark.parametrize(
    "query", [BOTH_DAYS, f"{BOTH_DAYS}&grain=hour&station=S1", f"{BOTH_DAYS}&tenant=dcs"]
)
def test_csv_is_the_same_table_as_the_json(staff, seeded, endpoint, query):
    body = get(staff, endpoint, query)
    table = _csv(staff, endpoint, query)
    assert len(table) > 1
    assert table == TABLES[endpoint](body)


def test_health_csv_is_the_same_as_its_json(staff, seeded):
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        body = get(staff, "health", "")
        table = _csv(staff, "health", "")
    assert {name: value for name, value in table[1:]} == {name: str(body[name]) for name, _ in table[1:]}
    assert len(table) == 8


def test_the_default_range_is_the_last_30_china_time_days(staff, seeded):
    with mock.patch("django.utils.timezone.localdate", return_value=dt.date(2026, 12, 5)):
        body = get(staff, "summary", "")
    assert (body["from"], body["to"]) == ("2026-11-06", "2026-12-05")
    assert body["records"] == 14


BAD = [
    ("from=2026-13-01", "from"),
    ("from=yesterday", "from"),
    ("to=2026-02-30", "to"),
    ("from=20261201", "from"),
    ("from=2026-12-02&to=2026-12-01", "from"),
    ("from=2024-01-01&to=2026-01-01", "400 days"),
    ("from=0001-01-01&to=0001-01-02", "from"),
    ("from=9999-12-31", "from"),
    ("from=2026-11-01&to=2026-12-01&grain=hour", "grain"),
    ("grain=week", "grain"),
    ("channel=bus", "channel"),
    ("tenant=dcs&station=S1", "tenant"),
    ("channel=station&tenant=dcs", "channel"),
    ("region=%2B999", "region"),
    ("region=ZZ", "region"),
    ("region=%00", "region"),
    ("kind=spam", "kind"),
    ("limit=0", "limit"),
    ("limit=-1", "limit"),
    ("limit=1e3", "limit"),
    ("limit=100000", "limit"),
    ("format=xml", "format"),
    ("from=%00", "from"),
    ("tenant=" + "x" * 151, "tenant"),
    ("station=%27%20OR%201%3D1", "station"),
    ("provider=%F0%9F%92%A9" * 10, "provider"),
]


@pytest.mark.parametrize("endpoint", [name for name in ENDPOINTS if name != "health"])
@pytest.mark.parametrize(("query", "named"), BAD)
def test_a_bad_parameter_is_a_400_naming_it(staff, endpoint, query, named):
    body = get(staff, endpoint, query, status=400)
    assert named in body["error"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unknown_names_and_odd_values_that_are_fine_answer_200(staff, endpoint):
    # Empty values are the defaults; unknown parameters are ignored; a Chinese username is a name.
    get(staff, endpoint, "from=&to=&grain=&channel=&tenant=去采购&cachebust=1")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_only_staff_get_an_answer_and_others_a_403_json(client, endpoint):
    assert get(client, endpoint, status=403)["error"]
    client.force_login(UserFactory(username="tenant-user"))
    assert get(client, endpoint, status=403)["error"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_only_get(staff, endpoint):
    assert staff.post(f"/dashboard/api/{endpoint}").status_code == 405


def test_the_old_dashboard_page_still_answers(staff, seeded):
    assert staff.get("/dashboard").status_code == 200


def test_the_rows_read_are_the_owner_rows_only_when_an_owner_is_asked_about(staff, seeded):
    # Over the owners, the totals table answers; it must agree with the owner rows summed.
    everyone = get(staff, "summary")["records"]
    per_owner = sum(
        get(staff, "summary", f"{BOTH_DAYS}&{name}={owner}")["records"]
        for name, owner in (("station", "S1"), ("station", "S2"), ("tenant", "dcs"), ("tenant", "ops"))
    )
    assert per_owner == everyone == 14


def test_a_record_added_later_shows_after_the_next_rollup(staff, seeded):
    record(at(2, 0, 45), batch=seeded["ops"], provider="sjroom")
    traffic.roll_up()
    assert get(staff, "summary")["channels"]["tenant"]["delivered"] == 5


def test_a_provider_code_that_looks_like_a_formula_is_defused_in_the_csv(staff, seeded):
    SendRecord.objects.filter(provider_code="UNDELIV").update(provider_code="=HYPERLINK(1)")
    traffic.rebuild(first_day=dt.date(2026, 12, 1), last_day=dt.date(2026, 12, 2))
    assert any(row["code"] == "=HYPERLINK(1)" for row in get(staff, "failures")["failures"])
    cells = [cell for row in _csv(staff, "failures", BOTH_DAYS) for cell in row]
    assert "'=HYPERLINK(1)" in cells and "=HYPERLINK(1)" not in cells

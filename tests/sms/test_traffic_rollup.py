"""The traffic rollup (sms/accounting/traffic.py): station and tenant records counted per
China-time hour, owner, provider, region, kind and state; late changes picked up; idempotent."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from sms.accounting import traffic
from sms.models import SendRecord, TrafficDayTotal, TrafficHour, TrafficHourTotal, TrafficOwnerDay
from tests.support.traffic import at, seed

pytestmark = pytest.mark.django_db

MEASURES = ("records", "parts", "charged_parts", "provider_parts", "latency_buckets", "provider_codes")
KEY = ("channel", "owner", "provider", "region", "kind", "state")


def rows(model=TrafficHour, **filters) -> dict[tuple, tuple]:
    key = KEY if model is TrafficHour else tuple(name for name in KEY if name != "owner")
    return {
        tuple(row[name] for name in key): tuple(row[name] for name in MEASURES)
        for row in model.objects.filter(**filters).values()
    }


def snapshot() -> list[tuple]:
    return sorted(
        (
            str(row["hour"]),
            str(row["day"]),
            *(str(row[name]) for name in (*KEY, *MEASURES, "first_record_id")),
        )
        for row in TrafficHour.objects.values()
    )


def test_station_and_tenant_records_roll_up_to_exact_rows_per_owner_provider_region_kind_and_state():
    seed()
    report = traffic.roll_up()
    assert report.ran
    assert rows(hour=at(1, 10, 0)) == {
        ("station", "S1", "tencent", "+86", "order", "delivered"): (3, 3, 3, 3, {"2000": 2, "3000": 1}, {}),
        ("station", "S1", "tencent", "+86", "verify", "failed"): (1, 1, 0, 1, {"2000": 1}, {"E1": 1}),
        ("station", "S1", "", "+86", "order", "queued"): (1, 1, 1, 0, {}, {}),
        ("station", "S2", "tencent", "+1", "order", "delivered"): (1, 2, 2, 3, {"2000": 1}, {}),
        ("tenant", "dcs", "gateway", "+86", "marketing", "delivered"): (2, 2, 2, 2, {"2000": 2}, {}),
        ("tenant", "dcs", "gateway", "+86", "marketing", "failed"): (1, 2, 0, 2, {"2000": 1}, {"UNDELIV": 1}),
        ("tenant", "dcs", "gateway", "+86", "marketing", "unknown"): (1, 1, 1, 1, {}, {}),
        # A Douyin ciphertext counts as mainland.
        ("tenant", "ops", "sjroom", "+86", "verify", "delivered"): (1, 1, 1, 1, {"2000": 1}, {}),
    }
    # Over the owners: S1's and S2's delivered differ in region, so stay apart; nothing merges here
    # but the hour's rows sum the same.
    totals = rows(TrafficHourTotal, hour=at(1, 10, 0))
    assert totals[("station", "tencent", "+86", "order", "delivered")] == (
        3,
        3,
        3,
        3,
        {"2000": 2, "3000": 1},
        {},
    )
    assert sum(value[0] for value in totals.values()) == 11
    # China-time hours and days: 23:59 on the 1st, 00:00 and 00:30 on the 2nd.
    assert {
        (str(row.day), timezone.localtime(row.hour).hour, row.owner, row.state)
        for row in TrafficHour.objects.exclude(hour=at(1, 10, 0))
    } == {
        ("2026-12-01", 23, "S1", "delivered"),
        ("2026-12-02", 0, "S1", "failed"),
        ("2026-12-02", 0, "dcs", "delivered"),
    }
    # Per owner and day, over the states: S1's 10h and 23:59 records of the 1st, not the 2nd's.
    assert {
        (row["owner"], row["provider"], row["kind"]): (
            row["records"],
            row["delivered"],
            row["failed"],
            row["charged_parts"],
            row["provider_parts"],
        )
        for row in TrafficOwnerDay.objects.filter(day="2026-12-01", owner="S1").values()
    } == {
        ("S1", "tencent", "order"): (4, 4, 0, 4, 4),
        ("S1", "tencent", "verify"): (1, 0, 1, 0, 1),
        ("S1", "", "order"): (1, 0, 0, 1, 0),
    }
    assert TrafficOwnerDay.objects.get(day="2026-12-02", owner="dcs").records == 1
    # Per day over the owners: the 1st's 10h and 23:59 hours together.
    day = rows(TrafficDayTotal, day="2026-12-01")
    assert day[("station", "tencent", "+86", "order", "delivered")] == (
        4,
        4,
        4,
        4,
        {"2000": 3, "3000": 1},
        {},
    )
    assert sum(value[0] for value in day.values()) == 12
    # Every row names a record of its own as its example.
    for row in TrafficHour.objects.all():
        example = SendRecord.objects.get(pk=row.first_record_id)
        assert example.state == row.state
        assert traffic.hour_of(example.created_at) == row.hour


def test_a_late_report_on_an_old_hour_is_picked_up_by_the_next_run():
    seed()
    SendRecord.objects.update(updated_at=at(3, 0))  # last changed two days ago
    traffic.roll_up()
    unknown = SendRecord.objects.get(state="unknown")
    unknown.state, unknown.finished_at = "delivered", unknown.submitted_at + dt.timedelta(seconds=40)
    unknown.save()  # updated_at: now, four days after the record's hour

    report = traffic.roll_up()

    assert report.hours == 1  # only the changed record's hour, not all of them again
    hour = rows(hour=at(1, 10, 0))
    assert ("tenant", "dcs", "gateway", "+86", "marketing", "unknown") not in hour
    assert hour[("tenant", "dcs", "gateway", "+86", "marketing", "delivered")] == (
        3,
        3,
        3,
        3,
        {"2000": 2, "60000": 1},
        {},
    )


def test_a_rerun_or_a_rebuild_changes_nothing():
    seed()
    traffic.roll_up()
    before = snapshot()
    assert before
    traffic.roll_up()
    call_command("rebuild_traffic", "--from", "2026-11-30", "--to", "2026-12-03")
    assert snapshot() == before


def test_a_rebuild_recomputes_what_the_records_say():
    seed()
    traffic.roll_up()
    # Changed behind the rollup's back (no updated_at): only a rebuild sees it.
    SendRecord.objects.filter(station_id="S2").update(segments=5)
    call_command("rebuild_traffic", "--from", "2026-12-01", "--to", "2026-12-01")
    assert rows(owner="S2")[("station", "S2", "tencent", "+1", "order", "delivered")][1] == 5


def test_a_run_while_another_holds_the_lock_does_nothing():
    seed()
    cache.add(traffic.LOCK_KEY, "someone", timeout=60)
    assert traffic.roll_up() == traffic.RollupReport(ran=False)
    assert not TrafficHour.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite has one writer at a time anyway")
def test_two_overlapping_recomputes_of_the_same_hours_do_not_double():
    seed()
    traffic.roll_up()
    expected = snapshot()
    TrafficHour.objects.all().delete()
    TrafficOwnerDay.objects.all().delete()
    start = threading.Barrier(2)
    errors = []

    def rebuild() -> None:
        try:
            start.wait()
            traffic.rebuild(first_day=dt.date(2026, 12, 1), last_day=dt.date(2026, 12, 2))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rebuild) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert snapshot() == expected


def test_region_of_a_stored_number():
    assert traffic.region_of_prefix("+861") == "+86"
    assert traffic.region_of_prefix("+120") == "+1"
    assert traffic.region_of_prefix("+447") == "+44"
    assert traffic.region_of_prefix("+852") == "+852"
    assert traffic.region_of_prefix("$Dcw") == "+86"
    assert traffic.region_of_prefix("") == ""
    assert traffic.region_of_prefix("131*") == ""


def test_beat_runs_the_rollup_every_minute(settings):
    from sms import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["roll-up-traffic"]
    assert (entry["task"], entry["schedule"].total_seconds()) == ("sms.roll_up_traffic", 60)
    seed()
    assert tasks.roll_up_traffic() > 0
    assert TrafficHour.objects.filter(owner="dcs").exists()


def _owner_day_latencies() -> dict[tuple, dict]:
    return {
        (str(row.day), row.channel, row.owner, row.provider, row.region, row.kind): row.latency_buckets
        for row in TrafficOwnerDay.objects.all()
    }


def test_owner_day_rows_carry_the_merged_latency_of_their_days_final_hours():
    seed()
    traffic.roll_up()
    latencies = _owner_day_latencies()
    # S1's delivered and failed tencent records of the 1st (10h and 23:59), merged; its queued one has none.
    assert latencies[("2026-12-01", "station", "S1", "tencent", "+86", "order")] == {"2000": 3, "3000": 1}
    assert latencies[("2026-12-01", "station", "S1", "", "+86", "order")] == {}
    for (day, channel, owner, provider, region, kind), buckets in latencies.items():
        merged: dict[str, int] = {}
        for hour in TrafficHour.objects.filter(
            day=day,
            channel=channel,
            owner=owner,
            provider=provider,
            region=region,
            kind=kind,
            state__in=["delivered", "failed"],
        ):
            for bound, count in hour.latency_buckets.items():
                merged[bound] = merged.get(bound, 0) + count
        assert buckets == merged


@pytest.mark.django_db(transaction=True)
def test_migration_0035_fills_the_latency_of_owner_days_rolled_up_before_it():
    seed()
    traffic.roll_up()
    expected = _owner_day_latencies()
    assert any(expected.values())
    call_command("migrate", "sms", "0034", verbosity=0)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM tbl_sms_traffic_owner_day")
            assert cursor.fetchone()[0] == len(expected)
    finally:
        call_command("migrate", "sms", verbosity=0)
    assert _owner_day_latencies() == expected

"""``manage.py export_station_records``: a station's send records of a range of China-time days as
CSV, masked mobiles unless ``--full-mobiles``, never another station's, read a chunk at a time."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from sms.models import SendRecord, Station
from sms.station_api.selectors import station_records_for_export
from tests.support.factories import send_record

pytestmark = pytest.mark.django_db

CHINA = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    """A China-time moment, ``2026-11-23 00:00:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=CHINA)


def record(created: dt.datetime, station: str = "T7442", **fields) -> SendRecord:
    made = send_record(station_id=station, **fields)
    SendRecord.objects.filter(pk=made.pk).update(created_at=created)
    return made


@pytest.fixture(autouse=True)
def _stations(db):
    Station.objects.create(station_id="T7442")
    Station.objects.create(station_id="T7443")


def export(*args: str) -> list[dict[str, str]]:
    out = io.StringIO()
    call_command("export_station_records", *args, stdout=out, stderr=io.StringIO())
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_the_range_is_china_time_days_both_included():
    before = record(at("2026-11-22 23:59:59"))
    first = record(at("2026-11-23 00:00:00"))
    last = record(at("2026-11-24 23:59:59.999999"))
    after = record(at("2026-11-25 00:00:00"))
    rows = export("T7442", "--from", "2026-11-23", "--to", "2026-11-24")
    assert [int(row["task_id"]) for row in rows] == [first.pk, last.pk]
    assert rows[0]["created_at"] == "2026-11-23 00:00:00"
    assert rows[1]["created_at"] == "2026-11-24 23:59:59"
    assert {before.pk, after.pk}.isdisjoint(int(row["task_id"]) for row in rows)


def test_mobiles_are_masked_as_the_admin_masks_them_unless_asked():
    record(at("2026-11-23 10:00:00"), receive_phone="13112341234")
    out = io.StringIO()
    call_command("export_station_records", "T7442", "--from", "2026-11-23", "--to", "2026-11-23", stdout=out)
    assert "13112341234" not in out.getvalue()
    assert [row["mobile"] for row in csv.DictReader(io.StringIO(out.getvalue()))] == ["131****1234"]
    full = export("T7442", "--from", "2026-11-23", "--to", "2026-11-23", "--full-mobiles")
    assert [row["mobile"] for row in full] == ["13112341234"]


def test_another_stations_records_never_appear():
    own = record(at("2026-11-23 10:00:00"), receive_phone="13100000001")
    record(at("2026-11-23 10:00:00"), station="T7443", receive_phone="13100000002")
    record(at("2026-11-23 10:00:01"), station="T7443", receive_phone="13100000003")
    rows = export("T7442", "--from", "2026-11-23", "--to", "2026-11-23", "--full-mobiles")
    assert [(int(row["task_id"]), row["mobile"]) for row in rows] == [(own.pk, "13100000001")]


def test_a_row_holds_what_an_administrator_needs():
    made = record(
        at("2026-11-23 10:00:00"),
        business_type=2,
        content="【去采购】您的验证码是112095",
        segments=1,
        billed_parts=2,
        remark="E:DELIVRD",
        provider="tencent",
        provider_code="UNDELIV",
        submitted_at=at("2026-11-23 10:00:01"),
    )
    [row] = export("T7442", "--from", "2026-11-23", "--to", "2026-11-23")
    assert row == {
        "task_id": str(made.pk),
        "created_at": "2026-11-23 10:00:00",
        "submitted_at": "2026-11-23 10:00:01",
        "finished_at": "",
        "mobile": "131****1234",
        "business_type": "2",
        "status": str(made.status),
        "state": "submitted",
        "provider": "tencent",
        "provider_code": "UNDELIV",
        "remark": "E:DELIVRD",
        "segments": "1",
        "billed_parts": "2",
        "content": "【去采购】您的验证码是112095",
    }


def test_a_text_a_spreadsheet_would_run_as_a_formula_is_quoted():
    record(at("2026-11-23 10:00:00"), content='=HYPERLINK("http://x")', remark="-1")
    [row] = export("T7442", "--from", "2026-11-23", "--to", "2026-11-23")
    assert (row["content"], row["remark"]) == ('\'=HYPERLINK("http://x")', "'-1")


def test_output_writes_a_file_with_a_byte_order_mark_and_leaves_no_part(tmp_path):
    record(at("2026-11-23 10:00:00"))
    target = tmp_path / "T7442.csv"
    err = io.StringIO()
    call_command(
        "export_station_records", "T7442", "--from", "2026-11-23", "--to", "2026-11-23",
        "--output", str(target), stderr=err,
    )  # fmt: skip
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbftask_id,created_at,")
    assert len(list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))) == 1
    assert list(tmp_path.iterdir()) == [target]
    assert "1 record(s) of station T7442" in err.getvalue()


def test_the_selector_reads_a_chunk_per_query_and_each_record_once(django_assert_num_queries):
    """Five records, two of them added in the same instant, read two at a time: three queries,
    each record once, oldest first (ties by id)."""
    same = at("2026-11-23 10:00:00")
    made = [
        record(same),
        record(same),
        record(at("2026-11-23 09:00:00")),
        record(same),
        record(at("2026-11-23 11:00:00")),
    ]
    expected = [made[2].pk, made[0].pk, made[1].pk, made[3].pk, made[4].pk]
    with django_assert_num_queries(3):
        ids = [
            row["id"]
            for row in station_records_for_export(
                station_id="T7442",
                start_date=dt.date(2026, 11, 23),
                end_date=dt.date(2026, 11, 23),
                chunk_size=2,
            )
        ]
    assert ids == expected


def test_the_selector_is_lazy():
    """Nothing is read until the caller asks for a row."""
    records = station_records_for_export(
        station_id="T7442", start_date=dt.date(2026, 11, 23), end_date=dt.date(2026, 11, 23)
    )
    record(at("2026-11-23 10:00:00"))
    assert len(list(records)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["T9999", "--from", "2026-11-23", "--to", "2026-11-23"], "unknown station"),
        (["T7442", "--from", "2026-13-01", "--to", "2026-11-23"], "--from: '2026-13-01' is not a date"),
        (["T7442", "--from", "20261123", "--to", "2026-11-23"], "is not a date"),
        (["T7442", "--from", "2026-11-23", "--to", "1999-12-31"], "not between"),
        (["T7442", "--from", "2026-11-24", "--to", "2026-11-23"], "is before --from"),
        (["T7442", "--from", "2026-01-01", "--to", "2027-01-02"], "at most 366 days"),
        (["T7442", "--to", "2026-11-23"], "--from"),
    ],
    ids=[
        "unknown station",
        "no such day",
        "not YYYY-MM-DD",
        "out of bounds",
        "reversed",
        "367 days",
        "no --from",
    ],
)
def test_bad_arguments_are_a_clear_command_error(args, message):
    with pytest.raises(CommandError, match=message):
        export(*args)


def test_366_days_is_allowed():
    record(at("2026-01-01 00:00:00"))
    record(at("2026-12-31 23:59:59"))
    record(at("2027-01-01 00:00:00"))
    assert len(export("T7442", "--from", "2026-01-01", "--to", "2027-01-01")) == 3

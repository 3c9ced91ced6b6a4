"""data_center/get, statistics_overview/get and statistics_detail/get."""

from datetime import date, timedelta

import pytest
from django.core.cache import cache

from sms.models import DailyStatistics

pytestmark = pytest.mark.django_db


def test_data_center_is_one_zero_filled_row_per_day(station_client):
    DailyStatistics.objects.create(
        station_id="T7442",
        send_date=date(2019, 5, 8),
        total_send_nums=100,
        success_send_nums=90,
        send_failed_nums=10,
    )
    DailyStatistics.objects.create(station_id="T9999", send_date=date(2019, 5, 8), total_send_nums=7)
    body = station_client.get(
        "/sms/data_center/get", {"station_id": "T7442", "start_date": "2019-05-07", "end_date": "2019-05-09"}
    ).json()
    assert body["code"] == 0
    assert body["data"] == [
        {"send_date": "2019-05-07", "total_send_nums": 0, "success_send_nums": 0, "send_failed_nums": 0},
        {"send_date": "2019-05-08", "total_send_nums": 100, "success_send_nums": 90, "send_failed_nums": 10},
        {"send_date": "2019-05-09", "total_send_nums": 0, "success_send_nums": 0, "send_failed_nums": 0},
    ]


def test_data_center_seed_range_has_a_row_per_day(station_client):
    body = station_client.get(
        "/sms/data_center/get", {"station_id": "T7442", "start_date": "2019-04-28", "end_date": "2019-05-28"}
    ).json()
    assert len(body["data"]) == 31
    assert all(
        row["success_send_nums"] + row["send_failed_nums"] <= row["total_send_nums"] for row in body["data"]
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "2019-05-28", "end_date": "2019-04-28"}, "end_date"),
        ({"start_date": "2018-01-01", "end_date": "2019-01-02"}, "end_date"),
        ({"start_date": "2019-02-30", "end_date": "2019-03-01"}, "start_date"),
        ({"end_date": "2019-03-01"}, "start_date"),
    ],
)
def test_data_center_rejects_bad_ranges(station_client, params, field):
    body = station_client.get("/sms/data_center/get", {"station_id": "T7442", **params}).json()
    assert body["code"] == 1002 and field in body["msg"]


def test_data_center_accepts_exactly_366_days(station_client):
    start = date(2019, 1, 1)
    end = start + timedelta(days=365)
    body = station_client.get(
        "/sms/data_center/get", {"station_id": "T7442", "start_date": start, "end_date": end}
    ).json()
    assert body["code"] == 0 and len(body["data"]) == 366


def test_statistics_overview_sums_stations_and_reads_cached_provider_balance(station_client, recharge):
    recharge("T7442", 100)
    recharge("T0001", 53)
    cache.set("provider-balance:tencent", {"remaining": 30366, "unit": "messages"})
    body = station_client.get("/sms/statistics_overview/get").json()
    assert body == {
        "code": 0,
        "msg": "ok",
        "data": {"gm_balance": 30366, "saas_balance": "153", "saas_recharge_money": "15.30"},
    }


def test_statistics_overview_answers_an_integer_balance_when_the_provider_is_down(station_client, settings):
    """gm_balance is ``M Int`` in seed 000: 0 before the provider's first answer, then the last
    amount it answered while it cannot say, never null."""
    settings.SMS_STATISTICS_CACHE_SECONDS = 0  # two reads of one key: the second must not be the first's
    settings.SMS_PROVIDERS = {
        **settings.SMS_PROVIDERS,
        "tencent": {**settings.SMS_PROVIDERS["tencent"], "endpoint": "http://127.0.0.1:9"},
    }
    body = station_client.get("/sms/statistics_overview/get").json()
    assert body["code"] == 0
    assert body["data"] == {"gm_balance": 0, "saas_balance": "0", "saas_recharge_money": "0.00"}
    cache.set("provider-balance-last:tencent", {"remaining": 4242, "unit": "messages"})  # answered once
    assert station_client.get("/sms/statistics_overview/get").json()["data"]["gm_balance"] == 4242


def test_statistics_detail_seed_example(station_client, recharge):
    recharge("T7442", 211, station_name="去采购一号站")
    recharge("T0001", 5)
    body = station_client.get("/sms/statistics_detail/get", {"q": "T7442"}).json()
    assert body["code"] == 0
    assert body["data"] == [
        {
            "station_id": "T7442",
            "station_name": "去采购一号站",
            "sms_balance": 211,
            "total_recharge_money": "21.10",
            "total_recharge_nums": 211,
        }
    ]
    by_name = station_client.get("/sms/statistics_detail/get", {"q": "一号"}).json()
    assert [row["station_id"] for row in by_name["data"]] == ["T7442"]


@pytest.mark.parametrize(
    "query",
    ["station_ids=T0001&station_ids=T0003", "station_ids=T0001,T0003", 'station_ids=["T0001","T0003"]'],
)
def test_statistics_detail_filters_by_station_ids_in_every_form(station_client, recharge, query):
    for index in range(5):
        recharge(f"T000{index}", 1)
    body = station_client.get(f"/sms/statistics_detail/get?{query}").json()
    assert [row["station_id"] for row in body["data"]] == ["T0001", "T0003"]


def test_statistics_detail_pages_three_pages_both_ways(station_client, recharge):
    ids = [f"T{index:04d}" for index in range(25)]
    for station_id in ids:
        recharge(station_id, 1)
    for reverse, expected in ((False, ids), (True, list(reversed(ids)))):
        seen, params, sizes = [], {"limit": 10, "reverse": reverse}, []
        while True:
            body = station_client.get("/sms/statistics_detail/get", params).json()
            sizes.append(len(body["data"]))
            seen += [row["station_id"] for row in body["data"]]
            if not body["pagination"]["more"]:
                break
            params = {**params, "page_obj": body["pagination"]["page_obj"]}
        assert sizes == [10, 10, 5] and seen == expected

"""statistics_overview/get, statistics_detail/get and data_center/get answer from the cache, at most
SMS_STATISTICS_CACHE_SECONDS stale; a cache that is down never fails them."""

from __future__ import annotations

from datetime import date
from unittest import mock

import pytest
import redis.exceptions
from django.core.cache import cache

from sms.models import DailyStatistics
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

DATA_CENTER = (
    "/sms/data_center/get",
    {"station_id": "T7442", "start_date": "2019-05-07", "end_date": "2019-05-09"},
)
READS = [
    DATA_CENTER,
    ("/sms/statistics_overview/get", {}),
    ("/sms/statistics_detail/get", {"q": "T74"}),
]


@pytest.fixture(autouse=True)
def _known_provider_balance() -> None:
    # statistics_overview's gm_balance comes from the provider balance cache: no provider call.
    cache.set("provider-balance:tencent", {"remaining": 30366, "unit": "messages"})


@pytest.mark.parametrize(("path", "params"), READS)
def test_a_second_read_within_the_staleness_does_not_query_the_database(
    station_client, recharge, path, params, django_assert_num_queries, django_assert_max_num_queries
):
    recharge("T7442", 100)
    with django_assert_max_num_queries(5):
        first = station_client.get(path, params).json()
    with django_assert_num_queries(0):
        second = station_client.get(path, params).json()
    assert first["code"] == 0 and second == first


def test_other_parameters_are_another_read(station_client, recharge):
    recharge("T7442", 100)
    recharge("T7443", 50)
    first = station_client.get("/sms/statistics_detail/get", {"q": "T7442"}).json()["data"]
    other = station_client.get("/sms/statistics_detail/get", {"q": "T7443"}).json()["data"]
    assert [row["station_id"] for row in first] == ["T7442"]
    assert [row["station_id"] for row in other] == ["T7443"]


def test_a_read_after_the_staleness_sees_the_change(station_client, recharge, settings):
    settings.SMS_STATISTICS_CACHE_SECONDS = 1
    recharge("T7442", 100)

    def balance() -> str:
        return station_client.get("/sms/statistics_overview/get").json()["data"]["saas_balance"]

    assert balance() == "100"
    recharge("T7442", 5)
    assert balance() == "100"  # within the staleness: the kept answer
    wait_until(lambda: balance() == "105", timeout=10, message="the overview after its staleness")


def test_a_read_after_the_entry_is_gone_queries_the_database(
    station_client, recharge, django_assert_num_queries
):
    recharge("T7442", 100)
    station_client.get("/sms/statistics_overview/get")
    cache.clear()  # what expiry does
    cache.set("provider-balance:tencent", {"remaining": 30366, "unit": "messages"})
    with django_assert_num_queries(1):
        assert station_client.get("/sms/statistics_overview/get").json()["data"]["saas_balance"] == "100"


def test_each_answer_is_kept_for_the_setting(station_client, settings):
    settings.SMS_STATISTICS_CACHE_SECONDS = 7
    with mock.patch("sms.core.read_cache.cache.set", wraps=cache.set) as kept:
        station_client.get(*DATA_CENTER)
    [(_, kwargs)] = [(c.args, c.kwargs) for c in kept.call_args_list]
    assert kwargs["timeout"] == 7


def test_zero_seconds_reads_the_database_every_time(station_client, settings, django_assert_num_queries):
    settings.SMS_STATISTICS_CACHE_SECONDS = 0
    station_client.get(*DATA_CENTER)
    with django_assert_num_queries(1):
        assert station_client.get(*DATA_CENTER).json()["code"] == 0


DOWN = redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.parametrize(("path", "params"), READS)
def test_a_cache_that_is_down_falls_back_to_the_database(station_client, recharge, path, params):
    recharge("T7442", 100)
    DailyStatistics.objects.create(
        station_id="T7442", send_date=date(2019, 5, 8), total_send_nums=9, success_send_nums=8
    )
    expected = station_client.get(path, params).json()
    cache.clear()
    cache.set("provider-balance:tencent", {"remaining": 30366, "unit": "messages"})
    down = mock.Mock(**{"get.side_effect": DOWN, "set.side_effect": DOWN})
    with mock.patch("sms.core.read_cache.cache", down):
        answer = station_client.get(path, params)
    assert answer.status_code == 200 and answer.json() == expected
    assert down.get.called


def test_the_overview_answers_when_the_whole_cache_is_down(station_client, recharge, settings):
    """Its provider balance is cached too: with no cache the provider is asked (here it cannot
    answer: 0, as before its first answer) and the sums come from the database."""
    settings.SMS_PROVIDERS = {
        **settings.SMS_PROVIDERS,
        "tencent": {**settings.SMS_PROVIDERS["tencent"], "endpoint": "http://127.0.0.1:9"},
    }
    recharge("T7442", 100)
    with (
        mock.patch("django.core.cache.cache.get", side_effect=DOWN),
        mock.patch("django.core.cache.cache.set", side_effect=DOWN),
    ):
        answer = station_client.get("/sms/statistics_overview/get")
    assert answer.status_code == 200
    assert answer.json()["data"] == {"gm_balance": 0, "saas_balance": "100", "saas_recharge_money": "10.00"}


def test_a_cache_that_cannot_keep_the_answer_still_answers(station_client, recharge):
    recharge("T7442", 100)
    timeout = redis.exceptions.TimeoutError("Timeout writing to socket")
    with mock.patch("sms.core.read_cache.cache.set", side_effect=timeout):
        body = station_client.get("/sms/statistics_overview/get").json()
    assert body["data"]["saas_balance"] == "100"

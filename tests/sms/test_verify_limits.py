"""Verify-code limits per mobile (anti SMS bombing), in Redis, shared by every process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from sms.models import BalanceLedger, RecordState, SendRecord
from sms.sending import limits
from tests.conftest import SERVICE_TOKEN
from tests.sms.conftest import seed_send_request
from tests.support.backends import needs_redis
from tests.support.platform import make_signature, make_template
from tests.support.waiting import scaled, wait_until

pytestmark = pytest.mark.django_db


def _add(client, **overrides):
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        return client.post("/sms/send/add", seed_send_request(**overrides), format="json").json()


def test_a_second_verify_code_within_the_window_is_429_naming_it(station_client, recharge, settings):
    settings.SMS_VERIFY_LIMITS = "1/60s,5/1h"
    recharge("T7442", 10)
    assert _add(station_client)["code"] == 0
    answer = _add(station_client)
    assert answer == {
        "code": 1008,
        "msg": "receive_phone: verify codes to this mobile: 1 per 60s",
        "data": None,
    }
    assert SendRecord.objects.count() == 1
    assert BalanceLedger.objects.filter(reason="reserve").count() == 1
    assert _add(station_client, receive_phone="13112340002")["code"] == 0  # another mobile


def test_the_window_reopens_once_it_has_passed(station_client, recharge, settings):
    settings.SMS_VERIFY_LIMITS = "1/2s"
    recharge("T7442", 10)
    assert _add(station_client)["code"] == 0
    assert _add(station_client)["code"] == 1008
    wait_until(lambda: _add(station_client)["code"] == 0, timeout=20, message="the window reopens")


def test_order_notices_are_not_limited(station_client, recharge, settings):
    settings.SMS_VERIFY_LIMITS = "1/60s"
    recharge("T7442", 10)
    order = {"business_type": 0, "sms_content": {"order_id": "PL1", "sms_signature": "去采购"}}
    assert [_add(station_client, **order)["code"] for _ in range(3)] == [0, 0, 0]


@needs_redis("only Redis keeps the bookings a refused send gives back (docs/api-station.md)")
def test_a_send_that_fails_later_gives_its_allowance_back(station_client, recharge, settings):
    settings.SMS_VERIFY_LIMITS = "1/60s"
    assert _add(station_client)["code"] == 1006  # no balance yet: nothing sent
    recharge("T7442", 10)
    assert _add(station_client)["code"] == 0


def test_without_redis_a_send_that_fails_later_keeps_its_allowance_spent(station_client, recharge, settings):
    # The embedded default's documented difference (docs/api-station.md): the cache's counters
    # keep no bookings, so the refused send's allowance is not given back.
    settings.SMS_VERIFY_LIMITS = "1/60s"
    settings.REDIS_URL = ""
    assert _add(station_client)["code"] == 1006
    recharge("T7442", 10)
    assert _add(station_client)["code"] == 1008


def test_without_redis_the_cache_keeps_the_limits(station_client, recharge, settings):
    settings.SMS_VERIFY_LIMITS = "1/60s"
    settings.REDIS_URL = ""
    recharge("T7442", 10)
    assert [_add(station_client)["code"] for _ in range(2)] == [0, 1008]


@pytest.mark.django_db(transaction=True)
@needs_redis(
    "exactly the limit at once is Redis' script: the cache's counters may admit two (docs/api-station.md)"
)
def test_twenty_simultaneous_sends_to_one_mobile_admit_exactly_the_limit(recharge, settings):
    settings.SMS_VERIFY_LIMITS = "3/60s"
    recharge("T7442", 100)
    barrier = threading.Barrier(20)

    def send(_: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {SERVICE_TOKEN}")
        try:
            barrier.wait(timeout=scaled(60))
            return client.post("/sms/send/add", seed_send_request(), format="json").json()["code"]
        finally:
            connection.close()

    with mock.patch("sms.sending.pipeline.publish_dispatch"), ThreadPoolExecutor(max_workers=20) as pool:
        codes = sorted(pool.map(send, range(20)))
    assert codes == [0] * 3 + [1008] * 17
    assert SendRecord.objects.count() == 3


def test_tenant_mobiles_over_the_limit_fail_as_limited_uncharged(basic_client, tenant, root_user, settings):
    settings.SMS_VERIFY_LIMITS = "1/60s"
    sign = make_signature(tenant)
    template = make_template(tenant, sign)  # a verification template (type 1)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    body = {"sign_id": sign.pk, "temp_id": template.pk, "params": ["112095", "5"]}
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        basic_client(tenant).post("/v1/message", {**body, "mobiles": ["13100000001"]}, format="json")
        second = basic_client(tenant).post(
            "/v1/message", {**body, "mobiles": ["13100000001", "13100000002"]}, format="json"
        )
    assert second.status_code == 200
    progress = basic_client(tenant).get("/v1/message", {"uuid": second.json()["uuid"]}).json()
    items = {item["mobile"]: item for item in progress["items"]}
    assert items["13100000001"]["state"] == "failed"
    assert items["13100000001"]["reason"] == "LIMITED: verify codes to this mobile: 1 per 60s"
    assert items["13100000002"]["state"] == "queued"
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 8}  # 2 sent, 1 limited
    assert (
        SendRecord.objects.filter(state=RecordState.FAILED, provider_code="LIMITED", segments=0).count() == 1
    )


# sms/sending/limits.py without Redis (the embedded default): a counter per mobile and fixed window.


@pytest.fixture
def in_cache(settings):
    settings.REDIS_URL = ""
    return settings


def test_without_redis_each_mobile_gets_the_limit_of_each_window(in_cache):
    in_cache.SMS_VERIFY_LIMITS = "2/60s,3/1h"
    assert limits.admit(["+8613100000001"]) == limits.Admission(["+8613100000001"], {}, [])
    assert limits.admit(["+8613100000001"]).admitted == ["+8613100000001"]
    refused = limits.admit(["+8613100000001", "+8613100000002"])
    assert refused.admitted == ["+8613100000002"]  # another mobile is not held back
    assert refused.refused["+8613100000001"].text == "2/60s"
    assert refused.bookings == []


def test_without_redis_a_window_is_the_same_from_its_start_to_its_end(in_cache):
    in_cache.SMS_VERIFY_LIMITS = "1/60s"
    cache.clear()
    now = [0.0]  # one clock for the limits and the cache's own expiry (the file cache reads it too)
    admitted = []
    with mock.patch.object(limits.time, "time", side_effect=lambda: now[0]):
        for instant in (1200.0, 1259.0, 1260.0):
            now[0] = instant
            admitted.append(bool(limits.admit(["+8613100000001"]).admitted))
    assert admitted == [True, False, True]


def test_a_malformed_limit_is_refused_naming_it():
    with pytest.raises(ValueError) as refused:
        limits.parse_limits("1/60s, 5/1x")
    assert str(refused.value) == "SMS_VERIFY_LIMITS: '5/1x' is not like 5/1h"


@needs_redis("bookings are kept only in Redis (docs/api-station.md)")
def test_with_redis_admission_books_each_admitted_mobile_and_names_the_window_of_each_refused(settings):
    settings.SMS_VERIFY_LIMITS = "1/60s"
    first = limits.admit(["+8613100000001"])
    assert first.admitted == ["+8613100000001"] and first.refused == {}
    assert [mobile for mobile, _ in first.bookings] == ["+8613100000001"]
    second = limits.admit(["+8613100000001", "+8613100000002"])
    assert second.admitted == ["+8613100000002"]
    assert second.refused["+8613100000001"].text == "1/60s"
    assert [mobile for mobile, _ in second.bookings] == ["+8613100000002"]


def test_without_limits_every_mobile_is_admitted_and_nothing_booked(settings):
    settings.SMS_VERIFY_LIMITS = ""
    assert limits.admit(["+8613100000001"]) == limits.Admission(["+8613100000001"], {}, [])


def test_a_window_without_an_amount_is_one_unit():
    assert [(w.limit, w.seconds) for w in limits.parse_limits("5/h, 2/30s")] == [(5, 3600), (2, 30)]


def test_without_redis_a_counter_lasts_as_long_as_its_window(in_cache):
    """A counter that expired before its window ended (the cache's default of five minutes) would
    let an hourly limit start again every five minutes. The cache here is Django's in-memory one,
    whose clock the test can move."""
    in_cache.SMS_VERIFY_LIMITS = "1/1h"
    in_cache.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()  # the in-memory store outlives the test in this process (and in a forked one)
    with mock.patch("time.time", return_value=7200.0):
        assert limits.admit(["+8613100000001"]).admitted
    with mock.patch("time.time", return_value=7200.0 + 3000):
        assert limits.admit(["+8613100000001"]).refused

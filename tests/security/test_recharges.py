"""Recharges move money: a receipt is credited once, fat fingers are refused, and no run of
recharges within the limits can overflow a station's totals (issue 19, findings 4 and 5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sms.models import BalanceLedger, RechargeRecord, Station

pytestmark = pytest.mark.django_db

URL = "/sms/recharge_record/create"
CUSTOM_COMBO_ID = 4


def _recharge(client, **overrides) -> dict:
    body = {
        "combo_id": CUSTOM_COMBO_ID,
        "station_id": "T7442",
        "recharge_nums": 100,
        "recharge_money": "10.00",
        "operator_name": "财务",
        "deal_code": "WX-20261125-0001",
    }
    body.update(overrides)
    return client.post(URL, body, format="json").json()


def _balance() -> int:
    return Station.objects.get(station_id="T7442").balance_nums


def test_a_receipt_presented_twice_is_credited_once(station_client):
    assert _recharge(station_client)["code"] == 0
    assert _recharge(station_client)["code"] == 0  # a retry of the same request: same answer
    assert _balance() == 100
    assert RechargeRecord.objects.count() == 1
    assert BalanceLedger.objects.filter(reason="recharge").count() == 1


def test_a_receipt_reused_with_other_values_is_refused(station_client):
    _recharge(station_client)
    answer = _recharge(station_client, recharge_nums=100000, recharge_money="1.00")
    assert answer["code"] == 1007 and "deal_code" in answer["msg"]
    assert _balance() == 100


def test_the_same_receipt_at_two_stations_is_two_recharges(station_client):
    _recharge(station_client)
    assert _recharge(station_client, station_id="T9999")["code"] == 0
    assert Station.objects.get(station_id="T9999").balance_nums == 100


def test_recharges_without_a_receipt_are_each_credited(station_client):
    _recharge(station_client, deal_code="")
    _recharge(station_client, deal_code="")
    assert _balance() == 200


def test_a_fat_finger_recharge_is_refused(station_client, settings):
    answer = _recharge(station_client, recharge_nums=100_000_000, recharge_money="0")
    assert answer["code"] == 1002 and "recharge_nums" in answer["msg"]
    answer = _recharge(station_client, deal_code="x2", recharge_money="9999999999.99")
    assert answer["code"] == 1002 and "recharge_money" in answer["msg"]
    assert not Station.objects.filter(station_id="T7442", balance_nums__gt=0).exists()


def test_recharges_within_the_limits_never_overflow_the_totals(station_client, settings):
    """100 recharges of 9,999,999,999.99 once overflowed ``total_recharge_money`` and every later
    recharge of that station answered 500. Within the ceiling the column cannot fill up."""
    ceiling = settings.SMS_RECHARGE_MAX_MONEY
    for index in range(101):
        assert _recharge(station_client, deal_code=f"big-{index}", recharge_money=str(ceiling))["code"] == 0
    assert _recharge(station_client, deal_code="small", recharge_money="1.00")["code"] == 0
    station = Station.objects.get(station_id="T7442")
    assert station.total_recharge_money == ceiling * 101 + Decimal("1.00")
    # The column holds a million times more than this before it could overflow.
    field = Station._meta.get_field("total_recharge_money")
    assert Decimal(10) ** (field.max_digits - field.decimal_places) > ceiling * 101 * 1_000_000

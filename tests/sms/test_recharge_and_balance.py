"""combo/get, balance/get, recharge_record/create and recharge_record/get."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from sms.models import BalanceLedger, RechargeRecord, Station

pytestmark = pytest.mark.django_db

SEED_RECHARGE = {
    "combo_id": 4,
    "recharge_money": 0.01,
    "recharge_nums": 1,
    "deal_code": "测试",
    "remark": "测试",
    "station_id": "T7442",
    "operator_name": "superadmin",
}


def test_combo_get_lists_default_combos_in_seed_shape(station_client):
    body = station_client.get("/sms/combo/get").json()
    assert body["code"] == 0
    assert body["data"][0] == {
        "id": 1,
        "name": "套餐包: 2000条",
        "price": "200.00",
        "sms_nums": 2000,
        "unit": "条",
        "unit_price": 10,
    }
    assert any(combo["name"] == "自定义套餐包" for combo in body["data"])


def test_seed_recharge_example_creates_station_and_adds_balance(station_client):
    body = station_client.post("/sms/recharge_record/create", SEED_RECHARGE, format="json").json()
    assert body == {"code": 0, "msg": "ok", "data": None}
    station = Station.objects.get(station_id="T7442")
    assert station.balance_nums == 1 and station.total_recharge_nums == 1
    assert str(station.total_recharge_money) == "0.01"
    record = RechargeRecord.objects.get()
    assert (record.operator_name, record.deal_code, record.remark, record.combo_name) == (
        "superadmin",
        "测试",
        "测试",
        "自定义套餐包",
    )
    assert BalanceLedger.objects.get().delta == 1


def test_second_recharge_adds_to_balance_and_totals(station_client):
    station_client.post("/sms/recharge_record/create", SEED_RECHARGE, format="json")
    station_client.post(
        "/sms/recharge_record/create",
        # Another receipt: one receipt is credited once per station (tests/security/test_recharges.py).
        {**SEED_RECHARGE, "recharge_nums": 10, "recharge_money": "0.30", "deal_code": "测试-2"},
        format="json",
    )
    station = Station.objects.get(station_id="T7442")
    assert (station.balance_nums, station.total_recharge_nums, str(station.total_recharge_money)) == (
        11,
        11,
        "0.31",
    )
    assert sum(BalanceLedger.objects.values_list("delta", flat=True)) == station.balance_nums


def test_fixed_combo_must_be_bought_whole(station_client):
    body = station_client.post(
        "/sms/recharge_record/create", {**SEED_RECHARGE, "combo_id": 1, "recharge_nums": 5}, format="json"
    ).json()
    assert body["code"] == 1002 and "recharge_nums" in body["msg"]
    ok = station_client.post(
        "/sms/recharge_record/create",
        {**SEED_RECHARGE, "combo_id": 1, "recharge_nums": 2000, "recharge_money": "200.00"},
        format="json",
    ).json()
    assert ok["code"] == 0
    assert RechargeRecord.objects.get().unit_price == 10


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"combo_id": 99}, 1004, "combo_id"),
        ({"recharge_nums": 0}, 1002, "recharge_nums"),
        ({"recharge_money": -1}, 1002, "recharge_money"),
        ({"recharge_money": "abc"}, 1002, "recharge_money"),
        ({"operator_name": ""}, 1002, "operator_name"),
        ({"station_id": None}, 1002, "station_id"),
    ],
)
def test_bad_recharge_is_rejected_and_writes_nothing(station_client, overrides, code, field):
    body = station_client.post(
        "/sms/recharge_record/create", {**SEED_RECHARGE, **overrides}, format="json"
    ).json()
    assert body["code"] == code and field in body["msg"]
    assert not Station.objects.exists() and not RechargeRecord.objects.exists()


def test_balance_get_seed_example(station_client, recharge):
    recharge("T7442", 178)
    body = station_client.get("/sms/balance/get", {"station_id": "T7442"}).json()
    assert body == {"code": 0, "msg": "ok", "data": {"sms_balance": 178}}


def test_balance_of_station_that_never_recharged_is_zero(station_client, db):
    assert station_client.get("/sms/balance/get", {"station_id": "T0000"}).json()["data"] == {
        "sms_balance": 0
    }


def test_balance_without_station_id_is_a_parameter_error(station_client, db):
    body = station_client.get("/sms/balance/get").json()
    assert body["code"] == 1002 and "station_id" in body["msg"]


def _recharge_via_api(client, index: int, station_id: str = "T7442") -> None:
    body = {
        **SEED_RECHARGE,
        "station_id": station_id,
        "recharge_nums": index + 1,
        "deal_code": f"D{index:02d}",
    }
    assert client.post("/sms/recharge_record/create", body, format="json").json()["code"] == 0


def test_recharge_record_get_seed_fields(station_client):
    station_client.post("/sms/recharge_record/create", SEED_RECHARGE, format="json")
    body = station_client.get("/sms/recharge_record/get", {"station_id": "T7442"}).json()
    assert body["code"] == 0 and body["pagination"] == {"page_obj": None, "more": False}
    row = body["data"][0]
    assert set(row) == {
        "recharge_date",
        "station_id",
        "combo_id",
        "combo_name",
        "recharge_nums",
        "recharge_money",
        "deal_code",
        "remark",
        "operator_name",
    }
    assert (row["combo_id"], row["combo_name"], row["recharge_money"], row["recharge_nums"]) == (
        4,
        "自定义套餐包",
        "0.01",
        1,
    )
    assert len(row["recharge_date"]) == 19 and row["recharge_date"][10] == " "


def test_recharge_record_get_pages_three_pages_both_ways(station_client):
    for index in range(25):
        _recharge_via_api(station_client, index)
    _recharge_via_api(station_client, 0, station_id="T9999")  # another station's: never listed
    for reverse, expected in (
        (False, [f"D{i:02d}" for i in reversed(range(25))]),
        (True, [f"D{i:02d}" for i in range(25)]),
    ):
        seen, page_obj, sizes = [], None, []
        while True:
            params = {"station_id": "T7442", "limit": 10, "reverse": reverse}
            if page_obj:
                params["page_obj"] = page_obj
            body = station_client.get("/sms/recharge_record/get", params).json()
            sizes.append(len(body["data"]))
            seen += [row["deal_code"] for row in body["data"]]
            page_obj = body["pagination"]["page_obj"]
            if not body["pagination"]["more"]:
                break
        assert sizes == [10, 10, 5]
        assert seen == expected


def test_recharge_record_get_filters_by_date_and_q(station_client):
    _recharge_via_api(station_client, 1)
    _recharge_via_api(station_client, 2)
    old = RechargeRecord.objects.get(deal_code="D01")
    old.recharge_date = timezone.now() - timedelta(days=40)
    old.save(update_fields=["recharge_date"])
    today = timezone.localdate().isoformat()
    recent = station_client.get(
        "/sms/recharge_record/get", {"station_id": "T7442", "start_date": today, "end_date": today}
    ).json()
    assert [row["deal_code"] for row in recent["data"]] == ["D02"]
    searched = station_client.get("/sms/recharge_record/get", {"station_id": "T7442", "q": "D01"}).json()
    assert [row["deal_code"] for row in searched["data"]] == ["D01"]


def test_recharge_record_get_rejects_reversed_range(station_client, db):
    body = station_client.get(
        "/sms/recharge_record/get",
        {"station_id": "T7442", "start_date": "2019-05-28", "end_date": "2019-04-28"},
    ).json()
    assert body["code"] == 1002 and "end_date" in body["msg"]


def test_unit_price_is_kept_as_sent_up_to_four_decimals(station_client):
    body = station_client.post(
        "/sms/recharge_record/create", {**SEED_RECHARGE, "unit_price": 9.6125}, format="json"
    ).json()
    assert body["code"] == 0
    assert RechargeRecord.objects.get().unit_price == Decimal("9.6125")


def test_a_unit_price_with_more_than_four_decimals_is_the_parameter_error(station_client):
    body = station_client.post(
        "/sms/recharge_record/create", {**SEED_RECHARGE, "unit_price": "9.61251"}, format="json"
    ).json()
    assert body["code"] == 1002, body
    assert not RechargeRecord.objects.exists()

"""Recharges move money: a receipt is credited once, fat fingers are refused, and no run of
recharges within the limits can overflow a station's totals (issue 19, findings 4 and 5)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.test import APIClient

from sms.models import BalanceLedger, RechargeRecord, Station
from tests.conftest import SERVICE_TOKEN

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


# --- A receipt replayed concurrently (issue 30, section 3) ------------------------------------


def _replay_together(bodies: list[dict]) -> list[tuple[int, int]]:
    """POST every body at once: one thread and one database connection each, released together by a
    barrier. Returns each answer's (HTTP status, code), sorted."""
    barrier = threading.Barrier(len(bodies))

    def post(body: dict) -> tuple[int, int]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {SERVICE_TOKEN}")
        try:
            barrier.wait(timeout=60)
            answer = client.post(URL, body, format="json")
            return answer.status_code, answer.json()["code"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return sorted(pool.map(post, bodies))


def _body(**overrides) -> dict:
    body = {
        "combo_id": CUSTOM_COMBO_ID,
        "station_id": "T7442",
        "recharge_nums": 100,
        "recharge_money": "10.00",
        "operator_name": "财务",
        "deal_code": "WX-20261125-0001",
    }
    return {**body, **overrides}


@pytest.mark.django_db(transaction=True)
def test_a_receipt_replayed_concurrently_is_credited_exactly_once():
    """Twelve copies of one recharge at once: every answer is the documented ``code`` 0 (a replay
    is safe), and the station holds one record, one ledger row and one credit."""
    Station.objects.create(station_id="T7442")  # the first recharge would otherwise create it too
    assert _replay_together([_body() for _ in range(12)]) == [(200, 0)] * 12
    assert _balance() == 100
    assert RechargeRecord.objects.count() == 1
    assert BalanceLedger.objects.filter(reason="recharge").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_receipt_raced_with_other_values_is_credited_once_and_the_rest_get_1007():
    """Twelve different recharges naming one receipt at once: one is booked, the other eleven get
    the documented ``1007`` (HTTP 409), none a 500."""
    Station.objects.create(station_id="T7442")
    bodies = [_body(recharge_nums=100 + index, recharge_money=f"{10 + index}.00") for index in range(12)]
    assert _replay_together(bodies) == [(200, 0)] + [(409, 1007)] * 11
    record = RechargeRecord.objects.get()
    assert _balance() == record.recharge_nums
    assert BalanceLedger.objects.filter(reason="recharge").count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_the_station_lock_the_database_still_credits_a_receipt_once(monkeypatch):
    """The unique constraint, not only the row lock: with the station lock gone and the receipt
    look-up blind until the insert fails (the worst race), every copy still gets ``code`` 0 and
    one credit is booked."""
    from sms.station_api import services

    Station.objects.create(station_id="T7442")
    real_lookup = services._booked_receipt
    inserted = threading.local()

    def blind_until_refused(station, deal_code):
        if not getattr(inserted, "tried", False):
            inserted.tried = True
            return None
        return real_lookup(station, deal_code)

    monkeypatch.setattr(services, "_booked_receipt", blind_until_refused)
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    assert _replay_together([_body() for _ in range(12)]) == [(200, 0)] * 12
    assert _balance() == 100
    assert RechargeRecord.objects.count() == 1
    assert BalanceLedger.objects.filter(reason="recharge").count() == 1


def test_the_database_refuses_a_receipt_booked_twice_for_a_station(station_client):
    """The constraint itself: a second row with the receipt is refused; empty receipts repeat."""
    _recharge(station_client)
    _recharge(station_client, deal_code="")
    _recharge(station_client, deal_code="")
    first = RechargeRecord.objects.get(deal_code="WX-20261125-0001")
    first.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        first.save(force_insert=True)
    assert RechargeRecord.objects.filter(deal_code="").count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_receipts_booked_twice_before_the_constraint():
    """Before issue 19 a receipt could be booked twice; migration 0020 keeps every record and
    renames the later copies ``<deal_code>#dup-<id>`` so the constraint can be added."""
    call_command("migrate", "sms", "0019", verbosity=0)
    try:
        station = Station.objects.create(station_id="T7442")
        with connection.cursor() as cursor:
            for code in ["WX-1", "WX-1", "WX-1", "", "", "WX-2"]:
                cursor.execute(
                    "INSERT INTO tbl_sms_recharge_record (station_id, combo_id, combo_name, recharge_nums,"
                    " recharge_money, deal_code, remark, operator_name, client_name, recharge_date)"
                    " VALUES (%s, %s, 'custom', 10, 1, %s, '', 'op', '', %s)",
                    [station.pk, CUSTOM_COMBO_ID, code, timezone.now()],
                )
    finally:
        call_command("migrate", "sms", verbosity=0)
    codes = list(RechargeRecord.objects.order_by("id").values_list("id", "deal_code"))
    first = codes[0][0]
    assert [code for _, code in codes] == [
        "WX-1",
        f"WX-1#dup-{first + 1}",
        f"WX-1#dup-{first + 2}",
        "",
        "",
        "WX-2",
    ]

"""Fixtures of the station SMS suites."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from sms.models import SendRecord, Station
from sms.station_api import services

CUSTOM_COMBO_ID = 4


@pytest.fixture
def recharge(db) -> Callable[..., Station]:
    """``recharge("T7442", 10)``: give a station messages through the real recharge service."""

    def make(station_id: str = "T7442", nums: int = 100, *, station_name: str = "") -> Station:
        services.recharge_station(
            station_id=station_id,
            combo_id=CUSTOM_COMBO_ID,
            recharge_nums=nums,
            recharge_money=Decimal(nums) / 10,
            operator_name="tester",
            station_name=station_name,
        )
        return Station.objects.get(station_id=station_id)

    return make


def seed_send_request(**overrides) -> dict:
    """Seed 000's own send/add example."""
    body = {
        "station_id": "T7442",
        "receive_phone": 13112341234,
        "sms_content": {"verify_code": "112095", "sms_signature": "[去采购报价单]"},
        "business_type": 2,
    }
    body.update(overrides)
    return body


@pytest.fixture
def add_record(station_client) -> Callable[..., SendRecord]:
    """Add a record through the API and return it."""

    def make(**overrides) -> SendRecord:
        body = station_client.post("/sms/send/add", seed_send_request(**overrides), format="json").json()
        assert body["code"] == 0, body
        return SendRecord.objects.get(pk=body["data"]["task_id"])

    return make

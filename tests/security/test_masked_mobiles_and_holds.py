"""Deployment defaults of issue 19, finding 10: operators see masked mobiles unless granted the
permission; records added and never started give their balance back after the hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from sms.models import BalanceLedger, RecordState, SendRecord, Station
from sms.sending import sweeps
from sms.station_api import services
from tests.support.factories import UserFactory, send_record

pytestmark = pytest.mark.django_db


PHONE = "13112341234"


def _record() -> SendRecord:
    return send_record(receive_phone=PHONE, state=RecordState.FAILED, status=2)


@pytest.fixture
def operator(client):
    """Staff who may view send records, nothing more."""
    user = UserFactory(username="operator", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_sendrecord"))
    client.force_login(user)
    return user


def test_the_send_record_page_masks_the_mobile_for_an_operator(client, operator):
    record = _record()
    page = client.get(f"/admin/sms/sendrecord/{record.pk}/change/").content.decode()
    assert "131****1234" in page
    assert PHONE not in page


def test_the_full_mobile_needs_its_own_permission(client, operator):
    record = _record()
    operator.user_permissions.add(Permission.objects.get(codename="view_full_mobile"))
    page = client.get(f"/admin/sms/sendrecord/{record.pk}/change/").content.decode()
    assert PHONE in page


def test_an_unstarted_record_expires_after_the_hold_and_its_balance_comes_back(recharge):
    recharge("T7442", 5)
    record = services.create_station_send(
        station_id="T7442",
        receive_phone=PHONE,
        business_type=2,
        sms_content={"verify_code": "1234", "sms_signature": "去采购"},
    )
    fresh = services.create_station_send(
        station_id="T7442",
        receive_phone=PHONE,
        business_type=2,
        sms_content={"verify_code": "5678", "sms_signature": "去采购"},
    )
    assert Station.objects.get(station_id="T7442").balance_nums == 3
    SendRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(days=2))

    assert sweeps.expire_unstarted(older_than=timedelta(days=1)) == 1
    assert sweeps.expire_unstarted(older_than=timedelta(days=1)) == 0  # once
    record.refresh_from_db()
    assert (record.state, record.provider_code, record.refunded) == (RecordState.FAILED, "NotStarted", True)
    assert Station.objects.get(station_id="T7442").balance_nums == 4
    assert BalanceLedger.objects.filter(reason="refund", ref=str(record.pk)).count() == 1
    # Starting it now sends nothing; the fresh one is untouched.
    assert services.start_station_send(task_id=record.pk).state == RecordState.FAILED
    fresh.refresh_from_db()
    assert fresh.state == RecordState.CREATED

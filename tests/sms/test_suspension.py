"""Operators suspend a station or a tenant: their sends are refused at once and their unsent
records fail with refunds; and a station's daily cap."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db.models import Sum

from sms.models import BalanceLedger, RecordState, SendRecord, Station, TenantAccount
from sms.sending import suspension
from tests.sms.conftest import seed_send_request
from tests.support.factories import UserFactory
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db


def _add(client, **overrides) -> dict:
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        return client.post("/sms/send/add", seed_send_request(**overrides), format="json").json()


def _start(client, task_id: int) -> dict:
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        return client.post("/sms/send/start", {"task_id": task_id}, format="json").json()


def _ledger_matches(**account) -> bool:
    owner = (
        Station.objects.get(**account) if "station_id" in account else TenantAccount.objects.get(**account)
    )
    key = "station" if isinstance(owner, Station) else "tenant"
    return owner.balance_nums == BalanceLedger.objects.filter(**{key: owner}).aggregate(s=Sum("delta"))["s"]


def test_a_suspended_station_is_refused_and_its_unsent_records_fail_with_refunds(station_client, recharge):
    recharge("T7442", 10)
    added = _add(station_client)["data"]["task_id"]
    queued = _add(station_client, receive_phone="13112340002")["data"]["task_id"]
    _start(station_client, queued)
    assert Station.objects.get(station_id="T7442").balance_nums == 8

    assert suspension.suspend_station(station_id="T7442", reason="complaints of spam") == 2
    assert _add(station_client) == {
        "code": 1010,
        "msg": "sending suspended: complaints of spam",
        "data": None,
    }
    assert _start(station_client, added)["code"] == 1010
    assert set(SendRecord.objects.values_list("state", "provider_code")) == {
        (RecordState.FAILED, "Suspended")
    }
    assert Station.objects.get(station_id="T7442").balance_nums == 10
    assert _ledger_matches(station_id="T7442")

    suspension.suspend_station(station_id="T7442", reason="")
    assert _add(station_client)["code"] == 0


def test_a_suspended_tenant_is_refused_with_er0037(basic_client, tenant, root_user):
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    body = {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": ["13100000001"], "params": ["112095", "5"]}
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        assert basic_client(tenant).post("/v1/message", body, format="json").status_code == 200
    account = TenantAccount.objects.get(user=tenant)
    assert suspension.suspend_tenant(account_id=account.pk, reason="unpaid") == 1
    answer = basic_client(tenant).post("/v1/message", body, format="json")
    assert answer.status_code == 403
    assert answer.json() == {"error": "ER:0037", "message": "sending suspended: unpaid"}
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 10}
    assert _ledger_matches(pk=account.pk)


def test_an_operator_suspends_a_station_in_the_admin(client, recharge, station_client):
    recharge("T7442", 10)
    _add(station_client)
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    station = Station.objects.get(station_id="T7442")
    response = client.post(
        f"/admin/sms/station/{station.pk}/change/",
        {"station_id": "T7442", "station_name": "", "suspended_reason": "fraud"},
    )
    assert response.status_code == 302
    assert Station.objects.get(station_id="T7442").suspended_reason == "fraud"
    assert SendRecord.objects.get().state == RecordState.FAILED
    assert _add(station_client)["code"] == 1010


def test_a_station_may_add_at_most_its_daily_cap(station_client, recharge, settings):
    settings.SMS_STATION_DAILY_CAP = 2
    recharge("T7442", 10)
    codes = [_add(station_client, receive_phone=f"1311234000{n}")["code"] for n in range(3)]
    assert codes == [0, 0, 1008]
    assert SendRecord.objects.count() == 2

"""The operators' admin: every change goes through the same services as the API."""

import pytest

from signatures.models import AuditStatus
from sms.models import BalanceLedger, RecordState, SendRecord, Station, TenantAccount
from tests.support.factories import UserFactory
from tests.support.platform import make_signature, make_template, tenant_admin_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(operator)
    return client


def test_recharge_in_admin_books_through_the_ledger(staff_client):
    response = staff_client.post(
        "/admin/sms/rechargerecord/add/",
        {
            "station_id": "T7442",
            "combo": 4,
            "recharge_nums": 10,
            "recharge_money": "0.30",
            "deal_code": "X1",
            "remark": "",
            "operator_name": "ops",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    station = Station.objects.get(station_id="T7442")
    assert station.balance_nums == 10 and station.total_recharge_nums == 10
    assert BalanceLedger.objects.get(station=station).delta == 10


def test_admin_recharge_refused_by_the_service_rules_shows_the_error(staff_client):
    response = staff_client.post(
        "/admin/sms/rechargerecord/add/",
        {
            "station_id": "T7442",
            "combo": 1,
            "recharge_nums": 5,
            "recharge_money": "1.00",
            "operator_name": "ops",
        },
    )
    assert response.status_code == 200
    assert "holds 2000 messages" in response.content.decode()
    assert not Station.objects.exists()


def test_station_balance_cannot_be_edited_in_admin(staff_client, recharge):
    station = recharge("T7442", 10)
    staff_client.post(
        f"/admin/sms/station/{station.pk}/change/",
        {"station_id": "T7442", "station_name": "x", "balance_nums": 999},
    )
    station.refresh_from_db()
    assert station.balance_nums == 10


def test_send_record_list_masks_phones_and_finds_by_phone(staff_client):
    SendRecord.objects.create(
        station_id="T7442",
        receive_phone="13112341234",
        phone_e164="+8613112341234",
        business_type=0,
        content="x",
        segments=1,
        state=RecordState.FAILED,
        status=2,
        provider="tencent",
        provider_code="MK:0001",
        remark="MK:0001: 空号",
    )
    page = staff_client.get("/admin/sms/sendrecord/", {"q": "13112341234"}).content.decode()
    assert "131****1234" in page and "13112341234</td>" not in page
    assert "MK:0001" in page


def test_charge_in_admin_goes_through_the_ledger(staff_client, tenant):
    from sms.tenant_api import services as tenant_services

    tenant_services.charge_tenant(username=tenant.username, charge=1)
    account = TenantAccount.objects.get(user=tenant)
    response = staff_client.post(
        f"/admin/sms/tenantaccount/{account.pk}/change/", tenant_admin_form(account, charge=50)
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.balance_nums == 51
    assert list(
        BalanceLedger.objects.filter(tenant=account).values_list("delta", flat=True).order_by("id")
    ) == [1, 50]


def test_review_actions_call_the_review_services(staff_client, tenant):
    sign = make_signature(tenant, passed=False)
    template = make_template(tenant, make_signature(tenant, signature="二"), passed=False)
    staff_client.post("/admin/signatures/signature/", {"action": "approve", "_selected_action": [sign.pk]})
    staff_client.post(
        "/admin/templates_mgmt/template/", {"action": "reject", "_selected_action": [template.pk]}
    )
    sign.refresh_from_db()
    template.refresh_from_db()
    assert sign.audit_status == AuditStatus.PASSED
    assert (template.audit_status, template.reject_reason) == (
        AuditStatus.REJECTED,
        "rejected by an operator",
    )

"""v1/message, v1/balance and v2/charge (seed 001)."""

from unittest import mock

import pytest

from sms.models import BalanceLedger, MessageBatch, RecordState, SendRecord, TenantAccount
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

URL = "/v1/message"
MOBILES = ["13100000001", "13100000002", "+8613100000003"]


@pytest.fixture
def ready(tenant, basic_client, root_user):
    """A tenant with a passed signature and template and 100 messages of balance."""
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 100}, format="json")
    return sign, template


def _send(client, sign, template, mobiles=MOBILES, params=("112095", "5")):
    return client.post(
        URL,
        {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": list(mobiles), "params": list(params)},
        format="json",
    )


def test_send_answers_uuid_and_queues_one_record_per_mobile(
    basic_client, tenant, ready, django_capture_on_commit_callbacks
):
    sign, template = ready
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = _send(basic_client(tenant), sign, template)
    assert response.status_code == 200
    batch = MessageBatch.objects.get(uuid=response.json()["uuid"])
    records = SendRecord.objects.filter(batch=batch)
    assert records.count() == 3 and {r.state for r in records} == {RecordState.QUEUED}
    assert records.first().content == "【去采购】您的验证码为112095，5分钟内有效。"
    delay.assert_called_once()
    assert sorted(delay.call_args.args[0]) == sorted(records.values_list("id", flat=True))
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 97}


def test_ten_thousand_mobiles_are_a_handful_of_dispatch_tasks(
    basic_client, tenant, root_user, django_capture_on_commit_callbacks
):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="通知{1}", template_type=2)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10000}, format="json")
    mobiles = [f"131{index:08d}" for index in range(10000)]
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = _send(basic_client(tenant), sign, template, mobiles=mobiles, params=["x"])
    assert response.status_code == 200
    assert [len(call.args[0]) for call in delay.call_args_list] == [3000, 3000, 3000, 1000]
    assert SendRecord.objects.count() == 10000


def test_a_number_listed_twice_is_sent_and_billed_once(basic_client, tenant, ready):
    sign, template = ready
    _send(basic_client(tenant), sign, template, mobiles=["13100000001", "+8613100000001", "131-0000-0001"])
    assert SendRecord.objects.count() == 1
    assert TenantAccount.objects.get(user=tenant).balance_nums == 99


def test_invalid_mobiles_are_er0033_naming_them_and_nothing_is_sent(basic_client, tenant, ready):
    sign, template = ready
    response = _send(basic_client(tenant), sign, template, mobiles=["13100000001", "12345", "abc"])
    assert (response.status_code, response.json()["error"]) == (403, "ER:0033")
    assert "12345" in response.json()["message"] and "abc" in response.json()["message"]
    assert not SendRecord.objects.exists() and TenantAccount.objects.get(user=tenant).balance_nums == 100


def test_sign_not_passed_is_er0031_and_template_not_passed_is_er0032(basic_client, tenant):
    pending_sign = make_signature(tenant, passed=False)
    template_of_pending = make_template(tenant, pending_sign)
    assert _send(basic_client(tenant), pending_sign, template_of_pending).json()["error"] == "ER:0031"
    sign = make_signature(tenant, signature="已通过")
    pending_template = make_template(tenant, sign, passed=False)
    assert _send(basic_client(tenant), sign, pending_template).json()["error"] == "ER:0032"


def test_missing_params_are_er0021(basic_client, tenant, ready):
    sign, template = ready
    response = _send(basic_client(tenant), sign, template, params=["only-one"])
    assert (response.status_code, response.json()["error"]) == (403, "ER:0021")


def test_balance_not_enough_is_er0034_and_nothing_is_written(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    response = _send(basic_client(tenant), sign, template)
    assert (response.status_code, response.json()["error"]) == (403, "ER:0034")
    assert response.json()["message"].startswith("balance not enough")
    assert not SendRecord.objects.exists() and not MessageBatch.objects.exists()


def test_another_tenants_sign_or_template_cannot_be_used_both_ways(
    basic_client, tenant, other_tenant, root_user
):
    for user in (tenant, other_tenant):
        basic_client(root_user).post("/v2/charge", {"user": user.username, "charge": 10}, format="json")
    mine = (make_signature(tenant), None)
    mine = (mine[0], make_template(tenant, mine[0]))
    theirs = (make_signature(other_tenant), None)
    theirs = (theirs[0], make_template(other_tenant, theirs[0]))
    assert _send(basic_client(tenant), theirs[0], theirs[1]).json()["error"] == "ER:0023"
    assert _send(basic_client(other_tenant), mine[0], mine[1]).json()["error"] == "ER:0023"
    assert _send(basic_client(tenant), mine[0], theirs[1]).json()["error"] == "ER:0024"
    assert not SendRecord.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"sign_id": 1, "temp_id": 1, "mobiles": []}, {"sign_id": 1, "temp_id": 1, "mobiles": "13100000001"}],
)
def test_missing_or_ill_typed_fields_are_er0004(basic_client, tenant, body):
    response = basic_client(tenant).post(URL, body, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "ER:0004")


def test_more_than_ten_thousand_mobiles_is_er0004(basic_client, tenant, ready):
    sign, template = ready
    response = _send(basic_client(tenant), sign, template, mobiles=[f"131{i:08d}" for i in range(10001)])
    assert (response.status_code, response.json()["error"]) == (400, "ER:0004")


def test_progress_counts_states_and_lists_each_mobile(basic_client, tenant, ready):
    sign, template = ready
    batch_uuid = _send(basic_client(tenant), sign, template).json()["uuid"]
    failed = SendRecord.objects.get(receive_phone="13100000002")
    SendRecord.objects.filter(pk=failed.pk).update(
        state=RecordState.FAILED, remark="UNDELIV: gateway status UNDELIV"
    )
    SendRecord.objects.filter(receive_phone="13100000003").update(state=RecordState.SUBMITTED)
    body = basic_client(tenant).get(URL, {"uuid": batch_uuid}).json()
    assert body["counts"] == {"queued": 1, "sending": 1, "delivered": 0, "failed": 1, "unknown": 0}
    assert body["total"] == 3
    assert {item["mobile"]: (item["state"], item["reason"]) for item in body["items"]} == {
        "13100000001": ("queued", ""),
        "13100000002": ("failed", "UNDELIV: gateway status UNDELIV"),
        "13100000003": ("sending", ""),
    }


def test_progress_of_another_tenants_uuid_is_refused(basic_client, tenant, other_tenant, ready):
    sign, template = ready
    batch_uuid = _send(basic_client(tenant), sign, template).json()["uuid"]
    response = basic_client(other_tenant).get(URL, {"uuid": batch_uuid})
    assert (response.status_code, response.json()["error"]) == (400, "ER:0004")
    assert basic_client(tenant).get(URL, {"uuid": "not-a-uuid"}).json()["error"] == "ER:0004"


# --- v2/charge ----------------------------------------------------------------------------------


def test_charge_adds_balance_with_a_ledger_row(basic_client, tenant, root_user):
    response = basic_client(root_user).post("/v2/charge", {"user": "dcs", "charge": 100}, format="json")
    assert response.json() == {"message": "ok", "balance": 100}
    basic_client(root_user).post("/v2/charge", {"user": "dcs", "charge": 5}, format="json")
    account = TenantAccount.objects.get(user=tenant)
    assert account.balance_nums == 105
    assert list(
        BalanceLedger.objects.filter(tenant=account).values_list("delta", flat=True).order_by("id")
    ) == [100, 5]


@pytest.mark.parametrize(
    "body",
    [
        {"user": "nobody", "charge": 1},
        {"user": "dcs", "charge": 0},
        {"user": "dcs", "charge": -5},
        {"user": "dcs", "charge": "x"},
        {"user": "dcs"},
    ],
)
def test_charge_refusals_are_er0004(basic_client, tenant, root_user, body):
    response = basic_client(root_user).post("/v2/charge", body, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "ER:0004")
    assert not TenantAccount.objects.filter(balance_nums__gt=0).exists()


def test_tenant_calling_charge_is_er0003(basic_client, tenant):
    response = basic_client(tenant).post("/v2/charge", {"user": "dcs", "charge": 100}, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "ER:0003")
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 0}


def test_ledger_sums_to_balance_after_sends_and_charges(basic_client, tenant, ready):
    sign, template = ready
    _send(basic_client(tenant), sign, template)
    account = TenantAccount.objects.get(user=tenant)
    assert (
        sum(BalanceLedger.objects.filter(tenant=account).values_list("delta", flat=True))
        == account.balance_nums
        == 97
    )

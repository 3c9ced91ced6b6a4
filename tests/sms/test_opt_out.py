"""Opt-outs (issue 15): a reply with an opt-out keyword blocks the number from that signature's
marketing; marketing to a blocked number is failed OPTED_OUT and not charged, notices and verify
codes still go; tenants manage their blocklist in v1/blocklist, operators see it in the admin."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from providers.base import InboundMessage
from sms.delivery import uplinks
from sms.marketing import optout
from sms.models import BalanceLedger, BlocklistEntry, RecordState, SendRecord, TenantAccount
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

PHONE = "13100000001"
OTHER = "13100000002"
MARKETING = "双十二全场5折{1}，回T退订"


@pytest.fixture
def tenant_ready(tenant, basic_client, root_user, business_clock):
    """A tenant with a passed signature, a marketing and a notice template, 100 messages; the
    business clock at 10:00 China time (within the marketing hours)."""
    business_clock.set_now(dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    sign = make_signature(tenant)
    templates = {
        "marketing": make_template(tenant, sign, template=MARKETING, template_type=3),
        "notice": make_template(tenant, sign, template="您的订单{1}已发货", template_type=2),
    }
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 100}, format="json")
    return sign, templates


def _send(client, sign, template, mobiles):
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        response = client.post(
            "/v1/message",
            {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["x"]},
            format="json",
        )
    assert response.status_code == 200, response.json()
    return response.json()["uuid"]


def _delivered(batch_uuid: str) -> None:
    """The pipeline's part, briefly: the batch was sent and delivered a minute ago."""
    SendRecord.objects.filter(batch__uuid=batch_uuid).update(
        state=RecordState.DELIVERED, provider="gateway", submitted_at=timezone.now() - dt.timedelta(minutes=1)
    )


def _reply(text: str, *, phone: str = PHONE, sign: str = "") -> int:
    return uplinks.store_uplinks(
        provider="gateway", messages=[InboundMessage("gateway", phone, text, timezone.now(), sign=sign)]
    )


@pytest.mark.parametrize(
    "text", ["TD", " td ", "Ｔｄ", "T", "n", "R", "退订", "取消", "拒收", "Unsubscribe", "STOP"]
)
def test_the_opt_out_keywords_trimmed_and_case_folded(text):
    assert optout.is_opt_out(text)


@pytest.mark.parametrize("text", ["TD退订了吗", "好的", "1", "stop it", ""])
def test_other_replies_are_not_opt_outs(text):
    assert not optout.is_opt_out(text)


def test_a_reply_td_blocks_the_next_marketing_send_but_not_a_notice(basic_client, tenant, tenant_ready):
    sign, templates = tenant_ready
    _delivered(_send(basic_client(tenant), sign, templates["notice"], [PHONE, OTHER]))
    assert _reply("TD") == 1
    entry = BlocklistEntry.objects.get()
    assert (entry.phone_e164, entry.sign_id, entry.source, entry.source_text) == (
        f"+86{PHONE}",
        sign.pk,
        "uplink",
        "TD",
    )
    balance = TenantAccount.objects.get(user=tenant).balance_nums

    batch = _send(basic_client(tenant), sign, templates["marketing"], [PHONE, OTHER])
    blocked = SendRecord.objects.get(batch__uuid=batch, receive_phone=PHONE)
    assert (blocked.state, blocked.provider_code, blocked.segments) == (RecordState.FAILED, "OPTED_OUT", 0)
    assert SendRecord.objects.get(batch__uuid=batch, receive_phone=OTHER).state == RecordState.QUEUED
    assert TenantAccount.objects.get(user=tenant).balance_nums == balance - 1  # only OTHER is charged
    progress = basic_client(tenant).get("/v1/message", {"uuid": batch}).json()
    assert {item["mobile"]: item["state"] for item in progress["items"]} == {PHONE: "failed", OTHER: "queued"}

    notice = _send(basic_client(tenant), sign, templates["notice"], [PHONE])
    assert SendRecord.objects.get(batch__uuid=notice).state == RecordState.QUEUED


def test_an_opt_out_blocks_only_the_signature_replied_to(basic_client, tenant, tenant_ready):
    sign, templates = tenant_ready
    _delivered(_send(basic_client(tenant), sign, templates["notice"], [PHONE]))
    _reply("退订")
    other_sign = make_signature(tenant, signature="鲜蔬直供")
    other_marketing = make_template(tenant, other_sign, template="新品{1}上市，回TD退订", template_type=3)
    batch = _send(basic_client(tenant), other_sign, other_marketing, [PHONE])
    assert SendRecord.objects.get(batch__uuid=batch).state == RecordState.QUEUED


def test_an_unmatched_opt_out_naming_a_tenants_signature_blocks_every_signature(
    basic_client, tenant, tenant_ready
):
    _reply("T", sign="【去采购】")  # no message of ours reached the number: only the signature says whose
    entry = BlocklistEntry.objects.get()
    assert (entry.sign_id, entry.tenant.user, entry.phone_e164) == (0, tenant, f"+86{PHONE}")
    other_sign = make_signature(tenant, signature="鲜蔬直供")
    other_marketing = make_template(tenant, other_sign, template="新品{1}上市，回TD退订", template_type=3)
    batch = _send(basic_client(tenant), other_sign, other_marketing, [PHONE])
    assert SendRecord.objects.get(batch__uuid=batch).provider_code == "OPTED_OUT"


def test_an_opt_out_that_names_nobody_blocks_nothing(tenant_ready):
    assert _reply("TD") == 1  # kept as an uplink
    assert not BlocklistEntry.objects.exists()


def test_a_repeated_opt_out_is_one_entry(basic_client, tenant, tenant_ready):
    sign, templates = tenant_ready
    _delivered(_send(basic_client(tenant), sign, templates["notice"], [PHONE]))
    _reply("TD")
    uplinks.store_uplinks(
        provider="gateway",
        messages=[InboundMessage("gateway", PHONE, "td", timezone.now() + dt.timedelta(seconds=5))],
    )
    assert BlocklistEntry.objects.count() == 1


def test_an_opted_out_record_is_not_billed_and_the_ledger_matches(basic_client, tenant, tenant_ready):
    sign, templates = tenant_ready
    basic_client(tenant).post("/v1/blocklist", {"mobiles": [PHONE]}, format="json")
    _send(basic_client(tenant), sign, templates["marketing"], [PHONE])
    account = TenantAccount.objects.get(user=tenant)
    assert account.balance_nums == 100
    assert sum(BalanceLedger.objects.filter(tenant=account).values_list("delta", flat=True)) == 100


# --- v1/blocklist -----------------------------------------------------------------------------


def test_post_blocks_numbers_and_repeating_it_changes_nothing(basic_client, tenant, tenant_ready):
    sign, _ = tenant_ready
    client = basic_client(tenant)
    first = client.post(
        "/v1/blocklist", {"mobiles": [PHONE, "+8613100000002"], "sign_id": sign.pk}, format="json"
    )
    assert (first.status_code, first.json()) == (200, {"added": 2})
    again = client.post("/v1/blocklist", {"mobiles": [PHONE], "sign_id": sign.pk}, format="json")
    assert again.json() == {"added": 0}
    listed = client.get("/v1/blocklist").json()
    assert listed["total"] == 2
    assert {(item["mobile"], item["sign_id"], item["source"]) for item in listed["items"]} == {
        (f"+86{PHONE}", str(sign.pk), "api"),
        ("+8613100000002", str(sign.pk), "api"),
    }
    assert client.get("/v1/blocklist", {"mobile": "131 0000 0001"}).json()["total"] == 1


def test_delete_unblocks_and_marketing_reaches_the_number_again(basic_client, tenant, tenant_ready):
    sign, templates = tenant_ready
    client = basic_client(tenant)
    client.post("/v1/blocklist", {"mobiles": [PHONE]}, format="json")
    removed = client.delete("/v1/blocklist", {"mobiles": [PHONE]}, format="json")
    assert (removed.status_code, removed.json()) == (200, {"removed": 1})
    batch = _send(client, sign, templates["marketing"], [PHONE])
    assert SendRecord.objects.get(batch__uuid=batch).state == RecordState.QUEUED


def test_the_blocklist_is_the_tenants_own(basic_client, tenant, other_tenant, tenant_ready):
    sign, _ = tenant_ready
    basic_client(tenant).post("/v1/blocklist", {"mobiles": [PHONE]}, format="json")
    assert basic_client(other_tenant).get("/v1/blocklist").json()["total"] == 0
    theirs = basic_client(other_tenant).post(
        "/v1/blocklist", {"mobiles": [PHONE], "sign_id": sign.pk}, format="json"
    )
    assert (theirs.status_code, theirs.json()["error"]) == (403, "ER:0023")
    gone = basic_client(other_tenant).delete("/v1/blocklist", {"mobiles": [PHONE]}, format="json")
    assert gone.json() == {"removed": 0}
    assert BlocklistEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"mobiles": ["12345"]}, "ER:0033"),
        ({"mobiles": []}, "ER:0004"),
        ({"mobiles": [PHONE], "sign_id": 0}, "ER:0004"),
        ({}, "ER:0004"),
    ],
)
def test_bad_blocklist_bodies_are_refused_and_change_nothing(basic_client, tenant, tenant_ready, body, error):
    response = basic_client(tenant).post("/v1/blocklist", body, format="json")
    assert response.json()["error"] == error
    assert not BlocklistEntry.objects.exists()


def test_operators_see_every_tenants_opt_outs_masked(admin_client, basic_client, tenant, tenant_ready):
    basic_client(tenant).post("/v1/blocklist", {"mobiles": [PHONE]}, format="json")
    page = admin_client.get("/admin/sms/blocklistentry/").content.decode()
    assert "131****0001" in page and PHONE not in page

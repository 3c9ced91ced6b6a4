"""Capability flags (issue 26): what an operator lets a tenant do. A request that needs a capability
the tenant lacks is refused whole with its ``ER:`` code (ER:0040 international, ER:0041 marketing,
ER:0042 scheduling, ER:0043 uplinks) and nothing written or reserved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from providers.base import InboundMessage
from sms.delivery import uplinks
from sms.guard import services as guard_services
from sms.models import BlocklistEntry, RecordState, SendRecord, TenantAccount, Uplink
from sms.sending.suspension import suspend_tenant
from tests.sms.guard.conftest import footprint
from tests.support.platform import allow_international

pytestmark = pytest.mark.django_db

UK, SG = "+447911123456", "+6591234567"


def _set(sender, **flags: bool) -> None:
    guard_services.set_capabilities(account_id=sender.account.pk, changes=flags)


def test_a_new_tenant_may_do_everything_but_send_abroad(tenant):
    account = TenantAccount.objects.create(user=tenant)
    assert (
        account.international_enabled,
        account.marketing_enabled,
        account.scheduling_enabled,
        account.uplinks_enabled,
    ) == (False, True, True, True)


def test_a_number_abroad_is_er0040_naming_it_and_nothing_is_written(sender):
    before, balance = footprint(), sender.balance()
    response = sender.post(["13912340001", UK, "0065 9123 4567"])
    assert response.status_code == 403
    assert response.json() == {
        "error": "ER:0040",
        "message": f"international not enabled: {UK}, {SG}: numbers outside +86 need international "
        "sending; an operator enables it for your account",
    }
    assert footprint() == before and sender.balance() == balance


def test_er0040_names_twenty_numbers_and_counts_the_rest(sender):
    abroad = [f"+44791112{index:04d}" for index in range(25)]
    message = sender.post(abroad).json()["message"]
    assert abroad[19] in message and abroad[20] not in message
    assert " and 5 more: " in message


def test_mainland_numbers_need_no_capability_and_an_allowed_country_goes_out(sender):
    assert sender.states(sender.send(["13912340001", "+8613912340002"])) == {
        "13912340001": ("queued", ""),
        "13912340002": ("queued", ""),
    }
    allow_international(sender.user, 44)
    assert sender.states(sender.send([UK]))[UK] == ("queued", "")


def test_an_invalid_number_is_er0033_before_the_capabilities_are_judged(sender):
    response = sender.post(["12345", UK])
    assert (response.status_code, response.json()["error"]) == (403, "ER:0033")


def test_a_suspended_tenant_is_er0037_before_the_capabilities_are_judged(sender):
    suspend_tenant(account_id=sender.account.pk, reason="unpaid")
    assert sender.post([UK]).json()["error"] == "ER:0037"


def test_marketing_off_is_er0041_for_a_marketing_template_only(sender):
    _set(sender, marketing_enabled=False)
    before = footprint()
    response = sender.post(["13912340001"], kind=3)
    assert response.status_code == 403
    assert response.json() == {
        "error": "ER:0041",
        "message": "marketing not enabled: a marketing template (type 3) needs marketing; "
        "an operator enables it for your account",
    }
    assert footprint() == before
    sender.send(["13912340001"], kind=2)  # a notice
    sender.send(["13912340002"], kind=1)  # a verify code


def test_marketing_off_does_not_refuse_creating_a_marketing_template(sender):
    """Templates know nothing of accounts; a tenant may have one reviewed before it is enabled."""
    _set(sender, marketing_enabled=False)
    response = sender.client.post(
        "/v1/template",
        {
            "name": "促销",
            "template": "全场5折{1}，回T退订",
            "type": 3,
            "description": "x",
            "sign_id": sender.sign_id,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()


def test_scheduling_off_is_er0042_for_send_at(sender, business_clock):
    _set(sender, scheduling_enabled=False)
    before = footprint()
    send_at = int((business_clock.now() + dt.timedelta(hours=1)).timestamp())
    response = sender.post(["13912340001"], kind=2, send_at=send_at)
    assert response.status_code == 403
    assert response.json() == {
        "error": "ER:0042",
        "message": "scheduling not enabled: send_at needs scheduling; send without it, or an operator "
        "enables it for your account",
    }
    assert footprint() == before
    # Even a send_at that would be refused as out of range: the capability is judged first.
    assert sender.post(["13912340001"], kind=2, send_at=1700000000).json()["error"] == "ER:0042"
    sender.send(["13912340001"], kind=2)  # at once: no capability needed


def test_a_marketing_batch_held_for_the_sending_hours_is_not_scheduling(sender, business_clock):
    _set(sender, scheduling_enabled=False)
    business_clock.set_now(dt.datetime(2026, 12, 2, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    batch = sender.send(["13912340001"], kind=3)
    assert SendRecord.objects.get(batch__uuid=batch).state == RecordState.SCHEDULED


def test_uplinks_off_is_er0043_but_replies_are_kept_and_opt_outs_honoured(sender):
    sent = sender.send(["13100000001"], kind=3)
    SendRecord.objects.filter(batch__uuid=sent).update(
        state=RecordState.DELIVERED, provider="gateway", submitted_at=timezone.now() - dt.timedelta(minutes=1)
    )
    _set(sender, uplinks_enabled=False)
    response = sender.client.get("/v1/uplink")
    assert response.status_code == 403
    assert response.json() == {
        "error": "ER:0043",
        "message": "uplinks not enabled: reading replies needs uplinks; an operator enables it for your account",
    }
    stored = uplinks.store_uplinks(
        provider="gateway", messages=[InboundMessage("gateway", "13100000001", "TD", timezone.now())]
    )
    assert stored == 1 and Uplink.objects.get().tenant_id == sender.account.pk
    assert BlocklistEntry.objects.filter(tenant=sender.account).count() == 1
    _set(sender, uplinks_enabled=True)
    assert sender.client.get("/v1/uplink").json()["total"] == 1


def test_a_user_without_an_account_yet_reads_its_uplinks(tenant, basic_client):
    assert basic_client(tenant).get("/v1/uplink").json()["total"] == 0


def test_set_capabilities_refuses_an_unknown_flag_and_changes_nothing(sender):
    from gm_server_notify.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no such capability: teleport"):
        guard_services.set_capabilities(account_id=sender.account.pk, changes={"teleport": True})
    assert (
        guard_services.set_capabilities(account_id=sender.account.pk, changes={"marketing_enabled": True})
        == {}
    )

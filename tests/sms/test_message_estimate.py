"""POST v1/message/estimate (issue 26): what POST v1/message with the same body would do, each
number's parts and encoding, the parts, the cost, the refusal the send would answer; it writes,
reserves and books nothing."""

from __future__ import annotations

import time
from decimal import Decimal
from unittest import mock

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.cache import cache

from sms.accounting import caps
from sms.models import BlocklistEntry, SendRecord, TenantAccount
from sms.sending import limits
from sms.tenant_api import services as tenant_services
from tests.support.platform import allow_international, make_signature, make_template

pytestmark = pytest.mark.django_db

ESTIMATE = "/v1/message/estimate"
VERIFY = "您的验证码为{1}，{2}分钟内有效。"
VERIFY_PARAMS = ["112095", "5"]


@pytest.fixture
def ready(tenant):
    """A passed signature and verify-code template, and 100 messages of balance."""
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template=VERIFY)
    tenant_services.charge_tenant(username=tenant.username, charge=100)
    allow_international(tenant, 44)  # the examples' +44 number (sms.guard)
    return sign, template


def _body(sign, template, mobiles, params=VERIFY_PARAMS, **extra) -> dict:
    return {
        "sign_id": sign.pk,
        "temp_id": template.pk,
        "mobiles": list(mobiles),
        "params": list(params),
        **extra,
    }


def _estimate(client, body):
    return client.post(ESTIMATE, body, format="json")


def _every_table() -> dict[str, list]:
    """Every row of every table the apps have (id and all), to prove nothing changed."""
    return {
        model._meta.db_table: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def _limit_bookings(mobiles: list[str]) -> dict[str, object]:
    """The verify-code bookings of ``mobiles``: Redis' sorted sets, or the embedded default's
    counters in the cache."""
    client = limits._booking.client()
    if client is not None:
        return {mobile: client.zrange(limits._key(mobile), 0, -1) for mobile in mobiles}
    windows = limits.parse_limits(django_settings.SMS_VERIFY_LIMITS)
    now = int(time.time())
    return {key: cache.get(key) for key in (limits._cache_key(m, w, now) for m in mobiles for w in windows)}


def test_each_entry_is_listed_in_order_with_its_parts_and_encoding(basic_client, tenant, ready):
    sign, template = ready
    answer = _estimate(
        basic_client(tenant),
        _body(sign, template, ["13112341234", "+447911123456", "131-1234-1234", "12345"]),
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {
        "numbers": [
            {"mobile": "13112341234", "valid": True, "reason": "", "encoding": "UCS-2", "parts": 1},
            {"mobile": "+447911123456", "valid": True, "reason": "", "encoding": "UCS-2", "parts": 1},
            {
                "mobile": "131-1234-1234",
                "valid": False,
                "reason": "duplicate of an earlier entry (13112341234)",
                "encoding": None,
                "parts": 0,
            },
            {
                "mobile": "12345",
                "valid": False,
                "reason": "'12345' is not a valid mobile number: wrong length",
                "encoding": None,
                "parts": 0,
            },
        ],
        "parts": 2,
        "blocked": 0,
        "cost": "0.1000",
        "refusal": {"error": "ER:0033", "message": "invalidate mobile exist: 12345 (wrong length)"},
    }


def test_a_text_that_fits_gsm7_is_counted_in_septets_outside_the_mainland_only(basic_client, tenant):
    """160 GSM-7 characters are one part abroad; the mainland form (【】, UCS-2) of the same
    text is three. The estimate counts each number's own text, as the send bills it."""
    sign = make_signature(tenant, signature="Acme")
    template = make_template(tenant, sign, template="Order {1} shipped. " + "x" * 125, template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=100)
    allow_international(tenant, 44)
    answer = _estimate(basic_client(tenant), _body(sign, template, ["13112341234", "+447911123456"], ["A1"]))
    numbers = answer.json()["numbers"]
    assert [(n["encoding"], n["parts"]) for n in numbers] == [("UCS-2", 3), ("GSM-7", 1)]
    assert answer.json()["parts"] == 4 and answer.json()["refusal"] is None


def test_the_cost_is_the_parts_at_the_tenants_price_in_yuan(basic_client, tenant, ready, settings):
    sign, template = ready
    mobiles = [f"1311234{index:04d}" for index in range(3)]
    settings.SMS_TENANT_DEFAULT_PRICE_FEN = 4.5
    assert _estimate(basic_client(tenant), _body(sign, template, mobiles)).json()["cost"] == "0.1350"
    TenantAccount.objects.filter(user=tenant).update(price_fen_per_part=Decimal("3.3333"))
    # 3 × 3.3333 fen = 9.9999 fen = 0.099999 yuan: to a hundredth of a fen, half up.
    assert _estimate(basic_client(tenant), _body(sign, template, mobiles)).json()["cost"] == "0.1000"


def test_an_opted_out_number_is_blocked_costs_nothing_and_is_named(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="双十二全场5折{1}，回T退订", template_type=3)
    tenant_services.charge_tenant(username=tenant.username, charge=100)
    tenant_services.block_mobiles(owner=tenant, mobiles=["13112340001"], sign_id=sign.pk)
    answer = _estimate(basic_client(tenant), _body(sign, template, ["13112340001", "13112340002"], ["PL1"]))
    blocked, sent = answer.json()["numbers"]
    assert blocked == {
        "mobile": "13112340001",
        "valid": True,
        "reason": "OPTED_OUT: the number opted out of this signature's marketing",
        "encoding": None,
        "parts": 0,
    }
    assert (sent["valid"], sent["parts"]) == (True, 1)
    assert (answer.json()["parts"], answer.json()["blocked"]) == (1, 1)


def test_a_number_over_a_verify_code_limit_names_the_window_and_books_nothing(
    basic_client, tenant, ready, settings
):
    settings.SMS_VERIFY_LIMITS = "1/60s,5/1h"
    sign, template = ready
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        tenant_services.send_tenant_message(
            owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=["13112340001"], params=VERIFY_PARAMS
        )
    for _ in range(3):  # an estimate books nothing: the second mobile stays free however often it is asked
        answer = _estimate(basic_client(tenant), _body(sign, template, ["13112340001", "13112340002"]))
        limited, free = answer.json()["numbers"]
        assert limited["reason"] == "LIMITED: verify codes to this mobile: 1 per 60s"
        assert (limited["valid"], limited["parts"]) == (True, 0)
        assert (free["reason"], free["parts"]) == ("", 1)
        assert (answer.json()["parts"], answer.json()["blocked"]) == (1, 1)
    assert limits.peek(["+8613112340002"]) == {}
    assert limits.admit(["+8613112340002"]).refused == {}  # its first booking is a real send's


def test_the_refusal_is_the_balance_when_it_cannot_cover_the_parts(basic_client, tenant, ready):
    sign, template = ready
    mobiles = [f"1311234{index:04d}" for index in range(101)]
    answer = _estimate(basic_client(tenant), _body(sign, template, mobiles))
    assert answer.status_code == 200
    assert answer.json()["refusal"] == {
        "error": "ER:0034",
        "message": "balance not enough: balance is 100, the send needs 101",
    }


def test_the_refusal_names_a_cap_the_send_would_pass(basic_client, tenant, ready):
    sign, template = ready
    tenant_services.set_operator_caps(
        account_id=TenantAccount.objects.get(user=tenant).pk, daily=2, monthly=10
    )
    body = _body(sign, template, ["13112340001", "13112340002", "13112340003"])
    assert _estimate(basic_client(tenant), body).json()["refusal"] == {
        "error": "ER:0038",
        "message": "daily cap reached: 0 of 2 parts used today (China time), this send needs 3",
    }
    tenant_services.set_operator_caps(
        account_id=TenantAccount.objects.get(user=tenant).pk, daily=None, monthly=2
    )
    assert _estimate(basic_client(tenant), body).json()["refusal"]["error"] == "ER:0039"


def test_the_estimate_is_what_the_send_then_does(basic_client, tenant, ready, settings):
    """One plan: the parts and the per-number outcome the estimate shows are what the send
    reserves and records."""
    settings.SMS_VERIFY_LIMITS = "1/60s"
    sign, template = ready
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        tenant_services.send_tenant_message(
            owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=["13112340001"], params=VERIFY_PARAMS
        )
    body = _body(sign, template, ["13112340001", "+447911123456", "13112340002", "+8613112340002"])
    estimate = _estimate(basic_client(tenant), body).json()
    balance = TenantAccount.objects.get(user=tenant).balance_nums
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        sent = basic_client(tenant).post("/v1/message", body, format="json")
    assert sent.status_code == 200, sent.json()
    assert TenantAccount.objects.get(user=tenant).balance_nums == balance - estimate["parts"]
    records = {r.receive_phone: r for r in SendRecord.objects.filter(batch__uuid=sent.json()["uuid"])}
    shown = {n["mobile"]: n for n in estimate["numbers"] if n["valid"]}
    assert set(shown) == {"13112340001", "+447911123456", "13112340002"}
    assert records["13112340001"].remark == shown["13112340001"]["reason"]  # LIMITED, as estimated
    assert records["13112340002"].segments == shown["13112340002"]["parts"]
    assert records["+447911123456"].segments == shown["+447911123456"]["parts"]


def test_an_estimate_writes_reserves_and_books_nothing(basic_client, tenant, ready, settings):
    settings.SMS_VERIFY_LIMITS = "1/60s"
    sign, template = ready
    account = TenantAccount.objects.get(user=tenant)
    tenant_services.set_operator_caps(account_id=account.pk, daily=1000, monthly=1000)
    before = _every_table()
    mobiles = [f"+86131123400{i:02d}" for i in range(5)]
    limits.admit(mobiles[:1])  # one booked already: the estimate must leave it as it is
    booked = _limit_bookings(mobiles)
    assert any(booked.values())
    for _ in range(2):
        answer = _estimate(
            basic_client(tenant), _body(sign, template, [f"131123400{i:02d}" for i in range(5)])
        )
        assert answer.status_code == 200 and answer.json()["parts"] == 4  # one over its limit
    assert _every_table() == before
    assert _limit_bookings(mobiles) == booked
    assert caps.usage(tenant_id=account.pk, day=caps.today()) == {"daily": 0, "monthly": 0}


def test_a_tenant_without_an_account_gets_an_estimate_and_no_account(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template=VERIFY)
    answer = _estimate(basic_client(tenant), _body(sign, template, ["13112340001"]))
    assert answer.json()["refusal"] == {
        "error": "ER:0034",
        "message": "balance not enough: balance is 0, the send needs 1",
    }
    assert not TenantAccount.objects.filter(user=tenant).exists()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"mobiles": []}, "ER:0004"),
        ({"mobiles": "13112340001"}, "ER:0004"),
        ({"sign_id": "x"}, "ER:0004"),
        ({"send_at": 1700000000}, "ER:0004"),
        ({"callback_url": "https://hooks.example.com/sms"}, "ER:0004"),
        ({"params": ["112095"]}, "ER:0021"),
        ({"params": ["http://x.cn", "5"]}, "ER:0021"),
        ({"sign_id": 999999}, "ER:0023"),
        ({"temp_id": 999999}, "ER:0024"),
    ],
)
def test_bad_input_is_refused_with_the_sends_code_and_nothing_written(
    basic_client, tenant, ready, change, error
):
    sign, template = ready
    before = _every_table()
    body = {**_body(sign, template, ["13112340001"]), **change}
    answer = _estimate(basic_client(tenant), body)
    sent = basic_client(tenant).post("/v1/message", body, format="json")
    assert answer.json()["error"] == sent.json()["error"] == error, (answer.json(), sent.json())
    assert answer.status_code == sent.status_code
    assert _every_table() == before


def test_a_sign_or_template_not_passed_and_a_suspension_are_refused_as_the_send_refuses_them(
    basic_client, tenant, ready
):
    sign, template = ready
    pending = make_signature(tenant, passed=False, signature="待审")
    body = _body(pending, make_template(tenant, pending, passed=True), ["13112340001"])
    assert _estimate(basic_client(tenant), body).json()["error"] == "ER:0031"
    rejected = make_template(tenant, sign, passed=False)
    assert (
        _estimate(basic_client(tenant), _body(sign, rejected, ["13112340001"])).json()["error"] == "ER:0032"
    )
    TenantAccount.objects.filter(user=tenant).update(suspended_reason="unpaid invoices")
    answer = _estimate(basic_client(tenant), _body(sign, template, ["13112340001"]))
    assert (answer.status_code, answer.json()) == (
        403,
        {"error": "ER:0037", "message": "sending suspended: unpaid invoices"},
    )


def test_an_idempotency_key_is_ignored_an_estimate_is_safe_to_repeat(basic_client, tenant, ready):
    sign, template = ready
    client = basic_client(tenant)
    first = client.post(
        ESTIMATE, _body(sign, template, ["13112340001"]), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    other = client.post(
        ESTIMATE,
        _body(sign, template, ["13112340002", "13112340003"]),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert (first.status_code, other.status_code) == (200, 200)
    assert (first.json()["parts"], other.json()["parts"]) == (1, 2)
    assert "Idempotent-Replayed" not in other


def test_another_tenants_blocklist_and_caps_do_not_show(basic_client, tenant, other_tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="双十二全场5折{1}，回T退订", template_type=3)
    tenant_services.charge_tenant(username=tenant.username, charge=10)
    tenant_services.charge_tenant(username=other_tenant.username, charge=1)
    other = TenantAccount.objects.get(user=other_tenant)
    tenant_services.set_operator_caps(account_id=other.pk, daily=0, monthly=0)
    tenant_services.block_mobiles(owner=other_tenant, mobiles=["13112340001"])
    assert BlocklistEntry.objects.filter(tenant=other).count() == 1
    answer = _estimate(basic_client(tenant), _body(sign, template, ["13112340001"], ["PL1"])).json()
    assert (answer["blocked"], answer["parts"], answer["refusal"]) == (0, 1, None)

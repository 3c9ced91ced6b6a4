"""Content rules at accept time (issue 20, items 6 and 7; docs/content-rules.md): the signature
of international texts, the 500-character bound of the rendered message, station verify codes."""

from __future__ import annotations

from unittest import mock

import pytest

from sms.core.content import count_segments
from sms.models import SendRecord, Station
from tests.sms.conftest import seed_send_request
from tests.support.platform import allow_international, make_signature, make_template

pytestmark = pytest.mark.django_db

UK = "+447911123456"
ENGLISH_147 = ("Your order PL2026 has shipped and will arrive tomorrow. " * 3)[:147]


@pytest.fixture
def charged(tenant, basic_client, root_user):
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    allow_international(tenant, 44)  # the UK number (issue 26: international is off until allowed)


def _send(client, sign, template, mobiles, params):
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        return client.post(
            "/v1/message",
            {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": params},
            format="json",
        )


# --- International texts: a plain signature prefix, GSM-7 counting ------------------------------


def test_compose_puts_brackets_only_around_mainland_signatures():
    from sms.core.content import compose_message

    assert compose_message(signature="Acme", body="Hi", international=False) == "【Acme】Hi"
    assert compose_message(signature="Acme", body="Hi", international=True) == "Acme: Hi"
    assert compose_message(signature="[去采购]", body="您好", international=True) == "去采购: 您好"


def test_an_international_english_text_has_a_plain_signature_and_bills_one_gsm7_message(
    basic_client, tenant, charged
):
    """147 English characters to a UK number were sent as ``【Acme】…``: UCS-2, 3 parts."""
    assert len(ENGLISH_147) == 147
    sign = make_signature(tenant, signature="Acme")
    template = make_template(tenant, sign, template=ENGLISH_147, template_type=2)
    response = _send(basic_client(tenant), sign, template, [UK, "13112341234"], [])
    assert response.status_code == 200, response.json()
    abroad = SendRecord.objects.get(phone_e164=UK)
    mainland = SendRecord.objects.get(phone_e164="+8613112341234")
    assert (abroad.content, abroad.segments) == (f"Acme: {ENGLISH_147}", 1)  # 153 septets
    assert (mainland.content, mainland.segments) == (f"【Acme】{ENGLISH_147}", 3)  # 153 UCS-2 units
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 6}


def test_an_international_text_over_160_septets_bills_parts_of_153(basic_client, tenant, charged):
    sign = make_signature(tenant, signature="Acme")
    template = make_template(tenant, sign, template="x" * 300, template_type=2)  # 306 septets
    assert _send(basic_client(tenant), sign, template, [UK], []).status_code == 200
    assert SendRecord.objects.get().segments == 2 == count_segments("Acme: " + "x" * 300, gsm7_allowed=True)


def test_a_station_message_to_an_international_number_has_no_bracketed_signature(station_client, recharge):
    recharge("T7442", 10)
    body = station_client.post("/sms/send/add", seed_send_request(receive_phone=UK), format="json").json()
    assert body["code"] == 0, body
    record = SendRecord.objects.get(pk=body["data"]["task_id"])
    assert record.content.startswith("去采购报价单: ") and "【" not in record.content


# --- The rendered message is at most 500 characters ---------------------------------------------


def test_a_rendered_message_over_500_characters_is_refused_er0021(basic_client, tenant, charged):
    """The template is within 500 characters; with the signature and the value it is not."""
    sign = make_signature(tenant)  # 【去采购】: 5 characters
    template = make_template(tenant, sign, template="字" * 470 + "{1}", template_type=2)
    client = basic_client(tenant)
    refused = _send(client, sign, template, ["13112341234"], ["x" * 26])  # 5 + 470 + 26 = 501
    body = refused.json()
    assert (refused.status_code, body["error"]) == (403, "ER:0021"), body
    assert "501 characters" in body["message"]
    assert not SendRecord.objects.exists()
    assert client.get("/v1/balance").json() == {"balance": 10}
    accepted = _send(client, sign, template, ["13112341234"], ["x" * 25])  # exactly 500
    assert accepted.status_code == 200, accepted.json()
    assert len(SendRecord.objects.get().content) == 500


def test_a_rendered_station_message_over_500_characters_is_refused_1002(station_client, recharge, settings):
    settings.SMS_STATION_TEMPLATES = {**settings.SMS_STATION_TEMPLATES, "0": "字" * 480 + "{order_id}"}
    recharge("T7442", 20)
    request = seed_send_request(
        business_type=0, sms_content={"order_id": "X" * 64, "sms_signature": "去采购"}
    )
    response = station_client.post("/sms/send/add", request, format="json")
    body = response.json()
    assert (response.status_code, body["code"], body["data"]) == (400, 1002, None)
    assert body["msg"].startswith("sms_content: the message is 549 characters")
    assert not SendRecord.objects.exists()
    assert Station.objects.get(station_id="T7442").balance_nums == 20


# --- Station verify codes are 4 to 6 digits -----------------------------------------------------


@pytest.mark.parametrize("code", ["not-digits-" + "x" * 53, "123", "1234567", "12a4", "１２３４", "12 34"])
def test_a_station_verify_code_that_is_not_4_to_6_digits_is_refused_1002(station_client, recharge, code):
    recharge("T7442", 10)
    request = seed_send_request(sms_content={"verify_code": code, "sms_signature": "去采购"})
    response = station_client.post("/sms/send/add", request, format="json")
    body = response.json()
    assert (response.status_code, body["code"]) == (400, 1002), body
    assert body["msg"] == "sms_content.verify_code: a verify code is 4 to 6 digits"
    assert not SendRecord.objects.exists()


@pytest.mark.parametrize("code", ["1234", "12345", "012345"])
def test_a_station_verify_code_of_4_to_6_digits_is_accepted(station_client, recharge, code):
    recharge("T7442", 10)
    request = seed_send_request(sms_content={"verify_code": code, "sms_signature": "去采购"})
    body = station_client.post("/sms/send/add", request, format="json").json()
    assert body["code"] == 0, body
    assert code in SendRecord.objects.get().content


# --- Station signatures and values ---------------------------------------------------------------


@pytest.mark.parametrize("signature", ["【【去采购】】", "去【采购", "【】"])
def test_a_station_signature_with_brackets_inside_is_refused_1002(station_client, recharge, signature):
    recharge("T7442", 10)
    request = seed_send_request(sms_content={"verify_code": "112095", "sms_signature": signature})
    body = station_client.post("/sms/send/add", request, format="json").json()
    assert body["code"] == 1002 and body["msg"].startswith("sms_content.sms_signature:"), body
    assert not SendRecord.objects.exists()


def test_a_station_order_id_with_signature_brackets_is_refused_1002(station_client, recharge):
    recharge("T7442", 10)
    request = seed_send_request(
        business_type=0, sms_content={"order_id": "1】【银行", "sms_signature": "去采购"}
    )
    body = station_client.post("/sms/send/add", request, format="json").json()
    assert (body["code"], body["msg"]) == (1002, "sms_content.order_id: may not contain 【 or 】")

"""GET v1/template shows each template's sample (issue 26): signed, every placeholder filled with
123456, its encoding and parts for a mainland number and for one abroad, counted by the rule the
send bills by (templates_mgmt.texts)."""

from __future__ import annotations

from unittest import mock

import pytest

from sms.models import SendRecord
from sms.tenant_api import services as tenant_services
from templates_mgmt.selectors import SAMPLE_VALUE
from tests.support.platform import allow_international, make_signature, make_template

pytestmark = pytest.mark.django_db

URL = "/v1/template"


def _listed(client) -> dict[str, dict]:
    return {item["template"]: item for item in client.get(URL).json()["items"]}


def test_a_verify_template_shows_its_signed_sample_with_encoding_and_parts(basic_client, tenant):
    make_template(tenant, make_signature(tenant), template="您的验证码为{1}，{2}分钟内有效。")
    [item] = _listed(basic_client(tenant)).values()
    assert item["sample"] == {
        "text": "【去采购】您的验证码为123456，123456分钟内有效。",
        "encoding": "UCS-2",
        "parts": 1,
    }
    assert item["sample_international"] == {
        "text": "去采购: 您的验证码为123456，123456分钟内有效。",
        "encoding": "UCS-2",
        "parts": 1,
    }


def test_an_ascii_template_is_gsm7_abroad_and_ucs2_at_home_with_their_parts(basic_client, tenant):
    """143 characters signed: three UCS-2 parts at home (with 【Acme】), one GSM-7 message abroad."""
    sign = make_signature(tenant, signature="Acme")
    text = "Order {1} shipped. " + "x" * 115
    make_template(tenant, sign, template=text, template_type=2, passed=False)
    item = _listed(basic_client(tenant))[text]
    mainland, abroad = item["sample"], item["sample_international"]
    assert mainland["text"] == "【Acme】Order 123456 shipped. " + "x" * 115
    assert (mainland["encoding"], mainland["parts"]) == ("UCS-2", 3)
    assert abroad["text"] == "Acme: Order 123456 shipped. " + "x" * 115
    assert (abroad["encoding"], abroad["parts"]) == ("GSM-7", 1)


def test_the_sample_counts_as_the_send_bills(basic_client, tenant):
    """The same text sent with the sample's values is billed the parts the sample shows."""
    sign = make_signature(tenant)
    text = "尊敬的客户，您的订单{1}已发货，" + "请留意查收。" * 12
    template = make_template(tenant, sign, template=text, template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=10)
    allow_international(tenant, 44)  # the +44 number below (sms.guard)
    item = _listed(basic_client(tenant))[text]
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        tenant_services.send_tenant_message(
            owner=tenant,
            sign_id=sign.pk,
            temp_id=template.pk,
            mobiles=["13112341234", "+447911123456"],
            params=[SAMPLE_VALUE],
        )
    billed = dict(SendRecord.objects.values_list("receive_phone", "segments"))
    assert item["sample"]["parts"] == billed["13112341234"] == 2
    assert item["sample_international"]["parts"] == billed["+447911123456"]
    assert SendRecord.objects.get(receive_phone="13112341234").content == item["sample"]["text"]


def test_a_template_without_placeholders_is_its_own_sample(basic_client, tenant):
    make_template(tenant, make_signature(tenant), template="系统维护通知", template_type=2)
    [item] = _listed(basic_client(tenant)).values()
    assert item["sample"]["text"] == "【去采购】系统维护通知"

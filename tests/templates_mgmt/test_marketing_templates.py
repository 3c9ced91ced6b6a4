"""A marketing template (type 3) must carry an opt-out instruction (issue 15)."""

from __future__ import annotations

import pytest

from templates_mgmt.models import Template
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

URL = "/v1/template"


def _body(sign_pk: int, template: str, template_type: str = "3") -> dict:
    return {
        "name": "双十二",
        "template": template,
        "type": template_type,
        "description": "促销",
        "sign_id": sign_pk,
    }


@pytest.mark.parametrize(
    "text",
    [
        "双十二全场5折，{1}前有效，回T退订",
        "新品上市 退订回T",
        "会员日{1}，拒收请回复R",
        "限时优惠回TD退订",
        "优惠回t退订",
    ],
)
def test_a_marketing_template_with_an_opt_out_instruction_is_accepted(basic_client, tenant, text):
    sign = make_signature(tenant)
    response = basic_client(tenant).post(URL, _body(sign.pk, text), format="json")
    assert response.status_code == 200, response.json()
    assert Template.objects.get().template == text


def test_a_marketing_template_without_one_is_refused_saying_what_is_missing(basic_client, tenant):
    sign = make_signature(tenant)
    response = basic_client(tenant).post(URL, _body(sign.pk, "双十二全场5折，{1}前有效"), format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "ER:0021"
    assert "opt-out instruction" in body["message"] and "回T退订" in body["message"]
    assert not Template.objects.exists()


def test_an_edit_that_drops_the_instruction_is_refused(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, passed=False, template="全场5折，回T退订", template_type=3)
    response = basic_client(tenant).put(
        URL, {**_body(sign.pk, "全场5折"), "temp_id": template.pk}, format="json"
    )
    assert (response.status_code, response.json()["error"]) == (403, "ER:0021")
    template.refresh_from_db()
    assert template.template == "全场5折，回T退订"


def test_an_edit_to_marketing_needs_the_instruction_too(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, passed=False, template="您的订单{1}已发货", template_type=2)
    response = basic_client(tenant).put(
        URL, {**_body(sign.pk, "您的订单{1}已发货"), "temp_id": template.pk}, format="json"
    )
    assert (response.status_code, response.json()["error"]) == (403, "ER:0021")


def test_notices_and_verify_codes_need_no_instruction(basic_client, tenant):
    sign = make_signature(tenant)
    for template_type, text in (("1", "您的验证码为{1}"), ("2", "您的订单{1}已发货")):
        response = basic_client(tenant).post(URL, _body(sign.pk, text, template_type), format="json")
        assert response.status_code == 200, response.json()


def test_configured_hints_are_accepted_beside_the_built_in_ones(basic_client, tenant, settings):
    settings.SMS_OPT_OUT_HINTS = ["回N退订"]
    sign = make_signature(tenant)
    response = basic_client(tenant).post(URL, _body(sign.pk, "周末特惠，回N退订"), format="json")
    assert response.status_code == 200, response.json()

"""Templates and their parameters may not hold 【】 (issue 20, item 6; docs/content-rules.md)."""

from __future__ import annotations

from unittest import mock

import pytest

from sms.models import SendRecord
from templates_mgmt.models import Template
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

URL = "/v1/template"


def _body(sign_pk: int, template: str, **overrides) -> dict:
    return {
        "name": "通知",
        "template": template,
        "type": 2,
        "description": "发货",
        "sign_id": sign_pk,
        **overrides,
    }


@pytest.mark.parametrize("template", ["【去采购】您的订单{1}已发货", "订单{1}已发货【", "订单{1}已发货】"])
def test_a_template_with_signature_brackets_is_refused_er0021(basic_client, tenant, template):
    sign = make_signature(tenant)
    response = basic_client(tenant).post(URL, _body(sign.pk, template), format="json")
    body = response.json()
    assert (response.status_code, body["error"]) == (403, "ER:0021"), body
    assert "【" in body["message"] and not Template.objects.exists()


def test_an_edit_that_adds_signature_brackets_is_refused_er0021(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, passed=False, template="订单{1}已发货", template_type=2)
    response = basic_client(tenant).put(
        URL, _body(sign.pk, "【其他】订单{1}已发货", temp_id=template.pk), format="json"
    )
    assert (response.status_code, response.json()["error"]) == (403, "ER:0021")
    template.refresh_from_db()
    assert template.template == "订单{1}已发货"


def test_square_brackets_stay_allowed_in_a_template(basic_client, tenant):
    sign = make_signature(tenant)
    response = basic_client(tenant).post(URL, _body(sign.pk, "订单[{1}]已发货"), format="json")
    assert response.status_code == 200, response.json()


def test_a_parameter_with_signature_brackets_is_refused_er0021(basic_client, tenant, root_user):
    """A parameter must not smuggle a second signature into a reviewed template."""
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="订单{1}已发货", template_type=2)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        response = basic_client(tenant).post(
            "/v1/message",
            {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": ["13112341234"], "params": ["1】【银行"]},
            format="json",
        )
    assert (response.status_code, response.json()["error"]) == (403, "ER:0021")
    assert not SendRecord.objects.exists()

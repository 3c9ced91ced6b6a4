"""Signatures are stored without brackets (issue 20, item 6; docs/content-rules.md)."""

from __future__ import annotations

import importlib
from unittest import mock

import pytest
from django.apps import apps

from signatures.models import AuditStatus, Signature
from sms.models import SendRecord
from tests.support.platform import make_template

pytestmark = pytest.mark.django_db

URL = "/v1/signature"


def _register(client, signature: str):
    return client.post(URL, {"signature": signature, "source": "营业执照"}, format="json")


@pytest.mark.parametrize("raw", ["【去采购】", "[去采购]", " 【 去采购 】 ", "去采购"])
def test_signature_brackets_are_stripped_on_registration(basic_client, tenant, raw):
    client = basic_client(tenant)
    response = _register(client, raw)
    assert response.status_code == 200, response.json()
    assert Signature.objects.get(pk=response.json()["sign_id"]).signature == "去采购"
    assert [item["signature"] for item in client.get(URL).json()["items"]] == ["去采购"]


@pytest.mark.parametrize(
    "raw", ["【【去采购】】", "去【采购", "【去采】购】", "【a】【b】", "【】", "[去[采购]"]
)
def test_a_signature_with_brackets_left_inside_is_refused_er0004(basic_client, tenant, raw):
    response = _register(basic_client(tenant), raw)
    body = response.json()
    assert (response.status_code, body["error"]) == (400, "ER:0004"), body
    assert body["message"].startswith("prams fail: signature ")
    assert not Signature.objects.exists()


def test_an_edit_strips_brackets_and_refuses_them_inside(basic_client, tenant):
    client = basic_client(tenant)
    sign_id = _register(client, "去采购").json()["sign_id"]
    edited = client.put(URL, {"sign_id": sign_id, "signature": "【新签名】", "source": "商标"}, format="json")
    assert edited.status_code == 200
    assert Signature.objects.get(pk=sign_id).signature == "新签名"
    refused = client.put(URL, {"sign_id": sign_id, "signature": "新【签名", "source": "商标"}, format="json")
    assert (refused.status_code, refused.json()["error"]) == (400, "ER:0004")
    assert Signature.objects.get(pk=sign_id).signature == "新签名"


def test_a_signature_registered_with_brackets_is_sent_with_one_pair(basic_client, tenant, root_user):
    """``【去采购】`` used to render ``【【去采购】】您的验证码…``."""
    client = basic_client(tenant)
    sign_id = _register(client, "【去采购】").json()["sign_id"]
    basic_client(root_user).post(
        "/v2/signreview", {"sign_id": sign_id, "audit_status": "passed"}, format="json"
    )
    template = make_template(tenant, Signature.objects.get(pk=sign_id))
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        response = client.post(
            "/v1/message",
            {
                "sign_id": sign_id,
                "temp_id": template.pk,
                "mobiles": ["13112341234"],
                "params": ["112095", "5"],
            },
            format="json",
        )
    assert response.status_code == 200, response.json()
    assert SendRecord.objects.get().content == "【去采购】您的验证码为112095，5分钟内有效。"


def test_the_data_migration_strips_brackets_of_stored_signatures(tenant):
    def stored(name: str) -> Signature:
        return Signature.objects.create(
            owner=tenant, signature=name, source="营业执照", audit_status=AuditStatus.PASSED
        )

    bracketed, square, plain, nested, empty = (
        stored(name) for name in ("【去采购】", "[报价单]", "去采购", "【a】【b】", "【】")
    )
    migration = importlib.import_module("signatures.migrations.0002_strip_signature_brackets")
    migration.strip_brackets(apps, None)
    for sign in (bracketed, square, plain, nested, empty):
        sign.refresh_from_db()
    assert [(s.signature, s.audit_status) for s in (bracketed, square, plain)] == [
        ("去采购", AuditStatus.PASSED),
        ("报价单", AuditStatus.PASSED),
        ("去采购", AuditStatus.PASSED),
    ]
    # Not one signature once stripped: rejected with the reason, for the owner to edit.
    assert (nested.signature, nested.audit_status) == ("a】【b", AuditStatus.REJECTED)
    assert (empty.signature, empty.audit_status) == ("【】", AuditStatus.REJECTED)
    assert "edit it" in nested.reject_reason

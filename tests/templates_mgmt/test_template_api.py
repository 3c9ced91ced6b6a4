"""v1/template, v2/tempreview and the numbered placeholders."""

import re

import pytest

from signatures.models import AuditStatus
from templates_mgmt.models import Template
from templates_mgmt.placeholders import TemplateError, placeholder_count, render
from tests.support.platform import make_signature, make_template

URL = "/v1/template"


def _body(sign_pk, /, **overrides):
    return {
        "name": "验证码",
        "template": "您的验证码为{1}",
        "type": "1",
        "description": "注册",
        "sign_id": sign_pk,
        **overrides,
    }


@pytest.mark.parametrize(
    ("template", "count"),
    [("无参数", 0), ("{1}", 1), ("码{1}，{2}分钟，{1}", 2), ("{1}{2}{3}{4}{5}{6}{7}{8}{9}{10}", 10)],
)
def test_placeholder_count(template, count):
    assert placeholder_count(template) == count


@pytest.mark.parametrize("template", ["{a}", "{1", "1}", "{2}", "{1}{3}", "{0}", "{{1}}"])
def test_placeholders_that_do_not_parse(template):
    with pytest.raises(TemplateError):
        placeholder_count(template)


def test_render_fills_and_checks_count():
    assert render("码{1}，{2}分钟，{1}", ["6", "5"]) == "码6，5分钟，6"
    with pytest.raises(TemplateError):
        render("码{1}", [])
    with pytest.raises(TemplateError):
        render("码{1}", ["1", "2"])


@pytest.mark.django_db
def test_create_under_own_signature(basic_client, tenant):
    sign = make_signature(tenant)
    response = basic_client(tenant).post(URL, _body(sign.pk), format="json")
    template = Template.objects.get(pk=response.json()["temp_id"])
    assert (template.type, template.sign, template.audit_status) == (1, sign, AuditStatus.PENDING)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "code", "status"),
    [
        ({"template": "验证码{x}"}, "ER:0021", 403),
        ({"template": "   "}, "ER:0021", 403),
        ({"template": "{1}{3}"}, "ER:0021", 403),
        ({"type": 4}, "ER:0022", 403),
        ({"type": "营销"}, "ER:0022", 403),
        ({"name": None}, "ER:0004", 400),
        ({"sign_id": "abc"}, "ER:0004", 400),
    ],
)
def test_create_refusals(basic_client, tenant, overrides, code, status):
    sign = make_signature(tenant)
    response = basic_client(tenant).post(URL, _body(sign.pk, **overrides), format="json")
    assert (response.status_code, response.json()["error"]) == (status, code)
    assert not Template.objects.exists()


@pytest.mark.django_db
def test_template_under_another_tenants_signature_is_er0023_both_ways(basic_client, tenant, other_tenant):
    mine, theirs = make_signature(tenant), make_signature(other_tenant)
    for user, sign in ((tenant, theirs), (other_tenant, mine)):
        response = basic_client(user).post(URL, _body(sign.pk), format="json")
        assert (response.status_code, response.json()["error"]) == (403, "ER:0023")
    assert not Template.objects.exists()


@pytest.mark.django_db
def test_list_shows_only_own_templates_in_seed_shape(basic_client, tenant, other_tenant):
    sign = make_signature(tenant)
    mine = make_template(tenant, sign, passed=False)
    make_template(other_tenant, make_signature(other_tenant))
    body = basic_client(tenant).get(URL).json()
    [item] = body["items"]
    assert body["total"] == 1
    assert (item["id"], item["sign_id"], item["type"], item["audit_status"]) == (
        str(mine.pk),
        str(sign.pk),
        1,
        "pending",
    )
    # Seed 001 types a template's times as strings (its signatures' as int64).
    for field in ("created_at", "updated_at"):
        assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d", item[field]), item[field]


@pytest.mark.django_db
def test_edit_of_a_pending_template_keeps_it_in_review(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, passed=False)
    response = basic_client(tenant).put(
        URL, _body(sign.pk, temp_id=template.pk, template="新的{1}", type=2), format="json"
    )
    assert response.json() == {"temp_id": template.pk}
    template.refresh_from_db()
    assert (template.template, template.type, template.audit_status) == ("新的{1}", 2, AuditStatus.PENDING)


@pytest.mark.django_db
def test_a_passed_template_cannot_be_edited_er0025(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    response = basic_client(tenant).put(
        URL, _body(sign.pk, temp_id=template.pk, template="改{1}"), format="json"
    )
    assert (response.status_code, response.json()["error"]) == (403, "ER:0025")
    template.refresh_from_db()
    assert template.template == "您的验证码为{1}，{2}分钟内有效。"


@pytest.mark.django_db
def test_a_rejected_template_can_be_edited_and_goes_back_to_review(basic_client, tenant, root_user):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, passed=False)
    basic_client(root_user).post(
        "/v2/tempreview",
        {"temp_id": template.pk, "audit_status": "rejected", "reject_reason": "营销内容"},
        format="json",
    )
    basic_client(tenant).put(URL, _body(sign.pk, temp_id=template.pk), format="json")
    template.refresh_from_db()
    assert (template.audit_status, template.reject_reason) == (AuditStatus.PENDING, "")


@pytest.mark.django_db
def test_template_not_of_that_sign_is_er0024_for_edit_and_delete(basic_client, tenant, other_tenant):
    sign, other_sign = make_signature(tenant), make_signature(tenant, signature="另一个")
    template = make_template(tenant, sign, passed=False)
    theirs = make_template(other_tenant, make_signature(other_tenant), passed=False)
    client = basic_client(tenant)
    assert (
        client.put(URL, _body(other_sign.pk, temp_id=template.pk), format="json").json()["error"] == "ER:0024"
    )
    assert (
        client.delete(URL, {"sign_id": other_sign.pk, "temp_id": template.pk}, format="json").json()["error"]
        == "ER:0024"
    )
    assert (
        client.delete(URL, {"sign_id": sign.pk, "temp_id": theirs.pk}, format="json").json()["error"]
        == "ER:0024"
    )
    assert Template.objects.count() == 2


@pytest.mark.django_db
def test_delete_own_template(basic_client, tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    assert (
        basic_client(tenant)
        .delete(URL, {"sign_id": sign.pk, "temp_id": template.pk}, format="json")
        .status_code
        == 200
    )
    assert not Template.objects.exists()


@pytest.mark.django_db
def test_root_reviews_templates_and_tenants_cannot(basic_client, tenant, root_user):
    template = make_template(tenant, make_signature(tenant), passed=False)
    refused = basic_client(tenant).post(
        "/v2/tempreview", {"temp_id": template.pk, "audit_status": "passed"}, format="json"
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "ER:0003")
    bad = basic_client(root_user).post(
        "/v2/tempreview", {"temp_id": template.pk, "audit_status": "maybe"}, format="json"
    )
    assert bad.json()["error"] == "ER:0013"
    assert (
        basic_client(root_user)
        .post("/v2/tempreview", {"temp_id": template.pk, "audit_status": "passed"}, format="json")
        .status_code
        == 200
    )
    template.refresh_from_db()
    assert template.audit_status == AuditStatus.PASSED

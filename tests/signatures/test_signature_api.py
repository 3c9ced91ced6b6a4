"""v1/signature and v2/signreview."""

import pytest

from signatures.models import AuditStatus, Signature
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

URL = "/v1/signature"


def test_create_answers_sign_id_and_waits_for_review(basic_client, tenant):
    response = basic_client(tenant).post(
        URL, {"signature": "去采购", "source": "营业执照", "pics": ["https://x/1.png"]}, format="json"
    )
    assert response.status_code == 200
    sign = Signature.objects.get(pk=response.json()["sign_id"])
    assert (sign.owner, sign.audit_status, sign.pics) == (tenant, AuditStatus.PENDING, ["https://x/1.png"])


@pytest.mark.parametrize(
    "body",
    [
        {"source": "x"},
        {"signature": "x"},
        {"signature": "x", "source": "y", "pics": "nope"},
        {"signature": "x" * 33, "source": "y"},
    ],
)
def test_create_with_missing_or_ill_typed_fields_is_er0004(basic_client, tenant, body):
    response = basic_client(tenant).post(URL, body, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "ER:0004")
    assert not Signature.objects.exists()


def test_list_shows_only_own_signatures_in_seed_shape(basic_client, tenant, other_tenant):
    mine = make_signature(tenant, passed=False)
    make_signature(other_tenant)
    body = basic_client(tenant).get(URL).json()
    assert (body["total"], body["page"], body["page_size"]) == (1, 1, 20)
    [item] = body["items"]
    assert item["id"] == str(mine.pk)
    assert (item["signature"], item["source"], item["audit_status"], item["reject_reason"]) == (
        "去采购",
        "营业执照",
        "pending",
        "",
    )
    assert isinstance(item["created_at"], int) and isinstance(item["updated_at"], int)


def test_list_pages(basic_client, tenant):
    for index in range(5):
        make_signature(tenant, signature=f"签名{index}")
    body = basic_client(tenant).get(URL, {"page": 2, "page_size": 2}).json()
    assert (body["total"], len(body["items"]), body["page"]) == (5, 2, 2)
    assert [item["signature"] for item in body["items"]] == ["签名2", "签名1"]


def test_edit_sends_a_passed_signature_back_to_review(basic_client, tenant):
    sign = make_signature(tenant)
    response = basic_client(tenant).put(
        URL, {"sign_id": sign.pk, "signature": "新签名", "source": "商标"}, format="json"
    )
    assert response.json() == {"sign_id": sign.pk}
    sign.refresh_from_db()
    assert (sign.signature, sign.audit_status) == ("新签名", AuditStatus.PENDING)


def test_editing_another_tenants_signature_is_er0011_both_ways(basic_client, tenant, other_tenant):
    mine, theirs = make_signature(tenant), make_signature(other_tenant)
    for user, sign in ((tenant, theirs), (other_tenant, mine)):
        response = basic_client(user).put(
            URL, {"sign_id": sign.pk, "signature": "x", "source": "y"}, format="json"
        )
        assert (response.status_code, response.json()["error"]) == (403, "ER:0011")
        sign.refresh_from_db()
        assert sign.signature == "去采购"


def test_delete_removes_own_signature(basic_client, tenant):
    sign = make_signature(tenant)
    response = basic_client(tenant).delete(URL, {"sign_id": sign.pk}, format="json")
    assert response.status_code == 200
    assert not Signature.objects.filter(pk=sign.pk).exists()


def test_deleting_another_tenants_or_unknown_signature_is_er0012(basic_client, tenant, other_tenant):
    theirs = make_signature(other_tenant)
    for sign_id in (theirs.pk, 999999):
        response = basic_client(tenant).delete(URL, {"sign_id": sign_id}, format="json")
        assert (response.status_code, response.json()) == (
            403,
            {"error": "ER:0012", "message": f"delete sign fail: sign_id {sign_id} is not yours"},
        )
    assert Signature.objects.filter(pk=theirs.pk).exists()


def test_signature_with_templates_cannot_be_deleted(basic_client, tenant):
    sign = make_signature(tenant)
    make_template(tenant, sign)
    assert basic_client(tenant).delete(URL, {"sign_id": sign.pk}, format="json").json()["error"] == "ER:0012"


def test_delete_with_non_json_body_is_er0002(basic_client, tenant):
    response = basic_client(tenant).delete(URL, data="sign_id=1", content_type="text/plain")
    assert (response.status_code, response.json()["error"]) == (400, "ER:0002")


# --- v2/signreview ------------------------------------------------------------------------------


@pytest.mark.parametrize(("decision", "reason"), [("passed", ""), ("rejected", "资质不全")])
def test_root_review_sets_status_and_reason(basic_client, tenant, root_user, decision, reason):
    sign = make_signature(tenant, passed=False)
    response = basic_client(root_user).post(
        "/v2/signreview",
        {"sign_id": sign.pk, "audit_status": decision, "reject_reason": "资质不全"},
        format="json",
    )
    assert response.status_code == 200
    sign.refresh_from_db()
    assert (sign.audit_status, sign.reject_reason) == (decision, reason)


@pytest.mark.parametrize("status", ["pending", "PASSED", "ok", ""])
def test_review_takes_only_passed_or_rejected_er0013(basic_client, tenant, root_user, status):
    sign = make_signature(tenant, passed=False)
    response = basic_client(root_user).post(
        "/v2/signreview", {"sign_id": sign.pk, "audit_status": status}, format="json"
    )
    assert response.json()["error"] in ("ER:0013", "ER:0004")
    if status:
        assert (response.status_code, response.json()["error"]) == (403, "ER:0013")


def test_tenant_calling_signreview_is_er0003(basic_client, tenant):
    sign = make_signature(tenant, passed=False)
    response = basic_client(tenant).post(
        "/v2/signreview", {"sign_id": sign.pk, "audit_status": "passed"}, format="json"
    )
    assert (response.status_code, response.json()["error"]) == (400, "ER:0003")
    sign.refresh_from_db()
    assert sign.audit_status == AuditStatus.PENDING


def test_review_of_unknown_signature_is_er0004(basic_client, root_user):
    assert (
        basic_client(root_user)
        .post("/v2/signreview", {"sign_id": 424242, "audit_status": "passed"}, format="json")
        .json()["error"]
        == "ER:0004"
    )

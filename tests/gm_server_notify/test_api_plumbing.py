"""The shared plumbing of both API families: authentication, error bodies, bad JSON, paging."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import SERVICE_TOKEN
from tests.support.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.gm_server_notify.plumbing_urls")]

VALID = {"station_id": "T7442", "count": 2}


# --- /sms/*: bearer token and the {code, msg, data} envelope ---------------------------------


def test_station_call_without_token_gets_nonzero_code_and_no_data(api_client):
    response = api_client.post("/sms/echo", VALID, format="json")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] != 0
    assert body["data"] is None
    assert "credentials" in body["msg"]


def test_station_call_with_wrong_token_is_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-the-token")
    body = api_client.post("/sms/echo", VALID, format="json").json()
    assert body == {"code": 1003, "msg": "invalid service token", "data": None}


def test_station_api_is_closed_when_no_token_is_configured(api_client, settings):
    settings.SMS_SERVICE_TOKENS = []
    api_client.credentials(HTTP_AUTHORIZATION="Bearer ")
    assert api_client.post("/sms/echo", VALID, format="json").json()["code"] == 1003


def test_station_call_with_token_answers_ok_envelope(station_client):
    response = station_client.post("/sms/echo", VALID, format="json")
    assert response.status_code == 200
    assert response.json() == {"code": 0, "msg": "ok", "data": {"station_id": "T7442", "count": 2}}


def test_station_malformed_json_gets_invalid_json_code(station_client):
    response = station_client.post(
        "/sms/echo", data='{"station_id": "T7442",', content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 1001 and body["data"] is None
    assert "JSON" in body["msg"]


def test_station_form_body_is_refused_as_not_json(station_client):
    response = station_client.post(
        "/sms/echo", data="station_id=T7442", content_type="application/x-www-form-urlencoded"
    )
    assert response.json()["code"] == 1001


def test_station_missing_and_wrong_fields_are_named_in_msg(station_client):
    body = station_client.post("/sms/echo", {"count": 0}, format="json").json()
    assert body["code"] == 1002
    assert "station_id" in body["msg"] and "count" in body["msg"]


def test_station_json_array_body_is_a_parameter_error(station_client):
    body = station_client.post("/sms/echo", data="[1, 2]", content_type="application/json").json()
    assert body["code"] == 1002


def test_station_business_error_keeps_its_code_and_msg(station_client):
    response = station_client.get("/sms/echo")
    assert response.status_code == 404
    assert response.json() == {"code": 1004, "msg": "task_id 5 does not exist", "data": None}


def test_station_wrong_method_answers_envelope(station_client):
    response = station_client.put("/sms/echo", VALID, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == 1005


def test_station_unexpected_error_answers_envelope_without_details(station_client):
    response = station_client.get("/sms/crash")
    assert response.status_code == 500
    assert response.json() == {"code": 1099, "msg": "internal error", "data": None}
    assert b"secret-internal-detail" not in response.content


def test_unknown_station_path_answers_envelope_not_html(station_client):
    response = station_client.get("/sms/no/such/path")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"code": 1004, "msg": "not found", "data": None}


def test_trailing_slash_is_not_the_seed_path(station_client):
    assert station_client.post("/sms/echo/", VALID, format="json").status_code == 404


# --- v1/v2: HTTP Basic and {error, message} ---------------------------------------------------


def test_v1_call_without_basic_auth_gets_er0001(api_client):
    response = api_client.post("/v1/echo", VALID, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "ER:0001", "message": "auth not pass"}


def test_v1_call_with_wrong_password_gets_er0001(api_client, tenant):
    api_client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header("dcs", "wrong"))
    response = api_client.post("/v1/echo", VALID, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "ER:0001")


def test_v1_malformed_json_gets_er0002(basic_client, tenant):
    response = basic_client(tenant).post("/v1/echo", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "ER:0002", "message": "post data is not json"}


def test_v1_form_body_gets_er0002(basic_client, tenant):
    response = basic_client(tenant).post(
        "/v1/echo", data="a=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.json()["error"] == "ER:0002"


def test_v1_missing_fields_get_er0004_naming_them(basic_client, tenant):
    response = basic_client(tenant).post("/v1/echo", {"station_id": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "ER:0004"
    assert body["message"].startswith("prams fail") and "count" in body["message"]


def test_v1_business_error_uses_seed_status_and_message(basic_client, tenant):
    response = basic_client(tenant).delete("/v1/echo")
    assert response.status_code == 403
    assert response.json() == {"error": "ER:0012", "message": "delete sign fail"}


def test_v2_called_by_tenant_gets_er0003(basic_client, tenant):
    response = basic_client(tenant).post("/v2/echo", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "ER:0003"


def test_v2_called_by_root_passes(basic_client, root_user):
    response = basic_client(root_user).post("/v2/echo", {"a": 1}, format="json")
    assert response.status_code == 200


def test_v1_unexpected_error_is_er0099_without_details(basic_client, tenant):
    response = basic_client(tenant).get("/v1/crash")
    assert response.status_code == 500
    assert response.json() == {"error": "ER:0099", "message": "server error"}


def test_unknown_v1_path_answers_error_body(api_client):
    response = api_client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "ER:0006"


def test_failed_basic_auth_is_throttled_per_address(api_client, tenant, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    api_client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header("dcs", "wrong"))
    errors = [api_client.post("/v1/echo", VALID, format="json").json()["error"] for _ in range(4)]
    assert errors == ["ER:0001", "ER:0001", "ER:0001", "ER:0007"]
    # Even the right password is refused from that address until the window passes...
    api_client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header("dcs", TEST_PASSWORD))
    assert api_client.post("/v1/echo", VALID, format="json").status_code == 429
    # ...while another address is unaffected.
    other = api_client.post("/v1/echo", VALID, format="json", REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 200


# --- paging: page_obj / reverse / limit -------------------------------------------------------


@pytest.fixture
def twenty_five_users(db):
    start = timezone.now() - timedelta(days=1)
    users = [UserFactory(username=f"u{i:02d}") for i in range(25)]
    for index, user in enumerate(users):
        # Two users share each timestamp so the id tie-breaker is exercised.
        user.date_joined = start + timedelta(minutes=index // 2)
        user.save(update_fields=["date_joined"])
    return [user.username for user in users]


def _all_pages(client, reverse: bool, limit: int = 10) -> list[list[str]]:
    pages, page_obj = [], ""
    while True:
        params = {"limit": limit, "reverse": str(reverse).lower()}
        if page_obj:
            params["page_obj"] = page_obj
        body = client.get("/sms/users", params).json()
        assert body["code"] == 0, body
        pages.append(body["data"])
        if not body["pagination"]["more"]:
            assert body["pagination"]["page_obj"] is None
            return pages
        page_obj = body["pagination"]["page_obj"]


def test_paging_walks_three_pages_newest_first(station_client, twenty_five_users):
    pages = _all_pages(station_client, reverse=False)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [name for page in pages for name in page] == list(reversed(twenty_five_users))


def test_paging_walks_three_pages_oldest_first_with_reverse(station_client, twenty_five_users):
    pages = _all_pages(station_client, reverse=True)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [name for page in pages for name in page] == twenty_five_users


def test_paging_is_stable_when_rows_arrive_between_pages(station_client, twenty_five_users):
    first = station_client.get("/sms/users", {"limit": 10}).json()
    UserFactory(username="latecomer")
    second = station_client.get(
        "/sms/users", {"limit": 10, "page_obj": first["pagination"]["page_obj"]}
    ).json()
    assert second["data"] == list(reversed(twenty_five_users))[10:20]


def test_paging_rejects_forged_cursor_and_bad_limit(station_client, twenty_five_users):
    assert station_client.get("/sms/users", {"page_obj": "forged"}).json()["code"] == 1002
    assert station_client.get("/sms/users", {"limit": 101}).json()["code"] == 1002
    assert station_client.get("/sms/users", {"limit": 0}).json()["code"] == 1002


def test_paging_cursor_cannot_switch_direction(station_client, twenty_five_users):
    cursor = station_client.get("/sms/users", {"limit": 10}).json()["pagination"]["page_obj"]
    body = station_client.get("/sms/users", {"limit": 10, "page_obj": cursor, "reverse": "true"}).json()
    assert body["code"] == 1002 and "reverse" in body["msg"]


def test_service_token_constant_is_what_the_fixture_configures(settings):
    assert settings.SMS_SERVICE_TOKENS == [SERVICE_TOKEN]


def test_verified_basic_credentials_skip_the_password_hash_until_the_password_changes(api_client, tenant):
    from unittest import mock

    from django.contrib.auth.hashers import check_password

    api_client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header("dcs", TEST_PASSWORD))
    with mock.patch("django.contrib.auth.base_user.check_password", side_effect=check_password) as checked:
        for _ in range(3):
            assert api_client.post("/v1/echo", VALID, format="json").status_code == 200
    assert checked.call_count == 1
    tenant.set_password("a-new-password-1")
    tenant.save()
    assert api_client.post("/v1/echo", VALID, format="json").json()["error"] == "ER:0001"

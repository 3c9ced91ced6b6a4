"""Every /sms/* route: closed without the token, and bad JSON answered in the envelope."""

import pytest
from django.urls import get_resolver

pytestmark = pytest.mark.django_db

GET_ROUTES = [
    "/sms/combo/get",
    "/sms/balance/get",
    "/sms/data_center/get",
    "/sms/recharge_record/get",
    "/sms/send_record/get",
    "/sms/statistics_overview/get",
    "/sms/statistics_detail/get",
]
POST_ROUTES = ["/sms/send/add", "/sms/send/start", "/sms/recharge_record/create"]
# Added beyond seed 000 (docs/api-station.md).
ADDED_GET_ROUTES = ["/sms/uplink/get"]


def test_the_eleven_seed_paths_are_all_routed():
    sms_resolver = next(p for p in get_resolver().url_patterns if str(p.pattern) == "sms/")
    routed = {f"/sms/{pattern.pattern}" for pattern in sms_resolver.url_patterns}
    assert routed == {*GET_ROUTES, *POST_ROUTES, "/sms/callback", *ADDED_GET_ROUTES}


@pytest.mark.parametrize("path", GET_ROUTES + ADDED_GET_ROUTES)
def test_get_route_without_token_gets_nonzero_code_and_no_data(api_client, path):
    response = api_client.get(path, {"station_id": "T7442"})
    assert response.status_code == 401
    assert response.json()["code"] != 0 and response.json()["data"] is None


@pytest.mark.parametrize("path", POST_ROUTES)
def test_post_route_without_token_gets_nonzero_code_and_no_data(api_client, path):
    response = api_client.post(path, {}, format="json")
    assert response.status_code == 401
    assert response.json() == {
        "code": 1003,
        "msg": "Authentication credentials were not provided.",
        "data": None,
    }


@pytest.mark.parametrize("path", POST_ROUTES)
def test_post_route_with_malformed_json_gets_envelope_not_500(station_client, path):
    response = station_client.post(path, data='{"station_id": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == 1001


@pytest.mark.parametrize("path", GET_ROUTES + ADDED_GET_ROUTES)
def test_get_route_refuses_post(station_client, path):
    assert station_client.post(path, {}, format="json").json()["code"] == 1005

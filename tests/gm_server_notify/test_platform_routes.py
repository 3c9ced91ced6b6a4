"""Every v1/v2 route: Basic auth required (ER:0001), non-JSON bodies refused (ER:0002)."""

import pytest

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/v1/signature"),
    ("post", "/v1/signature"),
    ("put", "/v1/signature"),
    ("delete", "/v1/signature"),
    ("get", "/v1/template"),
    ("post", "/v1/template"),
    ("put", "/v1/template"),
    ("delete", "/v1/template"),
    ("post", "/v1/message"),
    ("get", "/v1/message"),
    ("get", "/v1/balance"),
    ("post", "/v1/message/estimate"),
    ("get", "/v1/limits"),
    ("put", "/v1/limits"),
    ("post", "/v2/signreview"),
    ("post", "/v2/tempreview"),
    ("post", "/v2/charge"),
]
WRITE_ROUTES = [(method, path) for method, path in ROUTES if method != "get"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_route_without_basic_auth_is_er0001(api_client, method, path):
    response = getattr(api_client, method)(path, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "ER:0001", "message": "auth not pass"}


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_write_route_with_malformed_json_is_er0002(basic_client, root_user, method, path):
    response = getattr(basic_client(root_user), method)(
        path, data='{"sign_id": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "ER:0002"


@pytest.mark.parametrize("path", ["/v2/signreview", "/v2/tempreview", "/v2/charge"])
def test_v2_route_for_a_tenant_is_er0003(basic_client, tenant, path):
    assert basic_client(tenant).post(path, {}, format="json").json()["error"] == "ER:0003"

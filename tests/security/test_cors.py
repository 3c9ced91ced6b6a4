"""Issue 27: a browser front end may call /sms/* directly only from an origin listed in
SMS_CORS_ALLOWED_ORIGINS (django-cors-headers); with the setting empty, the default, no answer
carries CORS headers, so browsers refuse every cross-origin call."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

FRONT = "https://station.example.com"


def preflight(path: str, origin: str, headers: str = "authorization,content-type,idempotency-key"):
    return Client().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.fixture
def allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [FRONT]


def test_the_setting_is_off_by_default():
    from gm_server_notify.settings import api

    # Read from SMS_CORS_ALLOWED_ORIGINS, which the suite does not set.
    assert api.CORS_ALLOWED_ORIGINS == []


def test_a_preflight_from_an_allowed_origin_gets_the_headers_the_api_needs(allowed):
    answer = preflight("/sms/send/add", FRONT)
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == FRONT
    allowed_headers = {h.strip() for h in answer["Access-Control-Allow-Headers"].split(",")}
    assert allowed_headers == {"authorization", "content-type", "idempotency-key"}
    assert "POST" in answer["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in answer


def test_an_allowed_origins_call_may_read_the_answer_and_its_headers(allowed, settings):
    settings.SMS_SERVICE_CLIENTS = [
        {"name": "front", "token": "front-token", "scopes": ["read"], "stations": ["T7442"]}
    ]
    answer = Client().get(
        "/sms/balance/get",
        {"station_id": "T7442"},
        HTTP_ORIGIN=FRONT,
        HTTP_AUTHORIZATION="Bearer front-token",
    )
    assert answer.json()["code"] == 0
    assert answer["Access-Control-Allow-Origin"] == FRONT
    assert {"idempotent-replayed", "retry-after"} <= {
        h.strip().lower() for h in answer["Access-Control-Expose-Headers"].split(",")
    }


@pytest.mark.parametrize(
    ("origin", "path"),
    [
        ("https://evil.example.com", "/sms/send/add"),
        ("http://station.example.com", "/sms/send/add"),
        (FRONT, "/v1/sign"),
        (FRONT, "/sms/callback"),
        (FRONT, "/admin/login/"),
    ],
    ids=["another origin", "the origin over http", "the tenant API", "the provider push", "the admin"],
)
def test_no_cors_headers_for_another_origin_or_outside_the_station_api(allowed, origin, path):
    answer = preflight(path, origin)
    assert "Access-Control-Allow-Origin" not in answer
    assert "Access-Control-Allow-Headers" not in answer


def test_no_cors_headers_when_the_setting_is_empty(settings):
    settings.CORS_ALLOWED_ORIGINS = []
    answer = preflight("/sms/send/add", FRONT)
    assert "Access-Control-Allow-Origin" not in answer
    get = Client().get("/sms/combo/get", HTTP_ORIGIN=FRONT)
    assert "Access-Control-Allow-Origin" not in get

"""Issue 19, finding 4: a service token can do only what its client's scopes allow.

Before: any token of SMS_SERVICE_TOKENS could call every /sms/* view, so the token an order
service holds could credit a station with 100,000,000 messages. Now each caller is a named client
with scopes (send, recharge, read, metrics); each station view declares the scope it needs; a
client without it gets 403, code 1012; a recharge records the client that booked it.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from sms.models import RechargeRecord, Station

pytestmark = pytest.mark.django_db

CLIENTS = [
    {"name": "orders", "token": "orders-token", "scopes": ["send", "read"]},
    {"name": "station-admin", "token": "station-admin-token", "scopes": ["recharge", "read"]},
    {"name": "reporting", "token": "reporting-token", "scopes": ["read"]},
    {"name": "prometheus", "token": "prometheus-token", "scopes": ["metrics"]},
]
HUGE_FREE_RECHARGE = {
    "combo_id": 4,
    "recharge_money": 0,
    "recharge_nums": 100_000_000,
    "station_id": "T7442",
    "operator_name": "orders",
}


@pytest.fixture(autouse=True)
def _clients(settings):
    settings.SMS_SERVICE_CLIENTS = CLIENTS


def as_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_the_order_services_token_cannot_credit_100_million_messages():
    response = as_client("orders-token").post(
        "/sms/recharge_record/create", HUGE_FREE_RECHARGE, format="json"
    )
    assert response.status_code == 403
    body = response.json()
    assert (body["code"], body["data"]) == (1012, None)
    assert "orders" in body["msg"] and "recharge" in body["msg"]
    assert not RechargeRecord.objects.exists()
    assert not Station.objects.filter(station_id="T7442").exists()


STATION_CALLS = [
    ("post", "/sms/send/add", "send"),
    ("post", "/sms/send/start", "send"),
    ("post", "/sms/recharge_record/create", "recharge"),
    ("get", "/sms/combo/get", "read"),
    ("get", "/sms/balance/get", "read"),
    ("get", "/sms/data_center/get", "read"),
    ("get", "/sms/recharge_record/get", "read"),
    ("get", "/sms/send_record/get", "read"),
    ("get", "/sms/statistics_overview/get", "read"),
    ("get", "/sms/statistics_detail/get", "read"),
    ("get", "/sms/uplink/get", "read"),
]


@pytest.mark.parametrize(("method", "path", "scope"), STATION_CALLS, ids=[c[1] for c in STATION_CALLS])
def test_each_station_call_needs_its_scope_and_only_that(settings, method, path, scope):
    settings.SMS_SERVICE_CLIENTS = [
        {"name": "has-it", "token": "has-it", "scopes": [scope]},
        {
            "name": "lacks-it",
            "token": "lacks-it",
            "scopes": sorted({"send", "recharge", "read", "metrics"} - {scope}),
        },
    ]
    call = {"format": "json"} if method == "post" else {}
    refused = getattr(as_client("lacks-it"), method)(path, {}, **call)
    assert (refused.status_code, refused.json()["code"]) == (403, 1012)
    allowed = getattr(as_client("has-it"), method)(path, {}, **call)
    # Past the permission check: a parameter error (empty request) or an answer, never 403/1012.
    assert allowed.status_code != 403 and allowed.json()["code"] != 1012


def test_a_recharge_records_the_client_that_booked_it():
    response = as_client("station-admin-token").post(
        "/sms/recharge_record/create", {**HUGE_FREE_RECHARGE, "recharge_nums": 10}, format="json"
    )
    assert response.json()["code"] == 0
    assert RechargeRecord.objects.get().client_name == "station-admin"


def test_old_sms_service_tokens_are_clients_with_every_scope_named_token_n(settings):
    settings.SMS_SERVICE_CLIENTS = []
    settings.SMS_SERVICE_TOKENS = ["first-token", "second-token"]
    response = as_client("second-token").post(
        "/sms/recharge_record/create", {**HUGE_FREE_RECHARGE, "recharge_nums": 10}, format="json"
    )
    assert response.json()["code"] == 0
    assert RechargeRecord.objects.get().client_name == "token-2"
    assert as_client("first-token").get("/metrics").status_code == 200


def test_metrics_needs_the_metrics_scope():
    assert as_client("orders-token").get("/metrics").status_code == 401
    assert as_client("prometheus-token").get("/metrics").status_code == 200
    # ...and the metrics scope alone opens no station call.
    assert as_client("prometheus-token").get("/sms/combo/get").status_code == 403


def test_an_unknown_token_is_still_401_code_1003():
    response = as_client("no-such-token").get("/sms/combo/get")
    assert (response.status_code, response.json()["code"]) == (401, 1003)


@pytest.mark.parametrize(
    "clients",
    [
        [{"name": "x", "token": "t", "scopes": ["everything"]}],
        [{"name": "x", "token": "t1", "scopes": []}, {"name": "x", "token": "t2", "scopes": []}],
        [{"name": "", "token": "t", "scopes": ["read"]}],
        [{"name": "x", "token": "", "scopes": ["read"]}],
        [{"name": "token-1", "token": "t", "scopes": ["read"]}],
    ],
    ids=["unknown scope", "name twice", "no name", "no token", "name of a legacy token"],
)
def test_a_misconfigured_client_list_is_refused(settings, clients):
    from gm_server_notify.api.auth import configured_clients

    settings.SMS_SERVICE_CLIENTS = json.loads(json.dumps(clients))
    with pytest.raises(ImproperlyConfigured):
        configured_clients()

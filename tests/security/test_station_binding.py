"""Issue 27: a service client bound to stations reaches only those, on every /sms/* route.

Before: any client with the ``read`` scope could read every station's records, full mobiles and
statistics by changing ``station_id``. Now a client of SMS_SERVICE_CLIENTS with ``"stations"`` is
refused (403, code 1012) for any other station, in the query or the body, and for the reads of
every station; nothing is written. The route table below covers every pattern of sms/urls.py (a
guard test fails when a route is added without a row).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern
from rest_framework.test import APIClient

from sms.models import (
    BalanceLedger,
    DailyStatistics,
    IdempotencyKey,
    RechargeRecord,
    SendRecord,
    Station,
)
from sms.station_api import services
from sms.station_api.binding import StationBinding, StationSource
from tests.sms.conftest import CUSTOM_COMBO_ID

pytestmark = pytest.mark.django_db

OWN, OTHER = "T7442", "T7443"
CLIENTS = [
    {
        "name": "front-T7442",
        "token": "bound-token",
        "scopes": ["send", "recharge", "read"],
        "stations": [OWN],
    },
    {"name": "orders", "token": "unbound-token", "scopes": ["send", "recharge", "read"]},
]


def as_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


BOUND, UNBOUND = "bound-token", "unbound-token"


@pytest.fixture(autouse=True)
def _clients(settings):
    settings.SMS_SERVICE_CLIENTS = json.loads(json.dumps(CLIENTS))


@pytest.fixture
def stations(recharge) -> dict[str, int]:
    """Both stations with a balance and one added (not started) record each: ``{station: task_id}``."""
    tasks = {}
    for station in (OWN, OTHER):
        recharge(station, 100)
        record = services.create_station_send(
            station_id=station,
            receive_phone="13112341234",
            sms_content={"order_id": f"PL-{station}", "sms_signature": "去采购"},
            business_type=0,
        )
        tasks[station] = record.pk
    return tasks


# --- The route table: every /sms/* route, how it names its station, a valid request for one --------

Request = Callable[[str, dict[str, int]], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    name: str  # the URL pattern's name
    method: str
    path: str
    source: StationSource
    # A valid request for the station, given each station's added record: the query or the body.
    request: Request


def _query(**extra: Any) -> Request:
    return lambda station, tasks: {"station_id": station, **extra}


RANGE = {"start_date": "2026-01-01", "end_date": "2026-12-31"}

ROUTES = [
    Route(
        "sms-send-add",
        "post",
        "/sms/send/add",
        StationSource.BODY,
        lambda station, tasks: {
            "station_id": station,
            "receive_phone": "13112340001",
            "sms_content": {"order_id": "PL0001", "sms_signature": "去采购"},
            "business_type": 0,
        },
    ),
    Route(
        "sms-send-start",
        "post",
        "/sms/send/start",
        StationSource.TASK,
        lambda station, tasks: {"task_id": tasks[station]},
    ),
    Route("sms-combo-get", "get", "/sms/combo/get", StationSource.NONE, lambda station, tasks: {}),
    Route("sms-balance-get", "get", "/sms/balance/get", StationSource.QUERY, _query()),
    Route("sms-data-center-get", "get", "/sms/data_center/get", StationSource.QUERY, _query(**RANGE)),
    Route("sms-recharge-record-get", "get", "/sms/recharge_record/get", StationSource.QUERY, _query()),
    Route(
        "sms-recharge-record-create",
        "post",
        "/sms/recharge_record/create",
        StationSource.BODY,
        lambda station, tasks: {
            "combo_id": CUSTOM_COMBO_ID,
            "recharge_money": "1.00",
            "recharge_nums": 10,
            "station_id": station,
            "operator_name": "admin",
        },
    ),
    Route("sms-send-record-get", "get", "/sms/send_record/get", StationSource.QUERY, _query(**RANGE)),
    Route(
        "sms-statistics-overview-get",
        "get",
        "/sms/statistics_overview/get",
        StationSource.ALL,
        lambda station, tasks: {},
    ),
    Route(
        "sms-statistics-detail-get",
        "get",
        "/sms/statistics_detail/get",
        StationSource.ALL,
        lambda station, tasks: {"station_ids": station},
    ),
    Route("sms-uplink-get", "get", "/sms/uplink/get", StationSource.QUERY, _query()),
]
# Routes under /sms/ that no service client calls, with the reason.
NOT_SERVICE_CLIENT_ROUTES = {"sms-callback": "Tencent's delivery-report push: a callback token, not a client"}


def call(token: str, route: Route, request: dict[str, Any], **headers: str) -> Any:
    client = as_client(token)
    if route.method == "get":
        return client.get(route.path, request, **headers)
    return client.post(route.path, request, format="json", **headers)


def written() -> dict[str, Any]:
    """Everything a station call could write."""
    return {
        "records": list(SendRecord.objects.order_by("pk").values_list("pk", "station_id", "state")),
        "recharges": RechargeRecord.objects.count(),
        "ledger": BalanceLedger.objects.count(),
        "stations": list(
            Station.objects.order_by("station_id").values_list(
                "station_id", "balance_nums", "total_recharge_nums"
            )
        ),
        "daily": list(
            DailyStatistics.objects.order_by("pk").values_list("station_id", "send_date", "total_send_nums")
        ),
        "keys": IdempotencyKey.objects.count(),
    }


def test_the_route_table_covers_every_sms_route():
    """A route added to /sms/* without a row here fails: it must say how it names its station."""
    from sms.urls import urlpatterns

    names = {pattern.name for pattern in urlpatterns if isinstance(pattern, URLPattern)}
    assert len(names) == len(urlpatterns), "every /sms/* pattern is a named path"
    assert {route.name for route in ROUTES} | set(NOT_SERVICE_CLIENT_ROUTES) == names
    for pattern in urlpatterns:
        if pattern.name in NOT_SERVICE_CLIENT_ROUTES:
            continue
        view = pattern.callback.view_class
        route = next(route for route in ROUTES if route.name == pattern.name)
        assert f"/sms/{pattern.pattern}" == route.path
        # The view checks the binding, and names its station where the table says.
        assert StationBinding in view.permission_classes, pattern.name
        assert view.station_source is route.source, pattern.name


@pytest.mark.parametrize("route", ROUTES, ids=[route.path for route in ROUTES])
def test_a_bound_client_reaches_only_its_own_stations(stations, route):
    # Another station (or every station): refused with 1012, nothing written, not even a key.
    if route.source is not StationSource.NONE:
        before = written()
        refused = call(BOUND, route, route.request(OTHER, stations), HTTP_IDEMPOTENCY_KEY="k-other")
        assert (refused.status_code, refused.json()["code"], refused.json()["data"]) == (403, 1012, None)
        assert "front-T7442" in refused.json()["msg"]
        if route.source is not StationSource.ALL:
            assert OTHER in refused.json()["msg"]
        assert written() == before
    # The unbound client is not refused, for either station.
    for station in (OTHER, OWN):
        answer = call(UNBOUND, route, route.request(station, stations))
        assert answer.json()["code"] == 0, (station, answer.json())
    # The bound client on its own station is not refused, except for the reads of every station.
    own = call(BOUND, route, route.request(OWN, stations))
    if route.source is StationSource.ALL:
        assert (own.status_code, own.json()["code"]) == (403, 1012)
    else:
        assert own.json()["code"] == 0, own.json()


@pytest.mark.parametrize(
    ("path", "request_"),
    [
        ("/sms/balance/get", {"station_id": f" {OTHER} "}),
        ("/sms/balance/get", {"station_id": [OWN, OTHER]}),
        ("/sms/balance/get", {"station_id": [OTHER, OWN]}),
        ("/sms/send/add", {"station_id": f"{OTHER}  "}),
    ],
    ids=["spaces around it", "repeated, other last", "repeated, other first", "body with spaces"],
)
def test_another_station_in_disguise_is_refused(stations, path, request_):
    """The station id is read as the view reads it (trimmed; a repeated query parameter)."""
    client = as_client(BOUND)
    if path == "/sms/send/add":
        body = {**ROUTES[0].request(OWN, stations), **request_}
        answer = client.post(path, body, format="json")
    else:
        answer = client.get(path, request_)
    assert (answer.status_code, answer.json()["code"]) == (403, 1012), answer.json()


def test_a_malformed_station_id_is_still_the_parameter_error(stations):
    answer = as_client(BOUND).get("/sms/balance/get", {"station_id": "T" * 40})
    assert (answer.status_code, answer.json()["code"]) == (400, 1002)


def test_send_start_of_a_missing_record_is_still_not_found():
    answer = as_client(BOUND).post("/sms/send/start", {"task_id": 999999}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (404, 1004)


def test_an_idempotency_replay_cannot_leak_another_stations_answer(settings, stations):
    """The binding is checked before the stored answer is looked up: a client re-bound after it
    stored an answer for a station no longer its own gets 1012, not the stored answer."""
    add = ROUTES[0]
    body = add.request(OTHER, stations)
    first = call(UNBOUND, add, body, HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.json()["code"] == 0
    settings.SMS_SERVICE_CLIENTS = [CLIENTS[0], {**CLIENTS[1], "stations": [OWN]}]
    replay = call(UNBOUND, add, body, HTTP_IDEMPOTENCY_KEY="order-1")
    assert (replay.status_code, replay.json()["code"]) == (403, 1012)
    assert "Idempotent-Replayed" not in replay.headers
    # Keys are scoped per client name: another client with the same key and body runs afresh.
    other_client = call(BOUND, add, add.request(OWN, stations), HTTP_IDEMPOTENCY_KEY="order-1")
    assert "Idempotent-Replayed" not in other_client.headers
    assert other_client.json()["data"]["task_id"] != first.json()["data"]["task_id"]


def test_a_view_that_does_not_say_where_its_station_is_refuses_bound_clients(rf):
    from gm_server_notify.api.auth import configured_clients

    bound, unbound = (client for client, _ in configured_clients()[:2])
    request = rf.get("/sms/new/get", {"station_id": OWN})
    view = type("NewView", (), {})()
    request.user = bound
    assert StationBinding().has_permission(request, view) is False
    request.user = unbound
    assert StationBinding().has_permission(request, view) is True


# --- Configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stations",
    [[], "T7442", [""], [7442], [" T7442"], ["T" * 33], {"T7442": 1}],
    ids=["empty", "a string", "empty id", "a number", "spaces", "too long", "an object"],
)
def test_a_malformed_stations_list_stops_the_start(settings, stations):
    from gm_server_notify.api.auth import configured_clients

    settings.SMS_SERVICE_CLIENTS = [{"name": "x", "token": "t", "scopes": ["read"], "stations": stations}]
    with pytest.raises(ImproperlyConfigured, match="stations"):
        configured_clients()


def test_a_bound_client_cannot_hold_the_metrics_scope(settings):
    """/metrics counts every station's traffic."""
    from gm_server_notify.api.auth import configured_clients

    settings.SMS_SERVICE_CLIENTS = [{"name": "x", "token": "t", "scopes": ["metrics"], "stations": [OWN]}]
    with pytest.raises(ImproperlyConfigured, match="metrics"):
        configured_clients()


def test_stations_absent_or_null_is_unbound_and_a_list_binds(settings):
    from gm_server_notify.api.auth import configured_clients

    settings.SMS_SERVICE_TOKENS = []
    settings.SMS_SERVICE_CLIENTS = [
        {"name": "a", "token": "ta", "scopes": ["read"]},
        {"name": "b", "token": "tb", "scopes": ["read"], "stations": None},
        {"name": "c", "token": "tc", "scopes": ["read"], "stations": [OWN, OTHER, OWN]},
    ]
    a, b, c = (client for client, _ in configured_clients())
    assert (a.stations, b.stations, c.stations) == (None, None, frozenset({OWN, OTHER}))
    assert a.reaches("T1") and not c.reaches("T1") and c.reaches(OTHER)

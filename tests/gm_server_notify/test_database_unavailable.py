"""While the database cannot be reached every API answers 503 in its family's body with
``Retry-After``, never 500; what only looks like it (a lock wait, a SQL mistake) is not that."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import DataError, InterfaceError, OperationalError, ProgrammingError
from django.test import Client, RequestFactory

from gm_server_notify.api.errors import handler500
from gm_server_notify.db import database_unreachable
from tests.sms.conftest import seed_send_request

pytestmark = pytest.mark.django_db

CANNOT_CONNECT = OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' (111)")
GONE_AWAY = OperationalError(2006, "Server has gone away")
LOST = OperationalError(2013, "Lost connection to server during query")
STATION_503 = {"code": 1098, "msg": "temporarily unavailable: retry later", "data": None}
TENANT_503 = {"error": "ER:0098", "message": "service unavailable: retry later"}
UUID = "0b7e4c1e-3f5a-4d7e-9a39-5a1c2b3d4e5f"


@pytest.fixture
def drops() -> mock.MagicMock:
    """The broken connection is dropped (tests run inside a transaction, where dropping it would
    be the transaction owner's call, so the drop is watched rather than done)."""
    with mock.patch("gm_server_notify.api.envelope.drop_broken_connection") as drop:
        yield drop


def _station_503(response, drops) -> None:
    assert response.status_code == 503, response.content
    assert response.json() == STATION_503
    assert response["Retry-After"] == "5"
    drops.assert_called_once()


def _tenant_503(response, drops) -> None:
    assert response.status_code == 503, response.content
    assert response.json() == TENANT_503
    assert response["Retry-After"] == "5"
    drops.assert_called_once()


# --- What counts as the database being unreachable ----------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        CANNOT_CONNECT,
        GONE_AWAY,
        LOST,
        OperationalError(2002, "Can't connect to local server through socket"),
        OperationalError(1040, "Too many connections"),
        OperationalError(1053, "Server shutdown in progress"),
        OperationalError(1927, "Connection was killed"),
        InterfaceError(0, ""),
        InterfaceError("connection already closed"),
    ],
)
def test_a_connection_that_fails_or_is_lost_is_the_database_unreachable(exc):
    assert database_unreachable(exc)


def test_an_error_raised_from_a_lost_connection_is_the_database_unreachable():
    try:
        try:
            raise LOST
        except OperationalError as cause:
            raise RuntimeError("while reading") from cause
    except RuntimeError as exc:
        assert database_unreachable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"),
        OperationalError(1213, "Deadlock found when trying to get lock"),
        OperationalError("database is locked"),  # SQLite
        ProgrammingError(1146, "Table 'x' doesn't exist"),
        DataError(1406, "Data too long"),
        RuntimeError("a bug"),
    ],
)
def test_an_error_the_database_answered_is_not_it_being_unreachable(exc):
    assert not database_unreachable(exc)


# --- Station /sms/*: 1098 -------------------------------------------------------------------------


def test_a_station_read_whose_selector_cannot_connect_answers_1098_with_retry_after(station_client, drops):
    with mock.patch("sms.station_api.selectors.station_balance", side_effect=CANNOT_CONNECT):
        response = station_client.get("/sms/balance/get", {"station_id": "T7442"})
    _station_503(response, drops)


def test_a_station_statistics_read_whose_database_went_away_answers_1098(station_client, drops):
    with mock.patch("sms.station_api.selectors.statistics_overview", side_effect=GONE_AWAY):
        response = station_client.get("/sms/statistics_overview/get")
    _station_503(response, drops)


def test_a_station_write_whose_service_lost_the_connection_answers_1098(station_client, drops):
    with mock.patch("sms.station_api.services.create_station_send", side_effect=LOST):
        response = station_client.post("/sms/send/add", seed_send_request(), format="json")
    _station_503(response, drops)


def test_the_retry_after_is_the_setting(station_client, drops, settings):
    settings.DATABASE_RETRY_AFTER_SECONDS = 30
    with mock.patch("sms.station_api.selectors.station_balance", side_effect=CANNOT_CONNECT):
        response = station_client.get("/sms/balance/get", {"station_id": "T7442"})
    assert response.status_code == 503 and response["Retry-After"] == "30"


def test_a_lock_wait_timeout_is_still_a_server_error_not_a_503(station_client, drops):
    lock_wait = OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction")
    with mock.patch("sms.station_api.selectors.station_balance", side_effect=lock_wait):
        response = station_client.get("/sms/balance/get", {"station_id": "T7442"})
    assert response.status_code == 500 and response.json()["code"] == 1099
    assert "Retry-After" not in response
    drops.assert_not_called()


# --- Tenant v1/*, root v2/*: ER:0098 --------------------------------------------------------------


def test_a_tenant_read_whose_selector_cannot_connect_answers_er0098(tenant, basic_client, drops):
    with mock.patch("sms.tenant_api.selectors.message_batch_progress", side_effect=CANNOT_CONNECT):
        response = basic_client(tenant).get("/v1/message", {"uuid": UUID})
    _tenant_503(response, drops)


def test_a_tenant_write_whose_service_lost_the_connection_answers_er0098(tenant, basic_client, drops):
    body = {"sign_id": 1, "temp_id": 1, "mobiles": ["13112341234"], "params": ["x"]}
    with mock.patch("sms.tenant_api.services.send_tenant_message", side_effect=LOST):
        response = basic_client(tenant).post("/v1/message", body, format="json")
    _tenant_503(response, drops)


def test_a_root_write_whose_database_went_away_answers_er0098(root_user, basic_client, drops):
    with mock.patch("sms.tenant_api.services.charge_tenant", side_effect=GONE_AWAY):
        response = basic_client(root_user).post("/v2/charge", {"user": "dcs", "charge": 10}, format="json")
    _tenant_503(response, drops)


def test_basic_auth_that_cannot_reach_the_database_answers_er0098_not_auth_not_pass(
    tenant, basic_client, drops
):
    """The credentials are checked against the database before any view code runs."""
    with mock.patch("axes.handlers.proxy.AxesProxyHandler.is_allowed", side_effect=CANNOT_CONNECT):
        response = basic_client(tenant).get("/v1/balance")
    _tenant_503(response, drops)


# --- What no view rendered: handler500 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sms/balance/get", STATION_503),
        ("/v1/message", TENANT_503),
        ("/v2/charge", TENANT_503),
        ("/admin/", {"detail": "service unavailable: retry later"}),
    ],
)
def test_handler500_answers_the_paths_family_503_when_the_database_is_unreachable(path, body, drops):
    request = RequestFactory().get(path)
    try:
        raise LOST
    except OperationalError:
        response = handler500(request)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert json.loads(response.content) == body
    drops.assert_called_once()


def test_handler500_answers_500_for_any_other_error(drops):
    request = RequestFactory().get("/v1/message")
    try:
        raise ZeroDivisionError
    except ZeroDivisionError:
        response = handler500(request)
    assert response.status_code == 500 and "Retry-After" not in response
    drops.assert_not_called()


def test_the_admin_whose_session_cannot_be_read_answers_503(root_user, drops):
    """A query no view makes: the session middleware's (the admin reads request.user)."""
    client = Client(raise_request_exception=False)
    client.force_login(root_user)
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load", side_effect=CANNOT_CONNECT):
        response = client.get("/admin/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    drops.assert_called_once()

"""The bad-input table: each row is a request a careless or hostile caller sends, on every POST, PUT
and DELETE route of the API (a test holds the table to the schema's routes). Each answers the
family's documented body with a 4xx (or, where the input is valid, does the right thing) and a
refused request writes nothing: every table's checksum (MariaDB's ``CHECKSUM TABLE``, a hash of
every row elsewhere) is the same before and after, so an updated row is caught as well as an added
or deleted one. The tenant's rows are seeded first (signatures and templates both editable and
passed, a callback, a blocked number, a batch), so a PUT or DELETE has something to change."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.db import connection

from sms.models import TenantAccount
from sms.tenant_api.services import set_operator_caps
from tests.support.factories import UserFactory
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

# Tables a refused request may still write, and why: none today.
UNCHECKED_TABLES: frozenset[str] = frozenset()


def _checksums() -> dict[str, str]:
    """Every table's checksum: its rows' values, so an update shows as well as an insert."""
    tables = sorted(set(connection.introspection.table_names()) - UNCHECKED_TABLES)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute("CHECKSUM TABLE " + ", ".join(quote(table) for table in tables))
            return {name.split(".", 1)[1]: str(checksum) for name, checksum in cursor.fetchall()}
        sums = {}
        for table in tables:
            cursor.execute(f"SELECT * FROM {quote(table)}")
            rows = sorted(repr(row) for row in cursor.fetchall())
            sums[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return sums


SEND = {
    "station_id": "T7442",
    "receive_phone": "13100000001",
    "business_type": 2,
    "sms_content": {"verify_code": "1234", "sms_signature": "去采购"},
}
RECHARGE = {
    "combo_id": 4,
    "station_id": "T7442",
    "recharge_nums": 10,
    "recharge_money": "1.00",
    "operator_name": "财务",
}
WINDOW = {"station_id": "T7442", "start_date": "2026-11-01", "end_date": "2026-11-25"}


@dataclass
class Row:
    """One bad request: ``method``/``path`` with a JSON ``body`` (or ``raw`` bytes, or ``query``)
    and the status and code (station) or error (tenant) it must answer. A ``body`` may be a
    function of the seeded ``World`` (the ids it names)."""

    name: str
    method: str
    path: str
    status: int
    code: int | str
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    query: dict[str, Any] = field(default_factory=dict)
    says: str = ""


STATION_ROWS = [
    Row("invalid JSON", "post", "/sms/send/add", 400, 1001, raw=b'{"station_id": "T1",'),
    Row("JSON with NaN", "post", "/sms/send/add", 400, 1001, raw=b'{"station_id": NaN}'),
    Row("a lone surrogate", "post", "/sms/send/add", 400, 1001, raw=b'{"station_id": "\\ud800"}'),
    Row("nested 100,000 deep", "post", "/sms/send/add", 400, 1001, raw=b"[" * 100_000),
    Row(
        "wrong content type",
        "post",
        "/sms/send/add",
        400,
        1001,
        raw=b"station_id=T1",
        content_type="text/plain",
    ),
    Row("body over the limit", "post", "/sms/send/add", 413, 1011, raw=b" " * (1024 * 1024 + 1)),
    Row("NUL byte", "post", "/sms/send/add", 400, 1002, body={**SEND, "station_id": "T\x00"}),
    Row("100 KB string", "post", "/sms/send/add", 400, 1002, body={**SEND, "receive_name": "名" * 100_000}),
    Row("integer 2**63", "post", "/sms/send/add", 400, 1002, body={**SEND, "restaurant_id": 2**63}),
    Row("negative id", "post", "/sms/send/add", 400, 1002, body={**SEND, "restaurant_id": -1}),
    Row("float for an int", "post", "/sms/send/add", 400, 1002, body={**SEND, "business_type": 0.5}),
    Row(
        "no sms_content",
        "post",
        "/sms/send/add",
        400,
        1002,
        body={k: v for k, v in SEND.items() if k != "sms_content"},
        says="verify_code, sms_signature required",
    ),
    Row("null sms_content", "post", "/sms/send/add", 400, 1002, body={**SEND, "sms_content": None}),
    Row("sms_content not an object", "post", "/sms/send/add", 400, 1002, body={**SEND, "sms_content": [1]}),
    Row("task_id 2**63", "post", "/sms/send/start", 400, 1002, body={"task_id": 2**63}),
    Row("task_id float", "post", "/sms/send/start", 400, 1002, body={"task_id": 1.5}),
    Row("task_id negative", "post", "/sms/send/start", 400, 1002, body={"task_id": -3}),
    Row(
        "negative recharge",
        "post",
        "/sms/recharge_record/create",
        400,
        1002,
        body={**RECHARGE, "recharge_nums": -5},
    ),
    Row(
        "recharge 2**63",
        "post",
        "/sms/recharge_record/create",
        400,
        1002,
        body={**RECHARGE, "recharge_nums": 2**63},
    ),
    Row(
        "combo_id 2**63",
        "post",
        "/sms/recharge_record/create",
        400,
        1002,
        body={**RECHARGE, "combo_id": 2**63},
    ),
    Row(
        "money with 3 decimals",
        "post",
        "/sms/recharge_record/create",
        400,
        1002,
        body={**RECHARGE, "recharge_money": "1.001"},
    ),
    Row(
        "impossible date",
        "get",
        "/sms/data_center/get",
        400,
        1002,
        query={**WINDOW, "start_date": "2026-02-30"},
    ),
    Row(
        "year 1",
        "get",
        "/sms/send_record/get",
        400,
        1002,
        query={**WINDOW, "start_date": "0001-01-01", "end_date": "0001-01-01"},
    ),
    Row(
        "year 9999",
        "get",
        "/sms/send_record/get",
        400,
        1002,
        query={**WINDOW, "start_date": "9999-12-31", "end_date": "9999-12-31"},
    ),
    Row(
        "recharges of year 1",
        "get",
        "/sms/recharge_record/get",
        400,
        1002,
        query={"station_id": "T7442", "start_date": "0001-01-01"},
    ),
    Row(
        "statistics of year 9999",
        "get",
        "/sms/data_center/get",
        400,
        1002,
        query={**WINDOW, "end_date": "9999-12-31"},
    ),
    Row("limit 0", "get", "/sms/send_record/get", 400, 1002, query={**WINDOW, "limit": 0}),
    Row("limit -1", "get", "/sms/send_record/get", 400, 1002, query={**WINDOW, "limit": -1}),
    Row("limit 100000", "get", "/sms/send_record/get", 400, 1002, query={**WINDOW, "limit": 100_000}),
    Row(
        "station_ids nested 100,000 deep",
        "get",
        "/sms/statistics_detail/get",
        400,
        1002,
        query={"station_ids": "[" * 100_000},
    ),
    Row(
        "tampered page_obj",
        "get",
        "/sms/send_record/get",
        400,
        1002,
        query={**WINDOW, "page_obj": "eyJ4IjoxfQ:tampered"},
    ),
]

MOBILES_10001 = [f"131{index:08d}" for index in range(10_001)]
TENANT_ROWS = [
    Row("invalid JSON", "post", "/v1/message", 400, "ER:0002", raw=b'{"sign_id": '),
    Row("JSON with Infinity", "post", "/v1/message", 400, "ER:0002", raw=b'{"sign_id": Infinity}'),
    Row("nested 100,000 deep", "post", "/v1/signature", 400, "ER:0002", raw=b"[" * 100_000),
    Row(
        "wrong content type",
        "post",
        "/v1/signature",
        400,
        "ER:0002",
        raw=b"signature=x",
        content_type="text/plain",
    ),
    Row("body over the limit", "post", "/v1/message", 413, "ER:0008", raw=b" " * (1024 * 1024 + 1)),
    Row(
        "NUL byte",
        "post",
        "/v1/signature",
        400,
        "ER:0004",
        body={"signature": "去\x00采购", "source": "营业执照"},
    ),
    Row(
        "100 KB string",
        "post",
        "/v1/signature",
        400,
        "ER:0004",
        body={"signature": "x" * 100_000, "source": "营业执照"},
    ),
    Row(
        "sign_id 2**63",
        "post",
        "/v1/message",
        400,
        "ER:0004",
        body={"sign_id": 2**63, "temp_id": 1, "mobiles": ["13100000001"]},
    ),
    Row(
        "sign_id float",
        "post",
        "/v1/message",
        400,
        "ER:0004",
        body={"sign_id": 1.5, "temp_id": 1, "mobiles": ["13100000001"]},
    ),
    Row(
        "10,001 mobiles",
        "post",
        "/v1/message",
        400,
        "ER:0004",
        body={"sign_id": 1, "temp_id": 1, "mobiles": MOBILES_10001},
    ),
    Row(
        "no mobiles", "post", "/v1/message", 400, "ER:0004", body={"sign_id": 1, "temp_id": 1, "mobiles": []}
    ),
    Row("invalid JSON", "post", "/v1/message/estimate", 400, "ER:0002", raw=b'{"sign_id": '),
    Row(
        "sign_id 2**63",
        "post",
        "/v1/message/estimate",
        400,
        "ER:0004",
        body={"sign_id": 2**63, "temp_id": 1, "mobiles": ["13100000001"]},
    ),
    Row(
        "10,001 mobiles",
        "post",
        "/v1/message/estimate",
        400,
        "ER:0004",
        body={"sign_id": 1, "temp_id": 1, "mobiles": MOBILES_10001},
    ),
    Row(
        "mobiles not a list",
        "post",
        "/v1/message/estimate",
        400,
        "ER:0004",
        body={"sign_id": 1, "temp_id": 1, "mobiles": "13100000001"},
    ),
    Row("page 0", "get", "/v1/signature", 400, "ER:0004", query={"page": 0}),
    Row("page_size 100000", "get", "/v1/signature", 400, "ER:0004", query={"page_size": 100_000}),
    Row("page -1", "get", "/v1/template", 400, "ER:0004", query={"page": -1}),
    Row("uuid not a uuid", "get", "/v1/message", 400, "ER:0004", query={"uuid": "x' OR 1=1"}),
]


@dataclass
class World:
    """What a tenant owns before each of its rows: a passed signature with a passed template (not
    editable) and a pending one (editable), a pending signature (editable), a callback, a blocked
    number and a batch."""

    passed_sign: int
    passed_temp: int
    pending_sign: int
    pending_temp: int
    batch: str


HOOK = "http://127.0.0.1:9/hook"
OPERATOR_DAILY_CAP = 100
BLOCKED = "13100000009"


def _template(world: World, **overrides) -> dict:
    body = {
        "sign_id": world.passed_sign,
        "temp_id": world.pending_temp,
        "name": "取件码",
        "template": "您的取件码为{1}。",
        "type": 1,
        "description": "取件",
    }
    return {**body, **overrides}


def _signature(world: World, **overrides) -> dict:
    return {"sign_id": world.pending_sign, "signature": "新名", "source": "营业执照", **overrides}


# Every PUT and DELETE route (test_the_table_covers_every_put_and_delete_route), against the seeded
# rows: a refused change must leave them as they were, not only keep their number.
TENANT_CHANGE_ROWS = [
    Row("invalid JSON", "put", "/v1/signature", 400, "ER:0002", raw=b'{"sign_id": '),
    Row(
        "NUL byte", "put", "/v1/signature", 400, "ER:0004", body=lambda w: _signature(w, signature="新\x00名")
    ),
    Row(
        "100 KB string",
        "put",
        "/v1/signature",
        400,
        "ER:0004",
        body=lambda w: _signature(w, source="x" * 100_000),
    ),
    Row("sign_id 2**63", "put", "/v1/signature", 400, "ER:0004", body=lambda w: _signature(w, sign_id=2**63)),
    Row("sign_id float", "put", "/v1/signature", 400, "ER:0004", body=lambda w: _signature(w, sign_id=1.5)),
    Row(
        "no source",
        "put",
        "/v1/signature",
        400,
        "ER:0004",
        body=lambda w: {"sign_id": w.pending_sign, "signature": "新名"},
    ),
    Row("invalid JSON", "delete", "/v1/signature", 400, "ER:0002", raw=b'{"sign_id": '),
    Row("no sign_id", "delete", "/v1/signature", 400, "ER:0004", body={}),
    Row("sign_id 2**63", "delete", "/v1/signature", 400, "ER:0004", body={"sign_id": 2**63}),
    Row(
        "sign_id float",
        "delete",
        "/v1/signature",
        400,
        "ER:0004",
        body=lambda w: {"sign_id": w.pending_sign + 0.5},
    ),
    Row(
        "a signature in use",
        "delete",
        "/v1/signature",
        403,
        "ER:0012",
        body=lambda w: {"sign_id": w.passed_sign},
    ),
    Row("invalid JSON", "put", "/v1/template", 400, "ER:0002", raw=b'{"temp_id": '),
    Row(
        "NUL byte",
        "put",
        "/v1/template",
        400,
        "ER:0004",
        body=lambda w: _template(w, template="您的\x00取件码为{1}。"),
    ),
    Row(
        "100 KB string",
        "put",
        "/v1/template",
        403,
        "ER:0021",
        body=lambda w: _template(w, template="码" * 100_000),
    ),
    Row("temp_id 2**63", "put", "/v1/template", 400, "ER:0004", body=lambda w: _template(w, temp_id=2**63)),
    Row("type 99", "put", "/v1/template", 403, "ER:0022", body=lambda w: _template(w, type=99)),
    Row(
        "a passed template",
        "put",
        "/v1/template",
        403,
        "ER:0025",
        body=lambda w: _template(w, sign_id=w.passed_sign, temp_id=w.passed_temp),
    ),
    Row("invalid JSON", "delete", "/v1/template", 400, "ER:0002", raw=b'{"temp_id": '),
    Row(
        "temp_id 2**63",
        "delete",
        "/v1/template",
        400,
        "ER:0004",
        body=lambda w: {"sign_id": w.pending_sign, "temp_id": 2**63},
    ),
    Row(
        "temp_id float",
        "delete",
        "/v1/template",
        400,
        "ER:0004",
        body=lambda w: {"sign_id": w.pending_sign, "temp_id": 1.5},
    ),
    Row(
        "another signature's template",
        "delete",
        "/v1/template",
        403,
        "ER:0024",
        body=lambda w: {"sign_id": w.pending_sign, "temp_id": w.passed_temp},
    ),
    Row("invalid JSON", "put", "/v1/callback", 400, "ER:0002", raw=b'{"url": '),
    Row("not http", "put", "/v1/callback", 400, "ER:0004", body={"url": "ftp://127.0.0.1/hook"}),
    Row("NUL byte", "put", "/v1/callback", 400, "ER:0004", body={"url": HOOK + "\x00"}),
    Row("100 KB url", "put", "/v1/callback", 400, "ER:0004", body={"url": HOOK + "x" * 100_000}),
    Row(
        "rotate_secret not a boolean",
        "put",
        "/v1/callback",
        400,
        "ER:0004",
        body={"url": HOOK, "rotate_secret": 5},
    ),
    Row("invalid JSON", "put", "/v1/limits", 400, "ER:0002", raw=b'{"daily": '),
    Row(
        "above the operator's cap",
        "put",
        "/v1/limits",
        400,
        "ER:0004",
        body={"daily": OPERATOR_DAILY_CAP + 1, "monthly": None},
    ),
    Row("negative cap", "put", "/v1/limits", 400, "ER:0004", body={"daily": -1, "monthly": None}),
    Row("cap 2**63", "put", "/v1/limits", 400, "ER:0004", body={"daily": None, "monthly": 2**63}),
    Row("cap float", "put", "/v1/limits", 400, "ER:0004", body={"daily": 1.5, "monthly": None}),
    Row("cap a string", "put", "/v1/limits", 400, "ER:0004", body={"daily": "ten", "monthly": None}),
    Row("no monthly", "put", "/v1/limits", 400, "ER:0004", body={"daily": 5}),
    Row("a list", "put", "/v1/limits", 400, "ER:0004", body=[5, 6]),
    Row("uuid not a uuid", "delete", "/v1/message", 400, "ER:0004", query={"uuid": "x' OR 1=1"}),
    Row("no uuid", "delete", "/v1/message", 400, "ER:0004"),
    Row("invalid JSON", "delete", "/v1/blocklist", 400, "ER:0002", raw=b'{"mobiles": '),
    Row("no mobiles", "delete", "/v1/blocklist", 400, "ER:0004", body={"mobiles": []}),
    Row("10,001 mobiles", "delete", "/v1/blocklist", 400, "ER:0004", body={"mobiles": MOBILES_10001}),
    Row("not a mobile", "delete", "/v1/blocklist", 403, "ER:0033", body={"mobiles": [BLOCKED, "abc"]}),
    Row(
        "sign_id 2**63",
        "delete",
        "/v1/blocklist",
        400,
        "ER:0004",
        body={"mobiles": [BLOCKED], "sign_id": 2**63},
    ),
]
# Routes that take no input at all, so no request to them is bad input.
NO_INPUT_ROUTES = {("delete", "/v1/callback")}

ROOT_ROWS = [
    Row("negative charge", "post", "/v2/charge", 400, "ER:0004", body={"user": "dcs", "charge": -5}),
    Row("charge 2**63", "post", "/v2/charge", 400, "ER:0004", body={"user": "dcs", "charge": 2**63}),
    Row("charge float", "post", "/v2/charge", 400, "ER:0004", body={"user": "dcs", "charge": 1.5}),
    Row(
        "review id 2**63",
        "post",
        "/v2/signreview",
        400,
        "ER:0004",
        body={"sign_id": 2**63, "audit_status": "passed"},
    ),
]


def _request(client, row: Row, world: World | None):
    if row.method == "get":
        return client.get(row.path, row.query)
    path = f"{row.path}?{urlencode(row.query)}" if row.query else row.path
    body = row.body(world) if callable(row.body) else row.body
    if row.raw is not None:
        data = row.raw
    elif body is None:
        data = b""
    else:
        data = json.dumps(body).encode()
    return getattr(client, row.method)(path, data=data, content_type=row.content_type)


def _check(client, row: Row, world: World | None = None) -> None:
    before = _checksums()
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        response = _request(client, row, world)
    assert response.status_code == row.status, (row.name, response.status_code, response.content[:300])
    body = response.json()
    if isinstance(row.code, int):
        assert set(body) == {"code", "msg", "data"} and body["code"] == row.code and body["data"] is None, (
            body
        )
        assert row.says in body["msg"]
    else:
        assert set(body) == {"error", "message"} and body["error"] == row.code, body
    after = _checksums()
    changed = sorted(table for table in before if after.get(table) != before[table])
    assert not changed, f"{row.name} wrote to {changed}"


@pytest.fixture
def station_ready(recharge):
    recharge("T7442", 10)


@pytest.mark.parametrize("row", STATION_ROWS, ids=lambda row: row.name)
def test_station_bad_input_is_refused_in_the_envelope_and_writes_nothing(station_client, station_ready, row):
    _check(station_client, row)


@pytest.mark.parametrize("row", TENANT_ROWS, ids=lambda row: row.name)
def test_tenant_bad_input_is_refused_with_the_seed_error_and_writes_nothing(basic_client, tenant, row):
    _check(basic_client(tenant), row)


@pytest.fixture
def world(basic_client, tenant, root_user, settings) -> World:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    passed_sign = make_signature(tenant)
    passed_temp = make_template(tenant, passed_sign)
    pending_sign = make_signature(tenant, passed=False, signature="待审")
    pending_temp = make_template(tenant, passed_sign, passed=False, template="您的取件码为{1}。")
    client = basic_client(tenant)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        sent = client.post(
            "/v1/message",
            {
                "sign_id": passed_sign.pk,
                "temp_id": passed_temp.pk,
                "mobiles": ["13100000001"],
                "params": ["1234", "5"],
            },
            format="json",
        )
    assert sent.status_code == 200, sent.content
    assert client.put("/v1/callback", {"url": HOOK}, format="json").status_code == 200
    assert client.post("/v1/blocklist", {"mobiles": [BLOCKED]}, format="json").status_code == 200
    set_operator_caps(
        account_id=TenantAccount.objects.get(user=tenant).pk, daily=OPERATOR_DAILY_CAP, monthly=None
    )
    return World(
        passed_sign=passed_sign.pk,
        passed_temp=passed_temp.pk,
        pending_sign=pending_sign.pk,
        pending_temp=pending_temp.pk,
        batch=sent.json()["uuid"],
    )


@pytest.mark.parametrize("row", TENANT_CHANGE_ROWS, ids=lambda row: f"{row.method} {row.path}: {row.name}")
def test_tenant_bad_changes_are_refused_and_change_no_row(basic_client, tenant, world, row):
    _check(basic_client(tenant), row, world)


# The tenant guard's refusals (issue 26), against a tenant whose operator turned marketing,
# scheduling and uplinks off and never enabled international sending: each is refused whole.
GUARD_ROWS = [
    Row(
        "a number abroad",
        "post",
        "/v1/message",
        403,
        "ER:0040",
        body=lambda w: _message(w, mobiles=["13100000001", "+447911123456"]),
    ),
    Row(
        "a premium-rate number",
        "post",
        "/v1/message",
        403,
        "ER:0033",
        body=lambda w: _message(w, mobiles=["+449012345678"]),
    ),
    Row(
        "marketing while it is off",
        "post",
        "/v1/message",
        403,
        "ER:0041",
        body=lambda w: _message(w, temp_id=w.pending_temp, params=["x"]),
    ),
    Row(
        "send_at while scheduling is off",
        "post",
        "/v1/message",
        403,
        "ER:0042",
        body=lambda w: _message(w, send_at=4102444000),
    ),
    Row("uplinks while they are off", "get", "/v1/uplink", 403, "ER:0043"),
]


def _message(world: World, **overrides) -> dict:
    body = {"sign_id": world.passed_sign, "temp_id": world.passed_temp, "params": ["1234", "5"]}
    return {**body, "mobiles": ["13100000001"], **overrides}


@pytest.fixture
def guarded_world(world, tenant, basic_client, root_user) -> World:
    """The world, its pending template a passed marketing one, and its capabilities reduced."""
    from sms.guard import services as guard_services
    from sms.models import TenantAccount
    from templates_mgmt.models import Template

    Template.objects.filter(pk=world.pending_temp).update(
        type=3, template="全场5折{1}，回T退订", audit_status="passed"
    )
    guard_services.set_capabilities(
        account_id=TenantAccount.objects.get(user=tenant).pk,
        changes={"marketing_enabled": False, "scheduling_enabled": False, "uplinks_enabled": False},
    )
    return world


@pytest.mark.parametrize("row", GUARD_ROWS, ids=lambda row: row.name)
def test_the_guards_refusals_name_their_code_and_write_nothing(basic_client, tenant, guarded_world, row):
    _check(basic_client(tenant), row, guarded_world)


def test_the_checksums_see_an_updated_row(basic_client, tenant, world):
    """The check is not blind to an update: a valid edit of the pending signature changes the
    signatures table's checksum, and no row count."""
    counts = {model: model.objects.count() for model in apps.get_models()}
    before = _checksums()
    edit = basic_client(tenant).put("/v1/signature", _signature(world), format="json")
    assert edit.status_code == 200, edit.content
    after = _checksums()
    assert {model: model.objects.count() for model in apps.get_models()} == counts
    assert [table for table in before if after[table] != before[table]] == ["tbl_signature"]


def test_the_table_covers_every_put_and_delete_route():
    """A PUT or DELETE route added to the API without a row here fails this."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"put", "patch", "delete"}
    }
    covered = {(row.method, row.path) for row in TENANT_CHANGE_ROWS + STATION_ROWS + ROOT_ROWS}
    assert routes - NO_INPUT_ROUTES - covered == set()
    assert NO_INPUT_ROUTES <= routes


@pytest.mark.parametrize("row", ROOT_ROWS, ids=lambda row: row.name)
def test_root_bad_input_is_refused_with_the_seed_error_and_writes_nothing(
    basic_client, root_user, tenant, row
):
    _check(basic_client(root_user), row)


def test_four_byte_utf8_is_stored_and_read_back(station_client, station_ready):
    answer = station_client.post("/sms/send/add", {**SEND, "receive_name": "王😀"}, format="json").json()
    assert answer["code"] == 0
    record = apps.get_model("sms.SendRecord").objects.get(pk=answer["data"]["task_id"])
    assert record.receive_name == "王😀"


def test_duplicate_mobiles_are_one_record_each_and_billed_once(basic_client, tenant, root_user):
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        response = basic_client(tenant).post(
            "/v1/message",
            {
                "sign_id": sign.pk,
                "temp_id": template.pk,
                "mobiles": ["13100000001", "+8613100000001", "131 0000 0001", "13100000002"],
                "params": ["112095", "5"],
            },
            format="json",
        )
    assert response.status_code == 200
    assert apps.get_model("sms.SendRecord").objects.count() == 2
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 8}


def test_a_wrong_password_is_refused_without_a_trace(api_client):
    UserFactory(username="someone")
    api_client.credentials(HTTP_AUTHORIZATION="Basic " + "x" * 10_000)
    response = api_client.get("/v1/signature")
    assert response.status_code == 400 and response.json()["error"] == "ER:0001"


# More query parameters than Django parses (DATA_UPLOAD_MAX_NUMBER_FIELDS, 1000): the fuzzer's 1000
# station_ids (the most the field takes) beside the paging parameters were once a 500.
TOO_MANY_FIELDS = "&".join(f"station_ids=T{n}" for n in range(1001))


def test_too_many_query_parameters_are_the_station_parameter_error(station_client):
    answer = station_client.get(f"/sms/statistics_detail/get?{TOO_MANY_FIELDS}&limit=10")
    assert answer.status_code == 400
    assert answer.json()["code"] == 1002 and "DATA_UPLOAD_MAX_NUMBER_FIELDS" in answer.json()["msg"]


def test_too_many_query_parameters_are_the_tenant_parameter_error(basic_client, tenant):
    answer = basic_client(tenant).get(f"/v1/uplink?{TOO_MANY_FIELDS.replace('station_ids', 'page')}")
    assert answer.status_code == 400 and answer.json()["error"] == "ER:0004", answer.json()

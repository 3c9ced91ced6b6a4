"""The OpenAPI schema describes the API to a newcomer: every operation has a summary and a
description of its own (never a base class's developer docstring), example requests and answers
that are true to the API, every status it answers, every documented code, every field described,
and described tags."""

from __future__ import annotations

import base64
import copy
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from gm_server_notify.api.envelope import StationCode, station_http_status
from gm_server_notify.api.errors import PlatformError
from tests.support.factories import TEST_PASSWORD, UserFactory

DOCS = Path(__file__).resolve().parents[2] / "docs"
METHODS = ("get", "post", "put", "patch", "delete")
# Codes no operation answers by itself (a method not allowed, an unknown path, an unexpected
# error): the API's description lists them with the others.
GENERIC_CODES = {"1005", "1099", "ER:0005", "ER:0006", "ER:0099"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def base_docstrings() -> set[str]:
    """The docstrings of the API's base views, written for developers."""
    from rest_framework.views import APIView

    from gm_server_notify.api import views
    from sms.pushes.views import _ProviderPushView

    bases = [views.StationAPIView, views.PlatformAPIView, views.RootAPIView, APIView, _ProviderPushView]
    return {inspect.cleandoc(cls.__doc__) for cls in bases if cls.__doc__}


def response_examples(operation: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for status, response in operation["responses"].items():
        for content in (response.get("content") or {}).values():
            for example in (content.get("examples") or {}).values():
                yield status, example["value"]


def test_every_operation_has_a_summary_and_a_description_of_its_own(schema):
    docstrings = base_docstrings()
    assert len(list(operations(schema))) >= 37
    for path, method, operation in operations(schema):
        name = f"{method.upper()} {path}"
        assert operation.get("summary"), f"{name} has no summary"
        description = operation.get("description", "")
        assert len(description) > 40, f"{name} has no description of its own: {description!r}"
        for docstring in docstrings:
            assert docstring[:60] not in description, f"{name} shows a base class's docstring"


def test_station_summaries_keep_the_seeds_chinese_names(schema):
    seed = {
        "/sms/send/add": "添加发送短信任务",
        "/sms/send/start": "发送短信",
        "/sms/combo/get": "获取套餐包",
        "/sms/balance/get": "获取短信余额",
        "/sms/data_center/get": "获取短信近期每天发送详情",
        "/sms/recharge_record/get": "获取充值记录",
        "/sms/recharge_record/create": "创建充值记录",
        "/sms/send_record/get": "获取站点发送记录",
        "/sms/statistics_overview/get": "统计概览",
        "/sms/statistics_detail/get": "所有站点短信统计",
        "/sms/callback": "腾讯云短信回调",
    }
    for path, name in seed.items():
        (operation,) = [op for method, op in schema["paths"][path].items() if method in METHODS]
        assert operation["summary"].startswith(f"{name}: "), operation["summary"]


def test_every_operation_shows_an_example_answer_and_request(schema):
    for path, method, operation in operations(schema):
        name = f"{method.upper()} {path}"
        examples = dict(response_examples(operation))
        assert "200" in examples, f"{name} has no example of its 200 answer"
        for status, response in operation["responses"].items():
            content = response.get("content") or {}
            assert all(media.get("examples") for media in content.values()), f"{name} {status}: no example"
        body = operation.get("requestBody")
        if body is not None:
            assert all(media.get("examples") for media in body["content"].values()), (
                f"{name}: no example body"
            )
        query = [p for p in operation.get("parameters", []) if p["in"] in ("query", "path")]
        if query and body is None:
            assert any(p.get("examples") for p in query), f"{name}: no example request"
            for parameter in query:
                if parameter.get("required"):
                    assert parameter.get("examples"), f"{name}: no example of {parameter['name']}"


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's ``null`` type, recursively."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_to_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def _validator(schema: dict[str, Any], part: dict[str, Any]) -> jsonschema.Draft7Validator:
    document = {"allOf": [copy.deepcopy(part)], "components": {"schemas": schema["components"]["schemas"]}}
    return jsonschema.Draft7Validator(_nullable_to_json_schema(document))


def test_every_example_matches_its_schema(schema):
    checked = 0
    for path, method, operation in operations(schema):
        name = f"{method.upper()} {path}"
        media = [
            (f"{status} answer", content)
            for status, response in operation["responses"].items()
            for content in (response.get("content") or {}).values()
        ]
        if "requestBody" in operation:
            media += [("request", content) for content in operation["requestBody"]["content"].values()]
        for where, content in media:
            validator = _validator(schema, content["schema"])
            for key, example in (content.get("examples") or {}).items():
                errors = [error.message for error in validator.iter_errors(example["value"])]
                assert not errors, f"{name} {where} example {key}: {errors}"
                checked += 1
        for parameter in operation.get("parameters", []):
            validator = _validator(schema, parameter["schema"])
            for key, example in (parameter.get("examples") or {}).items():
                errors = [error.message for error in validator.iter_errors(example["value"])]
                assert not errors, f"{name} parameter {parameter['name']} example {key}: {errors}"
                checked += 1
    assert checked > 150


# nginx's refusal of an over-long request line (deploy/nginx/gm_errors.conf) carries the family's
# parameter code under 414: a row of each table, not the status the app answers that code with.
NGINX_STATUS = 414


def station_codes() -> dict[str, int]:
    """``{code: HTTP status}`` of docs/api-station.md's code table, nginx's 414 aside."""
    text = (DOCS / "api-station.md").read_text()
    rows = re.findall(r"^\| (\d{4}|0) \| (\d{3}) \|", text, re.MULTILINE)
    return {code: int(status) for code, status in rows if int(status) != NGINX_STATUS}


def platform_codes() -> dict[str, int]:
    """``{code: HTTP status}`` of docs/api-platform.md's error table, nginx's 414 aside."""
    text = (DOCS / "api-platform.md").read_text()
    rows = re.findall(r"^\| (\d{3}) \| (ER:\d{4}) \|", text, re.MULTILINE)
    return {code: int(status) for status, code in rows if int(status) != NGINX_STATUS}


def test_both_error_tables_show_nginxs_414_as_it_answers():
    """Each family's table has a 414 row quoting the body deploy/nginx/gm_errors.conf answers."""
    conf = (DOCS.parent / "deploy" / "nginx" / "gm_errors.conf").read_text()
    station_body, platform_body = re.findall(r"return 414 '(\{.*\})\\n';", conf)
    station = (DOCS / "api-station.md").read_text()
    platform = (DOCS / "api-platform.md").read_text()
    assert re.search(rf"^\| 1002 \| 414 \| .*`{re.escape(station_body)}`", station, re.MULTILINE)
    assert re.search(rf"^\| 414 \| ER:0004 \| .*`{re.escape(platform_body)}`", platform, re.MULTILINE)


def station_status(code: StationCode) -> int:
    return 200 if code is StationCode.OK else station_http_status(code)


def _code_of(body: Any) -> str | None:
    if isinstance(body, dict) and "code" in body:
        return str(body["code"])
    if isinstance(body, dict) and str(body.get("error", "")).startswith("ER:"):
        return str(body["error"])
    return None


def test_every_documented_code_is_in_the_schema_with_its_http_status(schema):
    """Each code of docs/api-station.md's and docs/api-platform.md's tables is shown by an example
    of an operation that answers it, under the status the table gives it (or, for the few no
    operation answers by itself, in the API's description)."""
    documented = {**station_codes(), **platform_codes()}
    # The tables list every code the service has, with the status it answers it with.
    assert station_codes() == {str(int(code)): station_status(code) for code in StationCode}
    assert platform_codes() == {error.code: error.http_status for error in PlatformError}
    shown: dict[str, set[int]] = {}
    for _, _, operation in operations(schema):
        for status, body in response_examples(operation):
            code = _code_of(body)
            if code is not None and int(status) != NGINX_STATUS:
                shown.setdefault(code, set()).add(int(status))
    info = schema["info"]["description"]
    for code, status in documented.items():
        if code in GENERIC_CODES:
            assert f"| {code} |" in info, f"{code} is not in the API's description"
            continue
        assert code in shown, f"no operation shows {code}"
        assert shown[code] == {status}, f"{code} is shown under {shown[code]}, documented {status}"
    assert set(shown) <= set(documented), f"codes the docs do not list: {set(shown) - set(documented)}"


def test_every_station_operation_documents_the_scope_refusal_as_1012(schema):
    """A client without the call's scope gets 403 code 1012 (the view's docstring once said 1009)."""
    for path, method, operation in operations(schema):
        if not path.startswith("/sms/") or path == "/sms/callback":
            continue
        forbidden = {_code_of(body) for status, body in response_examples(operation) if status == "403"}
        assert "1012" in forbidden, f"{method} {path}: {forbidden}"
        assert "1009" not in forbidden


def test_every_api_operation_documents_the_database_down_503_with_retry_after(schema):
    """Station calls answer 1098, tenant and root calls ER:0098, each with a Retry-After header;
    the provider pushes keep their own 503, without one."""
    for path, method, operation in operations(schema):
        family = (
            "1098" if path.startswith("/sms/") else "ER:0098" if path.startswith(("/v1/", "/v2/")) else None
        )
        if family is None or path == "/sms/callback":
            continue
        assert _documented(operation, 503, family), f"{method} {path}"
        header = operation["responses"]["503"]["headers"]["Retry-After"]
        assert header["schema"]["type"] == "integer", f"{method} {path}"


def test_send_add_documents_its_limits_as_429(schema):
    responses = schema["paths"]["/sms/send/add"]["post"]["responses"]
    messages = [
        example["value"]["msg"]
        for example in responses["429"]["content"]["application/json"]["examples"].values()
    ]
    assert any("verify codes to this mobile" in msg for msg in messages)
    assert any("daily cap" in msg for msg in messages)
    assert "SMS_STATION_DAILY_CAP" in responses["429"]["description"]


def test_every_field_and_parameter_is_described(schema):
    undescribed = [
        f"{component}.{field}"
        for component, body in schema["components"]["schemas"].items()
        for field, field_schema in (body.get("properties") or {}).items()
        if not field_schema.get("description")
    ]
    assert not undescribed, undescribed
    parameters = [
        f"{method} {path} {parameter['name']}"
        for path, method, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert not parameters, parameters


def test_every_tag_is_described_and_the_description_holds_both_code_tables(schema):
    used = {tag for _, _, operation in operations(schema) for tag in operation.get("tags", [])}
    described = {tag["name"]: tag.get("description", "") for tag in schema["tags"]}
    assert used == set(described)
    assert all(len(text) > 40 for text in described.values()), described
    info = schema["info"]["description"]
    assert "| code | HTTP | meaning |" in info and "| HTTP | error | message | when |" in info


# --- The examples are true to the API ----------------------------------------------------------


def _documented(operation: dict[str, Any], status: int, code: str) -> bool:
    bodies = [body for answered, body in response_examples(operation) if answered == str(status)]
    return any(_code_of(body) == code for body in bodies)


def _station_operations(schema):
    return [
        (path, method, operation)
        for path, method, operation in operations(schema)
        if path.startswith("/sms/") and path != "/sms/callback"
    ]


@pytest.mark.django_db
def test_station_refusals_are_answered_as_documented(schema, api_client, settings):
    """Without a token every station call answers what its 401 example shows; a client without
    the call's scope what its 403 example shows."""
    settings.SMS_SERVICE_CLIENTS = [{"name": "orders", "token": "no-scope-token", "scopes": []}]
    for path, method, operation in _station_operations(schema):
        api_client.credentials()
        answer = getattr(api_client, method)(path, {}, format="json" if method != "get" else None)
        assert _documented(operation, answer.status_code, str(answer.json()["code"])), (path, answer.json())
        api_client.credentials(HTTP_AUTHORIZATION="Bearer no-scope-token")
        answer = getattr(api_client, method)(path, {}, format="json" if method != "get" else None)
        assert answer.status_code == 403 and answer.json()["code"] == 1012, answer.json()
        assert _documented(operation, 403, "1012"), path


@pytest.mark.django_db
def test_tenant_refusals_are_answered_as_documented(schema, api_client):
    """Without credentials every v1/v2 call answers what its example shows; a tenant calling v2,
    ER:0003 as documented."""
    UserFactory(username="dcs")
    for path, method, operation in operations(schema):
        if not path.startswith(("/v1/", "/v2/")):
            continue
        api_client.credentials()
        answer = getattr(api_client, method)(path, {}, format="json" if method != "get" else None)
        assert _documented(operation, answer.status_code, answer.json()["error"]), (path, answer.json())
        if path.startswith("/v2/"):
            api_client.credentials(HTTP_AUTHORIZATION=_basic("dcs", TEST_PASSWORD))
            answer = getattr(api_client, method)(path, {}, format="json")
            assert answer.json()["error"] == "ER:0003" and _documented(operation, 400, "ER:0003"), (
                answer.json()
            )


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.django_db
def test_station_example_requests_are_answered_as_documented(schema, station_client, recharge):
    """Each station example request, sent as it stands to a recharged station, is answered with a
    status and code its operation documents; the reads and send/add succeed."""
    recharge("T7442", 100)
    for path, method, operation in _station_operations(schema):
        parameters = operation.get("parameters", [])
        query = {
            parameter["name"]: next(iter(parameter["examples"].values()))["value"]
            for parameter in parameters
            if parameter["in"] == "query" and parameter.get("examples")
        }
        bodies = [None]
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]["application/json"]
            bodies = [example["value"] for example in content["examples"].values()]
        for body in bodies:
            if method == "get":
                answer = station_client.get(path, query)
            else:
                answer = station_client.post(path, body, format="json")
            code = str(answer.json()["code"])
            assert _documented(operation, answer.status_code, code), (path, answer.json())
            if method == "get" or path == "/sms/send/add":
                assert code == "0", (path, answer.json())

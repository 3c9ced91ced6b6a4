"""The OpenAPI schema, its self-hosted Swagger UI, and /healthz."""

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_served(api_client):
    response = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"ServiceToken", "TenantBasic"} <= set(schema["components"]["securitySchemes"])


def test_swagger_ui_assets_come_from_the_project_not_a_cdn(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_healthz_reports_database_and_cache(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok" and body["checks"]["cache"] == "ok"


def test_schema_generates_without_warnings_for_every_endpoint(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in ("/sms/send/add:", "/sms/callback:", "/sms/statistics_detail/get:"):
        assert path in text


def test_models_and_migrations_agree():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_the_schema_describes_the_seed_times_the_api_sends(station_client, recharge):
    """``recharge_date`` and ``send_time`` are sent as the seed shows them, ``2026-11-25 03:36:48``;
    the schema once said RFC 3339 ``date-time``, which that is not."""
    import re

    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    recharge("T7442", 10)
    sent = station_client.get("/sms/recharge_record/get", {"station_id": "T7442"}).json()["data"][0]
    for component, field in (("RechargeRecordOut", "recharge_date"), ("SendRecordOut", "send_time")):
        described = components[component]["properties"][field]
        assert described["type"] == "string" and "format" not in described, described
        if field == "recharge_date":
            assert re.fullmatch(described["pattern"], sent[field]), (described, sent[field])

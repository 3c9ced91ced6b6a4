"""v1/callback, v1/callback/deliveries, POST v1/message's callback_url, and the admin's redelivery."""

from __future__ import annotations

import pytest

from sms.models import (
    MessageBatch,
    TenantAccount,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventState,
)
from sms.webhooks import services as webhooks
from tests.support.platform import make_signature, make_template

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def client(basic_client, tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    return basic_client(tenant)


def test_the_first_put_shows_the_secret_and_later_ones_only_its_hint(client):
    first = client.put("/v1/callback", {"url": HOOK}, format="json")
    assert first.status_code == 200
    body = first.json()
    secret = body["secret"]
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert body == {"url": HOOK, "secret": secret, "secret_hint": secret[-4:]}
    again = client.put("/v1/callback", {"url": HOOK + "2"}, format="json").json()
    assert again == {"url": HOOK + "2", "secret": None, "secret_hint": secret[-4:]}
    assert client.get("/v1/callback").json() == {"url": HOOK + "2", "secret_hint": secret[-4:]}


def test_rotate_secret_answers_a_new_secret_every_time(client):
    first = client.put("/v1/callback", {"url": HOOK}, format="json").json()["secret"]
    second = client.put("/v1/callback", {"url": HOOK, "rotate_secret": True}, format="json").json()["secret"]
    third = client.put("/v1/callback", {"url": HOOK, "rotate_secret": True}, format="json").json()["secret"]
    assert len({first, second, third}) == 3
    assert WebhookEndpoint.objects.get().secret == third


def test_delete_stops_the_pushes_and_is_idempotent(client, tenant):
    assert client.get("/v1/callback").json() == {"url": None, "secret_hint": None}
    assert client.delete("/v1/callback").json() == {"message": "ok"}  # nothing to delete: fine
    client.put("/v1/callback", {"url": HOOK}, format="json")
    assert client.delete("/v1/callback").json() == {"message": "ok"}
    assert client.get("/v1/callback").json() == {"url": None, "secret_hint": None}
    assert WebhookEndpoint.objects.count() == 0
    # A later PUT is a first PUT again: a new secret, shown.
    assert client.put("/v1/callback", {"url": HOOK}, format="json").json()["secret"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "url"),
        ({"url": "ftp://example.com/"}, "only http and https"),
        ({"url": "http://10.0.0.1/hook"}, "private address"),
        ({"url": "http://169.254.169.254/"}, "link-local address"),
        ({"url": "http://127.0.0.1/hook"}, "loopback address"),
        ({"url": 5}, "only http"),
        ({"url": HOOK, "rotate_secret": "maybe"}, "rotate_secret"),
        ({"url": "x" * 501}, "url"),
    ],
)
def test_a_bad_or_private_url_is_er0004_with_the_reason(basic_client, tenant, settings, body, detail):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    answer = basic_client(tenant).put("/v1/callback", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["error"] == "ER:0004" and detail in answer.json()["message"]
    assert WebhookEndpoint.objects.count() == 0


def test_the_callback_api_needs_credentials(api_client):
    answer = api_client.put("/v1/callback", {"url": HOOK}, format="json")
    assert answer.json()["error"] == "ER:0001"
    assert api_client.get("/v1/callback/deliveries").json()["error"] == "ER:0001"


def test_post_is_not_allowed_on_callback(client):
    assert client.post("/v1/callback", {"url": HOOK}, format="json").json()["error"] == "ER:0005"


def test_deliveries_are_listed_newest_first_filtered_and_paged(client, tenant, other_tenant):
    account = TenantAccount.objects.create(user=tenant)
    other = TenantAccount.objects.create(user=other_tenant)
    for outcome, status, error in [
        ("failed", 500, "HTTP 500"),
        ("dead", None, "no answer within 5 s"),
        ("delivered", 200, ""),
    ]:
        WebhookDelivery.objects.create(
            tenant=account, url=HOOK, outcome=outcome, http_status=status, error=error, event_count=3
        )
    WebhookDelivery.objects.create(tenant=other, url=HOOK, outcome="dead", event_count=1)
    listing = client.get("/v1/callback/deliveries").json()
    assert (listing["total"], listing["page"], listing["page_size"]) == (3, 1, 20)
    assert [item["status"] for item in listing["items"]] == ["delivered", "dead", "failed"]
    item = listing["items"][1]
    assert set(item) == {"id", "attempted_at", "url", "status", "http_status", "error", "event_count"}
    assert (item["http_status"], item["error"], item["event_count"]) == (None, "no answer within 5 s", 3)
    assert isinstance(item["attempted_at"], int) and isinstance(item["id"], str)
    dead = client.get("/v1/callback/deliveries", {"status": "dead"}).json()
    assert dead["total"] == 1 and dead["items"][0]["status"] == "dead"  # not the other tenant's
    page = client.get("/v1/callback/deliveries", {"page": 2, "page_size": 2}).json()
    assert [i["status"] for i in page["items"]] == ["failed"]
    bad = client.get("/v1/callback/deliveries", {"status": "lost"})
    assert bad.status_code == 400 and bad.json()["error"] == "ER:0004"


@pytest.fixture
def ready(tenant):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    from sms.tenant_api.services import charge_tenant

    charge_tenant(username=tenant.username, charge=100)
    return {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": ["13112341234"], "params": ["A1"]}


def test_a_message_takes_a_callback_url_for_its_batch(client, ready):
    client.put("/v1/callback", {"url": HOOK}, format="json")
    answer = client.post("/v1/message", {**ready, "callback_url": HOOK + "/batch"}, format="json")
    assert answer.status_code == 200, answer.json()
    assert MessageBatch.objects.get(uuid=answer.json()["uuid"]).callback_url == HOOK + "/batch"


def test_a_message_callback_url_needs_a_callback_and_a_public_address(client, ready, settings):
    refused = client.post("/v1/message", {**ready, "callback_url": HOOK}, format="json")
    assert refused.json()["error"] == "ER:0004" and "set v1/callback first" in refused.json()["message"]
    client.put("/v1/callback", {"url": HOOK}, format="json")
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    private = client.post("/v1/message", {**ready, "callback_url": "http://10.0.0.8/x"}, format="json")
    assert private.json()["error"] == "ER:0004"
    assert "callback_url: 10.0.0.8 resolves to a private address" in private.json()["message"]
    assert MessageBatch.objects.count() == 0


def test_the_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    assert {"get", "put", "delete"} <= set(schema["paths"]["/v1/callback"])
    assert "get" in schema["paths"]["/v1/callback/deliveries"]


def test_operators_redeliver_dead_events_from_the_admin(
    client, tenant, root_user, ready, django_capture_on_commit_callbacks
):
    from django.test import Client

    client.put("/v1/callback", {"url": HOOK}, format="json")
    client.post("/v1/message", ready, format="json")
    from sms.models import SendRecord
    from sms.sending import pipeline

    record = SendRecord.objects.get()
    pipeline.claim_dispatch(record_ids=[record.pk], provider="gateway")
    pipeline.fail_records(records=[record], remark="x")
    event = WebhookEvent.objects.get()
    WebhookEvent.objects.update(state=WebhookEventState.DEAD, attempts=6)
    delivery = WebhookDelivery.objects.create(
        tenant_id=event.tenant_id, url=HOOK, outcome="dead", event_count=1, event_ids=[event.pk]
    )
    admin = Client()
    admin.force_login(root_user)
    assert admin.get("/admin/sms/webhookdelivery/").status_code == 200
    assert admin.get("/admin/sms/webhookevent/").status_code == 200
    with django_capture_on_commit_callbacks() as published:
        answer = admin.post(
            "/admin/sms/webhookdelivery/",
            {"action": "redeliver_dead_events", "_selected_action": [delivery.pk]},
            follow=True,
        )
    assert "1 dead event(s) queued again" in answer.content.decode()
    event.refresh_from_db()
    assert (event.state, event.attempts) == (WebhookEventState.PENDING, 0)
    assert len(published) == 1  # the delivery task is published once the change commits
    # The admin never shows the secret.
    assert (
        WebhookEndpoint.objects.get().secret not in admin.get("/admin/sms/webhookdelivery/").content.decode()
    )


def test_set_callback_is_one_service_call(tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    result = webhooks.set_callback(owner=tenant, url=HOOK)
    assert result.secret and result.secret_hint == result.secret[-4:]

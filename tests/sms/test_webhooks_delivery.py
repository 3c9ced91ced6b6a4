"""Pushing the outbox: the signature, the SSRF guard, batches of 100, retries, dead events, one
POST at a time per URL; against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from gm_server_notify.errors import InvalidInput
from providers.base import OutcomeStatus, SendOutcome
from sms.models import (
    SendRecord,
    TenantAccount,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventState,
)
from sms.sending import pipeline
from sms.tenant_api import services as tenant_services
from sms.webhooks import services as webhooks
from sms.webhooks import urlguard
from tests.support.platform import make_signature, make_template
from tests.support.receiver import running_receiver


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


@pytest.fixture
def hooked(tenant, settings, receiver):
    """A tenant whose callback is the receiver; ``hooked(n)`` fails ``n`` records of a message
    (refused by the provider) and answers the tenant account's id."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_RETRY_SCHEDULE = [10.0, 60.0]
    settings.WEBHOOK_TIMEOUT = 1.0
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=10000)
    secret = webhooks.set_callback(owner=tenant, url=receiver.url).secret

    def fail(n: int) -> int:
        batch = tenant_services.send_tenant_message(
            owner=tenant,
            sign_id=sign.pk,
            temp_id=template.pk,
            mobiles=[f"131{index:04d}1234" for index in range(n)],
            params=["A1"],
        )
        records = list(SendRecord.objects.filter(batch=batch))
        claimed = pipeline.claim_dispatch(record_ids=[r.pk for r in records], provider="gateway")
        pipeline.record_outcomes(
            provider="gateway",
            dispatch_id=claimed.dispatch_id,
            outcomes=[
                SendOutcome(r.pk, OutcomeStatus.FAILED, code="BLACK", description="blacklist")
                for r in records
            ],
        )
        return batch.tenant_id

    fail.secret = secret
    return fail


def _deliver(tenant_id: int, url: str) -> webhooks.DeliverResult:
    return webhooks.deliver(tenant_id=tenant_id, url=url)


# --- The signature ----------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_the_timestamp_and_the_raw_body():
    body = b'[{"event_id":"1"}]'
    header = webhooks.signature_header("s" * 64, body, 1795441142)
    assert (
        header
        == "t=1795441142,v1=" + __import__("hmac").new(b"s" * 64, b"1795441142." + body, "sha256").hexdigest()
    )
    assert webhooks.verify_signature("s" * 64, body, header, now=1795441142 + 299)
    assert not webhooks.verify_signature("s" * 64, body, header, now=1795441142 + 301)  # too old
    assert not webhooks.verify_signature("s" * 64, body + b" ", header, now=1795441142)  # body changed
    assert not webhooks.verify_signature("t" * 64, body, header, now=1795441142)  # another secret
    assert not webhooks.verify_signature("s" * 64, body, "garbage", now=1795441142)


def test_the_documented_python_snippet_verifies_a_real_push(hooked, receiver):
    """docs/api-platform.md's receiver snippet, run on what the receiver got."""
    tenant_id = hooked(2)
    _deliver(tenant_id, receiver.url)
    (post,) = receiver.posts
    namespace: dict = {}
    exec(_docs_snippet(), namespace)
    assert namespace["verify"](hooked.secret, post.body, post.headers["x-gm-signature"]) is True
    assert namespace["verify"]("0" * 64, post.body, post.headers["x-gm-signature"]) is False


def _docs_snippet() -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "api-platform.md").read_text()
    start = text.index("```python\n", text.index("## Delivery webhooks")) + len("```python\n")
    return text[start : text.index("```", start)]


# --- One POST ---------------------------------------------------------------------------------


def test_a_post_carries_the_events_as_a_signed_json_array(hooked, receiver):
    tenant_id = hooked(3)
    result = _deliver(tenant_id, receiver.url)
    assert (result.posts, result.delivered) == (1, 3)
    (post,) = receiver.posts
    assert post.headers["content-type"] == "application/json"
    assert webhooks.verify_signature(hooked.secret, post.body, post.headers["x-gm-signature"])
    events = post.events
    assert len(events) == 3 and len({e["event_id"] for e in events}) == 3
    event = events[0]
    record = SendRecord.objects.get(pk=WebhookEvent.objects.get(pk=int(event["event_id"])).record_id)
    assert event == {
        "event_id": event["event_id"],
        "type": "message.status",
        "uuid": str(record.batch.uuid),
        "mobile": record.receive_phone,
        "status": "failed",
        "code": "BLACK",
        "description": "BLACK: blacklist",
        "segments": record.segments,
        "submitted_at": None,
        "done_at": int(record.finished_at.timestamp()),
        "test": False,
    }
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEventState.DELIVERED}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.http_status, delivery.event_count) == ("delivered", 200, 3)
    # Delivered events are not pushed again.
    assert _deliver(tenant_id, receiver.url).posts == 0


def test_events_go_out_100_per_post(hooked, receiver):
    tenant_id = hooked(250)
    assert _deliver(tenant_id, receiver.url).posts == 3
    assert [len(post.events) for post in receiver.posts] == [100, 100, 50]
    assert len({e["event_id"] for e in receiver.events}) == 250


# --- Retries ----------------------------------------------------------------------------------


def test_a_failed_post_is_retried_on_the_schedule_then_its_events_are_dead(hooked, receiver):
    receiver.answer(status=500)
    tenant_id = hooked(2)
    result = _deliver(tenant_id, receiver.url)
    assert result.posts == 1 and 9 <= result.retry_in <= 10  # the first wait of the schedule
    event = WebhookEvent.objects.first()
    assert (event.state, event.attempts, event.last_error) == ("pending", 1, "HTTP 500")
    assert _deliver(tenant_id, receiver.url).posts == 0  # not due yet

    WebhookEvent.objects.update(next_attempt_at=timezone.now())
    assert 59 <= _deliver(tenant_id, receiver.url).retry_in <= 60  # the second wait
    WebhookEvent.objects.update(next_attempt_at=timezone.now())
    result = _deliver(tenant_id, receiver.url)
    assert result.retry_in is None
    assert set(WebhookEvent.objects.values_list("state", "attempts")) == {("dead", 3)}
    outcomes = list(
        WebhookDelivery.objects.order_by("id").values_list("outcome", "http_status", "event_count")
    )
    assert outcomes == [("failed", 500, 2), ("failed", 500, 2), ("dead", 500, 2)]

    # An operator redelivers them: a fresh schedule, and the receiver is back.
    receiver.answer(status=200)
    assert webhooks.redeliver_dead(event_ids=WebhookEvent.objects.values_list("id", flat=True)) == 2
    assert _deliver(tenant_id, receiver.url).delivered == 2
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"delivered"}


def test_a_receiver_that_does_not_answer_in_time_fails_the_post(hooked, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 0.3
    receiver.answer(hang_seconds=5)
    tenant_id = hooked(1)
    started = time.monotonic()
    _deliver(tenant_id, receiver.url)
    assert time.monotonic() - started < 3
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.http_status, delivery.error) == (
        "failed",
        None,
        "no answer within 0.3 s",
    )


def test_a_redirect_is_not_followed(hooked, receiver):
    receiver.answer(statuses=[307], status=200)  # a 307 followed would POST again, and get a 200
    tenant_id = hooked(1)
    _deliver(tenant_id, receiver.url)
    assert len(receiver.posts) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error) == ("failed", "HTTP 307")


def test_one_post_at_a_time_per_url(hooked, receiver):
    tenant_id = hooked(1)
    lock = webhooks._TargetLock(receiver.url)
    assert lock.acquire()
    try:
        result = _deliver(tenant_id, receiver.url)
        assert (result.busy, result.posts, receiver.posts) == (True, 0, [])
    finally:
        lock.release()
    assert cache.get(lock.key) is None
    assert _deliver(tenant_id, receiver.url).delivered == 1


def test_the_sweep_publishes_the_targets_with_due_events(hooked, receiver, monkeypatch):
    published = []
    monkeypatch.setattr(
        webhooks, "publish_delivery", lambda tenant_id, url, **kw: published.append((tenant_id, url))
    )
    tenant_id = hooked(2)
    assert webhooks.sweep_due() == 1
    assert published == [(tenant_id, receiver.url)]
    WebhookEvent.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    assert webhooks.sweep_due() == 0


def test_a_deleted_callback_cancels_what_was_not_pushed(hooked, receiver, tenant):
    tenant_id = hooked(2)
    assert webhooks.delete_callback(owner=tenant) == 2
    assert _deliver(tenant_id, receiver.url).posts == 0
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"cancelled"}


def test_a_new_url_takes_over_the_pending_events(hooked, receiver, tenant):
    tenant_id = hooked(2)
    webhooks.set_callback(owner=tenant, url=receiver.url + "/v2")
    assert set(WebhookEvent.objects.values_list("url", flat=True)) == {receiver.url + "/v2"}
    assert _deliver(tenant_id, receiver.url + "/v2").delivered == 2


def test_an_address_refused_at_delivery_time_fails_the_post_without_sending(hooked, receiver, settings):
    tenant_id = hooked(1)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False  # the receiver is on loopback
    _deliver(tenant_id, receiver.url)
    assert receiver.posts == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "failed" and delivery.error.startswith(
        "refused: 127.0.0.1 resolves to a loopback"
    )


def test_the_secret_is_never_logged(hooked, receiver, caplog):
    caplog.set_level("DEBUG")
    receiver.answer(status=500)
    tenant_id = hooked(1)
    _deliver(tenant_id, receiver.url)
    assert hooked.secret not in caplog.text
    assert TenantAccount.objects.get(pk=tenant_id).webhook.secret == hooked.secret


# --- The SSRF guard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "only http and https"),
        ("http:///nohost", "names no host"),
        ("http://user:pw@203.0.113.9/", "credentials"),  # a documentation address: refused anyway
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://100.64.0.1/hook", "not global"),
        ("http://localhost/hook", "loopback"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
        ("http://a b/hook", "spaces"),
        ("http://" + "a" * 500 + ".com/", "at most 500"),
        ("http://example.com:99999/", "not a URL"),
    ],
)
def test_the_guard_refuses_what_is_not_a_public_http_url(url, why):
    with pytest.raises(InvalidInput) as refused:
        urlguard.check_url(url)
    assert why in refused.value.message and refused.value.field == "url"


def test_a_name_with_any_private_address_is_refused_and_a_public_one_passes(monkeypatch):
    addresses = {"mixed.example": ["93.184.216.34", "10.0.0.5"], "public.example": ["93.184.216.34"]}
    monkeypatch.setattr(urlguard, "_getaddrinfo", lambda host, port: addresses[host])
    with pytest.raises(InvalidInput, match="private address"):
        urlguard.check_url("https://mixed.example/hook")
    assert urlguard.check_url("https://public.example/hook") == "https://public.example/hook"


def test_a_slow_name_lookup_is_given_up(monkeypatch, settings):
    settings.WEBHOOK_DNS_TIMEOUT = 0.2
    monkeypatch.setattr(urlguard, "_getaddrinfo", lambda host, port: time.sleep(2) or ["93.184.216.34"])
    started = time.monotonic()
    with pytest.raises(InvalidInput, match="did not resolve within"):
        urlguard.check_url("https://slow.example/hook")
    assert time.monotonic() - started < 1.5


def test_private_addresses_pass_when_the_setting_allows_them(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    monkeypatch.setattr(urlguard, "_getaddrinfo", lambda host, port: pytest.fail("no lookup needed"))
    assert urlguard.check_url("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"
    with pytest.raises(InvalidInput):
        urlguard.check_url("gopher://127.0.0.1/")  # the scheme still counts


def test_tests_never_look_a_name_up_on_the_network():
    with pytest.raises(socket.gaierror):
        urlguard._getaddrinfo("example.com", 80)


def test_retry_schedule_setting_parses_durations():
    import os

    from gm_server_notify.settings.environment import env_durations

    os.environ["TEST_DURATIONS"] = "10s,1m,5m,30m,2h,0.2s,3"
    try:
        assert env_durations("TEST_DURATIONS", "") == [10, 60, 300, 1800, 7200, 0.2, 3]
    finally:
        del os.environ["TEST_DURATIONS"]


def test_the_payload_is_compact_utf8_json(hooked, receiver):
    tenant_id = hooked(1)
    _deliver(tenant_id, receiver.url)
    body = receiver.posts[0].body
    assert json.loads(body) and b", " not in body

"""Delivery webhooks end to end (issue 13): v1 over real HTTP, real Celery workers, the simulator,
and a real HTTP receiver on loopback (tests/support/receiver.py)."""

from __future__ import annotations

import base64
import time

import pytest
import requests
from django.test import Client

from sms.models import WebhookEvent, WebhookEventState
from sms.webhooks.services import verify_signature
from tests.e2e.conftest import wait_until
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template
from tests.support.receiver import running_receiver

pytestmark = pytest.mark.worker

# Short retries and timeouts keep each test to seconds; the receiver is on loopback. Beat runs in
# the workers every second: its sweeps are the backstop of a report that overtook the worker's
# commit (docs/architecture.md), as in test_tenant_bulk.
WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOK_RETRY_SCHEDULE": "0.2s,0.2s",
    "WEBHOOK_TIMEOUT": "1",
    "SMS_SWEEP_SECONDS": "1",
}
# The sending worker: every dispatch lane (a 2,000-recipient send is bulk), reports and default.
SMS_QUEUES = "default,sms_priority,sms_transactional,sms_bulk,sms_reports"


def _basic(user) -> dict[str, str]:
    token = base64.b64encode(f"{user.username}:{TEST_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Tenant:
    """A tenant ready to send (a passed signature and template, a balance), over HTTP."""

    def __init__(self, stack, user, root_user, charge: int = 100) -> None:
        self.stack, self.user = stack, user
        sign = make_signature(user)
        template = make_template(user, sign, template="您的订单{1}已发货。", template_type=2)
        self.ids = {"sign_id": sign.pk, "temp_id": template.pk}
        requests.post(
            f"{stack.url}/v2/charge",
            json={"user": user.username, "charge": charge},
            headers=_basic(root_user),
            timeout=60,
        ).raise_for_status()

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, f"{self.stack.url}{path}", headers=_basic(self.user), timeout=60, **kwargs
        )

    def set_callback(self, url: str) -> requests.Response:
        return self.call("PUT", "/v1/callback", json={"url": url})

    def send(self, mobiles: list[str]) -> str:
        answer = self.call("POST", "/v1/message", json={**self.ids, "mobiles": mobiles, "params": ["PL1"]})
        assert answer.status_code == 200, answer.text
        return answer.json()["uuid"]

    def counts(self, batch_uuid: str) -> dict[str, int]:
        return self.call("GET", "/v1/message", params={"uuid": batch_uuid, "page_size": 1}).json()["counts"]

    def deliveries(self, **params) -> dict:
        return self.call("GET", "/v1/callback/deliveries", params=params).json()


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


@pytest.fixture
def hooked(stack, tenant, root_user, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the live server: the receiver is on loopback
    client = Tenant(stack, tenant, root_user, charge=5000)
    answer = client.set_callback(receiver.url)
    assert answer.status_code == 200, answer.text
    client.secret = answer.json()["secret"]
    return client


def _all_events(state: str) -> bool:
    states = set(WebhookEvent.objects.values_list("state", flat=True))
    return states == {state}


def test_three_numbers_one_failed_reach_the_receiver_as_three_signed_events_in_two_posts_at_most(
    stack, hooked, receiver
):
    stack.worker(env=WEBHOOK_ENV, beat=True)
    batch_uuid = hooked.send(["13112341234", "13112345678", "13112340004"])  # …0004: UNDELIV
    wait_until(lambda: len(receiver.events) >= 3, timeout=30, message="3 events pushed")
    wait_until(lambda: _all_events(WebhookEventState.DELIVERED), timeout=30, message="events delivered")
    assert hooked.counts(batch_uuid)["delivered"] == 2 and hooked.counts(batch_uuid)["failed"] == 1
    events = receiver.events
    assert len(events) == 3 and len({event["event_id"] for event in events}) == 3
    assert {event["mobile"]: event["status"] for event in events} == {
        "13112341234": "delivered",
        "13112345678": "delivered",
        "13112340004": "failed",
    }
    assert all(event["uuid"] == batch_uuid and event["done_at"] for event in events)
    assert 1 <= len(receiver.posts) <= 2
    for post in receiver.posts:
        assert post.headers["content-type"] == "application/json"
        assert verify_signature(hooked.secret, post.body, post.headers["x-gm-signature"])
    assert hooked.deliveries(status="delivered")["total"] == len(receiver.posts)


def test_a_receiver_answering_500_twice_gets_the_events_on_the_third_try(stack, hooked, receiver):
    receiver.answer(statuses=[500, 500], status=200)
    stack.worker(env=WEBHOOK_ENV, beat=True)
    hooked.send(["13112341234"])
    wait_until(lambda: _all_events(WebhookEventState.DELIVERED), timeout=30, message="delivered on a retry")
    assert len(receiver.posts) == 3
    assert [post.events for post in receiver.posts] == [receiver.posts[0].events] * 3  # the same event
    listed = hooked.deliveries()["items"]
    assert [(item["status"], item["http_status"]) for item in listed] == [
        ("delivered", 200),
        ("failed", 500),
        ("failed", 500),
    ]


def test_a_receiver_that_never_answers_ends_dead_and_an_operator_redelivers(
    stack, hooked, receiver, root_user
):
    receiver.answer(hang_seconds=30)
    stack.worker(env=WEBHOOK_ENV, beat=True)
    hooked.send(["13112341234"])
    wait_until(
        lambda: hooked.deliveries(status="dead")["total"] == 1, timeout=30, message="dead after 3 tries"
    )
    assert len(receiver.posts) == 3  # the first try and the two retries of the schedule
    dead = hooked.deliveries(status="dead")["items"][0]
    assert (dead["http_status"], dead["error"], dead["event_count"]) == (None, "no answer within 1 s", 1)
    assert hooked.deliveries(status="failed")["total"] == 2
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEventState.DEAD

    receiver.answer(status=200)
    admin = Client()
    admin.force_login(root_user)
    answer = admin.post(
        "/admin/sms/webhookevent/",
        {"action": "redeliver_dead_events", "_selected_action": [event.pk]},
        follow=True,
    )
    assert "1 dead event(s) queued again" in answer.content.decode()
    wait_until(lambda: _all_events(WebhookEventState.DELIVERED), timeout=30, message="redelivered")
    assert receiver.posts[-1].events[0]["event_id"] == str(event.pk)
    assert hooked.deliveries(status="delivered")["total"] == 1


def test_a_hanging_receiver_does_not_slow_a_2000_recipient_send(stack, hooked, receiver, tenant):
    """The SMS workers consume the pipeline's queues, a webhook worker ``sms_webhooks``, as under
    ``make run``: a receiver that hangs 30 s holds only the webhook worker."""
    # Speed, and a measure of the webhooks rather than of the live test server's report intake:
    # 2,000 single pushes take ~35 s there.
    stack.push_reports_in_arrays()
    stack.worker(concurrency=2, queues=SMS_QUEUES, env=WEBHOOK_ENV, beat=True)
    webhook_worker = stack.worker(
        concurrency=2, queues="sms_webhooks", env={**WEBHOOK_ENV, "WEBHOOK_TIMEOUT": "5"}
    )
    mobiles = [f"131{index:04d}1234" for index in range(2000)]

    def timed_send() -> float:
        started = time.monotonic()
        batch_uuid = hooked.send(mobiles)
        wait_until(
            lambda: hooked.counts(batch_uuid)["delivered"] == 2000, timeout=120, message="2000 delivered"
        )
        return time.monotonic() - started

    # Without webhooks: no callback, no events.
    hooked.call("DELETE", "/v1/callback")
    without = timed_send()
    assert WebhookEvent.objects.count() == 0

    # With a receiver that hangs 30 s, already holding a POST when the send starts.
    receiver.answer(hang_seconds=30)
    assert hooked.set_callback(receiver.url).status_code == 200
    hooked.send(["13112349999"])
    wait_until(lambda: receiver.hanging >= 1, timeout=30, message="the receiver hangs")
    with_hanging = timed_send()
    assert receiver.hanging >= 1  # it was still hanging when the send had finished
    assert WebhookEvent.objects.filter(state=WebhookEventState.DELIVERED).count() == 0
    assert WebhookEvent.objects.count() == 2001  # every final state is in the outbox, waiting
    print(f"2000 recipients: {without:.2f} s without webhooks, {with_hanging:.2f} s with a hanging receiver")
    assert with_hanging <= max(2 * without, without + 10), (without, with_hanging)
    webhook_worker.kill()  # no need to wait for its hanging POST


def test_private_addresses_are_refused_unless_the_setting_allows_them(
    stack, tenant, root_user, receiver, settings
):
    client = Tenant(stack, tenant, root_user)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    for url in (receiver.url, "http://10.0.0.1/hook", "http://169.254.169.254/latest", "http://[::1]/x"):
        refused = client.set_callback(url)
        assert (refused.status_code, refused.json()["error"]) == (400, "ER:0004"), url
        assert "address" in refused.json()["message"]
    assert client.call("GET", "/v1/callback").json() == {"url": None, "secret_hint": None}

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert client.set_callback(receiver.url).status_code == 200
    # The worker checks again before each POST: where private addresses are not allowed, nothing
    # reaches the receiver.
    stack.worker(env={**WEBHOOK_ENV, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "false"}, beat=True)
    client.send(["13112341234"])
    wait_until(lambda: client.deliveries(status="dead")["total"] == 1, timeout=30, message="refused, dead")
    assert receiver.posts == []
    assert client.deliveries(status="dead")["items"][0]["error"].startswith(
        "refused: 127.0.0.1 resolves to a loopback"
    )

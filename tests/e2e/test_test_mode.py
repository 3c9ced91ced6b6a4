"""Test mode end to end (issue 26): a live and a test message of one tenant side by side, over real
HTTP, through a real Celery worker (with beat) and the provider simulator, to a real webhook
receiver. The test message ends by the sandbox's magic numbers with ``"test": true`` events; the
simulator, which stands in for every provider, is sent the live numbers only; the balance falls by
the live parts only."""

from __future__ import annotations

import pytest
import requests

from sms.models import BalanceLedger, LedgerReason, SendRecord, TenantAccount
from sms.tenant_api.credentials import set_test_password
from tests.e2e.conftest import wait_until
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template
from tests.support.receiver import running_receiver

pytestmark = pytest.mark.worker

TEST_MODE_PASSWORD = "test-mode-password"
# The webhook POSTs go to a receiver on loopback; beat sweeps every second (the backstop of a
# report that overtook the worker's commit).
WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOK_RETRY_SCHEDULE": "0.2s,0.2s",
    "WEBHOOK_TIMEOUT": "1",
    "SMS_SWEEP_SECONDS": "1",
}
LIVE = ["13912345678", "13800000001"]  # the magic numbers mean nothing to a live message
TEST = ["13800000000", "13800000001", "13800000002", "13912345678"]


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


class Caller:
    """The tenant over HTTP with one of its two passwords."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url, self.auth = url, (username, password)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", auth=self.auth, timeout=60, **kwargs)

    def send(self, ids: dict, mobiles: list[str]) -> str:
        answer = self.call("POST", "/v1/message", json={**ids, "mobiles": mobiles, "params": ["PL1"]})
        assert answer.status_code == 200, answer.text
        return answer.json()["uuid"]

    def progress(self, batch_uuid: str) -> dict:
        return self.call("GET", "/v1/message", params={"uuid": batch_uuid}).json()

    def settled(self, batch_uuid: str) -> bool:
        counts = self.progress(batch_uuid)["counts"]
        return counts["queued"] == counts["sending"] == 0


def test_a_live_and_a_test_message_side_by_side(stack, tenant, root_user, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the live server: the receiver is on loopback
    sign = make_signature(tenant)
    ids = {
        "sign_id": sign.pk,
        "temp_id": make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2).pk,
    }
    requests.post(
        f"{stack.url}/v2/charge", json={"user": "dcs", "charge": 10}, auth=("root", TEST_PASSWORD), timeout=60
    ).raise_for_status()
    set_test_password(username="dcs", password=TEST_MODE_PASSWORD)
    live = Caller(stack.url, "dcs", TEST_PASSWORD)
    sandboxed = Caller(stack.url, "dcs", TEST_MODE_PASSWORD)
    assert live.call("PUT", "/v1/callback", json={"url": receiver.url}).status_code == 200
    stack.worker(env=WORKER_ENV, beat=True)

    live_uuid = live.send(ids, LIVE)
    test_uuid = sandboxed.send(ids, TEST)
    wait_until(lambda: live.settled(live_uuid) and sandboxed.settled(test_uuid), timeout=60, message="final")
    wait_until(lambda: len(receiver.events) >= 5, timeout=30, message="2 live and 3 test events pushed")

    # The test message: by the magic numbers, through the report code, seen in test mode only.
    test_progress = sandboxed.progress(test_uuid)
    assert test_progress["counts"] == {"queued": 0, "sending": 0, "delivered": 2, "failed": 1, "unknown": 1}
    assert {item["mobile"]: item["state"] for item in test_progress["items"]} == {
        "13800000000": "delivered",
        "13800000001": "failed",
        "13800000002": "unknown",
        "13912345678": "delivered",
    }
    assert live.progress(test_uuid)["error"] == "ER:0004"
    assert sandboxed.progress(live_uuid)["error"] == "ER:0004"
    # The live message: by the simulator, as always.
    assert live.progress(live_uuid)["counts"]["delivered"] == 2

    # One receiver, both modes, told apart by "test".
    events = {(event["uuid"], event["mobile"]): event for event in receiver.events}
    assert len(events) == 5
    assert {key: (e["status"], e["code"], e["test"]) for key, e in events.items() if key[0] == test_uuid} == {
        (test_uuid, "13800000000"): ("delivered", "SANDBOX:DELIVERED", True),
        (test_uuid, "13800000001"): ("failed", "SANDBOX:FAILED", True),
        (test_uuid, "13912345678"): ("delivered", "SANDBOX:DELIVERED", True),
    }
    assert {e["test"] for key, e in events.items() if key[0] == live_uuid} == {False}

    # The simulator (every provider) was sent the live numbers and nothing else.
    stats = stack.simulator.stats()
    assert sum(provider["numbers"] for provider in stats.values()) == len(LIVE)
    assert stats["gateway"]["distinct_numbers"] == len(LIVE)
    assert {n: stack.simulator.state.times_received("gateway", n) for n in LIVE} == dict.fromkeys(LIVE, 1)
    assert stack.simulator.state.times_received("gateway", "13800000000") == 0
    assert set(SendRecord.objects.filter(test=True).values_list("provider", flat=True)) == {"sandbox"}

    # Charged for the live parts only: one reservation, of the live batch.
    assert TenantAccount.objects.get(user__username="dcs").balance_nums == 10 - len(LIVE)
    reservations = BalanceLedger.objects.filter(reason=LedgerReason.RESERVE)
    assert list(reservations.values_list("delta", flat=True)) == [-len(LIVE)]
    assert not BalanceLedger.objects.filter(reason=LedgerReason.REFUND).exists()

    # A reply through the test route, listed in test mode only.
    reply = sandboxed.call("POST", "/v1/test/uplink", json={"mobile": "13800000000", "content": "1"})
    assert reply.status_code == 200 and reply.json()["uuid"] == test_uuid
    assert sandboxed.call("GET", "/v1/uplink").json()["total"] == 1
    assert live.call("GET", "/v1/uplink").json()["total"] == 0

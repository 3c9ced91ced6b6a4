"""A tenant's daily cap reached mid-day, end to end (issue 26): v1 over real HTTP, a real worker
with its beat (sending, webhooks, alerts), the simulator on loopback, a real webhook receiver. The
next China-time day comes on the business clock (``gm_server_notify.clock``: an offset in Redis
that the test process and the worker read alike)."""

from __future__ import annotations

import base64
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import requests
from django.test import Client

from sms.models import BalanceLedger, MessageBatch, RecordState, SendRecord, TenantAccount, WebhookEvent
from tests.e2e.conftest import wait_until
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template, tenant_admin_form
from tests.support.receiver import running_receiver

pytestmark = pytest.mark.worker

CHINA = ZoneInfo("Asia/Shanghai")
# Beat every second: the webhooks' sweep, and the alerts evaluated every second.
WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOK_RETRY_SCHEDULE": "0.2s,0.2s",
    "WEBHOOK_TIMEOUT": "2",
    "SMS_SWEEP_SECONDS": "1",
    "SMS_ALERT_EVERY_SECONDS": "1",
}
NOT_FINAL = [RecordState.QUEUED, RecordState.SENDING, RecordState.SUBMITTED]


def _basic(user) -> dict[str, str]:
    token = base64.b64encode(f"{user.username}:{TEST_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Tenant:
    """A tenant with a passed signature and notice template (one part a number), over HTTP."""

    def __init__(self, stack, user, root_user) -> None:
        self.stack, self.user = stack, user
        sign = make_signature(user)
        template = make_template(user, sign, template="您的订单{1}已发货。", template_type=2)
        self.ids = {"sign_id": sign.pk, "temp_id": template.pk, "params": ["PL1"]}
        requests.post(
            f"{stack.url}/v2/charge",
            json={"user": user.username, "charge": 100},
            headers=_basic(root_user),
            timeout=60,
        ).raise_for_status()

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, f"{self.stack.url}{path}", headers=_basic(self.user), timeout=60, **kwargs
        )

    def send(self, mobiles: list[str]) -> requests.Response:
        return self.call("POST", "/v1/message", json={**self.ids, "mobiles": mobiles})

    def sent(self, mobiles: list[str]) -> str:
        answer = self.send(mobiles)
        assert answer.status_code == 200, answer.text
        batch_uuid = answer.json()["uuid"]
        wait_until(
            lambda: not SendRecord.objects.filter(batch__uuid=batch_uuid, state__in=NOT_FINAL).exists(),
            message="the batch final",
        )
        assert self.counts(batch_uuid)["delivered"] == len(mobiles)
        return batch_uuid

    def counts(self, batch_uuid: str) -> dict[str, int]:
        return self.call("GET", "/v1/message", params={"uuid": batch_uuid, "page_size": 1}).json()["counts"]

    def limits(self) -> dict:
        return self.call("GET", "/v1/limits").json()

    def balance(self) -> int:
        return self.call("GET", "/v1/balance").json()["balance"]


def _mobiles(count: int, start: int) -> list[str]:
    return [f"1311234{index:04d}" for index in range(start, start + count)]


def _warnings(receiver) -> list[dict]:
    return [event for event in receiver.events if event.get("type") == "limit.warning"]


def _cap_alerts(operator: Client) -> list[dict]:
    alerts = operator.get("/dashboard/api/alerts", {"state": "open"}).json()["alerts"]
    return [alert for alert in alerts if alert["rule"] == "tenant_cap"]


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


def test_a_daily_cap_reached_mid_day_warns_once_refuses_whole_and_frees_the_next_day(
    stack, tenant, root_user, receiver, settings, business_clock
):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the live server: the receiver is on loopback
    today = dt.datetime.now(CHINA).date()
    business_clock.set_now(dt.datetime.combine(today, dt.time(11), tzinfo=CHINA))
    stack.worker(env=WORKER_ENV, beat=True)
    client = Tenant(stack, tenant, root_user)
    assert client.call("PUT", "/v1/callback", json={"url": receiver.url}).status_code == 200
    # The operator sets the caps in the admin: 10 parts a day, 100 a month (warning at 8 and 80).
    operator = Client()
    operator.force_login(root_user)
    account = TenantAccount.objects.get(user=tenant)
    answer = operator.post(
        f"/admin/sms/tenantaccount/{account.pk}/change/",
        tenant_admin_form(account, daily_cap_parts="10", monthly_cap_parts="100"),
    )
    assert answer.status_code == 302, answer.content[:2000]
    assert client.limits()["daily"]["cap"] == 10

    client.sent(_mobiles(4, 0))
    assert _warnings(receiver) == [] and client.limits()["daily"]["warned"] is False
    client.sent(_mobiles(4, 10))  # 8 of 10: the warning
    wait_until(lambda: len(_warnings(receiver)) == 1, message="the limit.warning event pushed")
    (warning,) = _warnings(receiver)
    assert {key: warning[key] for key in ("period", "start", "cap", "used", "warning_percent")} == {
        "period": "daily",
        "start": today.isoformat(),
        "cap": 10,
        "used": 8,
        "warning_percent": 80,
    }
    wait_until(lambda: len(_cap_alerts(operator)) == 1, message="the operators' alert opened")
    assert _cap_alerts(operator)[0]["subject"] == "tenant:dcs:daily"

    client.sent(_mobiles(2, 20))  # 10 of 10: up to the cap is allowed
    balance = client.balance()
    batches, ledger = MessageBatch.objects.count(), BalanceLedger.objects.count()
    estimate = client.call("POST", "/v1/message/estimate", json={**client.ids, "mobiles": _mobiles(1, 30)})
    assert estimate.json()["refusal"]["error"] == "ER:0038"
    refused = client.send(_mobiles(1, 30))
    assert (refused.status_code, refused.json()) == (
        403,
        {
            "error": "ER:0038",
            "message": "daily cap reached: 10 of 10 parts used today (China time), this send needs 1",
        },
    )
    assert (client.balance(), MessageBatch.objects.count(), BalanceLedger.objects.count()) == (
        balance,
        batches,
        ledger,
    )
    limits = client.limits()
    assert (limits["daily"]["used"], limits["daily"]["remaining"], limits["daily"]["warned"]) == (10, 0, True)
    assert len(_warnings(receiver)) == 1  # once, however many sends follow

    # The next China-time day: the daily cap is free again, the month goes on.
    business_clock.set_now(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(9), tzinfo=CHINA))
    assert client.limits()["daily"]["used"] == 0
    client.sent(_mobiles(1, 30))
    limits = client.limits()
    assert (limits["daily"]["used"], limits["daily"]["warned"]) == (1, False)
    assert limits["monthly"]["used"] == (11 if (today + dt.timedelta(days=1)).day != 1 else 1)
    wait_until(lambda: _cap_alerts(operator) == [], message="the alert resolved on the new day")
    assert len(_warnings(receiver)) == 1
    account.refresh_from_db()
    assert account.balance_nums == 100 - 11
    assert account.balance_nums == sum(
        BalanceLedger.objects.filter(tenant=account).values_list("delta", flat=True)
    )
    assert WebhookEvent.objects.filter(kind="limit.warning").count() == 1

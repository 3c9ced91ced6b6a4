"""The tenant guard end to end (issue 26): the live service over HTTP, a real worker with its beat,
MySQL and Redis, the simulator on loopback; operators act through the admin's own pages.

- An international number is refused (ER:0040), then fails BLOCKED:COUNTRY while international
  sending is on but its calling code is not allowed, until an operator allows it: then it goes out
  once, through the international provider.
- A prefix paused by the velocity rule: the verify code over the limit into one range and every
  later one fail PAUSED:PREFIX while other ranges are delivered; the operators get an alert
  (shown on /dashboard/alerts, posted to their webhook); lifting the pause in the admin resumes
  sends to the range.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.conf import settings
from django.test import Client

from sms.models import Alert, AlertRule, AlertState, BalanceLedger, PrefixPause, SendRecord, TenantAccount
from tests.e2e.conftest import wait_until
from tests.support.factories import TEST_PASSWORD, UserFactory
from tests.support.platform import make_signature, make_template, tenant_admin_form
from tests.support.receiver import running_receiver

pytestmark = pytest.mark.worker

UK = "+447911123456"
# Beat every second: it pulls the international provider's receipts (sjroom offers no push).
BEAT_ENV = {"SMS_SWEEP_SECONDS": "1"}


class Tenant:
    """A tenant with a passed signature and a verify-code template, charged over ``v2/charge``."""

    def __init__(self, stack, user, root_user, *, charge: int = 1000) -> None:
        self.stack, self.user = stack, user
        sign = make_signature(user)
        self.body = {
            "sign_id": sign.pk,
            "temp_id": make_template(user, sign, template_type=1).pk,
            "params": ["112095", "5"],
        }
        answer = requests.post(
            f"{stack.url}/v2/charge",
            json={"user": user.username, "charge": charge},
            auth=(root_user.username, TEST_PASSWORD),
            timeout=60,
        )
        assert answer.status_code == 200, answer.text

    @property
    def account(self) -> TenantAccount:
        return TenantAccount.objects.get(user=self.user)

    def post(self, mobiles: list[str]) -> requests.Response:
        return requests.post(
            f"{self.stack.url}/v1/message",
            json={**self.body, "mobiles": mobiles},
            auth=(self.user.username, TEST_PASSWORD),
            timeout=60,
        )

    def send(self, mobiles: list[str]) -> str:
        answer = self.post(mobiles)
        assert answer.status_code == 200, answer.text
        return answer.json()["uuid"]

    def items(self, batch_uuid: str) -> dict[str, tuple[str, str]]:
        answer = requests.get(
            f"{self.stack.url}/v1/message",
            params={"uuid": batch_uuid},
            auth=(self.user.username, TEST_PASSWORD),
            timeout=60,
        ).json()
        return {item["mobile"]: (item["state"], item["reason"]) for item in answer["items"]}

    def final(self, batch_uuid: str) -> dict[str, tuple[str, str]] | None:
        """The batch's items once none is queued or sending."""
        items = self.items(batch_uuid)
        return items if all(state not in ("queued", "sending") for state, _ in items.values()) else None

    def settled(self, batch_uuid: str, *, timeout: float = 30) -> dict[str, tuple[str, str]]:
        """Wait until the batch is final; its items."""
        wait_until(lambda: self.final(batch_uuid), timeout=timeout, message=f"batch {batch_uuid} final")
        return self.final(batch_uuid)

    def ledger_is_the_balance(self) -> bool:
        account = self.account
        return account.balance_nums == sum(
            BalanceLedger.objects.filter(tenant=account).values_list("delta", flat=True)
        )


@pytest.fixture
def operator() -> Client:
    """An operator signed in to the admin (the service's own pages, in this process)."""
    client = Client()
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    return client


def _save_account(operator: Client, account: TenantAccount, **changes) -> None:
    page = operator.post(
        f"/admin/sms/tenantaccount/{account.pk}/change/", tenant_admin_form(account, **changes)
    )
    assert page.status_code == 302, page.content.decode()[:2000]


def test_an_international_number_is_refused_until_it_is_allowed(stack, tenant, root_user, operator):
    stack.worker(beat=True, env=BEAT_ENV)
    dcs = Tenant(stack, tenant, root_user)

    refused = dcs.post(["13912340001", UK])
    assert (refused.status_code, refused.json()["error"]) == (403, "ER:0040")
    assert UK in refused.json()["message"]
    assert not SendRecord.objects.exists()

    _save_account(operator, dcs.account, international_enabled=True)
    blocked = dcs.send(["13912340001", UK])
    items = dcs.settled(blocked)
    assert items == {
        "13912340001": ("delivered", ""),
        UK: (
            "failed",
            "BLOCKED:COUNTRY: +44 is not on your account's country allowlist; an operator must allow it",
        ),
    }
    assert "sjroom" not in stack.simulator.stats()  # never handed to the international provider

    _save_account(operator, dcs.account, add_codes=(44,))
    allowed = dcs.send([UK])
    items = dcs.settled(allowed, timeout=60)
    assert items == {UK: ("delivered", "")}
    sjroom = stack.simulator.stats()["sjroom"]
    assert (sjroom["numbers"], sjroom["distinct_numbers"], sjroom["duplicated_numbers"]) == (1, 1, 0)
    record = SendRecord.objects.get(batch__uuid=allowed)
    assert (record.provider, record.segments) == ("sjroom", 1)
    # Charged: the two numbers sent, never the one refused or blocked.
    assert dcs.account.balance_nums == 1000 - 2 and dcs.ledger_is_the_balance()


def test_a_prefix_is_paused_by_the_velocity_rule_and_resumes_when_lifted(stack, tenant, root_user, operator):
    limit = settings.SMS_PUMPING_MAX_PER_PREFIX_HOUR  # the default, 20
    block = [f"13912341{index:03d}" for index in range(limit + 3)]  # one range: +86 1391234
    with running_receiver() as ops_hook:
        stack.worker(beat=True, env={**BEAT_ENV, "SMS_ALERT_WEBHOOK_URL": ops_hook.url})
        dcs = Tenant(stack, tenant, root_user)

        # The limit's worth of codes into the range, over two requests: all sent.
        first = dcs.send(block[: limit // 2])
        second = dcs.send([*block[limit // 2 : limit], "13800000001"])
        for batch in (first, second):
            assert {state for state, _ in dcs.settled(batch).values()} == {"delivered"}
        assert not PrefixPause.objects.exists()

        # One more: the code over the limit and the one after it are paused; another range is not.
        tripped = dcs.send([block[limit], block[limit + 1], "13800000002"])
        items = dcs.settled(tripped)
        pause = PrefixPause.objects.get()
        assert (pause.prefix, pause.codes, pause.limit) == ("+86 1391234", limit + 2, limit)
        assert items["13800000002"] == ("delivered", "")
        for number in block[limit : limit + 2]:
            state, reason = items[number]
            assert state == "failed" and reason.startswith("PAUSED:PREFIX: sends to +86 1391234 are paused")

        # Operators are told at once: the alert opens (its evaluation asked for by the pause),
        # shows on /dashboard/alerts and is posted to their webhook.
        opened = Alert.objects.filter(rule=AlertRule.PREFIX_PAUSED, unresolved=True)
        wait_until(opened.exists, timeout=30, message="the prefix_paused alert opened")
        alert = opened.get()
        assert alert.subject == f"tenant:{tenant.username}:+86 1391234"
        assert alert.message in operator.get("/dashboard/alerts").content.decode()

        def posted() -> list[dict]:
            return [
                notice
                for post in list(ops_hook.posts)
                for notice in json.loads(post.body)["alerts"]
                if notice["rule"] == "prefix_paused"
            ]

        wait_until(posted, timeout=30, message="the alert posted to the operators' webhook")
        assert (posted()[0]["notice"], posted()[0]["subject"]) == ("opened", alert.subject)

        # Later sends to the range fail too, whatever else they carry.
        later = dcs.send([block[limit + 2], "13800000003"])
        items = dcs.settled(later)
        assert items[block[limit + 2]][0] == "failed" and items["13800000003"] == ("delivered", "")
        sent = stack.simulator.stats()["gateway"]
        assert sent["numbers"] == limit + 3  # the limit, and the three other ranges' numbers

        # The operator lifts it in the admin: sends to the range resume, and the alert resolves.
        page = operator.post(
            "/admin/sms/prefixpause/", {"action": "lift_pauses", "_selected_action": [pause.pk]}
        )
        assert page.status_code == 302
        resumed = dcs.send([block[limit + 2]])
        items = dcs.settled(resumed)
        assert items == {block[limit + 2]: ("delivered", "")}
        wait_until(
            lambda: Alert.objects.get(pk=alert.pk).state == AlertState.RESOLVED,
            timeout=30,
            message="the alert resolved once the pause was lifted",
        )
        assert dcs.ledger_is_the_balance()
        assert dcs.account.balance_nums == 1000 - (limit + 3 + 1)  # the paused codes were not charged

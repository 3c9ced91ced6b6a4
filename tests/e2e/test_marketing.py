"""Marketing that stays legal, end to end (issue 15): the live service over HTTP, a real worker
with its beat, MySQL and Redis, the simulator on loopback. Sending hours are tested on the
business clock (``gm_server_notify.clock``: an offset in Redis that the test process and the
worker read alike), so a batch accepted at 22:00 China time is released at 08:00 without waiting
ten hours."""

from __future__ import annotations

import base64
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import requests

from gm_server_notify import clock
from sms.models import BalanceLedger, BlocklistEntry, LedgerReason, RecordState, SendRecord, TenantAccount
from tests.e2e.conftest import CALLBACK_TOKEN, wait_until
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template
from tests.support.waiting import scaled

pytestmark = pytest.mark.worker

CHINA = ZoneInfo("Asia/Shanghai")
PHONE = "13100000001"
OTHER = "13100000002"
# Beat every second: its release sweep is what takes held batches out.
BEAT_ENV = {"SMS_SWEEP_SECONDS": "1"}
NOT_FINAL = [RecordState.SCHEDULED, RecordState.QUEUED, RecordState.SENDING, RecordState.SUBMITTED]


def _basic(user) -> dict[str, str]:
    token = base64.b64encode(f"{user.username}:{TEST_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _today_in_china(hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.now(CHINA).replace(hour=hour, minute=minute, second=second, microsecond=0)


class Marketer:
    """A tenant with a passed signature, a marketing and a notice template and a balance, over HTTP."""

    def __init__(self, stack, user, root_user, charge: int) -> None:
        self.stack, self.user = stack, user
        sign = make_signature(user)
        self.sign_id = sign.pk
        self.templates = {
            "marketing": make_template(user, sign, template="双十二全场5折{1}，回T退订", template_type=3).pk,
            "notice": make_template(user, sign, template="您的订单{1}已发货", template_type=2).pk,
        }
        answer = requests.post(
            f"{stack.url}/v2/charge",
            json={"user": user.username, "charge": charge},
            headers=_basic(root_user),
            timeout=60,
        )
        assert answer.status_code == 200, answer.text

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, f"{self.stack.url}{path}", headers=_basic(self.user), timeout=60, **kwargs
        )

    def send(self, kind: str, mobiles: list[str], **extra) -> str:
        body = {
            "sign_id": self.sign_id,
            "temp_id": self.templates[kind],
            "mobiles": mobiles,
            "params": ["PL1"],
        }
        answer = self.call("POST", "/v1/message", json={**body, **extra})
        assert answer.status_code == 200, answer.text
        return answer.json()["uuid"]

    def counts(self, batch_uuid: str) -> dict[str, int]:
        return self.call("GET", "/v1/message", params={"uuid": batch_uuid, "page_size": 1}).json()["counts"]

    def balance(self) -> int:
        return self.call("GET", "/v1/balance").json()["balance"]


@pytest.fixture
def marketer(stack, tenant, root_user):
    return Marketer(stack, tenant, root_user, charge=5000)


def _all_final(batch_uuid: str) -> bool:
    return not SendRecord.objects.filter(batch__uuid=batch_uuid, state__in=NOT_FINAL).exists()


RELEASE_SWEEP_DONE = re.compile(r"Task sms\.release_scheduled\[[^\]]+\] succeeded")


def _release_sweeps(worker) -> int:
    """How many of beat's release sweeps the worker has finished."""
    return len(RELEASE_SWEEP_DONE.findall(worker.log_text()))


def _sweeps_ran(worker, since: int, runs: int = 2) -> bool:
    """Beat's release sweep finished ``runs`` more times (the first may have begun before a change)."""
    return _release_sweeps(worker) >= since + runs


def _ledger_is_the_balance(user) -> bool:
    account = TenantAccount.objects.get(user=user)
    return account.balance_nums == sum(
        BalanceLedger.objects.filter(tenant=account).values_list("delta", flat=True)
    )


def test_a_reply_td_blocks_the_next_marketing_send_to_that_mobile_but_not_a_notice(stack, marketer):
    clock.set_now(_today_in_china(10))
    stack.worker(beat=True, env=BEAT_ENV)
    first = marketer.send("notice", [PHONE])
    wait_until(lambda: marketer.counts(first)["delivered"] == 1, message="the notice delivered")

    stack.simulator.state.config.push_targets["gateway"]["uplink"] = (
        f"{stack.url}/providers/gateway/uplink?token={CALLBACK_TOKEN}"
    )
    assert stack.simulator.inject_uplink(provider="gateway", mobile=PHONE, text="TD")["acknowledged"] == 1
    # Acknowledged once stored; the worker applies it a moment later.
    wait_until(
        lambda: marketer.call("GET", "/v1/blocklist").json()["total"] == 1, message="the opt-out applied"
    )
    blocklist = marketer.call("GET", "/v1/blocklist").json()
    entry = blocklist["items"][0]
    assert (entry["mobile"], entry["sign_id"], entry["source"], entry["source_text"]) == (
        f"+86{PHONE}",
        str(marketer.sign_id),
        "uplink",
        "TD",
    )

    before = marketer.balance()
    campaign = marketer.send("marketing", [PHONE, OTHER])
    wait_until(lambda: _all_final(campaign), message="the campaign final")
    items = marketer.call("GET", "/v1/message", params={"uuid": campaign}).json()["items"]
    assert {item["mobile"]: (item["state"], item["reason"][:9]) for item in items} == {
        PHONE: ("failed", "OPTED_OUT"),
        OTHER: ("delivered", ""),
    }
    assert marketer.balance() == before - 1  # the opted-out number is not charged
    assert stack.simulator.state.times_received("gateway", PHONE) == 1  # the first notice only
    assert stack.simulator.state.times_received("gateway", OTHER) == 1

    later = marketer.send("notice", [PHONE])
    wait_until(lambda: marketer.counts(later)["delivered"] == 1, message="a notice still reaches it")
    assert stack.simulator.state.times_received("gateway", PHONE) == 2
    assert _ledger_is_the_balance(marketer.user)


def test_a_2000_recipient_campaign_accepted_at_22_00_is_held_and_released_at_08_00(stack, marketer):
    stack.push_reports_in_arrays()  # speed: 2,000 single pushes take ~35 s on the live test server
    clock.set_now(_today_in_china(22))
    worker = stack.worker(beat=True, env=BEAT_ENV)
    mobiles = [f"132{index:04d}1234" for index in range(2000)]
    campaign = marketer.send("marketing", mobiles)
    assert marketer.counts(campaign)["queued"] == 2000  # held, shown queued
    assert marketer.balance() == 3000  # reserved and billed as any send

    # The night passes on the business clock; beat's release sweeps run and release nothing.
    clock.set_now(_today_in_china(7, 59, 50) + dt.timedelta(days=1))
    seen = _release_sweeps(worker)
    wait_until(lambda: _sweeps_ran(worker, seen), message="release sweeps ran before the opening")
    assert SendRecord.objects.filter(batch__uuid=campaign, state=RecordState.SCHEDULED).count() == 2000
    assert stack.simulator.stats() == {}

    clock.set_now(_today_in_china(8) + dt.timedelta(days=1))
    wait_until(lambda: _all_final(campaign), timeout=60, message="the campaign sent after 08:00")
    assert marketer.counts(campaign)["delivered"] == 2000
    gateway = stack.simulator.stats()["gateway"]
    assert (gateway["distinct_numbers"], gateway["numbers"], gateway["duplicated_numbers"]) == (2000, 2000, 0)
    assert _ledger_is_the_balance(marketer.user)


def test_a_scheduled_batch_goes_out_on_time_not_before(stack, marketer):
    clock.set_now(_today_in_china(10))
    worker = stack.worker(beat=True, env=BEAT_ENV)
    send_at = clock.now() + dt.timedelta(seconds=2)
    batch = marketer.send("notice", [PHONE, OTHER], send_at=int(send_at.timestamp()) + 1)
    due = dt.datetime.fromtimestamp(int(send_at.timestamp()) + 1, tz=dt.UTC)
    wait_until(lambda: _all_final(batch), timeout=60, message="the scheduled batch sent")
    assert marketer.counts(batch)["delivered"] == 2
    offset = clock.now() - dt.datetime.now(dt.UTC)  # business clock minus system clock
    for record in SendRecord.objects.filter(batch__uuid=batch):
        released = record.queued_at + offset  # on the business clock
        assert due <= released, "released before its send_at"
        assert released - due < dt.timedelta(seconds=scaled(60)), "released more than a minute late"
    assert _release_sweeps(worker) >= 1


def test_cancelling_half_way_refunds_exactly_the_unsent_part(stack, marketer, settings):
    clock.set_now(_today_in_china(10))
    # 100 numbers a request, 500 ms each, one at a time: the batch takes seconds to go out.
    settings.SMS_PROVIDERS["gateway"]["batch_limit"] = 100  # a copy (stack): the web's limit too
    stack.simulator.configure(latency_ms=500)
    stack.worker(concurrency=1, env={"GATEWAY_SMS_BATCH_LIMIT": "100"})
    mobiles = [f"133{index:04d}1234" for index in range(2000)]
    batch = marketer.send("notice", mobiles)
    wait_until(
        lambda: stack.simulator.stats().get("gateway", {}).get("numbers", 0) >= 100, message="sending began"
    )
    answer = marketer.call("DELETE", "/v1/message", params={"uuid": batch})
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()
    assert cancelled["cancelled"] > 0 and cancelled["already_gone"] >= 100
    assert cancelled["cancelled"] + cancelled["already_gone"] == 2000
    wait_until(lambda: _all_final(batch), timeout=60, message="every record final")

    gateway = stack.simulator.stats()["gateway"]
    sent = 2000 - cancelled["cancelled"]
    assert (gateway["distinct_numbers"], gateway["duplicated_numbers"]) == (sent, 0)
    assert (
        SendRecord.objects.filter(batch__uuid=batch, provider_code="CANCELLED").count()
        == cancelled["cancelled"]
    )
    refunds = BalanceLedger.objects.filter(tenant__user=marketer.user, reason=LedgerReason.REFUND)
    assert sum(refunds.values_list("delta", flat=True)) == cancelled["cancelled"]
    assert marketer.balance() == 5000 - sent
    assert _ledger_is_the_balance(marketer.user)
    again = marketer.call("DELETE", "/v1/message", params={"uuid": batch}).json()
    assert (again["cancelled"], again["already_cancelled"]) == (0, cancelled["cancelled"])
    assert BlocklistEntry.objects.count() == 0

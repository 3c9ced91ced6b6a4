"""A worker killed while a provider holds its answer, for each provider: what docs/providers.md
("When a worker dies mid-request") says happens, shown with a real worker, MySQL, Redis and the
simulator over loopback.

The simulator takes the send request (its numbers counted, its reports queued) and holds the
answer (``answer_delay_ms``). Once it holds it, with the records ``sending``, the worker's whole
process group (main process and pool children) is killed with SIGKILL and a new worker starts with
its beat, its sweeps fast (``FAST_SWEEPS``). Then every record must end as the table says, every
number must have reached the provider once, and the account's ledger must add up to its balance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from sms.models import RecordState, SendRecord, Station, TenantAccount
from tests.e2e.conftest import DOUYIN_TEMPLATES, Stack, wait_until
from tests.support.books import all_final, ledger_matches_balance
from tests.support.platform import tenant_ready
from tests.support.worker import FAST_SWEEPS

pytestmark = pytest.mark.worker

# Longer than any test: the killed worker never gets its answer. Released when it is dead.
HOLD_MS = 600_000
# The killed worker is still waiting for the answer when it dies: no read timeout first (that is
# the live worker's path, ProviderOutcomeUncertain, tested in tests/sms).
PATIENT = {"PROVIDER_HTTP_TIMEOUT": "600"}
# For providers nothing reports on: the settle deadline decides their unknown records in the test.
SETTLE_SOON = {"SMS_UNKNOWN_SETTLE_SECONDS": "3"}
RECHARGE = 10
# No simulator fault suffix, and told apart by the masked form the gateway's pull answers (131****1111).
TENANT_MOBILES = ["13100001111", "13100002222", "13100003333"]
DOUYIN_ORDER = "5001789329480019707"


def _station_send(phone: str, business_type: int, **content: str) -> Callable[[Stack, object], dict]:
    def send(stack: Stack, tenant: object) -> dict:
        stack.recharge(RECHARGE)
        stack.station_send(
            receive_phone=phone,
            business_type=business_type,
            sms_content={"order_id": "PL1", "sms_signature": "去采购", **content},
        )
        return {"station": Station.objects.get(station_id="T7442")}

    return send


def _tenant_send(stack: Stack, tenant: object) -> dict:
    sign, template = tenant_ready(tenant, charge=RECHARGE)
    stack.tenant_send(tenant, sign, template, TENANT_MOBILES)
    return {"tenant": TenantAccount.objects.get(user=tenant)}


@dataclass(frozen=True)
class Case:
    provider: str
    send: Callable[[Stack, object], dict]  # sends one message routed to the provider; its account
    ends: RecordState  # every record's final state
    # Whether the stuck-sending sweep made the records ``unknown`` (not resent) on the way there.
    went_unknown: bool = True
    attempts: int = 1  # claims per record: 2 when the sweep sent the dispatch again
    provider_code: str = ""  # the final code, where it tells how the record was decided
    env: dict[str, str] = field(default_factory=dict)  # both workers'
    simulator: dict = field(default_factory=dict)  # /_sim/config for the whole test


CASES = {
    # Its report, pushed while the record was `sending`, is kept, then tied to it by number.
    "tencent": Case("tencent", _station_send("13100001234", 2, verify_code="1234"), RecordState.DELIVERED),
    # Pushed while `sending` under "<taskId>:<mobile>", applied by that id once unknown.
    "gateway-push": Case("gateway", _tenant_send, RecordState.DELIVERED),
    # Not pushed: the /api/v1/report pull finds them by taskId and masked number. Pulled here only
    # while it has unknown records, so the pull comes after the sweep (pulled at every sweep, as by
    # default, it may decide them while still `sending`: the same end, sooner).
    "gateway-pull": Case(
        "gateway",
        _tenant_send,
        RecordState.DELIVERED,
        env={"SMS_PULL_REPORT_PROVIDERS": "sjroom"},
        simulator={"push_targets": {"gateway": {}}},
    ),
    # Declared to refuse a repeated taskId (and the simulator does): sent again, never unknown.
    "gateway-refusing-repeats": Case(
        "gateway",
        _tenant_send,
        RecordState.DELIVERED,
        went_unknown=False,
        attempts=2,
        env={"GATEWAY_SMS_REFUSES_REPEATED_TASK_ID": "true"},
        simulator={"gateway_refuse_repeated_task_id": True},
    ),
    # No receipts, no pull: failed at the settle deadline, kept billed (SMS_UNKNOWN_POLICY keep).
    "fw199": Case(
        "fw199",
        _station_send("13100001234", 1, douyin_order_id=DOUYIN_ORDER),
        RecordState.FAILED,
        provider_code="NoReport",
        env={"FW199_TEMPLATES": json.dumps(DOUYIN_TEMPLATES), **SETTLE_SOON},
    ),
    # Its query needs the batch number only the lost answer carried: as fw199.
    "sjroom": Case(
        "sjroom",
        _station_send("+447911123456", 0),
        RecordState.FAILED,
        provider_code="NoReport",
        env=SETTLE_SOON,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_worker_killed_during_a_slow_provider_request_sends_nothing_twice(douyin_stack, tenant, case):
    stack = douyin_stack
    stack.simulator.configure(answer_delay_ms={case.provider: HOLD_MS}, **case.simulator)
    worker = stack.worker(env={**case.env, **PATIENT})
    account = case.send(stack, tenant)
    count = SendRecord.objects.count()

    wait_until(
        lambda: stack.simulator.stats().get(case.provider, {}).get("answers_held") == 1,
        message=f"{case.provider} took the request and holds its answer",
    )
    assert stack.simulator.stats()[case.provider]["numbers"] == count
    assert set(SendRecord.objects.values_list("state", flat=True)) == {RecordState.SENDING}
    worker.kill()  # SIGKILL to the process group: the main process and its pool children
    stack.simulator.configure(answer_delay_ms={case.provider: 0})  # to a dead socket
    stack.worker(beat=True, env={**case.env, **FAST_SWEEPS})

    wait_until(all_final(count), timeout=60, message=f"{count} record(s) final after the kill")
    stats = stack.simulator.stats()
    assert set(stats) == {case.provider}  # nothing failed over to another provider
    sent = stats[case.provider]
    assert (sent["numbers"], sent["distinct_numbers"], sent["duplicated_numbers"]) == (count, count, 0)
    assert sent["requests"] == 1  # one request taken (a refused repeat is not counted)
    for record in SendRecord.objects.all():
        assert (record.provider, record.state, record.attempts) == (case.provider, case.ends, case.attempts)
        assert (record.unknown_at is not None) == case.went_unknown, record.remark
        if case.provider_code:
            assert record.provider_code == case.provider_code
        assert not record.refunded  # delivered, or kept billed: the provider took it
    owner = next(iter(account.values()))
    owner.refresh_from_db()
    spent = sum(SendRecord.objects.values_list("segments", flat=True))
    assert owner.balance_nums == RECHARGE - spent
    assert ledger_matches_balance(account)

"""Uplinks at the provider layer: each provider's documented pull answer parsed, the natural key
that makes a repeated push or pull the same uplink, and the simulator's pull APIs."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from tencentcloud.sms.v20210111 import models

from providers.base import InboundMessage, phone_key
from providers.gateway import GatewayAdapter
from providers.tencent import TencentAdapter

# Seed 002's /api/v1/mo answer (its example's stray braces around the array made valid JSON: the
# array is ``data``), numbers masked and ``extNo`` an integer as the seed shows them.
SEED_MO_ANSWER = {
    "code": "00",
    "data": [
        {"mobile": "138****1234", "content": "端午节快乐", "times": "2019-04-12 17:57:08", "extNo": 10},
        {"mobile": "139****1234", "content": "端午节快乐", "times": "2019-04-12 17:57:08", "extNo": 10},
    ],
    "message": "成功",
}
# Tencent's PullSmsReplyStatus answer (API 2021-01-11, its documented example's fields).
DOC_PULL_REPLY_ANSWER = {
    "PullSmsReplyStatusSet": [
        {
            "ExtendCode": "01",
            "CountryCode": "86",
            "PhoneNumber": "+8618501234444",
            "SignName": "腾讯云",
            "ReplyContent": "我要退订",
            "ReplyTime": 1620000000,
            "SubscriberNumber": "18501234444",
        }
    ],
    "RequestId": "a0aabda6-cf91-4f3e-a36b-bd70c4a3ee8f",
}
BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_seed_002_mo_answer_parses_to_uplinks(monkeypatch):
    monkeypatch.setattr(GatewayAdapter, "_call", lambda self, path, data: SEED_MO_ANSWER)
    first, second = GatewayAdapter().pull_uplinks()
    assert (first.provider, first.phone, first.text, first.extend) == (
        "gateway",
        "138****1234",
        "端午节快乐",
        "10",
    )
    assert first.received_at == dt.datetime(2019, 4, 12, 17, 57, 8, tzinfo=BEIJING)
    assert second.phone == "139****1234"


def test_a_malformed_mo_item_is_skipped_not_the_pull(monkeypatch):
    answer = {**SEED_MO_ANSWER, "data": [{"content": "no mobile"}, SEED_MO_ANSWER["data"][0]]}
    monkeypatch.setattr(GatewayAdapter, "_call", lambda self, path, data: answer)
    [message] = GatewayAdapter().pull_uplinks()
    assert message.phone == "138****1234"


@pytest.mark.parametrize("data", [None, [], {}, "x"])
def test_an_empty_mo_answer_is_no_uplinks(monkeypatch, data):
    monkeypatch.setattr(GatewayAdapter, "_call", lambda self, path, _: {"code": "00", "data": data})
    assert GatewayAdapter().pull_uplinks() == []


def test_documented_pull_reply_answer_parses_to_uplinks(monkeypatch):
    response = models.PullSmsReplyStatusResponse()
    response._deserialize(json.loads(json.dumps(DOC_PULL_REPLY_ANSWER)))
    calls = []

    def call(self, method, request):
        calls.append((method, request.SmsSdkAppId, request.Limit))
        return response

    monkeypatch.setattr(TencentAdapter, "_call", call)
    [message] = TencentAdapter().pull_uplinks()
    assert calls == [("PullSmsReplyStatus", "1400000001", 100)]
    assert (message.provider, message.phone, message.text, message.sign, message.extend) == (
        "tencent",
        "+8618501234444",
        "我要退订",
        "腾讯云",
        "01",
    )
    assert message.received_at == dt.datetime.fromtimestamp(1620000000, tz=dt.UTC)


@pytest.mark.parametrize(
    ("phone", "key"),
    [
        ("13812341234", "138*1234"),
        ("+8613812341234", "138*1234"),
        ("8613812341234", "138*1234"),
        ("138****1234", "138*1234"),
        ("+447700900123", "447700900123"),
    ],
)
def test_a_number_keys_the_same_masked_or_not(phone, key):
    assert phone_key(phone) == key


def test_the_natural_key_is_provider_number_time_and_text():
    when = dt.datetime(2019, 4, 12, 9, 57, 8, tzinfo=dt.UTC)
    base = InboundMessage(provider="gateway", phone="13812341234", text="好", received_at=when)
    assert base.natural_key == InboundMessage("gateway", "138****1234", "好", received_at=when).natural_key
    assert (
        base.natural_key
        == InboundMessage("gateway", "13812341234", "好", received_at=when, extend="1").natural_key
    )
    for other in (
        InboundMessage("tencent", "13812341234", "好", received_at=when),
        InboundMessage("gateway", "13812341235", "好", received_at=when),
        InboundMessage("gateway", "13812341234", "好的", received_at=when),
        InboundMessage("gateway", "13812341234", "好", received_at=when + dt.timedelta(seconds=1)),
        InboundMessage("gateway", "13812341234", "好"),
    ):
        assert other.natural_key != base.natural_key


# --- the simulator's pull APIs -------------------------------------------------------------------


def test_the_gateway_simulator_serves_held_uplinks_on_mo_once(simulator):
    answer = simulator.inject_uplink(
        provider="gateway", mobile="13100000001", text="TD", extend="10", time=1555063028
    )
    assert answer == {"status": "held", "acknowledged": 0, "held": True}
    [message] = GatewayAdapter().pull_uplinks()
    assert (message.phone, message.text, message.extend) == ("13100000001", "TD", "10")
    assert message.received_at == dt.datetime.fromtimestamp(1555063028, tz=dt.UTC)
    assert GatewayAdapter().pull_uplinks() == []


def test_the_tencent_simulator_serves_pull_sms_reply_status(simulator):
    for index in range(120):
        simulator.inject_uplink(
            provider="tencent", mobile=f"+86131{index:08d}", text=f"回复{index}", sign="去采购"
        )
    first, second, third = (TencentAdapter().pull_uplinks() for _ in range(3))
    assert (len(first), len(second), third) == (100, 20, [])
    assert (first[0].phone, first[0].text, first[0].sign) == ("+8613100000000", "回复0", "去采购")


def test_the_simulator_repeats_a_push_and_holds_it_when_asked(simulator, live_server):
    simulator.configure(
        push=True,
        push_targets={
            "gateway": {"uplink": f"{live_server.url}/providers/gateway/uplink?token=test-callback-token"}
        },
    )
    answer = simulator.inject_uplink(provider="gateway", mobile="13100000001", text="TD", repeat=2, hold=True)
    assert answer == {"status": "pushed", "acknowledged": 2, "held": True}
    assert len(simulator.state.held_uplinks["gateway"]) == 1

"""The sjroom international gateway (seed 004): its documented answers, and real HTTP against the simulator."""

import copy
import json
from types import SimpleNamespace

import pytest

from providers import sjroom
from providers.base import (
    OutcomeStatus,
    OutgoingMessage,
    ProviderRequestRejected,
    ProviderUnavailable,
    ReportStatus,
)
from providers.sjroom import (
    Channel,
    SjroomAdapter,
    choose_channel,
    clear_channel_cache,
    parse_balance,
    parse_channels,
    parse_query,
    parse_submit,
)

UK, US, HK, SG, RU = "+447911123456", "+14155552671", "+85291234567", "+6591234567", "+79161234567"

# Seed 004's response examples, verbatim.
SEED_LIST = """[
\t{
\t\t"countryCode": "",
\t\t"countryOperator": "",
\t\t"customerPrice": 0,
\t\t"goodsSupplySmsConfigId": 0,
\t\t"nameEn": "",
\t\t"nameZh": "",
\t\t"status": 0
\t}
]"""
SEED_SUBMIT = '{\n  "stateCode": "200",\n  "stateMsg": "成功",\n  "data": "xx"\n}'
SEED_QUERY = '{\n\t"failPhones": [],\n\t"failedNum": 0,\n\t"successNum": 0,\n\t"successPhones": [],\n\t"totalNum": 0\n}'
SEED_BALANCE = '{\n  "stateCode": "200",\n  "stateMsg": "成功",\n  "data": "0"\n}'


def _suffix(phone: str, suffix: str) -> str:
    return phone[:-4] + suffix


def _messages(*phones: str, content: str = "Your code is 112095") -> list[OutgoingMessage]:
    return [
        OutgoingMessage(record_id=index + 1, phone_e164=phone, content=content)
        for index, phone in enumerate(phones)
    ]


def _channel(config_id: int, code: str, price: float = 1.0, enabled: bool = True) -> Channel:
    return Channel(config_id=config_id, country_code=code, price=price, enabled=enabled)


@pytest.fixture(autouse=True)
def _fresh_channel_cache():
    clear_channel_cache()
    yield
    clear_channel_cache()


# --- the seed's own answers ---


def test_seed_channel_list_parses_and_its_empty_disabled_channel_serves_no_number():
    [channel] = parse_channels(json.loads(SEED_LIST))
    assert (channel.config_id, channel.country_code, channel.price, channel.enabled) == (0, "", 0.0, False)
    assert choose_channel([channel], "447911123456") is None


def test_seed_submit_answer_gives_the_batch_number():
    assert parse_submit(json.loads(SEED_SUBMIT)) == sjroom.SubmitAnswer("200", "成功", "xx")


def test_seed_query_answer_settles_no_number():
    answer = parse_query(json.loads(SEED_QUERY))
    assert (answer.delivered, answer.failed, answer.total) == (frozenset(), frozenset(), 0)


def test_query_phones_are_normalised_to_digits_with_or_without_plus():
    answer = parse_query(
        {"successPhones": ["+447911123456", "14155552671"], "failPhones": ["+447911120004"], "totalNum": 3}
    )
    assert answer.delivered == {"447911123456", "14155552671"}
    assert answer.failed == {"447911120004"}


def test_seed_balance_is_a_string_of_money():
    balance = parse_balance(json.loads(SEED_BALANCE))
    assert (balance.provider, balance.remaining, balance.unit) == ("sjroom", 0, "money")
    assert parse_balance({"stateCode": "200", "data": "1234.56"}).remaining == 1234


def test_country_code_with_a_plus_is_kept_as_digits():
    [channel] = parse_channels([{"goodsSupplySmsConfigId": 7, "countryCode": "+44", "status": 1}])
    assert (channel.country_code, channel.enabled) == ("44", True)


def test_longest_prefix_wins_then_the_cheapest_of_one_country():
    channels = [
        _channel(1, "8", price=0.1),
        _channel(2, "852", price=0.9),
        _channel(3, "852", price=0.3),
        _channel(4, "852", price=0.01, enabled=False),
    ]
    assert choose_channel(channels, "85291234567").config_id == 3
    assert choose_channel(channels, "81312345678").config_id == 1


def test_non_json_answer_is_provider_unavailable(monkeypatch):
    def answer_html(self, url, **kwargs):
        return SimpleNamespace(status_code=200, json=lambda: json.loads("<html>"))

    monkeypatch.setattr(SjroomAdapter, "post", answer_html)
    with pytest.raises(ProviderUnavailable):
        SjroomAdapter().balance()


# --- over HTTP, against the simulator ---


def test_each_number_goes_to_the_channel_of_its_country(simulator):
    outcomes = SjroomAdapter().send(_messages(US, HK, SG), dispatch_id="b1")
    assert all(outcome.accepted for outcome in outcomes)
    # The simulator refuses a number not of the channel's country: three accepted submits.
    assert simulator.stats()["sjroom"]["requests"] == 3
    assert simulator.state.received["sjroom"] == {"14155552671": 1, "85291234567": 1, "6591234567": 1}


def test_number_of_a_disabled_channel_fails_with_no_channel_and_is_not_sent(simulator):
    outcomes = SjroomAdapter().send(_messages(RU, UK), dispatch_id="b1")
    assert (outcomes[0].status, outcomes[0].code) == (OutcomeStatus.FAILED, "NoChannel")
    assert outcomes[1].accepted
    assert "79161234567" not in simulator.state.received["sjroom"]


def test_mixed_uk_and_us_batch_is_two_submits_with_batch_and_digits_ids(simulator):
    outcomes = SjroomAdapter().send(_messages(UK, US, _suffix(UK, "0001")), dispatch_id="b1")
    assert all(outcome.accepted for outcome in outcomes)
    assert simulator.stats()["sjroom"]["requests"] == 2
    batches = [outcome.provider_message_id.split(":")[0] for outcome in outcomes]
    assert batches[0] == batches[2] != batches[1]
    assert [outcome.provider_message_id.split(":")[1] for outcome in outcomes] == [
        "447911123456",
        "14155552671",
        "447911120001",
    ]


def test_channel_list_is_fetched_once_and_cached(simulator, monkeypatch):
    adapter = SjroomAdapter()
    calls = []
    real_call = adapter._call

    def counting_call(path, payload=None):
        calls.append(path)
        return real_call(path, payload)

    monkeypatch.setattr(adapter, "_call", counting_call)
    adapter.send(_messages(UK), dispatch_id="b1")
    adapter.send(_messages(US), dispatch_id="b2")
    assert calls.count("/api/open/int/sms/list") == 1


def test_pulled_reports_deliver_normal_numbers_and_fail_undelivered_ones(simulator):
    adapter = SjroomAdapter()
    undelivered = _suffix(UK, "0004")
    outcomes = adapter.send(_messages(UK, undelivered, US), dispatch_id="b1")
    ids = [outcome.provider_message_id for outcome in outcomes]
    reports = {report.provider_message_id: report for report in adapter.pull_reports(ids)}
    assert reports[ids[0]].status is ReportStatus.DELIVERED
    assert (reports[ids[1]].status, reports[ids[1]].code) == (ReportStatus.FAILED, "FAIL")
    assert reports[ids[1]].phone == undelivered
    assert reports[ids[2]].status is ReportStatus.DELIVERED


def test_unsettled_batch_gives_no_report(simulator):
    simulator.configure(report_delay_ms=60000)
    adapter = SjroomAdapter()
    outcomes = adapter.send(_messages(UK, _suffix(UK, "0004")), dispatch_id="b1")
    assert all(outcome.accepted for outcome in outcomes)
    assert adapter.pull_reports([outcome.provider_message_id for outcome in outcomes]) == []


def test_unknown_batch_gives_no_report(simulator):
    assert SjroomAdapter().pull_reports(["nosuchbatch:447911123456"]) == []


def test_wrong_password_is_refused(simulator, settings):
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["sjroom"]["password"] = "wrong"
    settings.SMS_PROVIDERS = providers
    with pytest.raises(ProviderRequestRejected) as refused:
        SjroomAdapter().send(_messages(UK), dispatch_id="b1")
    assert refused.value.code == "401"
    assert simulator.stats()["sjroom"]["refused_requests"] == 1


@pytest.mark.parametrize("suffix", ["0500", "0408"], ids=["server-error", "timeout"])
def test_server_error_and_timeout_are_provider_unavailable(simulator, suffix):
    with pytest.raises(ProviderUnavailable):
        SjroomAdapter().send(_messages(UK, _suffix(UK, suffix)), dispatch_id="b1")


def test_provider_down_is_provider_unavailable(simulator):
    simulator.configure(down=["sjroom"])
    with pytest.raises(ProviderUnavailable):
        SjroomAdapter().send(_messages(UK), dispatch_id="b1")


def test_balance_is_the_providers_and_drops_by_numbers_sent(simulator):
    adapter = SjroomAdapter()
    before = adapter.balance()
    assert (before.remaining, before.unit) == (simulator.state.balances["sjroom"], "money")
    adapter.send(_messages(UK, US, HK), dispatch_id="b1")
    assert adapter.balance().remaining == before.remaining - 3


def test_more_than_10000_numbers_is_refused_before_sending(simulator):
    with pytest.raises(ValueError):
        SjroomAdapter().send(_messages(*[f"+4479{i:08d}" for i in range(10001)]), dispatch_id="b1")
    assert "sjroom" not in simulator.stats()


def test_empty_batch_sends_nothing(simulator):
    assert SjroomAdapter().send([], dispatch_id="b1") == []
    assert "sjroom" not in simulator.stats()


def test_a_later_submit_failing_fails_only_its_numbers_once_one_was_accepted(simulator):
    outcomes = SjroomAdapter().send(_messages(UK, _suffix(US, "0500")), dispatch_id="b1")
    assert outcomes[0].accepted
    assert (outcomes[1].status, outcomes[1].code) == (OutcomeStatus.FAILED, "Unavailable")
    assert simulator.stats()["sjroom"]["requests"] == 1

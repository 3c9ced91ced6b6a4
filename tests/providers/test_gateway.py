"""The domestic gateway (seed 002): its documented payloads, and real HTTP against the simulator."""

import copy
import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from providers.base import (
    CallbackParseError,
    OutgoingMessage,
    ProviderRequestRejected,
    ProviderUnavailable,
    ReportStatus,
)
from providers.gateway import GatewayAdapter

# Seed 002's pushed status report and pushed uplink, verbatim but for the comments.
SEED_STATUS_PUSH = b'{"sendId": "b681adb3-fc1a-422d-80dd-b95cec7be769", "mobile": "13500009831", "times": "2019-04-12 17:57:08", "status": "DELIVRD"}'
SEED_UPLINK_PUSH = (
    '{"mobile": "139", "content": "端午节快乐", "times": "2019-04-12 17:57:08", "extNo": "10"}'.encode()
)


def _messages(*phones: str, content: str = "【去采购】您的验证码为112095") -> list[OutgoingMessage]:
    return [
        OutgoingMessage(record_id=index + 1, phone_e164=phone, content=content)
        for index, phone in enumerate(phones)
    ]


def test_seed_status_push_is_a_delivered_report_keyed_by_task_and_mobile():
    [report] = GatewayAdapter().parse_status_callback(SEED_STATUS_PUSH)
    assert report.status is ReportStatus.DELIVERED
    assert report.provider_message_id == "b681adb3-fc1a-422d-80dd-b95cec7be769:13500009831"


def test_any_status_but_delivrd_is_a_failure_with_its_code():
    [report] = GatewayAdapter().parse_status_callback(
        b'[{"sendId": "t", "mobile": "13600000014", "status": "MBBLACK"}]'
    )
    assert (report.status, report.code) == (ReportStatus.FAILED, "MBBLACK")


def test_seed_uplink_push_parses():
    [message] = GatewayAdapter().parse_uplink_callback(SEED_UPLINK_PUSH)
    assert (message.phone, message.text, message.extend) == ("139", "端午节快乐", "10")


def test_malformed_push_is_refused():
    with pytest.raises(CallbackParseError):
        GatewayAdapter().parse_status_callback(b'{"sendId": "t"}')


def test_send_posts_one_request_and_accepts_every_number(simulator):
    outcomes = GatewayAdapter().send(_messages("+8613100000001", "+8613100000002"), dispatch_id="task-1")
    assert [o.provider_message_id for o in outcomes] == ["task-1:13100000001", "task-1:13100000002"]
    assert all(o.accepted for o in outcomes)
    assert simulator.stats()["gateway"] == {
        "requests": 1,
        "refused_requests": 0,
        "numbers": 2,
        "distinct_numbers": 2,
        "duplicated_numbers": 0,
        "reports_pushed": 0,
        "reports_acknowledged": 0,
        "parts_billed": 2,
        "answers_held": 0,
    }


def test_the_simulator_sends_a_repeated_task_id_again_and_counts_the_duplicate(simulator):
    """Seed 002 does not say the gateway refuses a repeat: by default the simulator does not
    either, so a resend shows in ``duplicated_numbers`` instead of hiding."""
    adapter = GatewayAdapter()
    adapter.send(_messages("+8613100000001"), dispatch_id="task-1")
    [again] = adapter.send(_messages("+8613100000001"), dispatch_id="task-1")
    assert (again.accepted, again.code) == (True, "00")
    stats = simulator.stats()["gateway"]
    assert (stats["requests"], stats["numbers"], stats["duplicated_numbers"]) == (2, 2, 1)


def test_a_simulator_told_to_refuse_repeats_answers_08_read_as_already_accepted(simulator):
    simulator.configure(gateway_refuse_repeated_task_id=True)
    adapter = GatewayAdapter()
    adapter.send(_messages("+8613100000001"), dispatch_id="task-1")
    [again] = adapter.send(_messages("+8613100000001"), dispatch_id="task-1")
    assert (again.accepted, again.code, again.provider_message_id) == (True, "08", "task-1:13100000001")
    stats = simulator.stats()["gateway"]
    assert (stats["numbers"], stats["duplicated_numbers"]) == (1, 0)


def test_refusing_repeats_is_a_boolean_simulator_setting(simulator):
    import requests

    answer = requests.post(
        f"{simulator.url}/_sim/config", json={"gateway_refuse_repeated_task_id": "yes"}, timeout=5
    )
    assert answer.status_code == 400
    assert simulator.state.config.gateway_refuse_repeated_task_id is False


def test_the_adapter_resends_under_the_same_task_id_only_when_the_operator_says_so(settings):
    assert GatewayAdapter().idempotent_resend is False
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["gateway"]["refuses_repeated_task_id"] = True
    settings.SMS_PROVIDERS = providers
    assert GatewayAdapter().idempotent_resend is True


@pytest.mark.parametrize(
    ("env", "refuses"), [({}, False), ({"GATEWAY_SMS_REFUSES_REPEATED_TASK_ID": "true"}, True)]
)
def test_refusing_repeats_comes_from_its_environment_variable(env, refuses):
    program = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SMS_PROVIDERS['gateway']['refuses_repeated_task_id'])"
    )
    environ = {k: v for k, v in os.environ.items() if k != "GATEWAY_SMS_REFUSES_REPEATED_TASK_ID"}
    loaded = subprocess.run(
        [sys.executable, "-c", program],
        env={**environ, "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert loaded.stdout.strip() == str(refuses)


def test_wrong_password_is_refused(simulator, settings):
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["gateway"]["password"] = "wrong"
    settings.SMS_PROVIDERS = providers
    with pytest.raises(ProviderRequestRejected):
        GatewayAdapter().send(_messages("+8613100000001"), dispatch_id="t")


@pytest.mark.parametrize("phone", ["+8613100000500", "+8613100000408"])
def test_server_error_and_timeout_are_provider_unavailable(simulator, phone):
    with pytest.raises(ProviderUnavailable):
        GatewayAdapter().send(_messages("+8613100000001", phone), dispatch_id="t")


def test_pulled_reports_name_the_task_and_the_masked_number_as_seed_002_shows(simulator):
    adapter = GatewayAdapter()
    adapter.send(_messages("+8613100000001", "+8613100000004", "+8613100000005"), dispatch_id="t9")
    reports = {report.phone: report for report in adapter.pull_reports()}
    assert set(reports) == {"131****0001", "131****0004", "131****0005"}
    assert {(r.dispatch_id, r.provider_message_id) for r in reports.values()} == {("t9", "")}
    assert reports["131****0001"].status is ReportStatus.DELIVERED
    assert (reports["131****0004"].status, reports["131****0004"].code) == (ReportStatus.FAILED, "UNDELIV")
    assert reports["131****0005"].status is ReportStatus.FAILED


def test_the_documented_pulled_report_parses_with_its_mask():
    from providers.gateway import _report

    report = _report(
        {
            "sendId": "b681adb3-fc1a-422d-80dd-b95cec7be769",
            "status": "DELIVER",
            "times": "2019-04-12 17:57:08",
            "mobile": "135****9831",
            "extNo": "",
        }
    )
    assert (report.status, report.dispatch_id, report.phone, report.provider_message_id) == (
        ReportStatus.DELIVERED,
        "b681adb3-fc1a-422d-80dd-b95cec7be769",
        "135****9831",
        "",
    )


def test_pulled_uplinks_come_from_the_mo_api(simulator):
    import requests

    requests.post(
        f"{simulator.url}/_sim/uplink",
        json={"provider": "gateway", "mobile": "13100000001", "text": "TD"},
        timeout=5,
    )
    [message] = GatewayAdapter().pull_uplinks()
    assert (message.phone, message.text) == ("13100000001", "TD")


def test_balance_drops_by_numbers_sent(simulator):
    adapter = GatewayAdapter()
    before = adapter.balance().remaining
    adapter.send(_messages("+8613100000001", "+8613100000002", "+8613100000003"), dispatch_id="t")
    assert adapter.balance().remaining == before - 3


def test_more_than_3000_numbers_is_refused_before_sending(simulator):
    with pytest.raises(ValueError):
        GatewayAdapter().send(_messages(*[f"+86131{i:08d}" for i in range(3001)]), dispatch_id="t")


def test_the_duplicate_task_code_is_read_from_the_gateways_own_configuration(simulator, settings):
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["gateway"]["duplicate_task_code"] = "99"  # not what the simulator answers (08)
    settings.SMS_PROVIDERS = providers
    simulator.configure(gateway_refuse_repeated_task_id=True)
    adapter = GatewayAdapter()
    adapter.send(_messages("+8613100000001"), dispatch_id="task-1")
    [again] = adapter.send(_messages("+8613100000001"), dispatch_id="task-1")
    assert (again.accepted, again.code, again.provider_message_id) == (False, "08", "")


@pytest.mark.parametrize(("env", "code"), [({}, "08"), ({"GATEWAY_DUPLICATE_TASK_CODE": "42"}, "42")])
def test_the_duplicate_task_code_comes_from_its_environment_variable(env, code):
    program = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SMS_PROVIDERS['gateway']['duplicate_task_code'])"
    )
    environ = {k: v for k, v in os.environ.items() if k != "GATEWAY_DUPLICATE_TASK_CODE"}
    loaded = subprocess.run(
        [sys.executable, "-c", program],
        env={**environ, "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert loaded.stdout.strip().splitlines()[-1] == code


def test_the_gateway_has_no_template_listing():
    with pytest.raises(ProviderRequestRejected):
        GatewayAdapter().approved_templates(["1001"])


def test_the_simulator_writes_times_in_beijing_time_on_a_machine_in_utc(monkeypatch):
    """make run's simulator is a plain process in the machine's zone (UTC on most servers): its
    uplinks and reports were stamped 8 hours early there, so no reply matched the message it
    answered (docs/api-platform.md's v1/uplink example)."""
    import time

    from providers.simulator.protocols import gateway as simulated

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        uplink = simulated.make_uplink({"mobile": "13100000001", "text": "1", "time": 1_000_000_000})
    finally:
        monkeypatch.undo()
        time.tzset()
    assert uplink["times"] == "2001-09-09 09:46:40"
    [message] = GatewayAdapter().parse_uplink_callback(json.dumps(uplink).encode(), "application/json")
    assert message.received_at == dt.datetime(2001, 9, 9, 1, 46, 40, tzinfo=dt.UTC)

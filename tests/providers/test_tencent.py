"""Tencent Cloud SMS: the documented payloads parsed verbatim, and the real SDK against the simulator."""

import copy
import json

import pytest

from providers.base import (
    CallbackParseError,
    OutgoingMessage,
    ProviderOutcomeUncertain,
    ProviderRequestRejected,
    ProviderUnavailable,
    RegisteredTemplate,
    ReportStatus,
)
from providers.tencent import TencentAdapter, parse_reply, parse_status_reports

# Tencent's documented status-report push (an array) and reply push (one object), verbatim.
DOC_STATUS_PUSH = b"""[
    {
        "user_receive_time": "2015-10-17 08:03:04",
        "nationcode": "86",
        "mobile": "13xxxxxxxxx",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "\xe7\x94\xa8\xe6\x88\xb7\xe7\x9f\xad\xe4\xbf\xa1\xe9\x80\x81\xe8\xbe\xbe\xe6\x88\x90\xe5\x8a\x9f",
        "sid": "xxxxxxx"
    }
]"""
DOC_REPLY_PUSH = b"""{
    "extend": "",
    "mobile": "13xxxxxxxxx",
    "nationcode": "86",
    "sign": "\xe8\x85\xbe\xe8\xae\xaf\xe4\xba\x91",
    "text": "\xe5\x9b\x9e\xe5\xa4\x8d\xe5\x86\x85\xe5\xae\xb9",
    "time": 1457336869
}"""


def _message(record_id: int, phone: str, params=("112095",)) -> OutgoingMessage:
    return OutgoingMessage(
        record_id=record_id,
        phone_e164=phone,
        content="",
        template_id="1003",
        template_params=params,
        sign_name="去采购",
    )


def test_documented_status_push_parses_to_a_delivered_report():
    [report] = parse_status_reports(DOC_STATUS_PUSH)
    assert report.status is ReportStatus.DELIVERED
    assert (report.provider_message_id, report.code, report.description) == (
        "xxxxxxx",
        "DELIVRD",
        "用户短信送达成功",
    )
    assert report.occurred_at.isoformat() == "2015-10-17T08:03:04+08:00"


def test_failed_report_keeps_tencent_code_and_description():
    body = json.dumps(
        [
            {
                "sid": "s1",
                "report_status": "FAIL",
                "errmsg": "MK:0001",
                "description": "空号",
                "mobile": "13100000004",
            }
        ]
    )
    [report] = parse_status_reports(body.encode())
    assert (report.status, report.code, report.description) == (ReportStatus.FAILED, "MK:0001", "空号")


def test_documented_reply_push_parses_to_an_inbound_message():
    [message] = parse_reply(DOC_REPLY_PUSH)
    assert (message.phone, message.text, message.sign) == ("13xxxxxxxxx", "回复内容", "腾讯云")
    assert message.received_at.timestamp() == 1457336869


@pytest.mark.parametrize(
    "body", [b"not json", b'"x"', b'[{"sid": ""}]', b'[{"sid": "s", "report_status": "MAYBE"}]']
)
def test_malformed_status_push_is_refused(body):
    with pytest.raises(CallbackParseError):
        parse_status_reports(body)


def test_sdk_send_accepts_each_number_with_its_serial(simulator):
    outcomes = TencentAdapter().send(
        [_message(1, "+8613100000001"), _message(2, "+8613100000002")], dispatch_id="b1"
    )
    assert [outcome.accepted for outcome in outcomes] == [True, True]
    assert all(outcome.provider_message_id.startswith("2640:") for outcome in outcomes)
    assert simulator.stats()["tencent"]["numbers"] == 2


def test_sdk_send_refused_number_fails_alone_with_its_code(simulator):
    outcomes = TencentAdapter().send(
        [_message(1, "+8613100000001"), _message(2, "+8613100000005")], dispatch_id="b1"
    )
    assert outcomes[0].accepted and not outcomes[1].accepted
    assert outcomes[1].code == "FailedOperation.PhoneNumberInBlacklist"


def test_wrong_secret_key_is_refused_by_signature_check(simulator, settings):
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["tencent"]["secret_key"] = "wrong"
    settings.SMS_PROVIDERS = providers
    with pytest.raises(ProviderRequestRejected) as refused:
        TencentAdapter().send([_message(1, "+8613100000001")], dispatch_id="b1")
    assert refused.value.code == "AuthFailure.SignatureFailure"
    assert "tencent" not in simulator.stats()


def test_server_error_is_provider_unavailable(simulator):
    with pytest.raises(ProviderUnavailable):
        TencentAdapter().send([_message(1, "+8613100000500")], dispatch_id="b1")


def test_timeout_is_provider_unavailable(simulator):
    with pytest.raises(ProviderUnavailable):
        TencentAdapter().send([_message(1, "+8613100000408")], dispatch_id="b1")


def test_no_answer_after_the_request_left_is_an_uncertain_outcome(simulator):
    """A read timeout: Tencent may have the message (the simulator took it), so it is uncertain."""
    with pytest.raises(ProviderOutcomeUncertain):
        TencentAdapter().send([_message(1, "+8613100000409")], dispatch_id="b1")
    assert simulator.state.times_received("tencent", "+8613100000409") == 1


def test_fee_is_the_parts_tencent_billed_for_its_registered_template(simulator):
    [short] = TencentAdapter().send([_message(1, "+8613112341234")], dispatch_id="b1")
    simulator.configure(templates={"1003": "您的验证码为{1}。" + "请勿泄露。" * 14})
    [long] = TencentAdapter().send([_message(2, "+8613112341234")], dispatch_id="b2")
    assert (short.billed_parts, long.billed_parts) == (1, 2)


def test_an_unregistered_template_is_refused(simulator):
    message = OutgoingMessage(
        record_id=1, phone_e164="+8613112341234", content="", template_id="999", sign_name="x"
    )
    with pytest.raises(ProviderRequestRejected) as refused:
        TencentAdapter().send([message], dispatch_id="b1")
    assert refused.value.code == "FailedOperation.TemplateIncorrectOrUnapproved"


def test_registered_templates_come_from_describe_sms_template_list(simulator):
    simulator.configure(templates={"1003": "验证码{1}"})
    assert TencentAdapter().registered_templates(["1001", "1003", "424242"]) == {
        "1001": "您的商城订单{1}已提交成功，我们将尽快为您安排配送。",
        "1003": "验证码{1}",
    }


def test_approved_templates_write_tencents_numbered_parameters_as_braces(simulator, settings):
    simulator.configure(templates={"1003": "验证码{1}，{2}分钟内有效"})
    adapter = TencentAdapter()
    assert adapter.approved_templates(["1003", "424242"]) == {
        "1003": RegisteredTemplate(
            template_id="1003", text="验证码{1}，{2}分钟内有效", comparable="验证码{}，{}分钟内有效"
        )
    }
    assert adapter.default_sign_name == settings.SMS_PROVIDERS["tencent"]["sign_name"]


def test_provider_down_is_unavailable(simulator):
    simulator.configure(down=["tencent"])
    with pytest.raises(ProviderUnavailable):
        TencentAdapter().send([_message(1, "+8613100000001")], dispatch_id="b1")


def test_more_than_200_numbers_per_call_is_refused_before_sending(simulator):
    with pytest.raises(ValueError):
        TencentAdapter().send([_message(i, f"+86131{i:08d}") for i in range(201)], dispatch_id="b1")


def test_pulled_reports_match_the_serials_sent(simulator):
    adapter = TencentAdapter()
    outcomes = adapter.send([_message(1, "+8613100000001"), _message(2, "+8613100000004")], dispatch_id="b1")
    reports = {report.provider_message_id: report for report in adapter.pull_reports()}
    assert reports[outcomes[0].provider_message_id].status is ReportStatus.DELIVERED
    assert reports[outcomes[1].provider_message_id].status is ReportStatus.FAILED
    assert adapter.pull_reports() == []  # pulled once


def test_package_balance_drops_by_what_was_sent(simulator):
    adapter = TencentAdapter()
    before = adapter.balance().remaining
    adapter.send([_message(1, "+8613100000001"), _message(2, "+8613100000002")], dispatch_id="b1")
    assert adapter.balance().remaining == before - 2

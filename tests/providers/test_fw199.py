"""fw199, the Douyin shop gateway (seed 003): its signing rule, its documented answer, and real
HTTP against the simulator."""

import copy
import hashlib
import json
import time
from dataclasses import replace

import pytest
import requests

from providers.base import (
    DouyinTemplate,
    OutcomeStatus,
    OutgoingMessage,
    ProviderRequestRejected,
    ProviderUnavailable,
)
from providers.fw199 import Fw199Adapter, build_request_data, parse_send_answer, sign

# Seed 003's post_tel example: a Douyin phone ciphertext.
SEED_CIPHERTEXT = (
    "$DcwmMAKzUZzUj258P0LNEu8bad1eFd7JmRhBXBwT57s=$PzDIsfCO+TTBInVLz+HpMIBCMLhVelkDGhDwGLF3rSagVB8UTp0EC"
    "46bGp5PzYFMPneQ4Rn3p9YcaPxkRyivTMJQMaj7v5WvJ689hh/WCv6h+Q==*CgkIARCtHCABKAESPgo874EEcU1IKaIbmqHwtm/"
    "yV5qA3KDq84ibA3LfR7ptQc6Cs5x6h1Pwodhx1Nn0Gbsez1EXWjsKEwRQNBHLGgA=$1$$"
)

# Seed 003's successful answer, verbatim.
SEED_SUCCESS_ANSWER = """
{
    "code": 0,
    "message": "ok",
    "data": [
        {
            "code": 0,
            "message": "",
            "order_id": "",
            "message_id": "0a01be41-5403-4731-b6b8-b48d0bb5d986"
        },
        {
            "code": 0,
            "message": "",
            "order_id": "5001789329480019707",
            "message_id": "f2d1acbf-63c9-495b-b18a-91fc15bb4138"
        }
    ]
}
"""


def _message(record_id: int, phone: str = "+8613100000001", order_id: str = "") -> OutgoingMessage:
    """A message of the seed's template ST_72dd4e2c, with its named variables."""
    return OutgoingMessage(
        record_id=record_id,
        phone_e164=phone,
        content="您的订单已发货",
        template_id="ST_72dd4e2c",
        template_vars={"name": "顺丰", "number": "sf3813741222"},
        order_id=order_id,
    )


def _by_phone(*phones: str) -> list[OutgoingMessage]:
    return [_message(index + 1, phone=phone) for index, phone in enumerate(phones)]


def test_sign_is_upper_md5_of_sorted_name_values_wrapped_in_the_secret():
    params = {
        "timestamp": "1657525936",
        "appid": "app-1",
        "sign": "ignored",
        "seller_nick": "oms38173182",
        "request_data": '{"tag":"x"}',
    }
    expected = (
        hashlib.md5(
            b'secret-9appidapp-1request_data{"tag":"x"}seller_nickoms38173182timestamp1657525936secret-9'
        )
        .hexdigest()
        .upper()
    )
    assert sign(params, "secret-9") == expected


def test_seed_answer_accepts_both_messages_matched_by_the_echoed_order_id():
    # The seed's request lists the order-addressed message first, but its answer echoes the order
    # id on the second result: the echoed order id wins over the position.
    batch = [
        _message(1, order_id="5001789329480019707"),
        _message(2, phone="$DcwmMAKzUZzUj258P0LNEu8bad1eFd7JmRhBXBwT57s=$1$$"),
    ]
    outcomes = parse_send_answer(json.loads(SEED_SUCCESS_ANSWER), batch)
    assert [(o.record_id, o.status, o.provider_message_id) for o in outcomes] == [
        (1, OutcomeStatus.ACCEPTED, "f2d1acbf-63c9-495b-b18a-91fc15bb4138"),
        (2, OutcomeStatus.ACCEPTED, "0a01be41-5403-4731-b6b8-b48d0bb5d986"),
    ]


def test_answer_results_map_by_position_and_missing_ones_fail():
    batch = [_message(1), _message(2, phone="+8613100000002"), _message(3, order_id="o-3")]
    answer = {
        "code": 0,
        "message": "ok",
        "data": [
            {"code": 0, "message": "", "order_id": "", "message_id": "m-1"},
            {"code": 0, "message": "", "order_id": "o-3", "message_id": "m-3"},
        ],
    }
    outcomes = parse_send_answer(answer, batch)
    assert [(o.status, o.code, o.provider_message_id) for o in outcomes] == [
        (OutcomeStatus.FAILED, "MissingResult", ""),
        (OutcomeStatus.FAILED, "MissingResult", ""),
        (OutcomeStatus.ACCEPTED, "0", "m-3"),
    ]


def test_outer_failure_fails_every_message_with_its_code():
    outcomes = parse_send_answer(
        {"code": 10001, "message": "系统繁忙", "data": []}, _by_phone("+8613100000001")
    )
    assert [(o.status, o.code, o.description) for o in outcomes] == [
        (OutcomeStatus.FAILED, "10001", "系统繁忙")
    ]


def test_request_data_addresses_by_order_id_else_ciphertext_else_phone_with_named_template_params():
    batch = [
        _message(1, order_id="5001789329480019707"),
        replace(_message(2), phone_ciphertext=SEED_CIPHERTEXT, phone_e164=SEED_CIPHERTEXT),
        _message(3, phone="+8613100000002"),
    ]
    data = build_request_data(batch, dispatch_id="dispatch-7")
    param = '{"name":"顺丰","number":"sf3813741222"}'
    assert data == {
        "sign": "去采购",
        "sms_message_list": [
            {"biz_type": 1, "order_id": "5001789329480019707", "template_param": param},
            {"biz_type": 0, "post_tel": SEED_CIPHERTEXT, "template_param": param},
            {"biz_type": 0, "post_tel": "13100000002", "template_param": param},
        ],
        "template_id": "ST_72dd4e2c",
        "tag": "dispatch-7",
    }
    assert json.loads(data["sms_message_list"][0]["template_param"]) == {
        "name": "顺丰",
        "number": "sf3813741222",
    }


def test_a_message_without_named_variables_numbers_its_template_params():
    message = replace(_message(1), template_vars={}, template_params=("a", "b"))
    [item] = build_request_data([message], dispatch_id="d")["sms_message_list"]
    assert item["template_param"] == '{"1":"a","2":"b"}'


def test_a_batch_shares_one_template_and_signature():
    other = replace(_message(2), template_id="ST_00000001")
    with pytest.raises(ValueError, match="one template id"):
        build_request_data([_message(1), other], dispatch_id="d")
    with pytest.raises(ValueError, match="one template id"):
        build_request_data([_message(1), replace(_message(2), sign_name="别家")], dispatch_id="d")
    with pytest.raises(ValueError, match="needs its template id"):
        build_request_data([replace(_message(1), template_id="")], dispatch_id="d")


def test_douyin_templates_come_from_fw199_templates(settings):
    adapter = Fw199Adapter()
    assert adapter.addresses_douyin
    assert adapter.douyin_template_for(0) == DouyinTemplate("ST_00000000", {"order_id": "order_id"})
    assert adapter.douyin_template_for(1) == DouyinTemplate("ST_00000001", {"order_id": "order_id"})
    assert adapter.douyin_template_for(2) is None
    assert adapter.template_id_for(0) == ""  # never a station message's template: Douyin sends only


def test_send_by_phone_and_by_order_id_are_accepted_with_message_ids(simulator):
    adapter = Fw199Adapter()
    by_phone = adapter.send([_message(1, phone="+8613100000001")], dispatch_id="d-1")
    by_order = adapter.send([_message(2, order_id="5001789329480019707")], dispatch_id="d-2")
    for outcome in by_phone + by_order:
        assert outcome.accepted and outcome.provider_message_id
    assert simulator.state.times_received("fw199", "13100000001") == 1
    assert simulator.state.times_received("fw199", "5001789329480019707") == 1
    assert simulator.stats()["fw199"] == {
        "requests": 2,
        "refused_requests": 0,
        "numbers": 2,
        "distinct_numbers": 2,
        "duplicated_numbers": 0,
        "reports_pushed": 0,
        "reports_acknowledged": 0,
        "parts_billed": 2,
        "answers_held": 0,
    }


def test_refused_number_fails_alone_while_the_others_are_accepted(simulator):
    batch = [
        _message(1, phone="+8613100000001"),
        _message(2, phone="+8613100000005"),
        _message(3, order_id="4000000000000005"),
        _message(4, order_id="4000000000000001"),
    ]
    outcomes = Fw199Adapter().send(batch, dispatch_id="d-3")
    assert [o.accepted for o in outcomes] == [True, False, False, True]
    assert (outcomes[1].code, outcomes[1].description) == ("50001", "号码无效或订单不存在")
    assert simulator.stats()["fw199"]["numbers"] == 4


def test_wrong_app_secret_raises_request_rejected(simulator, settings):
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["fw199"]["app_secret"] = "wrong"
    settings.SMS_PROVIDERS = providers
    with pytest.raises(ProviderRequestRejected) as raised:
        Fw199Adapter().send(_by_phone("+8613100000001"), dispatch_id="d-4")
    assert raised.value.code == "40001"
    assert simulator.stats()["fw199"]["refused_requests"] == 1


@pytest.mark.parametrize("phone", ["+8613100000500", "+8613100000408"], ids=["server-error", "timeout"])
def test_server_error_and_timeout_raise_provider_unavailable(simulator, phone):
    with pytest.raises(ProviderUnavailable):
        Fw199Adapter().send(_by_phone("+8613100000001", phone), dispatch_id="d-5")


def test_provider_down_raises_provider_unavailable(simulator):
    simulator.configure(down=["fw199"])
    with pytest.raises(ProviderUnavailable):
        Fw199Adapter().send(_by_phone("+8613100000001"), dispatch_id="d-6")


def test_more_than_100_messages_raise_value_error():
    with pytest.raises(ValueError, match="at most 100"):
        Fw199Adapter().send(_by_phone(*[f"+86131{index:08d}" for index in range(101)]), dispatch_id="d-7")


def test_empty_batch_sends_nothing(simulator):
    assert Fw199Adapter().send([], dispatch_id="d-8") == []
    assert "fw199" not in simulator.stats()


def test_simulator_takes_template_param_as_an_object_as_in_the_seed_example(simulator):
    request_data = {
        "sign": "群荐的铺子",
        "sms_message_list": [
            {
                "biz_type": 1,
                "template_param": {"name": "顺丰", "number": "sf3813741222"},
                "order_id": "5001789329480019707",
            }
        ],
        "template_id": "ST_72dd4e2c",
    }
    params = {
        "appid": "sim-appid",
        "timestamp": str(int(time.time())),
        "seller_nick": "oms38173182",
        "request_data": json.dumps(request_data, ensure_ascii=False),
    }
    params["sign"] = sign(params, "sim-app-secret")
    answer = requests.post(f"{simulator.url}/gateway/dd/sms/send", data=params, timeout=5).json()
    assert answer["code"] == 0
    assert answer["data"][0]["order_id"] == "5001789329480019707"


def test_simulator_refuses_more_than_100_messages_and_malformed_request_data(simulator):
    def post(request_data: str) -> dict:
        params = {"appid": "sim-appid", "timestamp": "1", "seller_nick": "s", "request_data": request_data}
        params["sign"] = sign(params, "sim-app-secret")
        return requests.post(f"{simulator.url}/gateway/dd/sms/send", data=params, timeout=5).json()

    item = {"biz_type": 0, "post_tel": "13100000001", "template_param": "{}"}
    too_many = json.dumps({"sms_message_list": [item] * 101, "template_id": "t"})
    assert post(too_many)["code"] == 40002
    assert post("not json")["code"] == 40003
    assert post(json.dumps({"sms_message_list": [{"biz_type": 2}], "template_id": "t"}))["code"] == 40003


# --- The simulator checks what seed 003 requires ------------------------------------------------


def _post_signed(simulator, request_data, **overrides) -> dict:
    params = {
        "appid": "sim-appid",
        "timestamp": str(int(time.time())),
        "seller_nick": "oms38173182",
        "request_data": request_data if isinstance(request_data, str) else json.dumps(request_data),
    }
    params.update(overrides)
    params = {name: value for name, value in params.items() if value is not None}
    params["sign"] = sign(params, "sim-app-secret")
    return requests.post(f"{simulator.url}/gateway/dd/sms/send", data=params, timeout=5).json()


def _seed_request_data(**overrides) -> dict:
    """Seed 003's request_data example (its object form of template_param)."""
    data = {
        "sign": "群荐的铺子",
        "sms_message_list": [
            {
                "biz_type": 1,
                "template_param": {"name": "顺丰", "number": "sf3813741222"},
                "order_id": "5001789329480019707",
            },
            {
                "biz_type": 0,
                "template_param": {"name": "中通", "number": "zt381382999"},
                "post_tel": SEED_CIPHERTEXT,
            },
        ],
        "template_id": "ST_72dd4e2c",
    }
    data.update(overrides)
    return data


def _with_item(**item) -> dict:
    return _seed_request_data(sms_message_list=[item])


def test_simulator_takes_the_seed_example_and_keeps_what_it_received(simulator):
    answer = _post_signed(simulator, _seed_request_data())
    assert answer["code"] == 0, answer
    assert [(result["code"], result["order_id"]) for result in answer["data"]] == [
        (0, "5001789329480019707"),
        (0, ""),
    ]
    received = simulator.state.extra["fw199"]["messages"]
    assert [(m["biz_type"], m["address"], m["template_param"]) for m in received] == [
        (1, "5001789329480019707", {"name": "顺丰", "number": "sf3813741222"}),
        (0, SEED_CIPHERTEXT, {"name": "中通", "number": "zt381382999"}),
    ]
    assert {(m["template_id"], m["sms_sign"]) for m in received} == {("ST_72dd4e2c", "群荐的铺子")}


def test_simulator_takes_template_param_as_a_json_string_as_in_the_seed_java_example(simulator):
    item = {"biz_type": 1, "template_param": '{"name":"顺丰","number":"sf3813741333"}', "order_id": "5001"}
    assert _post_signed(simulator, _with_item(**item))["code"] == 0


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"appid": "other-app"}, 40001),
        ({"seller_nick": None}, 40003),
        ({"timestamp": None}, 40003),
        ({"timestamp": "2024-01-01"}, 40003),
    ],
    ids=["appid", "no-seller-nick", "no-timestamp", "timestamp-not-unix"],
)
def test_simulator_refuses_wrong_public_parameters(simulator, overrides, code):
    answer = _post_signed(simulator, _seed_request_data(), **overrides)
    assert (answer["code"], answer["data"]) == (code, [])
    assert answer["message"]
    assert "fw199" not in simulator.stats() or simulator.stats()["fw199"]["numbers"] == 0


def test_simulator_refuses_a_wrong_signature_and_a_missing_one(simulator):
    params = {"appid": "sim-appid", "timestamp": "1", "seller_nick": "s", "request_data": "{}"}
    url = f"{simulator.url}/gateway/dd/sms/send"
    assert requests.post(url, data={**params, "sign": "0" * 32}, timeout=5).json()["code"] == 40001
    assert requests.post(url, data=params, timeout=5).json()["code"] == 40001


@pytest.mark.parametrize(
    ("request_data", "code"),
    [
        (_seed_request_data(sms_message_list=_seed_request_data()["sms_message_list"] * 51), 40002),
        (_seed_request_data(sms_message_list=[]), 40003),
        (_seed_request_data(sign=""), 40003),
        (_seed_request_data(template_id=""), 40003),
        (_seed_request_data(template_id="ST_unknown"), 40004),
        (_with_item(biz_type=1, template_param={"name": "a", "number": "b"}), 40003),
        (_with_item(biz_type=1, order_id="SF-123", template_param={"name": "a", "number": "b"}), 40003),
        (_with_item(biz_type=0, template_param={"name": "a", "number": "b"}), 40003),
        (_with_item(biz_type=0, post_tel="12345", template_param={"name": "a", "number": "b"}), 40003),
        (_with_item(biz_type="1", order_id="5001", template_param={"name": "a", "number": "b"}), 40003),
        (_with_item(biz_type=True, order_id="5001", template_param={"name": "a", "number": "b"}), 40003),
        (_with_item(biz_type=2, order_id="5001", template_param={"name": "a", "number": "b"}), 40003),
        (_with_item(biz_type=1, order_id="5001", template_param={"name": "a"}), 40005),
        (_with_item(biz_type=1, order_id="5001", template_param={"1": "a", "2": "b"}), 40005),
        (
            _with_item(biz_type=1, order_id="5001", template_param={"name": "a", "number": "b", "x": "c"}),
            40005,
        ),
        (_with_item(biz_type=1, order_id="5001", template_param={"name": "a", "number": 7}), 40005),
        (_with_item(biz_type=1, order_id="5001", template_param="not json"), 40005),
        (_with_item(biz_type=1, order_id="5001", template_param=["a", "b"]), 40005),
        (_with_item(biz_type=1, order_id="5001"), 40005),
    ],
    ids=[
        "101-messages",
        "no-messages",
        "no-sms-signature",
        "no-template-id",
        "unknown-template",
        "biz-type-1-without-order-id",
        "order-id-not-a-douyin-order-number",
        "biz-type-0-without-post-tel",
        "post-tel-neither-ciphertext-nor-mobile",
        "biz-type-a-string",
        "biz-type-a-boolean",
        "biz-type-2",
        "a-variable-missing",
        "numbered-not-named",
        "an-unknown-variable",
        "a-value-not-a-string",
        "template-param-not-json",
        "template-param-a-list",
        "no-template-param",
    ],
)
def test_simulator_refuses_request_data_the_seed_does_not_allow(simulator, request_data, code):
    answer = _post_signed(simulator, request_data)
    assert (answer["code"], answer["data"]) == (code, []), answer
    assert "fw199" not in simulator.stats()


def test_simulator_knows_registered_templates_and_takes_new_ones(simulator):
    item = {"biz_type": 1, "order_id": "5001", "template_param": {"code": "1234"}}
    assert (
        _post_signed(simulator, _seed_request_data(template_id="ST_new", sms_message_list=[item]))["code"]
        == 40004
    )
    simulator.configure(fw199_templates={"ST_new": ["code"]})
    assert (
        _post_signed(simulator, _seed_request_data(template_id="ST_new", sms_message_list=[item]))["code"]
        == 0
    )


def test_adapter_sends_the_default_douyin_templates_the_simulator_knows(simulator):
    adapter = Fw199Adapter()
    messages = []
    for kind, record_id in ((0, 1), (1, 2)):
        template = adapter.douyin_template_for(kind)
        messages.append(
            OutgoingMessage(
                record_id=record_id,
                phone_e164=SEED_CIPHERTEXT,
                content="…",
                template_id=template.template_id,
                template_vars={"order_id": f"GM-{kind}"},
                phone_ciphertext=SEED_CIPHERTEXT,
            )
        )
    for message in messages:  # one template per request
        [outcome] = adapter.send([message], dispatch_id=f"d-{message.record_id}")
        assert outcome.accepted, outcome
    received = simulator.state.extra["fw199"]["messages"]
    assert [(m["template_id"], m["template_param"]) for m in received] == [
        ("ST_00000000", {"order_id": "GM-0"}),
        ("ST_00000001", {"order_id": "GM-1"}),
    ]


def test_adapter_fails_every_message_the_simulator_refuses_with_its_code(simulator):
    message = replace(_message(1, order_id="5001"), template_vars={"name": "顺丰"})
    [outcome] = Fw199Adapter().send([message], dispatch_id="d-9")
    assert (outcome.status, outcome.code) == (OutcomeStatus.FAILED, "40005")
    assert "variables" in outcome.description

"""Douyin shop orders through fw199 (seed 003) from the station API: what ``send/add`` accepts
and refuses, how such a record is stored, routed and handed to the adapter, and that it never
fails over to a provider that cannot address it. The whole flow over HTTP with a worker and the
simulator: tests/e2e/test_douyin.py."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from providers.base import ProviderUnavailable
from providers.registry import get_adapter
from sms.models import RecordState, SendRecord, Station
from sms.sending import pipeline, routing
from sms.sending.routing import (
    BatchNeeds,
    next_provider,
    outgoing_message,
    request_key,
    route_for,
    unfit_reason,
)
from sms.station_api import services
from tests.providers.test_fw199 import SEED_CIPHERTEXT

DOUYIN_ORDER = "5001789329480019707"
EXPRESS_TEMPLATES = {
    "0": {"template_id": "ST_72dd4e2c", "params": {"name": "express_company", "number": "express_number"}},
    "1": {"template_id": "ST_00000001", "params": {"order_id": "order_id"}},
}


def fw199_templates(settings, templates: dict) -> None:
    settings.SMS_PROVIDERS = {
        **settings.SMS_PROVIDERS,
        "fw199": {**settings.SMS_PROVIDERS["fw199"], "templates": templates},
    }


def send_body(**overrides) -> dict:
    body = {
        "station_id": "T7442",
        "receive_phone": "13112341234",
        "business_type": 0,
        "sms_content": {"order_id": "PL0001", "sms_signature": "去采购", "douyin_order_id": DOUYIN_ORDER},
    }
    body.update(overrides)
    return body


def add(station_client, **overrides) -> dict:
    return station_client.post("/sms/send/add", send_body(**overrides), format="json").json()


# --- send/add: what is accepted -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_id_send_is_stored_with_its_douyin_order_and_routed_to_fw199(station_client, recharge):
    recharge("T7442", 10)
    body = add(station_client)
    assert body["code"] == 0, body
    record = SendRecord.objects.get(pk=body["data"]["task_id"])
    assert record.sms_content == {
        "order_id": "PL0001",
        "sms_signature": "去采购",
        "douyin_order_id": DOUYIN_ORDER,
    }
    assert (record.receive_phone, record.phone_e164) == ("13112341234", "+8613112341234")
    assert record.content.startswith("【去采购】")
    assert route_for(record) == "fw199"


@pytest.mark.django_db
def test_a_ciphertext_send_is_stored_and_listed_as_given_and_masked_in_logs(station_client, recharge, caplog):
    recharge("T7442", 10)
    with caplog.at_level(logging.INFO):
        body = add(
            station_client,
            receive_phone=SEED_CIPHERTEXT,
            business_type=1,
            sms_content={"order_id": "PL0002", "sms_signature": "去采购"},
        )
    assert body["code"] == 0, body
    record = SendRecord.objects.get(pk=body["data"]["task_id"])
    assert (record.receive_phone, record.phone_e164) == (SEED_CIPHERTEXT, SEED_CIPHERTEXT)
    assert record.content.startswith("【去采购】")  # a mainland buyer: the mainland form, 1 part
    assert record.segments == 1
    assert route_for(record) == "fw199"
    record.state, record.status = RecordState.DELIVERED, 1
    record.save()
    today = timezone.localdate(record.created_at).isoformat()  # the station's day (Asia/Shanghai)
    listed = station_client.get(
        "/sms/send_record/get", {"station_id": "T7442", "start_date": today, "end_date": today}
    ).json()
    assert [row["receive_phone"] for row in listed["data"]] == [SEED_CIPHERTEXT]
    assert "$Dcwm****" in caplog.text
    assert SEED_CIPHERTEXT not in caplog.text and "PzDIsfCO" not in caplog.text


@pytest.mark.django_db
def test_an_order_id_send_to_a_ciphertext_is_addressed_by_the_order(station_client, recharge):
    recharge("T7442", 10)
    body = add(station_client, receive_phone=SEED_CIPHERTEXT)
    record = SendRecord.objects.get(pk=body["data"]["task_id"])
    message = outgoing_message(record, get_adapter("fw199"))
    assert (message.order_id, message.phone_ciphertext) == (DOUYIN_ORDER, SEED_CIPHERTEXT)


@pytest.mark.django_db
def test_the_template_variables_fields_are_required_and_stored(station_client, recharge, settings):
    fw199_templates(settings, EXPRESS_TEMPLATES)
    recharge("T7442", 10)
    body = add(station_client)
    assert body == {
        "code": 1002,
        "msg": "sms_content: express_company, express_number required for business_type 0",
        "data": None,
    }
    content = {
        "order_id": "PL0001",
        "sms_signature": "[去采购]",
        "douyin_order_id": DOUYIN_ORDER,
        "express_company": "顺丰",
        "express_number": "sf3813741222",
        "unrelated": "dropped",
    }
    body = add(station_client, sms_content=content)
    assert body["code"] == 0, body
    record = SendRecord.objects.get(pk=body["data"]["task_id"])
    assert "unrelated" not in record.sms_content
    message = outgoing_message(record, get_adapter("fw199"))
    assert (message.template_id, dict(message.template_vars), message.sign_name) == (
        "ST_72dd4e2c",
        {"name": "顺丰", "number": "sf3813741222"},
        "去采购",
    )
    assert (message.order_id, message.phone_ciphertext) == (DOUYIN_ORDER, "")


# --- send/add: what is refused (1002, nothing written or reserved) ------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "msg"),
    [
        (
            {"sms_content": {"order_id": "P1", "sms_signature": "去采购", "douyin_order_id": "50017893-29"}},
            "sms_content.douyin_order_id: a Douyin order number is 1 to 32 digits",
        ),
        (
            {"sms_content": {"order_id": "P1", "sms_signature": "去采购", "douyin_order_id": "５００１"}},
            "sms_content.douyin_order_id: a Douyin order number is 1 to 32 digits",
        ),
        (
            {"sms_content": {"order_id": "P1", "sms_signature": "去采购", "douyin_order_id": "9" * 33}},
            "sms_content.douyin_order_id: a Douyin order number is 1 to 32 digits",
        ),
        (
            {
                "business_type": 2,
                "sms_content": {"verify_code": "1234", "sms_signature": "去采购", "douyin_order_id": "5001"},
            },
            "sms_content.douyin_order_id: a Douyin message is an order notice: business_type 0 or 1, not 2",
        ),
        (
            {
                "business_type": 2,
                "receive_phone": SEED_CIPHERTEXT,
                "sms_content": {"verify_code": "1234", "sms_signature": "去采购"},
            },
            "receive_phone: a Douyin message is an order notice: business_type 0 or 1, not 2",
        ),
        (
            {"receive_phone": "$not-base64!$x$1$$"},
            "receive_phone: not a Douyin phone ciphertext: $index$data$version$$, base64 between the $",
        ),
        (
            {"receive_phone": "$DcwmMAKzUZzUj258P0LNEu8bad1eFd7JmRhBXBwT57s="},
            "receive_phone: not a Douyin phone ciphertext: $index$data$version$$, base64 between the $",
        ),
        (
            {"receive_phone": "$" + "A" * 506 + "$B$1$$"},
            "receive_phone: Ensure this field has no more than 512 characters.",
        ),
        (
            {"receive_phone": "+447911123456"},
            "receive_phone: a Douyin order message goes to a mainland number or a Douyin phone ciphertext",
        ),
        ({"receive_phone": "12345"}, "receive_phone: '12345' is not a valid mobile number: wrong length"),
        (
            {"sms_content": {"sms_signature": "去采购", "douyin_order_id": "5001"}},
            "sms_content: order_id required for business_type 0",
        ),
    ],
    ids=[
        "order-id-not-digits",
        "order-id-full-width-digits",
        "order-id-too-long",
        "order-id-with-registration",
        "ciphertext-with-registration",
        "ciphertext-malformed",
        "ciphertext-without-its-parts",
        "ciphertext-too-long",
        "order-id-to-an-international-number",
        "order-id-to-a-bad-number",
        "order-id-without-the-type-fields",
    ],
)
def test_bad_douyin_sends_are_the_parameter_error_and_write_nothing(station_client, recharge, overrides, msg):
    recharge("T7442", 10)
    response = station_client.post("/sms/send/add", send_body(**overrides), format="json")
    assert (response.status_code, response.json()) == (400, {"code": 1002, "msg": msg, "data": None})
    assert not SendRecord.objects.exists()
    assert Station.objects.get(station_id="T7442").balance_nums == 10


@pytest.mark.django_db
def test_a_business_type_without_a_douyin_template_is_the_parameter_error(station_client, recharge, settings):
    fw199_templates(settings, {"0": EXPRESS_TEMPLATES["0"]})
    recharge("T7442", 10)
    body = add(station_client, business_type=1)
    assert body == {
        "code": 1002,
        "msg": "business_type: no Douyin template for business_type 1 (FW199_TEMPLATES)",
        "data": None,
    }


@pytest.mark.django_db
def test_a_ciphertext_longer_than_the_column_is_refused_by_the_service_too(recharge):
    recharge("T7442", 10)
    with pytest.raises(services.InvalidInput, match="at most 512 characters, not 513"):
        services.create_station_send(
            station_id="T7442",
            receive_phone="$" + "A" * 506 + "$B$1$$",
            business_type=0,
            sms_content={"order_id": "P1", "sms_signature": "去采购"},
        )


@pytest.mark.django_db
def test_normal_sends_are_unchanged(station_client, recharge):
    recharge("T7442", 10)
    body = add(station_client, sms_content={"order_id": "PL0001", "sms_signature": "去采购"})
    record = SendRecord.objects.get(pk=body["data"]["task_id"])
    assert route_for(record) == "tencent"
    body = add(
        station_client, sms_content={"order_id": "PL0001", "sms_signature": "去采购", "douyin_order_id": ""}
    )
    assert route_for(SendRecord.objects.get(pk=body["data"]["task_id"])) == "tencent"  # blank: not Douyin


# --- routing ------------------------------------------------------------------------------------


def douyin_record(**fields) -> SendRecord:
    values = {
        "phone_e164": SEED_CIPHERTEXT,
        "business_type": 0,
        "station_id": "T7442",
        "sms_content": {"order_id": "PL1", "sms_signature": "去采购"},
    }
    values.update(fields)
    return SendRecord(**values)


def test_douyin_records_need_a_provider_that_addresses_them():
    needs = BatchNeeds.of([douyin_record()])
    assert (needs.douyin, needs.douyin_types, needs.business_types) == (True, frozenset({0}), frozenset())
    assert unfit_reason("fw199", needs) == ""
    assert unfit_reason("tencent", needs) == "tencent cannot address a Douyin order id or phone ciphertext"
    assert unfit_reason("gateway", needs) == "gateway cannot address a Douyin order id or phone ciphertext"
    assert unfit_reason("sjroom", needs) == "sjroom does not serve mainland numbers"


def test_a_douyin_batch_never_fails_over_even_along_a_chain_naming_every_provider(settings):
    settings.SMS_FAILOVER_MAINLAND = ["fw199", "tencent", "gateway"]
    needs = BatchNeeds.of(
        [
            douyin_record(),
            douyin_record(
                phone_e164="+8613112341234",
                sms_content={"order_id": "PL1", "sms_signature": "去采购", "douyin_order_id": DOUYIN_ORDER},
            ),
        ]
    )
    assert next_provider("fw199", [], needs=needs) is None


def test_a_douyin_type_without_a_template_is_unfit(settings):
    fw199_templates(settings, {"0": EXPRESS_TEMPLATES["0"]})
    needs = BatchNeeds.of([douyin_record(business_type=1)])
    assert unfit_reason("fw199", needs) == "fw199 has no Douyin template for business type 1"


def test_normal_station_and_tenant_messages_still_never_go_to_fw199(settings):
    settings.SMS_FAILOVER_MAINLAND = ["tencent", "fw199", "gateway"]
    station = BatchNeeds.of([douyin_record(phone_e164="+8613112341234")])
    assert not station.douyin
    assert unfit_reason("fw199", station) == "fw199 has no template for business type 0"
    assert next_provider("tencent", [], needs=station) == "gateway"
    tenant = BatchNeeds.of([SendRecord(phone_e164="+8613112341234", business_type=None, batch_id=1)])
    assert unfit_reason("fw199", tenant) == "fw199 sends only registered templates, not free text"


def test_douyin_records_route_to_sms_douyin_provider_and_fail_there_when_it_cannot_carry_them(settings):
    assert route_for(douyin_record()) == "fw199"
    settings.SMS_DOUYIN_PROVIDER = "tencent"  # misconfigured (manage.py check refuses it)
    assert route_for(douyin_record()) == "tencent"  # no one else can: the dispatch fails it with why


def test_douyin_messages_of_one_template_and_signature_share_a_request():
    first = douyin_record(content="【去采购】A")
    second = douyin_record(
        content="【去采购】B",
        phone_e164="+8613112341234",
        sms_content={"order_id": "PL2", "sms_signature": "[去采购]", "douyin_order_id": DOUYIN_ORDER},
    )
    assert request_key(first) == request_key(second) == "douyin:0:去采购"
    assert request_key(douyin_record(business_type=1)) != request_key(first)
    normal = douyin_record(phone_e164="+8613112341234", content="【去采购】A")
    assert request_key(normal) == "text:【去采购】A"


def test_check_refuses_a_douyin_provider_that_cannot_address_douyin_orders(settings):
    settings.SMS_DOUYIN_PROVIDER = "gateway"
    with pytest.raises(SystemCheckError, match=r"SMS_DOUYIN_PROVIDER names gateway.*cannot address"):
        call_command("check")
    settings.SMS_DOUYIN_PROVIDER = "fw199"
    call_command("check")


# --- the pipeline -------------------------------------------------------------------------------


@pytest.fixture
def douyin_records(station_client, recharge):
    """Queued Douyin records of T7442, one by order id and one to a ciphertext."""
    recharge("T7442", 20)
    by_order = add(station_client)["data"]["task_id"]
    by_cipher = add(
        station_client,
        receive_phone=SEED_CIPHERTEXT,
        sms_content={"order_id": "PL0002", "sms_signature": "去采购"},
    )["data"]["task_id"]
    SendRecord.objects.filter(pk__in=[by_order, by_cipher]).update(state=RecordState.QUEUED)
    return [by_order, by_cipher]


@pytest.mark.django_db
def test_queueing_puts_douyin_messages_of_one_template_in_one_fw199_batch(
    douyin_records, django_capture_on_commit_callbacks
):
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        pipeline.queue_for_dispatch(douyin_records)
    assert [call.args[:2] for call in publish.call_args_list] == [(douyin_records, "fw199")]


@pytest.mark.django_db
def test_an_unavailable_fw199_fails_douyin_records_with_a_clear_remark_and_no_failover(
    settings, douyin_records, django_capture_on_commit_callbacks
):
    settings.SMS_FAILOVER_MAINLAND = ["tencent", "gateway", "fw199"]
    adapter = mock.Mock(douyin_template_for=get_adapter("fw199").douyin_template_for)
    adapter.send.side_effect = ProviderUnavailable("fw199: HTTP 503")
    with (
        mock.patch.object(pipeline.ratelimit, "reserve", return_value=(True, 0.0)),
        mock.patch.object(pipeline, "get_adapter", return_value=adapter) as asked,
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = pipeline.dispatch(record_ids=douyin_records, provider="fw199", attempt=99, tried=[])
    assert result.failed_over_to is None
    assert [call.args[0] for call in asked.call_args_list] == ["fw199"]
    publish.assert_not_called()
    for record in SendRecord.objects.filter(pk__in=douyin_records):
        assert (record.state, record.refunded) == (RecordState.FAILED, True)
        assert record.remark == (
            "Unavailable: no provider available (last: fw199: fw199: HTTP 503; a Douyin order message has "
            "no failover: no other provider can address it)"
        )
    assert Station.objects.get(station_id="T7442").balance_nums == 20


@pytest.mark.django_db
def test_a_douyin_batch_that_reached_another_provider_is_never_sent_there(
    douyin_records, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(pipeline.ratelimit, "reserve", return_value=(True, 0.0)),
        mock.patch.object(pipeline, "get_adapter") as asked,
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        pipeline.dispatch(record_ids=douyin_records, provider="tencent", attempt=0, tried=[])
    asked.assert_not_called()
    publish.assert_not_called()
    remarks = set(SendRecord.objects.filter(pk__in=douyin_records).values_list("remark", flat=True))
    assert remarks == {
        "NoRoute: no provider available (tencent cannot address a Douyin order id or phone ciphertext; "
        "a Douyin order message has no failover: no other provider can address it)"
    }


# --- FW199_TEMPLATES at start-up ----------------------------------------------------------------


def _load_settings(**env: str) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; print(settings.SMS_PROVIDERS['fw199']['templates'])"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not json", "not JSON"),
        ('["ST_1"]', "not a JSON object of business types"),
        (
            '{"2": {"template_id": "ST_1", "params": {"code": "verify_code"}}}',
            "Douyin messages are of type 0 or 1",
        ),
        ('{"0": {"template_id": "ST_1"}}', "an object of template_id and params"),
        ('{"0": {"template_id": " ", "params": {"a": "b"}}}', "template_id is empty"),
        ('{"0": {"template_id": "ST_1", "params": {}}}', "params is not an object"),
        ('{"0": {"template_id": "ST_1", "params": {"a": 1}}}', "params maps variable names"),
    ],
)
def test_a_malformed_fw199_templates_stops_the_process_at_start_up(value, problem):
    loaded = _load_settings(FW199_TEMPLATES=value)
    assert loaded.returncode != 0
    assert "ImproperlyConfigured: FW199_TEMPLATES: " in loaded.stderr
    assert problem in loaded.stderr


def test_fw199_templates_defaults_to_an_order_id_template_per_order_type():
    loaded = _load_settings()
    assert loaded.returncode == 0, loaded.stderr
    assert "'0': {'template_id': 'ST_00000000', 'params': {'order_id': 'order_id'}}" in loaded.stdout


def test_routing_reads_the_douyin_template_from_sms_douyin_provider(settings):
    assert routing.douyin_template(0).template_id == "ST_00000000"
    settings.SMS_DOUYIN_PROVIDER = "tencent"
    assert routing.douyin_template(0) is None

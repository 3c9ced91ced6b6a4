"""Failover per region, shown through the pipeline: what ``route_for``, ``dispatch`` and
``queue_for_dispatch`` do with each pair of batch and provider, ``manage.py check`` on a
misconfigured chain, the per-region settings, and one send through a real worker and the
simulator. Only names the pipeline had before regions are used here, so that every test shows its
behaviour against the code before the change (the new routing API's units: test_routing.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db.models import Q

from providers.base import ProviderUnavailable
from sms.models import RecordState, SendRecord, Station
from sms.sending import pipeline
from sms.sending.routing import route_for
from sms.station_api import services
from sms.tenant_api import services as tenant_services
from tests.support.platform import make_signature, make_template
from tests.support.waiting import scaled

UK_MOBILE = "+447911123456"
MAINLAND_MOBILE = "+8613112341234"
PAST_SENDING = [RecordState.SUBMITTED, RecordState.DELIVERED, RecordState.FAILED]


def station_record(phone: str = MAINLAND_MOBILE, business_type: int = 0) -> SendRecord:
    return SendRecord(phone_e164=phone, business_type=business_type, station_id="T7442")


def tenant_record(phone: str = MAINLAND_MOBILE) -> SendRecord:
    return SendRecord(phone_e164=phone, business_type=None, batch_id=1)


def tencent_templates(settings, template_ids: dict[str, str]) -> None:
    settings.SMS_PROVIDERS = {
        **settings.SMS_PROVIDERS,
        "tencent": {**settings.SMS_PROVIDERS["tencent"], "template_ids": template_ids},
    }


# --- route_for --------------------------------------------------------------------------------


def test_route_for_sends_each_kind_to_its_configured_provider():
    assert route_for(station_record()) == "tencent"
    assert route_for(tenant_record()) == "gateway"
    assert route_for(station_record(UK_MOBILE)) == "sjroom"
    assert route_for(tenant_record(UK_MOBILE)) == "sjroom"


def test_route_for_never_gives_an_international_number_to_a_misconfigured_domestic_provider(settings):
    settings.SMS_INTERNATIONAL_PROVIDER = "gateway"
    assert route_for(tenant_record(UK_MOBILE)) == "sjroom"  # the international chain's first


def test_route_for_a_business_type_the_default_provider_has_no_template_for(settings):
    tencent_templates(settings, {"0": "1001"})
    assert route_for(station_record(business_type=0)) == "tencent"
    assert route_for(station_record(business_type=2)) == "gateway"


# --- manage.py check and the settings -----------------------------------------------------


def test_manage_py_check_refuses_an_international_chain_naming_the_gateway(settings):
    settings.SMS_FAILOVER_INTERNATIONAL = ["sjroom", "gateway"]
    with pytest.raises(SystemCheckError, match=r"sms\.E003.*SMS_FAILOVER_INTERNATIONAL names gateway"):
        call_command("check")


def test_manage_py_check_refuses_a_domestic_international_provider(settings):
    settings.SMS_INTERNATIONAL_PROVIDER = "gateway"
    with pytest.raises(SystemCheckError, match=r"sms\.E002"):
        call_command("check")


def _settings_in_a_fresh_process(**env: str) -> dict:
    code = (
        "import json; from gm_server_notify import settings as s; "
        "print(json.dumps([s.SMS_FAILOVER_MAINLAND, s.SMS_FAILOVER_INTERNATIONAL]))"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SMS_FAILOVER")}
    environment.update(GM_EMBEDDED_DEFAULTS="1", **env)
    answer = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=scaled(60),
    )
    mainland, international = json.loads(answer.stdout.strip().splitlines()[-1])
    return {"mainland": mainland, "international": international}


def test_the_chains_default_per_region_and_sms_failover_is_the_mainland_chains_old_name():
    assert _settings_in_a_fresh_process() == {"mainland": ["tencent", "gateway"], "international": ["sjroom"]}
    assert _settings_in_a_fresh_process(SMS_FAILOVER="gateway")["mainland"] == ["gateway"]
    assert _settings_in_a_fresh_process(SMS_FAILOVER="gateway", SMS_FAILOVER_MAINLAND="tencent") == {
        "mainland": ["tencent"],
        "international": ["sjroom"],
    }


# --- the pipeline's failover ------------------------------------------------------------------


@pytest.fixture
def station_records(recharge):
    """``station_records(phone, business_type=…, count=…)``: queued station records of T7442."""
    recharge("T7442", 20)

    def make(phone: str, *, business_type: int = 2, count: int = 1) -> list[SendRecord]:
        records = []
        for _ in range(count):
            record = services.create_station_send(
                station_id="T7442",
                receive_phone=phone,
                business_type=business_type,
                sms_content={"verify_code": "1234", "order_id": "PL1", "sms_signature": "去采购"},
            )
            SendRecord.objects.filter(pk=record.pk).update(state=RecordState.QUEUED)
            records.append(record)
        return records

    return make


def dispatch_unavailable(capture, records: list[SendRecord], provider: str, *, attempt: int = 99):
    """Dispatch ``records`` to ``provider`` with every provider unavailable (``capture``: the
    on-commit fixture, so that a failover's publish runs); returns the result, the adapters asked
    for and the publish mock."""
    adapter = mock.Mock()
    adapter.send.side_effect = ProviderUnavailable("HTTP 503")
    with (
        mock.patch.object(pipeline.ratelimit, "reserve", return_value=(True, 0.0)),
        mock.patch.object(pipeline, "get_adapter", return_value=adapter) as get_adapter,
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        capture(execute=True),
    ):
        result = pipeline.dispatch(
            record_ids=[record.pk for record in records], provider=provider, attempt=attempt, tried=[]
        )
    return result, [call.args[0] for call in get_adapter.call_args_list], publish


@pytest.mark.django_db
def test_international_batch_failing_on_sjroom_fails_with_a_remark_and_is_refunded(
    settings, station_records, django_capture_on_commit_callbacks
):
    settings.SMS_FAILOVER_INTERNATIONAL = ["sjroom", "gateway", "tencent", "fw199"]  # misconfigured
    records = station_records(UK_MOBILE, count=2)
    result, asked, publish = dispatch_unavailable(django_capture_on_commit_callbacks, records, "sjroom")
    assert result.failed_over_to is None and asked == ["sjroom"]
    publish.assert_not_called()
    for record in SendRecord.objects.filter(pk__in=[r.pk for r in records]):
        assert record.state == RecordState.FAILED and record.refunded
        assert record.remark.startswith("Unavailable: no provider available (last: sjroom")
        assert "international failover chain" in record.remark
    assert Station.objects.get(station_id="T7442").balance_nums == 20


@pytest.mark.django_db
def test_mainland_station_batch_unavailable_on_tencent_goes_to_the_gateway(
    station_records, django_capture_on_commit_callbacks
):
    records = station_records(MAINLAND_MOBILE)
    result, _, publish = dispatch_unavailable(django_capture_on_commit_callbacks, records, "tencent")
    assert result.failed_over_to == "gateway"
    assert publish.call_args.args[1:3] == ("gateway", ["tencent"])


@pytest.mark.django_db
def test_station_batch_on_the_gateway_is_not_failed_over_to_tencent_without_its_template(
    settings, station_records, django_capture_on_commit_callbacks
):
    settings.SMS_FAILOVER_MAINLAND = ["gateway", "tencent"]
    tencent_templates(settings, {"0": "1001"})
    records = station_records(MAINLAND_MOBILE, business_type=2)
    result, _, publish = dispatch_unavailable(django_capture_on_commit_callbacks, records, "gateway")
    assert result.failed_over_to is None
    publish.assert_not_called()
    assert SendRecord.objects.get(pk=records[0].pk).state == RecordState.FAILED


@pytest.mark.django_db
def test_tenant_batch_unavailable_on_the_gateway_never_goes_to_tencent(
    settings, tenant, django_capture_on_commit_callbacks
):
    settings.SMS_FAILOVER_MAINLAND = ["gateway", "tencent", "fw199"]
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=10)
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        batch = tenant_services.send_tenant_message(
            owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=["13112341234"], params=["PL1"]
        )
    records = list(SendRecord.objects.filter(batch=batch))
    result, _, publish = dispatch_unavailable(django_capture_on_commit_callbacks, records, "gateway")
    assert result.failed_over_to is None
    publish.assert_not_called()
    assert {r.state for r in SendRecord.objects.filter(batch=batch)} == {RecordState.FAILED}


@pytest.mark.django_db
def test_a_batch_routed_to_a_provider_outside_its_region_is_never_handed_to_it(
    station_records, django_capture_on_commit_callbacks
):
    records = station_records(UK_MOBILE)
    result, asked, publish = dispatch_unavailable(
        django_capture_on_commit_callbacks, records, "gateway", attempt=0
    )
    assert asked == []  # the gateway's adapter was never built, let alone sent to
    assert result.failed_over_to == "sjroom"
    assert publish.call_args.args[1:3] == ("sjroom", ["gateway"])


@pytest.mark.django_db
def test_queueing_with_a_misconfigured_international_provider_publishes_to_the_international_chain(
    settings, station_records, django_capture_on_commit_callbacks
):
    settings.SMS_INTERNATIONAL_PROVIDER = "gateway"
    uk, mainland = station_records(UK_MOBILE)[0], station_records(MAINLAND_MOBILE)[0]
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        pipeline.queue_for_dispatch([uk.pk, mainland.pk])
    published = {call.args[1]: call.args[0] for call in publish.call_args_list}
    assert published == {"sjroom": [uk.pk], "tencent": [mainland.pk]}


# --- through a real worker and the simulator --------------------------------------------------


@pytest.mark.worker
def test_worker_fails_an_international_send_when_sjroom_is_down_and_no_domestic_provider_sees_it(
    start_worker, recharge
):
    from tests.support.simulator import running_simulator
    from tests.support.waiting import wait_until

    with running_simulator() as simulator:
        simulator.configure(down=["sjroom"])
        sim = simulator.url
        start_worker(
            env={
                "TENCENT_SMS_ENDPOINT": sim,
                "GATEWAY_SMS_BASE_URL": sim,
                "FW199_BASE_URL": sim,
                "SJROOM_BASE_URL": sim,
                "PROVIDER_HTTP_TIMEOUT": "2",
                "SMS_PROVIDER_MAX_RETRIES": "1",
                "SMS_RETRY_BASE_SECONDS": "0.1",
                "SMS_RETRY_MAX_SECONDS": "0.2",
                # Misconfigured on purpose: the domestic providers are named, and still skipped.
                "SMS_FAILOVER_INTERNATIONAL": "sjroom,tencent,gateway,fw199",
            }
        )
        recharge("T7442", 5)
        record = services.create_station_send(
            station_id="T7442",
            receive_phone=UK_MOBILE,
            business_type=0,
            sms_content={"order_id": "PL1", "sms_signature": "去采购"},
        )
        services.start_station_send(task_id=record.pk)
        wait_until(
            lambda: SendRecord.objects.filter(pk=record.pk, state__in=PAST_SENDING).exists(),
            timeout=60,
            message="the international record was given a provider's or the pipeline's answer",
        )
        record.refresh_from_db()
        assert record.state == RecordState.FAILED
        assert "international failover chain" in record.remark and record.refunded
        stats = simulator.stats()
        for domestic in ("tencent", "gateway", "fw199"):
            assert stats.get(domestic, {}).get("numbers", 0) == 0, stats
        assert not SendRecord.objects.filter(~Q(provider__in=["", "sjroom"]), pk=record.pk).exists()

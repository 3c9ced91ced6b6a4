"""``GET /metrics``: behind the service token; send, provider and queue-depth metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import redis
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from providers.base import DeliveryReport, OutcomeStatus, ProviderUnavailable, ReportStatus, SendOutcome
from sms.console import selectors
from sms.core import metrics
from sms.delivery.reports import apply_delivery_reports
from sms.models import Lane, RecordState, SendRecord
from sms.sending import fairness, pipeline, sweeps
from sms.station_api import services
from tests.support.factories import send_record
from tests.support.waiting import scaled

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.gm_server_notify.metrics_urls")]

CUSTOM_COMBO_ID = 4


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def queued_records(count: int) -> list[SendRecord]:
    services.recharge_station(
        station_id="T7442",
        combo_id=CUSTOM_COMBO_ID,
        recharge_nums=100,
        recharge_money=Decimal(10),
        operator_name="tester",
    )
    records = []
    for index in range(count):
        record = services.create_station_send(
            station_id="T7442",
            receive_phone=f"1310000{index:02d}12",
            business_type=2,
            sms_content={"verify_code": "1234", "sms_signature": "去采购"},
        )
        SendRecord.objects.filter(pk=record.pk).update(state=RecordState.QUEUED)
        records.append(record)
    return records


def test_metrics_without_a_token_are_refused(api_client):
    response = api_client.get("/metrics")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/plain")
    assert b"sms_" not in response.content


def test_metrics_with_a_wrong_token_are_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-the-token")
    assert api_client.get("/metrics").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Basic dGVzdC1zZXJ2aWNlLXRva2Vu")
    assert api_client.get("/metrics").status_code == 401


def test_metrics_with_the_service_token_list_every_metric(station_client):
    response = station_client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    for name in (
        "sms_sends_accepted_total",
        "sms_sends_delivered_total",
        "sms_sends_failed_total",
        "sms_provider_request_seconds",
        "sms_provider_retries_total",
        "sms_provider_failovers_total",
        "sms_records",
        "sms_records_stuck_sending",
        "sms_lane_oldest_waiting_seconds",
        "sms_lane_waiting_records",
        "sms_bulk_senders_waiting",
        "sms_bulk_parked_batches",
    ):
        assert f"# TYPE {name}" in text or f"# HELP {name}" in text, name


def test_accepted_refused_and_reported_records_are_counted_by_provider_and_business_type(
    station_client, django_capture_on_commit_callbacks
):
    records = queued_records(3)
    before = scrape(station_client)
    batch = pipeline.claim_dispatch(record_ids=[r.pk for r in records], provider="tencent")
    outcomes = [
        SendOutcome(records[0].pk, OutcomeStatus.ACCEPTED, provider_message_id="sid-1"),
        SendOutcome(records[1].pk, OutcomeStatus.ACCEPTED, provider_message_id="sid-2"),
        SendOutcome(records[2].pk, OutcomeStatus.FAILED, code="FailedOperation.PhoneNumberInBlacklist"),
    ]
    reports = [
        DeliveryReport(provider="tencent", status=ReportStatus.DELIVERED, provider_message_id="sid-1"),
        DeliveryReport(provider="tencent", status=ReportStatus.FAILED, provider_message_id="sid-2"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.record_outcomes(provider="tencent", dispatch_id=batch.dispatch_id, outcomes=outcomes)
        apply_delivery_reports(provider="tencent", reports=reports)
        # Repeated reports change nothing and count nothing.
        apply_delivery_reports(provider="tencent", reports=reports)
    after = scrape(station_client)

    labels = {"provider": "tencent", "business_type": "2"}
    for name, increase in (
        ("sms_sends_accepted_total", 2),
        ("sms_sends_delivered_total", 1),
        ("sms_sends_failed_total", 2),
    ):
        assert value(after, name, **labels) - value(before, name, **labels) == increase, name


def test_acceptance_by_a_provider_without_reports_counts_as_delivered(django_capture_on_commit_callbacks):
    record = queued_records(1)[0]
    labels = {"provider": "fw199", "business_type": "2"}
    accepted = metrics.SENDS_ACCEPTED.labels(**labels)._value.get()
    delivered = metrics.SENDS_DELIVERED.labels(**labels)._value.get()
    batch = pipeline.claim_dispatch(record_ids=[record.pk], provider="fw199")
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.record_outcomes(
            provider="fw199",
            dispatch_id=batch.dispatch_id,
            outcomes=[SendOutcome(record.pk, OutcomeStatus.ACCEPTED, provider_message_id="fw-1")],
        )
    assert metrics.SENDS_ACCEPTED.labels(**labels)._value.get() - accepted == 1
    assert metrics.SENDS_DELIVERED.labels(**labels)._value.get() - delivered == 1


def test_records_without_a_report_count_as_unknown_then_failed_when_settled(
    django_capture_on_commit_callbacks,
):
    records = queued_records(2)
    SendRecord.objects.filter(pk__in=[r.pk for r in records]).update(
        state=RecordState.SUBMITTED, provider="gateway", submitted_at=timezone.now() - timedelta(days=4)
    )
    failed = metrics.SENDS_FAILED.labels("gateway", "2")._value.get()
    unknown = metrics.RECORDS_UNKNOWN._value.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.expire_unreported(older_than=timedelta(days=3)) == 2
    assert metrics.RECORDS_UNKNOWN._value.get() - unknown == 2
    assert metrics.SENDS_FAILED.labels("gateway", "2")._value.get() == failed
    SendRecord.objects.update(unknown_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.settle_unknown(older_than=timedelta(days=7), policy="keep") == 2
    assert metrics.SENDS_FAILED.labels("gateway", "2")._value.get() - failed == 2


def test_a_rolled_back_outcome_is_not_counted(django_capture_on_commit_callbacks):
    record = queued_records(1)[0]
    batch = pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    accepted = metrics.SENDS_ACCEPTED.labels("tencent", "2")._value.get()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pipeline.record_outcomes(
            provider="tencent",
            dispatch_id=batch.dispatch_id,
            outcomes=[SendOutcome(record.pk, OutcomeStatus.ACCEPTED, provider_message_id="sid-x")],
        )
    assert metrics.SENDS_ACCEPTED.labels("tencent", "2")._value.get() == accepted
    assert callbacks  # counted only when the transaction commits


def test_tenant_sends_are_labelled_tenant_and_never_carry_the_phone(django_capture_on_commit_callbacks):
    record = SendRecord(
        business_type=None, provider="gateway", state=RecordState.SUBMITTED, phone_e164="+8613100000012"
    )
    accepted = metrics.SENDS_ACCEPTED.labels("gateway", "tenant")._value.get()
    with django_capture_on_commit_callbacks(execute=True):
        metrics.count_outcomes([record], provider="gateway")
    assert metrics.SENDS_ACCEPTED.labels("gateway", "tenant")._value.get() - accepted == 1


def test_unavailable_provider_counts_retries_then_the_failover(station_client):
    records = queued_records(2)
    ids = [r.pk for r in records]
    adapter = mock.Mock()
    adapter.send.side_effect = ProviderUnavailable("timed out")
    before = scrape(station_client)
    with (
        mock.patch.object(pipeline.ratelimit, "reserve", return_value=(True, 0.0)),
        mock.patch.object(pipeline, "get_adapter", return_value=adapter),
        mock.patch("sms.sending.pipeline.publish_dispatch"),
    ):
        first = pipeline.dispatch(record_ids=ids, provider="tencent", attempt=0, tried=[])
        SendRecord.objects.filter(pk__in=ids).update(state=RecordState.QUEUED)
        last = pipeline.dispatch(record_ids=ids, provider="tencent", attempt=99, tried=[])
    after = scrape(station_client)
    assert first.retry_in is not None and last.failed_over_to == "gateway"
    assert (
        value(after, "sms_provider_retries_total", provider="tencent")
        - value(before, "sms_provider_retries_total", provider="tencent")
        == 1
    )
    failover = {"from_provider": "tencent", "to_provider": "gateway"}
    assert (
        value(after, "sms_provider_failovers_total", **failover)
        - value(before, "sms_provider_failovers_total", **failover)
        == 1
    )
    requests = value(after, "sms_provider_request_seconds_count", provider="tencent") - value(
        before, "sms_provider_request_seconds_count", provider="tencent"
    )
    assert requests == 2


def test_queue_depth_reports_records_not_final_by_state(station_client, settings):
    settings.SMS_SENDING_STUCK_SECONDS = 60
    records = queued_records(5)
    pipeline.claim_dispatch(record_ids=[records[0].pk, records[1].pk], provider="tencent")
    SendRecord.objects.filter(pk=records[0].pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    samples = scrape(station_client)
    assert value(samples, "sms_records", state="queued") == 3
    assert value(samples, "sms_records", state="sending") == 2
    assert value(samples, "sms_records", state="submitted") == 0
    assert value(samples, "sms_records_stuck_sending") == 1


def test_multiprocess_mode_adds_up_the_values_every_process_wrote(tmp_path):
    """Two processes write to PROMETHEUS_MULTIPROC_DIR; a scrape in a third reports the sum."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings",
    }
    writer = textwrap.dedent(
        """
        import django; django.setup()
        from sms.core import metrics
        metrics.SENDS_ACCEPTED.labels("gateway", "1").inc(3)
        """
    )
    reader = textwrap.dedent(
        """
        import django; django.setup()
        from unittest import mock
        from prometheus_client import generate_latest
        from gm_server_notify.metrics import scrape_registry
        from sms.core import metrics
        from sms.alerts.metrics import AlertInputsCollector
        from sms.console.metrics import LaneCollector
        with (
            mock.patch.object(metrics.RecordStateCollector, "collect", return_value=iter(())),
            mock.patch.object(LaneCollector, "collect", return_value=iter(())),
            mock.patch.object(AlertInputsCollector, "collect", return_value=iter(())),
        ):
            print(generate_latest(scrape_registry()).decode())
        """
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", writer], env=env, check=True, timeout=scaled(60))
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    out = subprocess.run(
        [sys.executable, "-c", reader],
        env=env,
        check=True,
        timeout=scaled(60),
        capture_output=True,
        text=True,
    ).stdout
    assert 'sms_sends_accepted_total{business_type="1",provider="gateway"} 6.0' in out


def waiting_in(lane: Lane, *, count: int, oldest_seconds: float) -> None:
    """``count`` records queued in ``lane``, the oldest ``oldest_seconds`` ago, the others since."""
    now = timezone.now()
    for index in range(count):
        send_record(
            receive_phone=f"1310000{index:04d}",
            state=RecordState.QUEUED,
            lane=lane,
            queued_at=now - timedelta(seconds=oldest_seconds - index),
        )


def test_each_lane_reports_the_age_of_its_oldest_waiting_record(station_client):
    waiting_in(Lane.PRIORITY, count=2, oldest_seconds=120)
    waiting_in(Lane.BULK, count=3, oldest_seconds=3600)
    # Records no longer waiting count for nothing, however old.
    send_record(
        state=RecordState.SENDING, lane=Lane.TRANSACTIONAL, queued_at=timezone.now() - timedelta(days=1)
    )
    samples = scrape(station_client)
    priority = value(samples, "sms_lane_oldest_waiting_seconds", lane="priority")
    bulk = value(samples, "sms_lane_oldest_waiting_seconds", lane="bulk")
    # At least the age written; at most that plus a generous allowance for a slow machine.
    assert 120 <= priority < 120 + 300
    assert 3600 <= bulk < 3600 + 300
    assert ("sms_lane_oldest_waiting_seconds", (("lane", "transactional"),)) in samples
    assert value(samples, "sms_lane_oldest_waiting_seconds", lane="transactional") == 0
    assert value(samples, "sms_lane_waiting_records", lane="priority") == 2
    assert value(samples, "sms_lane_waiting_records", lane="transactional") == 0
    assert value(samples, "sms_lane_waiting_records", lane="bulk") == 3


def test_a_lanes_waiting_records_are_counted_up_to_the_cap(station_client, monkeypatch):
    monkeypatch.setattr(selectors, "LANE_COUNT_CAP", 2)
    waiting_in(Lane.BULK, count=3, oldest_seconds=60)
    samples = scrape(station_client)
    assert value(samples, "sms_lane_waiting_records", lane="bulk") == 2
    assert value(samples, "sms_lane_oldest_waiting_seconds", lane="bulk") >= 60


def test_the_bulk_lanes_parked_batches_are_counted_with_their_senders(station_client, parking):
    for sender, batches in (("tenant:7", 3), ("tenant:9", 1)):
        for index in range(batches):
            assert parking.park(sender=sender, payload={"record_ids": [index]})
    samples = scrape(station_client)
    assert value(samples, "sms_bulk_senders_waiting") == 2
    assert value(samples, "sms_bulk_parked_batches") == 4
    text = station_client.get("/metrics").content.decode()
    assert "tenant:7" not in text  # no label names a sender


def test_a_scrape_without_redis_leaves_out_the_bulk_gauges_only(station_client):
    waiting_in(Lane.PRIORITY, count=1, oldest_seconds=10)
    with mock.patch.object(fairness, "waiting", side_effect=redis.ConnectionError("refused")):
        samples = scrape(station_client)
    assert value(samples, "sms_lane_oldest_waiting_seconds", lane="priority") >= 10
    assert not {name for name, _ in samples} & {"sms_bulk_senders_waiting", "sms_bulk_parked_batches"}

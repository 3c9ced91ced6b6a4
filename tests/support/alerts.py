"""Data that gives every alert rule's gauge a series at /metrics (a cached provider balance, a
provider's final records, yesterday's reconciliation), for the Prometheus rules' and the Grafana
dashboard's tests."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from sms.models import RecordState
from tests.support.factories import send_record


def seed_every_alert_input(settings) -> None:
    settings.SMS_BALANCE_PROVIDERS = ["tencent"]
    cache.set("provider-balance:tencent", {"remaining": 500, "unit": "messages"}, timeout=300)
    now = timezone.now()
    send_record(provider="tencent", state=RecordState.DELIVERED, submitted_at=now - dt.timedelta(hours=1))
    send_record(
        provider="tencent",
        state=RecordState.DELIVERED,
        billed_parts=2,
        submitted_at=timezone.localtime(now).replace(hour=12) - dt.timedelta(days=1),
    )


def scrape(client) -> tuple[set[str], set[str]]:
    """(names with a sample, names declared) in a /metrics scrape: a counter or histogram without
    a labelled child yet is declared (its ``# TYPE`` line) with no sample."""
    response = client.get("/metrics")
    assert response.status_code == 200
    sampled, declared = set(), set()
    for family in text_string_to_metric_families(response.content.decode()):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(
            family.type, ("",)
        )
        declared.update(family.name + suffix for suffix in suffixes)
        sampled.update(sample.name for sample in family.samples)
    return sampled, declared | sampled

"""deploy/grafana/gm_server_notify.json: a Grafana dashboard that is valid JSON, whose every panel
queries Prometheus, and every metric it queries is one a real /metrics scrape exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.alerts import scrape, seed_every_alert_input

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "gm_server_notify.json"
# PromQL's functions and keywords are not metrics.
METRIC = re.compile(r"\b(sms_[a-z0-9_]+)\b")


def panels() -> list[dict]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]


def test_the_dashboard_is_valid_json_with_a_query_in_every_panel():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["title"] and dashboard["uid"]
    assert len(panels()) >= 10
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids))
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert METRIC.search(target["expr"]), (panel["title"], target["expr"])


@pytest.mark.django_db
@pytest.mark.urls("tests.gm_server_notify.metrics_urls")
def test_every_metric_the_panels_query_is_in_a_metrics_scrape(settings, station_client):
    """The gauges have a series; counters and histograms nothing has counted yet in this process
    are declared (their ``# TYPE`` line), as a fresh deployment's are."""
    seed_every_alert_input(settings)
    sampled, declared = scrape(station_client)
    queried = {metric for panel in panels() for t in panel["targets"] for metric in METRIC.findall(t["expr"])}
    missing = queried - declared
    assert not missing, f"the dashboard queries metrics /metrics does not have: {sorted(missing)}"
    gauges = {metric for metric in queried if not metric.endswith(("_total", "_bucket", "_sum", "_count"))}
    assert gauges <= sampled, sorted(gauges - sampled)
    assert {
        "sms_provider_balance_days_left",
        "sms_provider_delivery_rate",
        "sms_report_lag_seconds",
    } <= gauges

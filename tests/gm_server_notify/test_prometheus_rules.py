"""deploy/prometheus/alerts.yml: valid for Prometheus (``promtool check rules``), its unit tests
pass (``promtool test rules``, deploy/prometheus/alerts_test.yml), and every rule selects a
series /metrics really exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from sms.models import Lane, RecordState
from tests.support.alerts import scrape, seed_every_alert_input
from tests.support.factories import send_record
from tests.support.waiting import scaled

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERTS, ALERTS_TEST = RULES_DIR / "alerts.yml", RULES_DIR / "alerts_test.yml"
# The lanes' rules are all this shape: one lane's series, compared with a constant.
LANE_EXPR = re.compile(r'^(?P<metric>\w+)\{lane="(?P<lane>\w+)"\} > (?P<threshold>\d+)$')


def lane_rules() -> list[dict]:
    [group] = [
        g for g in yaml.safe_load(ALERTS.read_text())["groups"] if g["name"] == "gm_server_notify_lanes"
    ]
    return group["rules"]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which("promtool"):
        pytest.skip("no promtool: `apt-get install prometheus` (make test installs it)")
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=scaled(120), check=False
    )


def test_promtool_finds_the_rules_valid():
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_the_rules_unit_tests_pass():
    """alerts_test.yml: the priority rule fires when a verify code has waited 60s for a minute and
    not at 5s; the transactional and bulk rules at their own thresholds; each operators' rule
    (balances, delivery rate, report lag, dead events, reconciliation) above its threshold and not
    on the safe side of it."""
    result = promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_is_one_backlog_rule_per_lane_with_the_documented_thresholds():
    rules = {}
    for rule in lane_rules():
        assert rule["alert"] == "SmsLaneBacklogOld"
        match = LANE_EXPR.match(rule["expr"])
        assert match, rule["expr"]
        assert match["metric"] == "sms_lane_oldest_waiting_seconds"
        assert rule["labels"]["lane"] == match["lane"]
        assert {"summary", "description"} <= set(rule["annotations"])
        assert match["lane"] in rule["annotations"]["summary"]
        rules[match["lane"]] = (int(match["threshold"]), rule["for"], rule["labels"]["severity"])
    assert rules == {
        "priority": (30, "1m", "critical"),
        "transactional": (300, "5m", "warning"),
        "bulk": (1800, "10m", "warning"),
    }
    assert set(rules) == {lane.label for lane in Lane}


@pytest.mark.django_db
@pytest.mark.urls("tests.gm_server_notify.metrics_urls")
def test_each_rule_selects_a_series_metrics_exposes_and_fires_on_an_old_record(station_client):
    """A verify code queued 10 minutes ago: /metrics has every rule's series, and the priority
    rule's comparison holds on it while the others' do not."""
    send_record(
        state=RecordState.QUEUED, lane=Lane.PRIORITY, queued_at=timezone.now() - timedelta(minutes=10)
    )
    response = station_client.get("/metrics")
    assert response.status_code == 200
    series = {
        (sample.name, sample.labels.get("lane")): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    firing = set()
    for rule in lane_rules():
        match = LANE_EXPR.match(rule["expr"])
        assert match
        key = (match["metric"], match["lane"])
        assert key in series, f"/metrics has no {key}: the rule would never fire"
        if series[key] > int(match["threshold"]):
            firing.add(match["lane"])
    assert firing == {"priority"}


def health_rules() -> list[dict]:
    [group] = [
        g for g in yaml.safe_load(ALERTS.read_text())["groups"] if g["name"] == "gm_server_notify_health"
    ]
    return group["rules"]


def test_the_operators_rules_are_the_services_own_with_its_default_thresholds(settings):
    """The same rules as sms/alerts/ evaluates, at the settings' defaults (docs/configuration.md)."""
    from gm_server_notify.settings import alerts as defaults

    exprs = {rule["alert"]: rule["expr"] for rule in health_rules()}
    assert exprs == {
        "SmsProviderBalanceLow": f"sms_provider_balance_days_left < {defaults.SMS_ALERT_PROVIDER_BALANCE_DAYS:g}",
        "SmsAccountsLowBalance": "sms_accounts_low_balance > 0",
        "SmsProviderDeliveryRateLow": (
            f"sms_provider_delivery_rate < {defaults.SMS_ALERT_DELIVERY_RATE_MIN / 100:g} "
            f"and sms_provider_delivery_window_records >= {defaults.SMS_ALERT_DELIVERY_MIN_RECORDS}"
        ),
        "SmsReportLag": f"sms_report_lag_seconds > {defaults.SMS_ALERT_REPORT_LAG_SECONDS}",
        "SmsWebhookEventsDead": f"sms_webhook_events_dead >= {defaults.SMS_ALERT_WEBHOOK_DEAD_MIN}",
        "SmsReconciliationDifference": (
            f"abs(sms_reconciliation_difference_parts) > {defaults.SMS_ALERT_RECONCILIATION_PARTS}"
        ),
    }
    assert {
        lane: int(rule_threshold) for lane, rule_threshold in defaults.SMS_ALERT_QUEUE_AGE_SECONDS.items()
    } == {
        "priority": 30,
        "transactional": 300,
        "bulk": 1800,
    }  # the lanes' rules above


@pytest.mark.django_db
@pytest.mark.urls("tests.gm_server_notify.metrics_urls")
def test_each_operators_rule_selects_a_series_metrics_exposes(settings, station_client):
    seed_every_alert_input(settings)
    sampled, _ = scrape(station_client)
    for rule in health_rules():
        for metric in re.findall(r"\bsms_\w+", rule["expr"]):
            assert metric in sampled, f"{rule['alert']}: /metrics has no {metric}"

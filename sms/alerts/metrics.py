"""The alert rules' inputs as gauges at /metrics (deploy/prometheus/alerts.yml alerts on them;
deploy/grafana/gm_server_notify.json draws them). They are the last beat evaluation's
measurements, kept in the cache (``sms.alerts.rules.latest_inputs``), so a scrape runs no query
unless no evaluation ran in the last three intervals:

- ``sms_provider_balance_days_left{provider}``: days the cached balance lasts at the last 7 days'
  use (+Inf with no use), for providers with a cached balance in messages (or money with a price);
- ``sms_provider_balance_remaining{provider,unit}``: the cached balance itself;
- ``sms_accounts_low_balance{kind}``: stations or tenants below ``SMS_ALERT_ACCOUNT_BALANCE_MIN``;
- ``sms_provider_delivery_rate{provider}``: delivered / final over the provider's last
  ``SMS_ALERT_DELIVERY_WINDOW`` final records, and ``sms_provider_delivery_window_records{provider}``
  how many there were;
- ``sms_report_lag_seconds``: age of the oldest record waiting for its delivery report (0: none);
- ``sms_webhook_events_dead``: dead tenant webhook events (counted up to 10,000);
- ``sms_reconciliation_difference_parts{provider}``: yesterday's parts the provider billed beyond ours;
- ``sms_alerts_open{rule}``: unresolved alerts per rule.

The lanes' ages are ``sms_lane_oldest_waiting_seconds`` (``sms.console.metrics``).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from sms.alerts import rules
from sms.models import Alert, AlertRule


class AlertInputsCollector:
    """Registered by ``SmsConfig.ready``; asked at every scrape."""

    def collect(self) -> Iterator[Metric]:
        inputs = rules.latest_inputs()
        days = GaugeMetricFamily(
            "sms_provider_balance_days_left",
            "Days the provider's cached balance lasts at its last 7 days' billed parts (+Inf: no use).",
            labels=["provider"],
        )
        remaining = GaugeMetricFamily(
            "sms_provider_balance_remaining",
            "The provider's cached balance, in its unit (messages or CNY).",
            labels=["provider", "unit"],
        )
        for provider, outlook in sorted(inputs.provider_balances.items()):
            remaining.add_metric([provider, outlook.unit], outlook.remaining)
            if outlook.priced:
                days.add_metric([provider], outlook.days_left)
        yield days
        yield remaining
        low = GaugeMetricFamily(
            "sms_accounts_low_balance",
            "Stations (that ever recharged) or tenants with fewer messages than "
            "SMS_ALERT_ACCOUNT_BALANCE_MIN.",
            labels=["kind"],
        )
        for kind in ("station", "tenant"):
            low.add_metric([kind], sum(1 for owner_kind, _ in inputs.low_accounts if owner_kind == kind))
        yield low
        rate = GaugeMetricFamily(
            "sms_provider_delivery_rate",
            "Delivered / (delivered + failed) over the provider's last SMS_ALERT_DELIVERY_WINDOW "
            "final records.",
            labels=["provider"],
        )
        window = GaugeMetricFamily(
            "sms_provider_delivery_window_records",
            "Final records the delivery rate is over (at most SMS_ALERT_DELIVERY_WINDOW).",
            labels=["provider"],
        )
        for provider, (delivered, final) in sorted(inputs.delivery.items()):
            rate.add_metric([provider], delivered / final)
            window.add_metric([provider], final)
        yield rate
        yield window
        yield GaugeMetricFamily(
            "sms_report_lag_seconds",
            "Seconds since the oldest record still waiting for its delivery report was submitted (0: none).",
            value=inputs.report_lag_seconds,
        )
        yield GaugeMetricFamily(
            "sms_webhook_events_dead",
            f"Dead tenant webhook events (counted up to {rules.DEAD_COUNT_CAP}).",
            value=inputs.webhook_dead,
        )
        difference = GaugeMetricFamily(
            "sms_reconciliation_difference_parts",
            "Yesterday's (China time) parts the provider billed beyond ours (negative: fewer).",
            labels=["provider"],
        )
        for provider, (_, parts) in sorted(inputs.reconciliation.items()):
            difference.add_metric([provider], parts)
        yield difference
        open_alerts = GaugeMetricFamily(
            "sms_alerts_open", "Unresolved alerts (open or acknowledged) per rule.", labels=["rule"]
        )
        counts = dict(
            Alert.objects.filter(unresolved=True).values_list("rule").annotate(n=Count("id")).order_by()
        )
        for rule in AlertRule:
            open_alerts.add_metric([rule.value], counts.get(rule.value, 0))
        yield open_alerts

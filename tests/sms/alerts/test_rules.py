"""Each alert rule opens an alert when its condition holds and not when its input sits just on
the safe side of the threshold (the thresholds are settings: docs/configuration.md, "Alerts")."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.utils import timezone

from sms.accounting import traffic
from sms.alerts import rules, services
from sms.models import (
    Alert,
    AlertRule,
    AlertState,
    Lane,
    PrefixPause,
    RecordState,
    SendRecord,
    Station,
    TenantAccount,
    TenantUsage,
    WebhookEvent,
    WebhookEventState,
)
from tests.sms.alerts.conftest import cache_provider_balance
from tests.support.factories import UserFactory, send_record

pytestmark = pytest.mark.django_db


@dataclass
class Case:
    rule: AlertRule
    subjects: set[str]  # what opens when the condition holds
    arrange: Callable[[dt.datetime, bool], None]  # (now, holds)


def provider_balance(now: dt.datetime, holds: bool) -> None:
    """70 parts billed over the last 7 China-time days, rolled up into the traffic aggregate: 10 a
    day. 29 messages last 2.9 days (< 3), 30 last 3."""
    today = timezone.localdate(now)
    for index in range(9):
        if index == 7:
            continue  # the 8th day ago: nothing; the 9th: older than the week, not its use
        made = send_record(
            provider="tencent",
            state=RecordState.DELIVERED,
            segments=500 if index == 8 else 10,
            submitted_at=now - dt.timedelta(days=index),
        )
        noon = dt.datetime.combine(
            today - dt.timedelta(days=index), dt.time(12), tzinfo=timezone.get_current_timezone()
        )
        SendRecord.objects.filter(pk=made.pk).update(created_at=noon)
    traffic.rebuild(first_day=today - dt.timedelta(days=8), last_day=today)
    cache_provider_balance("tencent", 29 if holds else 30)


def account_balance(now: dt.datetime, holds: bool) -> None:
    """Below 100 messages: a station that recharged, and a tenant. A station that never
    recharged is not running low."""
    Station.objects.create(station_id="S1", balance_nums=99 if holds else 100, total_recharge_nums=500)
    Station.objects.create(station_id="S-new", balance_nums=0, total_recharge_nums=0)
    TenantAccount.objects.create(user=UserFactory(username="acme"), balance_nums=5 if holds else 100)


def delivery_rate(now: dt.datetime, holds: bool) -> None:
    """The last 10 final records: 7 delivered (70 % < 80 %) or 8 (80 %); older failures and
    records still waiting for a report do not count."""
    delivered = 7 if holds else 8
    for index in range(10):
        send_record(
            provider="tencent",
            state=RecordState.DELIVERED if index < delivered else RecordState.FAILED,
            submitted_at=now - dt.timedelta(minutes=index + 1),
        )
    for index in range(5):
        send_record(
            provider="tencent", state=RecordState.FAILED, submitted_at=now - dt.timedelta(hours=2 + index)
        )
        send_record(
            provider="tencent", state=RecordState.UNKNOWN, submitted_at=now - dt.timedelta(seconds=10)
        )


def queue_age(now: dt.datetime, holds: bool) -> None:
    """A verify code queued 31 s (threshold 30 s) or 29 s ago; a bulk record 10 min (under 30 min)."""
    send_record(
        state=RecordState.QUEUED,
        lane=Lane.PRIORITY,
        queued_at=now - dt.timedelta(seconds=31 if holds else 29),
    )
    send_record(state=RecordState.QUEUED, lane=Lane.BULK, queued_at=now - dt.timedelta(minutes=10))


def report_lag(now: dt.datetime, holds: bool) -> None:
    """The oldest record waiting for its report was submitted 1801 s (threshold 1800 s) or 1799 s ago."""
    send_record(provider="tencent", submitted_at=now - dt.timedelta(seconds=1801 if holds else 1799))
    send_record(provider="tencent", submitted_at=now - dt.timedelta(seconds=5))
    send_record(provider="tencent", state=RecordState.DELIVERED, submitted_at=now - dt.timedelta(days=1))


def webhook_dead(now: dt.datetime, holds: bool) -> None:
    account = TenantAccount.objects.create(user=UserFactory(username="hooks"), balance_nums=1000)
    WebhookEvent.objects.create(
        record=send_record(state=RecordState.FAILED),
        tenant=account,
        url="https://hooks.example.com/sms",
        state=WebhookEventState.DEAD if holds else WebhookEventState.PENDING,
        next_attempt_at=now,
    )


def reconciliation(now: dt.datetime, holds: bool) -> None:
    """Yesterday (China time) the provider billed 2 parts for a 1-part record; or 1."""
    yesterday = timezone.localtime(now).replace(hour=12) - dt.timedelta(days=1)
    send_record(
        provider="tencent",
        state=RecordState.DELIVERED,
        segments=1,
        billed_parts=2 if holds else 1,
        submitted_at=yesterday,
    )
    send_record(
        provider="tencent", state=RecordState.DELIVERED, segments=1, billed_parts=1, submitted_at=yesterday
    )


def prefix_paused(now: dt.datetime, holds: bool) -> None:
    """A pause in force (until a second from now); else one lifted and one that ended a second ago."""
    account = TenantAccount.objects.create(user=UserFactory(username="pumped"), balance_nums=1000)
    pause = {"tenant": account, "codes": 21, "limit": 20, "started_at": now - dt.timedelta(hours=1)}
    if holds:
        PrefixPause.objects.create(prefix="+86 1391234", until=now + dt.timedelta(seconds=1), **pause)
    else:
        PrefixPause.objects.create(
            prefix="+86 1391234", until=now + dt.timedelta(hours=1), lifted_at=now, lifted_by="ops", **pause
        )
    PrefixPause.objects.create(prefix="+86 1391235", until=now - dt.timedelta(seconds=1), **pause)


def tenant_cap(now: dt.datetime, holds: bool) -> None:
    """8 of a daily cap of 10 parts used today (80 %, threshold 80 %), or 7; the month's 8 of
    100 (8 %) never; nor yesterday's 10 of 10, nor a tenant without caps."""
    from sms.accounting import caps

    today = caps.today()
    account = TenantAccount.objects.create(
        user=UserFactory(username="acme"), balance_nums=1000, daily_cap_parts=10, monthly_cap_parts=100
    )
    used = 8 if holds else 7
    TenantUsage.objects.create(tenant=account, period="daily", start=today, parts=used)
    TenantUsage.objects.create(tenant=account, period="monthly", start=today.replace(day=1), parts=used)
    TenantUsage.objects.create(tenant=account, period="daily", start=today - dt.timedelta(days=1), parts=10)
    free = TenantAccount.objects.create(user=UserFactory(username="free"), balance_nums=1000)
    TenantUsage.objects.create(tenant=free, period="daily", start=today, parts=500)


CASES = [
    Case(AlertRule.PROVIDER_BALANCE, {"tencent"}, provider_balance),
    Case(AlertRule.ACCOUNT_BALANCE, {"station:S1", "tenant:acme"}, account_balance),
    Case(AlertRule.DELIVERY_RATE, {"tencent"}, delivery_rate),
    Case(AlertRule.QUEUE_AGE, {"priority"}, queue_age),
    Case(AlertRule.REPORT_LAG, {""}, report_lag),
    Case(AlertRule.WEBHOOK_DEAD, {""}, webhook_dead),
    Case(AlertRule.RECONCILIATION, {"tencent"}, reconciliation),
    Case(AlertRule.PREFIX_PAUSED, {"tenant:pumped:+86 1391234"}, prefix_paused),
    Case(AlertRule.TENANT_CAP, {"tenant:acme:daily"}, tenant_cap),
]


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.SMS_ALERT_PROVIDER_BALANCE_DAYS = 3
    settings.SMS_ALERT_ACCOUNT_BALANCE_MIN = 100
    settings.SMS_ALERT_DELIVERY_RATE_MIN = 80
    settings.SMS_ALERT_DELIVERY_WINDOW = 10
    settings.SMS_ALERT_DELIVERY_MIN_RECORDS = 10
    settings.SMS_ALERT_QUEUE_AGE_SECONDS = {"priority": 30, "transactional": 300, "bulk": 1800}
    settings.SMS_ALERT_REPORT_LAG_SECONDS = 1800
    settings.SMS_ALERT_WEBHOOK_DEAD_MIN = 1
    settings.SMS_ALERT_RECONCILIATION_PARTS = 0


def unresolved(rule: AlertRule) -> dict[str, Alert]:
    return {alert.subject: alert for alert in Alert.objects.filter(rule=rule, unresolved=True)}


@pytest.mark.parametrize("case", CASES, ids=[case.rule.value for case in CASES])
def test_a_rule_opens_an_alert_when_its_condition_holds(case, now):
    case.arrange(now, True)
    evaluation = services.evaluate(now=now)
    opened = unresolved(case.rule)
    assert set(opened) == case.subjects
    assert {alert.state for alert in opened.values()} == {AlertState.OPEN}
    assert set(evaluation.opened) >= {alert.pk for alert in opened.values()}
    for alert in opened.values():
        assert alert.opened_at == now and alert.message


@pytest.mark.parametrize("case", CASES, ids=[case.rule.value for case in CASES])
def test_a_rule_stays_quiet_on_the_safe_side_of_its_threshold(case, now):
    case.arrange(now, False)
    services.evaluate(now=now)
    assert unresolved(case.rule) == {}


def test_the_inputs_are_what_the_rules_measured(now):
    """The numbers behind the messages (and the gauges): 10 parts a day, 2.9 days left."""
    provider_balance(now, True)
    inputs = rules.measure(now=now)
    outlook = inputs.provider_balances["tencent"]
    assert (outlook.remaining, outlook.unit, outlook.per_day, outlook.priced) == (29, "messages", 10.0, True)
    assert outlook.days_left == pytest.approx(2.9)
    assert inputs.delivery["tencent"] == (8, 8)  # its records are all delivered
    services.evaluate(now=now)
    alert = Alert.objects.get(rule=AlertRule.PROVIDER_BALANCE)
    assert alert.value == pytest.approx(2.9) and alert.threshold == 3
    assert "2.9 days" in alert.message and "10 parts a day" in alert.message


def test_a_money_balance_is_judged_with_the_provider_price_and_not_without(settings, now):
    provider_balance(now, True)  # 10 parts a day
    cache_provider_balance("tencent", 10, unit="money")  # 10 yuan = 1000 fen
    settings.SMS_PROVIDER_PRICES = {}
    services.evaluate(now=now)
    assert unresolved(AlertRule.PROVIDER_BALANCE) == {}  # no price: not judged
    settings.SMS_PROVIDER_PRICES = {"tencent": {"*": 40}}  # 400 fen a day: 2.5 days
    services.evaluate(now=now + dt.timedelta(minutes=1))
    alert = unresolved(AlertRule.PROVIDER_BALANCE)["tencent"]
    assert alert.value == pytest.approx(2.5) and "4.00 CNY a day" in alert.message


def test_a_money_balance_is_not_judged_while_a_region_it_billed_has_no_price(settings, now):
    """The console's rule: a region without a price makes the use unknown, not smaller."""
    provider_balance(now, True)
    cache_provider_balance("tencent", 10, unit="money")
    settings.SMS_PROVIDER_PRICES = {"tencent": {"+1": 40}}  # its parts went to +86
    inputs = rules.measure(now=now)
    assert inputs.provider_balances["tencent"].priced is False
    assert ("provider_balance", "tencent") in inputs.unmeasured
    services.evaluate(now=now)
    assert unresolved(AlertRule.PROVIDER_BALANCE) == {}


def test_a_provider_without_use_lasts_forever(now):
    cache_provider_balance("tencent", 1)
    inputs = rules.measure(now=now)
    assert math.isinf(inputs.provider_balances["tencent"].days_left)
    services.evaluate(now=now)
    assert unresolved(AlertRule.PROVIDER_BALANCE) == {}


def test_an_unmeasured_provider_balance_leaves_its_alert_open(now):
    """A balance that falls out of the cache is unknown, not recovered."""
    provider_balance(now, True)
    services.evaluate(now=now)
    from django.core.cache import cache

    cache.delete("provider-balance:tencent")
    services.evaluate(now=now + dt.timedelta(minutes=1))
    assert set(unresolved(AlertRule.PROVIDER_BALANCE)) == {"tencent"}


def test_a_failing_rule_does_not_stop_the_others_nor_resolve_its_alerts(monkeypatch, now):
    queue_age(now, True)
    webhook_dead(now, True)
    services.evaluate(now=now)
    assert set(unresolved(AlertRule.QUEUE_AGE)) == {"priority"}

    def broken(inputs):
        raise RuntimeError("database gone")

    monkeypatch.setitem(rules.MEASURES, AlertRule.QUEUE_AGE, broken)
    WebhookEvent.objects.update(state=WebhookEventState.PENDING)
    services.evaluate(now=now + dt.timedelta(minutes=1))
    assert set(unresolved(AlertRule.QUEUE_AGE)) == {"priority"}  # not measured: left open
    assert unresolved(AlertRule.WEBHOOK_DEAD) == {}  # measured: resolved


def test_a_tenant_near_its_cap_is_named_with_its_use_and_resolves_on_a_new_day(now, business_clock):
    tenant_cap(now, True)
    services.evaluate(now=now)
    alert = unresolved(AlertRule.TENANT_CAP)["tenant:acme:daily"]
    assert (alert.value, alert.threshold) == (80.0, 80)
    assert alert.message == (
        "tenant acme: 8 of its daily cap of 10 parts used today (80 %, threshold 80 %); "
        "beyond the cap its sends are refused"
    )
    business_clock.set_now(now + dt.timedelta(days=1))
    services.evaluate(now=now + dt.timedelta(days=1))
    assert unresolved(AlertRule.TENANT_CAP) == {}

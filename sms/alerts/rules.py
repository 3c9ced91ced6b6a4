"""The alert rules: what each measures from the live tables, and when it fires.

``measure`` reads every rule's input with bounded queries (an index lookup, a capped count, a
small table, a week of the traffic aggregate, or a range of one provider's records through
``record_provider_submit_idx``); the slow input (yesterday's reconciliation) is kept in the
cache for ``SMS_ALERT_SLOW_INPUT_SECONDS``. A provider's balance outlook is the console's
(``sms.console.selectors.provider_outlooks``). ``findings`` turns the inputs into what fires, per
rule and subject. The gauges at /metrics show the same inputs (``sms.alerts.metrics``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from sms.accounting import caps, reconciliation
from sms.console.selectors import ProviderOutlook, lane_backlog, provider_outlooks
from sms.models import (
    FINAL_STATES,
    AlertRule,
    PrefixPause,
    RecordState,
    SendRecord,
    Station,
    TenantAccount,
    TenantUsage,
    UsagePeriod,
    WebhookEvent,
    WebhookEventState,
)

logger = logging.getLogger(__name__)

# Dead webhook events are counted up to this many (a capped count reads at most this many index
# entries).
DEAD_COUNT_CAP = 10_000
# Pauses in force watched at most (the newest): a bounded read however many a wave of pumping opened.
PAUSES_WATCHED = 500
INPUTS_KEY = "sms:alerts:inputs"


@dataclass(frozen=True)
class Finding:
    """A rule's condition holds on one subject."""

    rule: AlertRule
    subject: str
    value: float
    threshold: float
    message: str


@dataclass
class Inputs:
    """Every rule's input, measured at ``at``. A rule whose input could not be measured is absent
    from ``measured`` (its open alerts are left as they are, not resolved)."""

    at: dt.datetime
    measured: set[str] = field(default_factory=set)
    # (rule, subject) whose input is missing this time (a provider balance not cached, a money
    # balance without a price): their open alerts are left as they are.
    unmeasured: set[tuple[str, str]] = field(default_factory=set)
    # provider -> its balance's outlook at the last 7 days' use (``provider_outlooks``)
    provider_balances: dict[str, ProviderOutlook] = field(default_factory=dict)
    # (kind, owner) -> messages left, for the accounts below SMS_ALERT_ACCOUNT_BALANCE_MIN
    low_accounts: dict[tuple[str, str], int] = field(default_factory=dict)
    # provider -> (delivered, final) over its last SMS_ALERT_DELIVERY_WINDOW final records
    delivery: dict[str, tuple[int, int]] = field(default_factory=dict)
    lane_ages: dict[str, float] = field(default_factory=dict)
    report_lag_seconds: float = 0.0
    webhook_dead: int = 0
    # provider -> (day, parts they billed beyond ours)
    reconciliation: dict[str, tuple[str, int]] = field(default_factory=dict)
    # "tenant:NAME:PREFIX" -> the pumping guard's pause in force (at most PAUSES_WATCHED)
    prefix_pauses: dict[str, PausedPrefix] = field(default_factory=dict)
    # (tenant username, "daily"/"monthly") -> (parts used, the cap that holds), for the tenants at
    # SMS_CAP_WARNING_PERCENT of a cap in the current China-time day or month
    tenant_caps: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class PausedPrefix:
    tenant: str
    prefix: str
    codes: int
    limit: int
    until: dt.datetime


def _cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception as exc:  # noqa: BLE001 - a cache that is down holds nothing
        logger.warning("alerts: the cache is unavailable (%s)", type(exc).__name__)
        return None


def _cache_set(key: str, value: Any, timeout: int) -> None:
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - measured again next time
        logger.warning("alerts: the cache is unavailable (%s)", type(exc).__name__)


def providers() -> list[str]:
    """The providers the rules watch: those whose balances beat refreshes."""
    return list(settings.SMS_BALANCE_PROVIDERS)


def _measure_provider_balances(inputs: Inputs) -> None:
    """The console's outlook of each provider (``provider_outlooks``): a balance not cached, or
    in money with a region it billed not priced, is not judged."""
    for provider, outlook in provider_outlooks(today=timezone.localdate(inputs.at)).items():
        if outlook is None:
            inputs.unmeasured.add((AlertRule.PROVIDER_BALANCE.value, provider))
            continue
        if not outlook.priced:
            inputs.unmeasured.add((AlertRule.PROVIDER_BALANCE.value, provider))
        inputs.provider_balances[provider] = outlook


def _measure_low_accounts(inputs: Inputs) -> None:
    minimum = settings.SMS_ALERT_ACCOUNT_BALANCE_MIN
    if minimum <= 0:
        return
    # A station that never recharged is not running low: it never had a balance.
    for station_id, balance in Station.objects.filter(
        balance_nums__lt=minimum, total_recharge_nums__gt=0
    ).values_list("station_id", "balance_nums"):
        inputs.low_accounts[("station", station_id)] = balance
    for username, balance in TenantAccount.objects.filter(balance_nums__lt=minimum).values_list(
        "user__username", "balance_nums"
    ):
        inputs.low_accounts[("tenant", username)] = balance


def _measure_delivery(inputs: Inputs) -> None:
    """Per provider, its last N final records by submit time (``record_provider_submit_idx``
    read backwards from now: N rows and the records still in flight)."""
    window = settings.SMS_ALERT_DELIVERY_WINDOW
    for provider in providers():
        states = list(
            SendRecord.objects.filter(provider=provider, submitted_at__lte=inputs.at, state__in=FINAL_STATES)
            .order_by("-submitted_at")
            .values_list("state", flat=True)[:window]
        )
        if states:
            inputs.delivery[provider] = (states.count(RecordState.DELIVERED), len(states))


def _measure_report_lag(inputs: Inputs) -> None:
    """The oldest record waiting for its report: the first ``submitted`` record in
    ``record_state_updated_idx`` (a record is last updated when it is submitted), its
    ``submitted_at``."""
    oldest = (
        SendRecord.objects.filter(state=RecordState.SUBMITTED, test=False)  # the sandbox is no provider
        .order_by("updated_at")
        .values_list("submitted_at", "updated_at")
        .first()
    )
    if oldest is not None:
        since = oldest[0] or oldest[1]
        inputs.report_lag_seconds = max(0.0, (inputs.at - since).total_seconds())


def _measure_reconciliation(inputs: Inputs) -> None:
    day = timezone.localdate(inputs.at) - dt.timedelta(days=1)
    key = f"sms:alerts:reconciliation:{day.isoformat()}"
    cached = _cache_get(key)
    if not isinstance(cached, dict):
        cached = {
            billing.provider: billing.difference for billing in reconciliation.billing_reconciliation(day=day)
        }
        _cache_set(key, cached, settings.SMS_ALERT_SLOW_INPUT_SECONDS)
    inputs.reconciliation = {provider: (day.isoformat(), int(diff)) for provider, diff in cached.items()}


def _measure_prefix_pauses(inputs: Inputs) -> None:
    """The pumping guard's pauses in force (``sms.guard.pumping``): one alert each, resolved when
    lifted or over."""
    for tenant, prefix, codes, limit, until in (
        PrefixPause.objects.filter(lifted_at__isnull=True, until__gt=inputs.at)
        .order_by("-started_at")
        .values_list("tenant__user__username", "prefix", "codes", "limit", "until")[:PAUSES_WATCHED]
    ):
        # Within the subject's 160 characters whatever the username's length.
        subject = f"tenant:{tenant[:130]}:{prefix}"
        inputs.prefix_pauses[subject] = PausedPrefix(tenant, prefix, codes, limit, until)


def _measure_tenant_caps(inputs: Inputs) -> None:
    """The usage rows of the current China-time day and month (one per tenant that sent in it:
    ``tenant_usage_period_idx``), against each tenant's caps as they are now. The day is the
    business clock's, as the caps count it."""
    day = caps.today()
    rows = TenantUsage.objects.filter(
        Q(period=UsagePeriod.DAILY, start=day) | Q(period=UsagePeriod.MONTHLY, start=day.replace(day=1)),
        parts__gt=0,
    ).values_list(
        "period", "parts", "tenant__user__username", *(f"tenant__{name}" for name in caps.CAP_FIELDS)
    )
    for period, parts, username, *values in rows:
        cap = caps.caps_of(dict(zip(caps.CAP_FIELDS, values, strict=True)))[period]
        threshold = cap.warning_at()
        if threshold is not None and parts >= threshold:
            inputs.tenant_caps[(username, period)] = (parts, cap.effective)


MEASURES = {
    AlertRule.PROVIDER_BALANCE: _measure_provider_balances,
    AlertRule.ACCOUNT_BALANCE: _measure_low_accounts,
    AlertRule.DELIVERY_RATE: _measure_delivery,
    AlertRule.QUEUE_AGE: lambda inputs: inputs.lane_ages.update(
        {lane.lane: lane.age_seconds for lane in lane_backlog(now=inputs.at)}
    ),
    AlertRule.REPORT_LAG: _measure_report_lag,
    AlertRule.WEBHOOK_DEAD: lambda inputs: setattr(
        inputs,
        "webhook_dead",
        WebhookEvent.objects.filter(state=WebhookEventState.DEAD).values("pk")[:DEAD_COUNT_CAP].count(),
    ),
    AlertRule.RECONCILIATION: _measure_reconciliation,
    AlertRule.PREFIX_PAUSED: _measure_prefix_pauses,
    AlertRule.TENANT_CAP: _measure_tenant_caps,
}


def measure(*, now: dt.datetime | None = None) -> Inputs:
    """Every rule's input now; a rule whose query fails is logged and left out, the others go on.
    The result is cached for the gauges at /metrics."""
    inputs = Inputs(at=now or timezone.now())
    for rule, measure_rule in MEASURES.items():
        try:
            measure_rule(inputs)
        except Exception as exc:  # noqa: BLE001 - one rule's failure must not silence the others
            logger.warning("alerts: rule %s could not be measured (%s)", rule.value, type(exc).__name__)
            continue
        inputs.measured.add(rule.value)
    _cache_set(INPUTS_KEY, inputs, max(60, 3 * settings.SMS_ALERT_EVERY_SECONDS))
    return inputs


def latest_inputs() -> Inputs:
    """The inputs of the last evaluation (the gauges), measured now when none is cached."""
    cached = _cache_get(INPUTS_KEY)
    return cached if isinstance(cached, Inputs) else measure()


def _days(value: float) -> str:
    return "no use in 7 days" if math.isinf(value) else f"{value:.1f} days"


def findings(inputs: Inputs) -> list[Finding]:
    """What fires, given the inputs."""
    found: list[Finding] = []
    days_min = settings.SMS_ALERT_PROVIDER_BALANCE_DAYS
    for provider, outlook in inputs.provider_balances.items():
        days = outlook.days_left
        if outlook.priced and days < days_min:
            use = (
                f"{outlook.per_day:.0f} parts a day"
                if outlook.unit == "messages"
                else f"{outlook.per_day:.2f} CNY a day"
            )
            found.append(
                Finding(
                    AlertRule.PROVIDER_BALANCE,
                    provider,
                    days,
                    days_min,
                    f"provider {provider}: balance {outlook.remaining} {outlook.unit} lasts "
                    f"{_days(days)} at {use} (threshold {days_min:g} days)",
                )
            )
    minimum = settings.SMS_ALERT_ACCOUNT_BALANCE_MIN
    for (kind, owner), balance in sorted(inputs.low_accounts.items()):
        found.append(
            Finding(
                AlertRule.ACCOUNT_BALANCE,
                f"{kind}:{owner}",
                balance,
                minimum,
                f"{kind} {owner}: {balance} messages left (threshold {minimum} messages)",
            )
        )
    rate_min = settings.SMS_ALERT_DELIVERY_RATE_MIN
    for provider, (delivered, final) in inputs.delivery.items():
        rate = 100.0 * delivered / final
        if final >= settings.SMS_ALERT_DELIVERY_MIN_RECORDS and rate < rate_min:
            found.append(
                Finding(
                    AlertRule.DELIVERY_RATE,
                    provider,
                    round(rate, 2),
                    rate_min,
                    f"provider {provider}: {delivered} of its last {final} final records delivered "
                    f"({rate:.1f} %, threshold {rate_min:g} %)",
                )
            )
    for lane, age in inputs.lane_ages.items():
        limit = settings.SMS_ALERT_QUEUE_AGE_SECONDS.get(lane)
        if limit is not None and age > limit:
            found.append(
                Finding(
                    AlertRule.QUEUE_AGE,
                    lane,
                    round(age, 1),
                    limit,
                    f"{lane} lane: the oldest queued record has waited {age:.0f} s (threshold {limit} s)",
                )
            )
    lag_limit = settings.SMS_ALERT_REPORT_LAG_SECONDS
    if inputs.report_lag_seconds > lag_limit:
        found.append(
            Finding(
                AlertRule.REPORT_LAG,
                "",
                round(inputs.report_lag_seconds, 1),
                lag_limit,
                f"the oldest record without a delivery report was submitted "
                f"{inputs.report_lag_seconds:.0f} s ago (threshold {lag_limit} s)",
            )
        )
    dead_min = settings.SMS_ALERT_WEBHOOK_DEAD_MIN
    if dead_min > 0 and inputs.webhook_dead >= dead_min:
        found.append(
            Finding(
                AlertRule.WEBHOOK_DEAD,
                "",
                inputs.webhook_dead,
                dead_min,
                f"{inputs.webhook_dead} tenant webhook events are dead (every retry failed); "
                "redeliver them from the admin",
            )
        )
    parts_max = settings.SMS_ALERT_RECONCILIATION_PARTS
    for provider, (day, difference) in inputs.reconciliation.items():
        if abs(difference) > parts_max:
            found.append(
                Finding(
                    AlertRule.RECONCILIATION,
                    provider,
                    difference,
                    parts_max,
                    f"provider {provider} billed {difference:+d} parts against ours on {day} "
                    f"(threshold ±{parts_max}); see /dashboard/reconciliation?date={day}",
                )
            )
    for subject, pause in inputs.prefix_pauses.items():
        found.append(
            Finding(
                AlertRule.PREFIX_PAUSED,
                subject,
                pause.codes,
                pause.limit,
                f"tenant {pause.tenant}: sends to {pause.prefix} paused until "
                f"{timezone.localtime(pause.until):%Y-%m-%d %H:%M} China time: {pause.codes} verify codes "
                f"within an hour (limit {pause.limit}), a sign of SMS pumping; lift it in the admin "
                "(Prefix pauses) if the traffic is real",
            )
        )
    percent = settings.SMS_CAP_WARNING_PERCENT
    for (username, period), (used, cap) in sorted(inputs.tenant_caps.items()):
        share = 100.0 * used / cap if cap else 100.0
        when = "today" if period == UsagePeriod.DAILY else "this month"
        found.append(
            Finding(
                AlertRule.TENANT_CAP,
                f"tenant:{username}:{period}",
                round(share, 1),
                percent,
                f"tenant {username}: {used} of its {period} cap of {cap} parts used {when} "
                f"({share:.0f} %, threshold {percent} %); beyond the cap its sends are refused",
            )
        )
    return found

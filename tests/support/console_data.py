"""A deterministic week of station and tenant traffic for the console's browser tests and
`make screenshots`, rolled up into the traffic aggregate the console reads.

Relative to today (China time): every day of the last 7 has, at 10:00 (today at 00:05, which has
always passed), the records of ``DAILY``; ``EXPECTED`` is what they add up to.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from decimal import Decimal

from django.utils import timezone

from sms.models import MessageBatch, RecordState, SendRecord, Station, TenantAccount
from tests.support.factories import UserFactory

DAYS = 7
# (owner, provider, state, provider code, count on day d (0 = today .. 6)) per row.
STATION, TENANT = "station", "tenant"
CJK_TENANT = "去采购"  # a tenant whose name is Chinese: the CJK font test reads it on the page
DAILY = (
    (STATION, "T7442", "tencent", RecordState.DELIVERED, "", lambda d: 20 + 3 * d),
    (STATION, "T7442", "tencent", RecordState.FAILED, "E1", lambda d: 2 + d % 3),
    (STATION, "T0001", "gateway", RecordState.DELIVERED, "", lambda d: 8),
    (STATION, "T0001", "gateway", RecordState.UNKNOWN, "", lambda d: 1 if d % 2 else 0),
    (TENANT, CJK_TENANT, "gateway", RecordState.DELIVERED, "", lambda d: 30 - 2 * d),
    (TENANT, CJK_TENANT, "gateway", RecordState.FAILED, "UNDELIV", lambda d: 3),
    (TENANT, "ops", "sjroom", RecordState.DELIVERED, "", lambda d: 5),
    (TENANT, "ops", "sjroom", RecordState.SUBMITTED, "", lambda d: 1 if d == 0 else 0),
)
# Latency (submit to report) per provider, in seconds.
LATENCY = {"tencent": 1.5, "gateway": 4.0, "sjroom": 0.8}


def expected() -> dict[str, Counter]:
    """Records per channel and state over the 7 days, from ``DAILY`` itself."""
    totals: dict[str, Counter] = {STATION: Counter(), TENANT: Counter()}
    for channel, _owner, _provider, state, _code, count in DAILY:
        totals[channel][str(state)] += sum(count(day) for day in range(DAYS))
    return totals


def _created(day: int) -> dt.datetime:
    today = timezone.localdate()
    clock = dt.time(0, 5) if day == 0 else dt.time(10, 0)
    return timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=day), clock))


def seed() -> dict[str, Counter]:
    """Write the week's records, stations and tenants, roll them up; ``expected()``."""
    from sms.accounting import traffic

    for station_id, nums, money in (("T7442", 40, "120.00"), ("T0001", 5000, "150.00")):
        Station.objects.create(
            station_id=station_id,
            balance_nums=nums,
            total_recharge_nums=5000,
            total_recharge_money=Decimal(money),
        )
    batches = {}
    for username, template_type, balance in ((CJK_TENANT, 3, 25), ("ops", 1, 100_000)):
        account = TenantAccount.objects.create(user=UserFactory(username=username), balance_nums=balance)
        batches[username] = MessageBatch.objects.create(
            uuid=uuid.uuid4(),
            tenant=account,
            sign_id=1,
            temp_id=1,
            content="x",
            total=1,
            template_type=template_type,
        )
    records = []
    for day in range(DAYS):
        created = _created(day)
        for channel, owner, provider, state, code, count in DAILY:
            submitted = created + dt.timedelta(seconds=1)
            final = state in (RecordState.DELIVERED, RecordState.FAILED)
            for index in range(count(day)):
                records.append(
                    SendRecord(
                        station_id=owner if channel == STATION else None,
                        batch=batches[owner] if channel == TENANT else None,
                        business_type=0 if channel == STATION else None,
                        receive_phone=f"1310000{index:04d}",
                        phone_e164=f"+861310000{index:04d}",
                        content="【去采购】您的订单已发货",
                        segments=1,
                        state=state,
                        status=1
                        if state == RecordState.DELIVERED
                        else 2
                        if state == RecordState.FAILED
                        else 0,
                        provider=provider,
                        provider_code=code,
                        refunded=state == RecordState.FAILED,
                        submitted_at=submitted,
                        finished_at=submitted + dt.timedelta(seconds=LATENCY[provider]) if final else None,
                    )
                )
    SendRecord.objects.bulk_create(records)
    # created_at is auto_now_add: each day's records get theirs after the insert.
    for day in range(DAYS):
        created = _created(day)
        SendRecord.objects.filter(submitted_at=created + dt.timedelta(seconds=1)).update(created_at=created)
    today = timezone.localdate()
    traffic.rebuild(first_day=today - dt.timedelta(days=DAYS - 1), last_day=today)
    return expected()


def seed_alerts() -> None:
    """One alert in each state, as beat's evaluation leaves them (for the alerts page's picture)."""
    from sms.models import Alert, AlertRule, AlertState

    now = timezone.now()
    for rule, subject, state, value, threshold, message, hours_ago in (
        (
            AlertRule.PROVIDER_BALANCE,
            "tencent",
            AlertState.OPEN,
            2.5,
            7,
            "tencent's balance lasts 2.5 days at the last 7 days' rate (threshold 7 days)",
            1,
        ),
        (
            AlertRule.ACCOUNT_BALANCE,
            "station:T7442",
            AlertState.ACKNOWLEDGED,
            40,
            100,
            "station T7442 has 40 messages left (threshold 100)",
            5,
        ),
        (
            AlertRule.QUEUE_AGE,
            "",
            AlertState.RESOLVED,
            900,
            600,
            "the oldest queued record waited 15m (threshold 10m)",
            30,
        ),
    ):
        opened = now - dt.timedelta(hours=hours_ago)
        Alert.objects.create(
            rule=rule,
            subject=subject,
            state=state,
            unresolved=None if state == AlertState.RESOLVED else True,
            value=value,
            threshold=threshold,
            message=message,
            opened_at=opened,
            last_evaluated_at=now,
            last_notified_at=opened,
            acknowledged_by="operator" if state == AlertState.ACKNOWLEDGED else "",
            acknowledged_at=opened + dt.timedelta(minutes=10) if state == AlertState.ACKNOWLEDGED else None,
            resolved_at=opened + dt.timedelta(hours=2) if state == AlertState.RESOLVED else None,
        )

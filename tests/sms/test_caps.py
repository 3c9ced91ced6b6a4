"""Tenants' spend and volume caps (issue 26): the operator's daily and monthly caps in parts, the
tenant's own lower ones (v1/limits), usage counted with every reservation and refund, a send
beyond a cap refused whole (ER:0038, ER:0039) with nothing written, the warning webhook event."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from audit.models import AuditAction, AuditEntry
from sms.accounting import caps
from sms.models import (
    BalanceLedger,
    MessageBatch,
    SendRecord,
    TenantAccount,
    TenantUsage,
    WebhookEvent,
    WebhookEventKind,
)
from sms.tenant_api import services as tenant_services
from sms.webhooks import services as webhooks
from tests.support.backends import needs_mysql
from tests.support.platform import make_signature, make_template
from tests.support.waiting import scaled

pytestmark = pytest.mark.django_db

CHINA = ZoneInfo("Asia/Shanghai")
LIMITS = "/v1/limits"


@pytest.fixture
def ready(tenant):
    """A passed signature and notice template (one part a number), and 1000 messages."""
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=1000)
    return sign, template


def _account(user) -> TenantAccount:
    return TenantAccount.objects.get(user=user)


def _mobiles(count: int, start: int = 0) -> list[str]:
    return [f"1311234{index:04d}" for index in range(start, start + count)]


def _send(client, sign, template, mobiles):
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        return client.post(
            "/v1/message",
            {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["PL1"]},
            format="json",
        )


def _at_china(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=CHINA)


def _written(user) -> tuple:
    """What a refused send must leave as it was."""
    account = _account(user)
    return (
        account.balance_nums,
        MessageBatch.objects.count(),
        SendRecord.objects.count(),
        BalanceLedger.objects.count(),
        list(TenantUsage.objects.order_by("pk").values()),
        WebhookEvent.objects.count(),
    )


# --- GET and PUT v1/limits ----------------------------------------------------------------------


def test_limits_without_caps_show_the_usage_and_no_cap(basic_client, tenant, ready, business_clock):
    sign, template = ready
    business_clock.set_now(_at_china(dt.date(2026, 12, 5)))
    assert _send(basic_client(tenant), sign, template, _mobiles(3)).status_code == 200
    assert basic_client(tenant).get(LIMITS).json() == {
        "daily": {
            "start": "2026-12-05",
            "operator_cap": None,
            "own_cap": None,
            "cap": None,
            "used": 3,
            "remaining": None,
            "warning_at": None,
            "warned": False,
        },
        "monthly": {
            "start": "2026-12-01",
            "operator_cap": None,
            "own_cap": None,
            "cap": None,
            "used": 3,
            "remaining": None,
            "warning_at": None,
            "warned": False,
        },
        "warning_percent": 80,
    }


def test_a_tenant_lowers_its_cap_and_the_lower_one_holds(basic_client, tenant, ready):
    account = _account(tenant)
    tenant_services.set_operator_caps(account_id=account.pk, daily=1000, monthly=None)
    answer = basic_client(tenant).put(LIMITS, {"daily": 500, "monthly": 20000}, format="json")
    assert answer.status_code == 200, answer.json()
    daily, monthly = answer.json()["daily"], answer.json()["monthly"]
    assert (daily["operator_cap"], daily["own_cap"], daily["cap"], daily["warning_at"]) == (
        1000,
        500,
        500,
        400,
    )
    assert (monthly["operator_cap"], monthly["own_cap"], monthly["cap"]) == (None, 20000, 20000)
    assert basic_client(tenant).get(LIMITS).json() == answer.json()
    # The operator lowers its cap below the tenant's own: the operator's holds now.
    tenant_services.set_operator_caps(account_id=account.pk, daily=300, monthly=None)
    assert basic_client(tenant).get(LIMITS).json()["daily"]["cap"] == 300


def test_a_put_above_the_operators_cap_is_er0004_naming_it_and_changes_nothing(basic_client, tenant, ready):
    account = _account(tenant)
    tenant_services.set_operator_caps(account_id=account.pk, daily=1000, monthly=30000)
    entries = AuditEntry.objects.count()
    answer = basic_client(tenant).put(LIMITS, {"daily": 1001, "monthly": None}, format="json")
    assert (answer.status_code, answer.json()) == (
        400,
        {
            "error": "ER:0004",
            "message": "prams fail: daily: at most the operator's cap, 1000 parts: a tenant may only lower it",
        },
    )
    account.refresh_from_db()
    assert (account.own_daily_cap_parts, account.own_monthly_cap_parts) == (None, None)
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"daily": 5},
        {"daily": -1, "monthly": None},
        {"daily": "many", "monthly": None},
        {"daily": 1.5, "monthly": None},
        {"daily": 10**13, "monthly": None},
        {"daily": True, "monthly": None},
        [5, 6],
    ],
)
def test_bad_limits_are_er0004_and_nothing_is_written(basic_client, tenant, ready, body):
    account = _account(tenant)
    answer = basic_client(tenant).put(LIMITS, body, format="json")
    assert (answer.status_code, answer.json()["error"]) == (400, "ER:0004"), answer.json()
    account.refresh_from_db()
    assert (account.own_daily_cap_parts, account.own_monthly_cap_parts) == (None, None)
    assert not AuditEntry.objects.filter(action=AuditAction.CAP_CHANGE).exists()


def test_a_put_is_idempotent_and_each_change_is_audited_as_the_tenants(basic_client, tenant, ready):
    client = basic_client(tenant)
    for _ in range(3):
        assert client.put(LIMITS, {"daily": 50, "monthly": None}, format="json").status_code == 200
    entry = AuditEntry.objects.get(action=AuditAction.CAP_CHANGE)
    assert (entry.actor, entry.actor_kind, entry.action) == ("dcs", "v1_api", AuditAction.CAP_CHANGE)
    assert (entry.before, entry.after) == (
        {"own_daily_cap_parts": None, "own_monthly_cap_parts": None},
        {"own_daily_cap_parts": 50, "own_monthly_cap_parts": None},
    )
    assert client.put(LIMITS, {"daily": None, "monthly": None}, format="json").json()["daily"]["cap"] is None
    assert AuditEntry.objects.filter(action=AuditAction.CAP_CHANGE).count() == 2


def test_a_tenant_without_an_account_reads_no_caps_and_may_set_its_own(basic_client, tenant):
    assert basic_client(tenant).get(LIMITS).json()["daily"]["used"] == 0
    assert not TenantAccount.objects.exists()
    assert (
        basic_client(tenant).put(LIMITS, {"daily": 0, "monthly": None}, format="json").json()["daily"]["cap"]
        == 0
    )


# --- Beyond a cap --------------------------------------------------------------------------------


def test_a_send_beyond_the_daily_cap_is_er0038_and_nothing_is_written(basic_client, tenant, ready):
    sign, template = ready
    tenant_services.set_operator_caps(account_id=_account(tenant).pk, daily=10, monthly=None)
    assert _send(basic_client(tenant), sign, template, _mobiles(8)).status_code == 200
    before = _written(tenant)
    answer = _send(basic_client(tenant), sign, template, _mobiles(3, start=100))
    assert (answer.status_code, answer.json()) == (
        403,
        {
            "error": "ER:0038",
            "message": "daily cap reached: 8 of 10 parts used today (China time), this send needs 3",
        },
    )
    assert _written(tenant) == before
    assert _send(basic_client(tenant), sign, template, _mobiles(2, start=100)).status_code == 200  # up to it


def test_a_send_beyond_the_monthly_cap_is_er0039(basic_client, tenant, ready):
    sign, template = ready
    tenant_services.set_operator_caps(account_id=_account(tenant).pk, daily=100, monthly=5)
    before = _written(tenant)
    answer = _send(basic_client(tenant), sign, template, _mobiles(6))
    assert (answer.status_code, answer.json()) == (
        403,
        {
            "error": "ER:0039",
            "message": "monthly cap reached: 0 of 5 parts used this month (China time), this send needs 6",
        },
    )
    assert _written(tenant) == before


def test_a_tenants_own_cap_of_0_stops_every_send(basic_client, tenant, ready):
    sign, template = ready
    basic_client(tenant).put(LIMITS, {"daily": 0, "monthly": None}, format="json")
    assert _send(basic_client(tenant), sign, template, _mobiles(1)).json()["error"] == "ER:0038"


def test_numbers_that_cost_nothing_do_not_count(basic_client, tenant):
    """Opted-out numbers fail at once, uncharged: they use no cap."""
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="双十二全场5折{1}，回T退订", template_type=3)
    tenant_services.charge_tenant(username=tenant.username, charge=10)
    tenant_services.set_operator_caps(account_id=_account(tenant).pk, daily=1, monthly=None)
    tenant_services.block_mobiles(owner=tenant, mobiles=_mobiles(3))
    assert _send(basic_client(tenant), sign, template, _mobiles(4)).status_code == 200
    assert caps.usage(tenant_id=_account(tenant).pk, day=caps.today())["daily"] == 1


# --- Usage: per China-time day and month, net of refunds -----------------------------------------


def test_usage_counts_per_china_day_and_a_new_day_frees_the_daily_cap(
    basic_client, tenant, ready, business_clock
):
    sign, template = ready
    tenant_services.set_operator_caps(account_id=_account(tenant).pk, daily=5, monthly=8)
    # 23:59 China time is 15:59 UTC: still that China day.
    business_clock.set_now(dt.datetime(2026, 12, 5, 23, 59, tzinfo=CHINA))
    assert _send(basic_client(tenant), sign, template, _mobiles(5)).status_code == 200
    assert _send(basic_client(tenant), sign, template, _mobiles(1, 10)).json()["error"] == "ER:0038"
    business_clock.set_now(dt.datetime(2026, 12, 6, 0, 1, tzinfo=CHINA))
    assert _send(basic_client(tenant), sign, template, _mobiles(3, 10)).status_code == 200
    # The month goes on: 8 of 8.
    assert _send(basic_client(tenant), sign, template, _mobiles(1, 20)).json()["error"] == "ER:0039"
    limits = basic_client(tenant).get(LIMITS).json()
    assert (limits["daily"]["used"], limits["daily"]["remaining"]) == (3, 2)
    assert (limits["monthly"]["used"], limits["monthly"]["remaining"]) == (8, 0)
    business_clock.set_now(dt.datetime(2027, 1, 1, 9, 0, tzinfo=CHINA))
    assert _send(basic_client(tenant), sign, template, _mobiles(1, 20)).status_code == 200


def test_a_refund_gives_back_to_the_day_and_month_of_its_send_even_the_next_day(
    basic_client, tenant, ready, business_clock
):
    sign, template = ready
    account = _account(tenant)
    tenant_services.set_operator_caps(account_id=account.pk, daily=5, monthly=None)
    day = dt.date(2026, 12, 5)
    business_clock.set_now(_at_china(day))
    held = basic_client(tenant).post(
        "/v1/message",
        {
            "sign_id": sign.pk,
            "temp_id": template.pk,
            "mobiles": _mobiles(4),
            "params": ["PL1"],
            "send_at": int((business_clock.now() + dt.timedelta(days=2)).timestamp()),
        },
        format="json",
    )
    assert held.status_code == 200
    assert caps.usage(tenant_id=account.pk, day=day) == {"daily": 4, "monthly": 4}
    business_clock.set_now(_at_china(day + dt.timedelta(days=1)))
    assert basic_client(tenant).delete(f"/v1/message?uuid={held.json()['uuid']}").json()["cancelled"] == 4
    assert caps.usage(tenant_id=account.pk, day=day) == {"daily": 0, "monthly": 0}
    assert caps.usage(tenant_id=account.pk, day=day + dt.timedelta(days=1)) == {"daily": 0, "monthly": 0}


def test_one_refund_of_records_of_two_days_gives_back_to_each_day(
    tenant, other_tenant, ready, business_clock
):
    """A refund of many records (a provider down, a suspension) counts once per tenant and day:
    each batch's parts go back to the day of that batch."""
    from sms.sending.pipeline import fail_records

    sign, template = ready
    other_sign = make_signature(other_tenant)
    other_template = make_template(other_tenant, other_sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=other_tenant.username, charge=10)
    first, second = dt.date(2026, 12, 5), dt.date(2026, 12, 6)
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        business_clock.set_now(_at_china(first))
        tenant_services.send_tenant_message(
            owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=_mobiles(3), params=["PL1"]
        )
        business_clock.set_now(_at_china(second))
        tenant_services.send_tenant_message(
            owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=_mobiles(5, 10), params=["PL1"]
        )
        tenant_services.send_tenant_message(
            owner=other_tenant,
            sign_id=other_sign.pk,
            temp_id=other_template.pk,
            mobiles=_mobiles(2),
            params=["PL1"],
        )
    mine, others = _account(tenant).pk, _account(other_tenant).pk
    assert caps.usage(tenant_id=mine, day=second) == {"daily": 5, "monthly": 8}
    failing = list(SendRecord.objects.exclude(receive_phone__in=_mobiles(1, 10)).order_by("pk"))
    fail_records(records=failing, remark="no provider", code="NoProvider")
    assert caps.usage(tenant_id=mine, day=first) == {"daily": 0, "monthly": 1}
    assert caps.usage(tenant_id=mine, day=second) == {"daily": 1, "monthly": 1}
    assert caps.usage(tenant_id=others, day=second) == {"daily": 0, "monthly": 0}
    # Refunded once: a repeat gives back nothing more.
    fail_records(records=failing, remark="no provider", code="NoProvider")
    assert caps.usage(tenant_id=mine, day=second) == {"daily": 1, "monthly": 1}


def test_a_refund_never_takes_usage_below_zero(tenant, ready):
    """A batch sent before its usage was counted (usage rows lost, or older than the caps) gives
    back nothing that was not counted."""
    sign, template = ready
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        batch = tenant_services.send_tenant_message(
            owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=_mobiles(3), params=["PL1"]
        )
    TenantUsage.objects.update(parts=1)
    tenant_services.cancel_message(owner=tenant, batch_uuid=batch.uuid)
    assert set(TenantUsage.objects.values_list("parts", flat=True)) == {0}


# --- The warning ----------------------------------------------------------------------------------


def test_reaching_the_warning_threshold_writes_one_limit_warning_event_a_period(
    basic_client, tenant, ready, business_clock
):
    sign, template = ready
    webhooks.set_callback(owner=tenant, url="https://93.184.216.34/hooks")
    tenant_services.set_operator_caps(account_id=_account(tenant).pk, daily=10, monthly=None)
    business_clock.set_now(_at_china(dt.date(2026, 12, 5)))
    assert _send(basic_client(tenant), sign, template, _mobiles(7)).status_code == 200
    assert not WebhookEvent.objects.filter(kind=WebhookEventKind.LIMIT_WARNING).exists()  # 70 %
    assert _send(basic_client(tenant), sign, template, _mobiles(1, 100)).status_code == 200  # 80 %
    event = WebhookEvent.objects.get(kind=WebhookEventKind.LIMIT_WARNING)
    assert (event.record_id, event.url) == (None, "https://93.184.216.34/hooks")
    assert webhooks.event_payload(event) == {
        "event_id": str(event.pk),
        "type": "limit.warning",
        "period": "daily",
        "start": "2026-12-05",
        "cap": 10,
        "used": 8,
        "warning_percent": 80,
    }
    assert _send(basic_client(tenant), sign, template, _mobiles(2, 200)).status_code == 200  # 100 %
    assert WebhookEvent.objects.filter(kind=WebhookEventKind.LIMIT_WARNING).count() == 1
    assert basic_client(tenant).get(LIMITS).json()["daily"]["warned"] is True
    # The next day warns again, once.
    business_clock.set_now(_at_china(dt.date(2026, 12, 6)))
    assert basic_client(tenant).get(LIMITS).json()["daily"]["warned"] is False
    assert _send(basic_client(tenant), sign, template, _mobiles(9, 300)).status_code == 200
    assert WebhookEvent.objects.filter(kind=WebhookEventKind.LIMIT_WARNING).count() == 2


def test_the_warning_percent_is_a_setting(basic_client, tenant, ready, settings):
    sign, template = ready
    settings.SMS_CAP_WARNING_PERCENT = 50
    webhooks.set_callback(owner=tenant, url="https://93.184.216.34/hooks")
    tenant_services.set_operator_caps(account_id=_account(tenant).pk, daily=None, monthly=10)
    assert basic_client(tenant).get(LIMITS).json()["monthly"]["warning_at"] == 5
    _send(basic_client(tenant), sign, template, _mobiles(5))
    event = WebhookEvent.objects.get(kind=WebhookEventKind.LIMIT_WARNING)
    assert (event.payload["period"], event.payload["used"], event.payload["warning_percent"]) == (
        "monthly",
        5,
        50,
    )


def test_without_a_callback_the_warning_is_marked_and_no_event_written(basic_client, tenant, ready):
    sign, template = ready
    tenant_services.set_operator_caps(account_id=_account(tenant).pk, daily=1, monthly=None)
    assert _send(basic_client(tenant), sign, template, _mobiles(1)).status_code == 200
    assert not WebhookEvent.objects.exists()
    assert basic_client(tenant).get(LIMITS).json()["daily"]["warned"] is True


def test_a_refused_send_writes_no_warning(basic_client, tenant, ready):
    sign, template = ready
    webhooks.set_callback(owner=tenant, url="https://93.184.216.34/hooks")
    tenant_services.set_operator_caps(account_id=_account(tenant).pk, daily=10, monthly=None)
    assert _send(basic_client(tenant), sign, template, _mobiles(11)).json()["error"] == "ER:0038"
    assert (
        not WebhookEvent.objects.exists() and not TenantUsage.objects.filter(warned_at__isnull=False).exists()
    )


# --- Concurrency ------------------------------------------------------------------------------------

THREADS = 8


@needs_mysql("row locks are MySQL's; SQLite serialises every write")
@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_never_pass_a_cap_together(tenant):
    """Eight sends of 3 parts race for the 9 parts left of a daily cap of 10: exactly three pass,
    whatever the interleaving: the tenant's row, locked by the reservation, orders them."""
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=1000)
    account = _account(tenant)
    tenant_services.set_operator_caps(account_id=account.pk, daily=10, monthly=None)
    with mock.patch("sms.sending.pipeline.publish_dispatch"):  # the day's usage rows exist already
        tenant_services.send_tenant_message(
            owner=tenant, sign_id=sign.pk, temp_id=template.pk, mobiles=["13900000000"], params=["PL1"]
        )
    barrier = threading.Barrier(THREADS)

    def send(index: int) -> str:
        try:
            barrier.wait(timeout=scaled(60))
            tenant_services.send_tenant_message(
                owner=tenant,
                sign_id=sign.pk,
                temp_id=template.pk,
                mobiles=_mobiles(3, start=index * 10),
                params=["PL1"],
            )
            return "sent"
        except Exception as exc:  # noqa: BLE001 - the test counts what each send raised
            return type(exc).__name__
        finally:
            connection.close()

    with mock.patch("sms.sending.pipeline.publish_dispatch"), ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(send, range(THREADS)))
    assert sorted(outcomes) == ["CapReached"] * 5 + ["sent"] * 3
    assert caps.usage(tenant_id=account.pk, day=caps.today()) == {"daily": 10, "monthly": 10}
    assert SendRecord.objects.count() == 10
    account.refresh_from_db()
    assert account.balance_nums == 1000 - 10

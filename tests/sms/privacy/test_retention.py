"""Retention (issue 27): beat erases the numbers and texts older than
SMS_PERSONAL_DATA_RETENTION_DAYS, in bounded batches, leaving records still on their way; counts,
parts, states, money and provider ids stay, so statistics, the ledger, reconciliation and opt-outs
read the same after it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone

from providers.base import DeliveryReport, ReportStatus
from sms.accounting.reconciliation import billing_reconciliation
from sms.delivery import reports
from sms.marketing import optout
from sms.models import (
    BalanceLedger,
    BlocklistEntry,
    DailyStatistics,
    IdempotencyKey,
    MessageBatch,
    PendingReport,
    PushInbox,
    RecordState,
    RejectedReport,
    RetentionCursor,
    SendRecord,
    SendStatus,
    Station,
    TenantAccount,
    Uplink,
)
from sms.privacy import services
from sms.tasks import erase_expired_personal_data
from tests.support.factories import UserFactory, send_record
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

DAYS = 90
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
CUTOFF = NOW - dt.timedelta(days=DAYS)


@pytest.fixture(autouse=True)
def _small_batches(settings):
    settings.SMS_PERSONAL_DATA_RETENTION_DAYS = DAYS
    settings.SMS_RETENTION_BATCH_SIZE = 2


def _aged(obj, at: dt.datetime, field: str = "created_at"):
    type(obj).objects.filter(pk=obj.pk).update(**{field: at})
    return obj


def _record(phone: str, at: dt.datetime, state: RecordState = RecordState.DELIVERED) -> SendRecord:
    record = send_record(
        receive_phone=phone,
        receive_name="张三",
        content="【去采购】验证码 112095",
        sms_content={"verify_code": "112095"},
        state=state,
        provider="gateway",
        dispatch_id="D1",
        provider_message_id=f"D1:{phone}",
        billed_parts=1,
    )
    return _aged(record, at)


def _erased(record: SendRecord) -> bool:
    record.refresh_from_db()
    return (record.receive_phone, record.phone_e164, record.content, record.sms_content) == ("", "", "", {})


def test_retention_erases_exactly_the_final_records_older_than_the_setting():
    """Rows are written in time order, as ids grow: a second outside the boundary is erased, a
    second inside is kept."""
    long_ago = _record("13100000001", CUTOFF - dt.timedelta(days=30), RecordState.FAILED)
    just_outside = _record("13100000002", CUTOFF - dt.timedelta(seconds=1))
    just_inside = _record("13100000003", CUTOFF + dt.timedelta(seconds=1))
    recent = _record("13100000004", NOW - dt.timedelta(hours=1))

    report = services.erase_expired(now=NOW)

    assert _erased(long_ago) and _erased(just_outside)
    assert not _erased(just_inside) and not _erased(recent)
    assert just_inside.phone_e164 == "+8613100000003" and just_inside.content.startswith("【去采购】")
    # Kept: what statistics, the ledger and reconciliation read, and the provider's id less the number.
    assert (just_outside.state, just_outside.segments, just_outside.billed_parts, just_outside.provider) == (
        RecordState.DELIVERED,
        1,
        1,
        "gateway",
    )
    assert just_outside.provider_message_id == "D1:" and just_inside.provider_message_id == "D1:13100000003"
    assert just_outside.receive_name == ""
    assert report.erased["tbl_sms_send_record"] == 2
    assert report.batches >= 2  # two rows per batch: the walk crossed batches
    assert "tbl_sms_send_record" in report.finished


def test_uplinks_reports_inbox_batches_and_idempotency_answers_past_the_retention_go_too(tenant):
    account = TenantAccount.objects.create(user=tenant)
    old, new = CUTOFF - dt.timedelta(minutes=1), CUTOFF + dt.timedelta(minutes=1)
    batches = [
        _aged(
            MessageBatch.objects.create(
                uuid=uuid.uuid4(), tenant=account, sign_id=1, temp_id=1, content="您的订单已发货", total=1
            ),
            at,
        )
        for at in (old, new)
    ]
    uplinks = [
        _aged(
            Uplink.objects.create(
                provider="gateway",
                uplink_key=f"k{at}",
                phone="13100000001",
                text="好的",
                received_at=at,
                raw={"m": 1},
            ),
            at,
        )
        for at in (old, new)
    ]
    pending = [
        _aged(
            PendingReport.objects.create(
                provider="gateway", provider_message_id=f"p{at}", delivered=True, phone="131"
            ),
            at,
            "received_at",
        )
        for at in (old, new)
    ]
    rejected = [
        _aged(
            RejectedReport.objects.create(
                provider="gateway", reported_phone="131****0001", delivered=True, reason="x"
            ),
            at,
            "received_at",
        )
        for at in (old, new)
    ]
    pushes = [
        PushInbox.objects.create(provider="gateway", kind="status", body=b"{}", received_at=at)
        for at in (old, new)
    ]
    keys = [
        _aged(
            IdempotencyKey.objects.create(
                scope="s", path="p", key=str(at), request_hash="h", body={}, locked_at=at
            ),
            at,
        )
        for at in (old, new)
    ]

    services.erase_expired(now=NOW)

    for rows in (batches, uplinks, pending, rejected):
        for row in rows:
            row.refresh_from_db()
    assert [b.content for b in batches] == ["", "您的订单已发货"]
    assert [(u.phone, u.text, u.raw) for u in uplinks] == [("", "", {}), ("13100000001", "好的", {"m": 1})]
    assert [p.phone for p in pending] == ["", "131"]
    assert [r.reported_phone for r in rejected] == ["", "131****0001"]
    assert list(PushInbox.objects.values_list("pk", flat=True)) == [pushes[1].pk]
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [keys[1].pk]


def test_a_batch_with_a_record_still_on_its_way_keeps_its_text(tenant):
    account = TenantAccount.objects.create(user=tenant)
    batch = _aged(
        MessageBatch.objects.create(
            uuid=uuid.uuid4(), tenant=account, sign_id=1, temp_id=1, content="x", total=1
        ),
        CUTOFF - dt.timedelta(days=1),
    )
    record = send_record(batch=batch, state=RecordState.UNKNOWN)
    services.erase_expired(now=NOW)
    batch.refresh_from_db()
    assert batch.content == "x"
    SendRecord.objects.filter(pk=record.pk).update(state=RecordState.FAILED)
    services.erase_expired(now=NOW)
    batch.refresh_from_db()
    assert batch.content == ""


@pytest.mark.parametrize(
    "state",
    [
        RecordState.SCHEDULED,
        RecordState.QUEUED,
        RecordState.SENDING,
        RecordState.SUBMITTED,
        RecordState.UNKNOWN,
    ],
)
def test_a_record_not_final_is_left_and_erased_on_a_later_run_once_it_ends(state):
    moving = _record("13100000001", CUTOFF - dt.timedelta(days=3), state)
    final = _record("13100000002", CUTOFF - dt.timedelta(days=2))

    report = services.erase_expired(now=NOW)

    assert not _erased(moving) and _erased(final)
    assert report.held == {"tbl_sms_send_record": 1}
    cursor = RetentionCursor.objects.get(table="tbl_sms_send_record")
    assert cursor.held_ids == [moving.pk] and cursor.next_id > final.pk
    assert services.erase_expired(now=NOW).erased["tbl_sms_send_record"] == 0  # still moving
    SendRecord.objects.filter(pk=moving.pk).update(state=RecordState.DELIVERED)
    again = services.erase_expired(now=NOW)
    assert again.erased["tbl_sms_send_record"] == 1 and again.held == {}
    assert _erased(moving)
    assert RetentionCursor.objects.get(table="tbl_sms_send_record").held_ids == []


def test_more_rows_still_moving_than_the_cursor_remembers_hold_the_cursor_at_the_first_left_out(monkeypatch):
    monkeypatch.setattr(services, "HELD_IDS_MAX", 1)
    first = _record("13100000001", CUTOFF - dt.timedelta(days=4), RecordState.SUBMITTED)
    second = _record("13100000002", CUTOFF - dt.timedelta(days=3), RecordState.SUBMITTED)
    final = _record("13100000003", CUTOFF - dt.timedelta(days=2))

    services.erase_expired(now=NOW)

    cursor = RetentionCursor.objects.get(table="tbl_sms_send_record")
    assert (cursor.held_ids, cursor.next_id) == ([first.pk], second.pk)
    assert _erased(final)
    SendRecord.objects.filter(pk__in=[first.pk, second.pk]).update(state=RecordState.FAILED)
    services.erase_expired(now=NOW)
    assert _erased(first) and _erased(second)


def test_a_second_run_erases_nothing_and_starts_from_its_cursor():
    for index in range(5):
        _record(f"1310000000{index}", CUTOFF - dt.timedelta(days=5 - index))
    assert services.erase_expired(now=NOW).erased["tbl_sms_send_record"] == 5

    again = services.erase_expired(now=NOW)

    assert again.total == 0
    # From the cursor: one look at the first row younger than the retention (none here), not a rescan.
    assert again.batches == 0


def test_a_run_while_another_holds_the_lock_does_nothing():
    record = _record("13100000001", CUTOFF - dt.timedelta(days=1))
    cache.add(services.LOCK_KEY, "other", 60)
    assert services.erase_expired(now=NOW).skipped == "locked"
    assert not _erased(record)


def test_zero_days_turns_retention_off(settings):
    settings.SMS_PERSONAL_DATA_RETENTION_DAYS = 0
    record = _record("13100000001", CUTOFF - dt.timedelta(days=1000))
    assert services.erase_expired(now=NOW).skipped == "off"
    assert not _erased(record)


def test_the_beat_schedule_runs_the_retention_task(settings):
    entries = [entry for entry in django_settings.CELERY_BEAT_SCHEDULE.values()]
    assert "sms.erase_expired_personal_data" in [entry["task"] for entry in entries]
    assert erase_expired_personal_data.name == "sms.erase_expired_personal_data"
    record = _record("13100000001", timezone.now() - dt.timedelta(days=DAYS + 1))
    assert erase_expired_personal_data() == 1
    assert _erased(record)


# --- what retention keeps: statistics, the ledger, reconciliation, opt-outs ------------------------


def _sent_and_reported(add_record, phone: str, *, delivered: bool, submitted: dt.datetime) -> SendRecord:
    record = add_record(receive_phone=int(phone))
    SendRecord.objects.filter(pk=record.pk).update(
        state=RecordState.SUBMITTED,
        provider="tencent",
        provider_message_id=f"sid-{record.pk}",
        submitted_at=submitted,
    )
    reports.apply_delivery_reports(
        provider="tencent",
        reports=[
            DeliveryReport(
                provider="tencent",
                provider_message_id=f"sid-{record.pk}",
                status=ReportStatus.DELIVERED if delivered else ReportStatus.FAILED,
                code="" if delivered else "E1",
            )
        ],
    )
    SendRecord.objects.filter(pk=record.pk).update(billed_parts=2 if delivered else None)
    return record


def _books(day: dt.date) -> dict:
    return {
        "statistics": list(DailyStatistics.objects.order_by("pk").values()),
        "ledger": list(
            BalanceLedger.objects.order_by("pk").values("delta", "balance_after", "reason", "ref")
        ),
        "ledger_sum": BalanceLedger.objects.aggregate(total=Sum("delta"))["total"],
        "balance": Station.objects.get(station_id="T7442").balance_nums,
        "reconciliation": [dataclasses.asdict(item) for item in billing_reconciliation(day=day)],
    }


def test_statistics_ledger_and_reconciliation_read_the_same_after_retention(recharge, add_record):
    recharge("T7442", 20)
    submitted = timezone.now() - dt.timedelta(days=DAYS + 5)
    records = [
        _sent_and_reported(add_record, f"1310000000{index}", delivered=index != 1, submitted=submitted)
        for index in range(3)
    ]
    for record in records:
        _aged(record, submitted)
    day = timezone.localdate(submitted)
    before = _books(day)
    assert before["reconciliation"] and before["reconciliation"][0]["accepted"] == 3
    assert any(row["send_failed_nums"] for row in before["statistics"])

    report = services.erase_expired()

    assert report.erased["tbl_sms_send_record"] == 3
    assert all(_erased(record) for record in records)
    assert _books(day) == before


@pytest.fixture
def marketing_tenant(tenant, basic_client, root_user, business_clock):
    business_clock.set_now(dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="双十二全场5折{1}，回T退订", template_type=3)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 100}, format="json")
    return sign, template


def _marketing(client, sign, template, mobiles) -> str:
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        response = client.post(
            "/v1/message",
            {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["x"]},
            format="json",
        )
    assert response.status_code == 200, response.json()
    return response.json()["uuid"]


def test_an_opt_out_whose_number_was_erased_still_refuses_marketing(
    basic_client, tenant, marketing_tenant, business_clock
):
    from sms.privacy.services import erase_mobile

    sign, template = marketing_tenant
    client = basic_client(tenant)
    assert client.post(
        "/v1/blocklist", {"mobiles": ["13100000001"], "sign_id": sign.pk}, format="json"
    ).json() == {"added": 1}
    _aged(BlocklistEntry.objects.get(), CUTOFF - dt.timedelta(days=100), "source_at")

    erase_mobile(number="13100000001", dry_run=False)
    services.erase_expired()

    entry = BlocklistEntry.objects.get()
    assert entry.phone_e164 == ""
    assert optout.blocked_mobiles(tenant_id=entry.tenant_id, sign_id=sign.pk, mobiles_e164=["+8613100000001"])
    balance = TenantAccount.objects.get(user=tenant).balance_nums
    batch = _marketing(client, sign, template, ["13100000001", "13100000002"])
    refused = SendRecord.objects.get(batch__uuid=batch, phone_e164="+8613100000001")
    assert (refused.state, refused.provider_code) == (RecordState.FAILED, optout.OPTED_OUT_CODE)
    assert TenantAccount.objects.get(user=tenant).balance_nums == balance - 1
    # v1/blocklist: the erased entry lists with an empty number, is found by the number, and removed by it.
    listed = client.get("/v1/blocklist").json()
    assert [item["mobile"] for item in listed["items"]] == [""]
    assert client.get("/v1/blocklist", {"mobile": "13100000001"}).json()["total"] == 1
    assert client.post(
        "/v1/blocklist", {"mobiles": ["13100000001"], "sign_id": sign.pk}, format="json"
    ).json() == {"added": 0}
    removed = client.delete("/v1/blocklist", {"mobiles": ["13100000001"], "sign_id": sign.pk}, format="json")
    assert removed.json() == {"removed": 1}


# --- the reads that show records still answer once they are erased --------------------------------


def test_the_reads_of_erased_records_still_answer(
    station_client, basic_client, tenant, marketing_tenant, client, business_clock
):
    sign, template = marketing_tenant
    batch = _marketing(basic_client(tenant), sign, template, ["13100000003"])
    send_record(receive_phone="13100000004", state=RecordState.DELIVERED)
    SendRecord.objects.update(state=RecordState.DELIVERED, status=SendStatus.SUCCESS)
    Uplink.objects.create(
        provider="gateway",
        uplink_key="k",
        phone="13100000004",
        text="好",
        received_at=timezone.now(),
        station_id="T7442",
    )
    SendRecord.objects.update(created_at=timezone.now() - dt.timedelta(days=DAYS + 1))
    Uplink.objects.update(created_at=timezone.now() - dt.timedelta(days=DAYS + 1))
    assert services.erase_expired().total >= 3

    day = timezone.localdate(SendRecord.objects.get(station_id="T7442").created_at).isoformat()
    records = station_client.get(
        "/sms/send_record/get", {"station_id": "T7442", "start_date": day, "end_date": day}
    ).json()
    assert records["code"] == 0, records
    assert [row["receive_phone"] for row in records["data"]] == [""]
    assert station_client.get("/sms/uplink/get", {"station_id": "T7442"}).json()["code"] == 0
    progress = basic_client(tenant).get("/v1/message", {"uuid": batch})
    assert progress.status_code == 200 and progress.json()["items"][0]["mobile"] == ""
    assert basic_client(tenant).get("/v1/uplink").status_code == 200
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    record = SendRecord.objects.filter(station_id="T7442").get()
    for page in (
        "/admin/sms/sendrecord/",
        f"/admin/sms/sendrecord/{record.pk}/change/",
        "/admin/sms/uplink/",
        "/admin/sms/blocklistentry/",
        "/dashboard",
    ):
        assert client.get(page).status_code == 200, page

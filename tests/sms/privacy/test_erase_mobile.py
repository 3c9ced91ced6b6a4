"""Erasure on request (issue 27): ``manage.py erase_mobile`` finds a number planted in every table
that stores numbers or texts and erases it there; the opt-out hash stays; a dry run only counts."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from sms.core.phones import phone_hash
from sms.models import (
    BlocklistEntry,
    IdempotencyKey,
    MessageBatch,
    PendingReport,
    PushInbox,
    RecordState,
    RejectedReport,
    SendRecord,
    TenantAccount,
    Uplink,
    WebhookDelivery,
    WebhookEvent,
)
from sms.privacy import selectors
from sms.privacy.services import erase_mobile
from tests.support.factories import send_record

pytestmark = pytest.mark.django_db

NATIONAL = "13112345678"
E164 = "+86" + NATIONAL
OTHER = "13987654321"
SCANNED_APPS = ("sms", "signatures", "templates_mgmt", "axes", "audit")
TEXT_TYPES = {"CharField", "TextField", "JSONField", "BinaryField", "GenericIPAddressField", "SlugField"}


def _text_columns(model: type[models.Model]) -> list[str]:
    return [
        field.name
        for field in model._meta.concrete_fields
        if field.get_internal_type() in TEXT_TYPES and not getattr(field, "generated", False)
    ]


def _scanned_models() -> Iterator[type[models.Model]]:
    for label in SCANNED_APPS:
        yield from apps.get_app_config(label).get_models()


def _where(needle: str) -> list[str]:
    """Every ``table.column`` of the scanned apps that still holds ``needle``: found by model
    introspection, so a table added later is scanned too."""
    found = []
    for model in _scanned_models():
        for name in _text_columns(model):
            kind = model._meta.get_field(name).get_internal_type()
            if kind == "BinaryField":
                hits = any(
                    needle.encode() in bytes(v or b"") for v in model.objects.values_list(name, flat=True)
                )
            elif kind == "JSONField":
                hits = model.objects.annotate(_t=Cast(name, TextField())).filter(_t__contains=needle).exists()
            else:
                hits = model.objects.filter(**{f"{name}__contains": needle}).exists()
            if hits:
                found.append(f"{model._meta.db_table}.{name}")
    return found


@pytest.fixture
def account(tenant) -> TenantAccount:
    return TenantAccount.objects.create(user=tenant, balance_nums=10)


def _plant_everywhere(account: TenantAccount) -> dict[type[models.Model], Any]:
    """One row per table of the inventory with the number in every one of its listed columns."""
    now = timezone.now()
    batch = MessageBatch.objects.create(
        uuid=uuid.uuid4(), tenant=account, sign_id=1, temp_id=1, content=f"call {NATIONAL}", total=1
    )
    record = send_record(
        receive_phone=NATIONAL,
        receive_name=f"buyer {NATIONAL}",
        content=f"【去采购】your number {E164}",
        sms_content={"mobile": E164, "as_number": int(NATIONAL)},
        remark=f"failed for {NATIONAL}",
        dispatch_id="D9",
        provider_message_id=f"D9:{NATIONAL}",
        state=RecordState.DELIVERED,
        batch=batch,
    )
    other = send_record(receive_phone=OTHER, state=RecordState.DELIVERED)
    planted = {
        SendRecord: record,
        MessageBatch: batch,
        Uplink: Uplink.objects.create(
            provider="gateway",
            uplink_key="k1",
            phone=NATIONAL,
            text=f"TD {NATIONAL}",
            received_at=now,
            raw={"mobile": NATIONAL},
        ),
        PendingReport: PendingReport.objects.create(
            provider="gateway",
            provider_message_id=f"D9:{NATIONAL}",
            delivered=True,
            phone=NATIONAL,
            description=f"to {E164}",
        ),
        RejectedReport: RejectedReport.objects.create(
            provider="gateway",
            provider_message_id=f"D8:{NATIONAL}",
            reported_phone=E164,
            delivered=True,
            reason="x",
        ),
        PushInbox: PushInbox.objects.create(
            provider="gateway",
            kind="status",
            body=json.dumps({"sendId": "D9", "mobile": NATIONAL}).encode(),
            received_at=now,
        ),
        IdempotencyKey: IdempotencyKey.objects.create(
            scope="tenant:1",
            path="v1/message",
            key="k",
            request_hash="h",
            body={"items": [{"mobile": E164}], "n": int(NATIONAL)},
            locked_at=now,
        ),
        BlocklistEntry: BlocklistEntry.objects.create(
            tenant=account,
            sign_id=0,
            phone_e164=E164,
            phone_hash=phone_hash(E164),
            source="uplink",
            source_text=NATIONAL,
            source_at=now,
        ),
        WebhookEvent: WebhookEvent.objects.create(
            record=other,
            tenant_id=account.pk,
            url="https://x",
            next_attempt_at=now,
            last_error=f"bad {NATIONAL}",
        ),
        WebhookDelivery: WebhookDelivery.objects.create(
            tenant_id=account.pk, url="https://x", outcome="failed", error=f"bad {NATIONAL}", event_count=1
        ),
        AccessAttempt: AccessAttempt.objects.create(
            username=NATIONAL,
            ip_address="127.0.0.1",
            user_agent=f"ua {NATIONAL}",
            path_info=f"/v1/x/{NATIONAL}",
            get_data=f"mobile={NATIONAL}",
            post_data=f"mobile={E164}",
            failures_since_start=1,
        ),
        AccessLog: AccessLog.objects.create(
            username=E164, ip_address="127.0.0.1", user_agent=NATIONAL, path_info=NATIONAL
        ),
        AccessFailureLog: AccessFailureLog.objects.create(
            username=NATIONAL, ip_address="127.0.0.1", user_agent=NATIONAL, path_info=NATIONAL
        ),
    }
    # A record of someone else whose text names the number: the number is cut out, the rest stays.
    send_record(receive_phone=OTHER, content=f"call {NATIONAL} back", state=RecordState.DELIVERED)
    return planted


def test_every_text_column_of_every_table_is_placed_in_the_inventory():
    """A new table or column that may hold a number must be listed (erased) or declared free of
    numbers: nothing is left to chance."""
    placed: dict[type[models.Model], set[str]] = {}
    for table in selectors.PERSONAL_TABLES:
        placed[table.model] = {*table.exact, *table.inside, *table.erased}
    for model, names in selectors.NOT_PERSONAL_COLUMNS.items():
        placed.setdefault(model, set()).update(names)
    unplaced = [
        f"{model._meta.db_table}.{name}"
        for model in _scanned_models()
        if model not in selectors.NOT_PERSONAL
        for name in _text_columns(model)
        if name not in placed.get(model, set())
    ]
    assert unplaced == []


def test_the_planting_covers_every_listed_column(account):
    _plant_everywhere(account)
    listed = {
        f"{table.label}.{name}"
        for table in selectors.PERSONAL_TABLES
        for name in {*table.exact, *table.inside}
        if name not in ("ip_address",)
    }
    assert listed <= set(_where(NATIONAL))


def test_erase_mobile_finds_the_number_planted_in_every_table_and_leaves_it_nowhere(account):
    planted = _plant_everywhere(account)
    assert _where(NATIONAL)

    report = erase_mobile(number=E164, dry_run=False)

    assert _where(NATIONAL) == []
    assert _where("8613112345678") == []
    touched = {table.table: table.touched for table in report.tables}
    assert all(touched[table.label] >= 1 for table in selectors.PERSONAL_TABLES), touched
    # The number's own rows are erased, someone else's are kept with the number cut out.
    record = SendRecord.objects.get(pk=planted[SendRecord].pk)
    assert (record.receive_phone, record.phone_e164, record.content, record.sms_content) == ("", "", "", {})
    assert record.provider_message_id == "D9:*"
    assert record.segments == 1 and record.state == RecordState.DELIVERED
    assert SendRecord.objects.get(content="call * back").phone_e164 == "+86" + OTHER
    assert SendRecord.objects.filter(phone_e164="+86" + OTHER).count() == 2
    # The opt-out keeps its hash; the push inbox row and the login records are gone.
    entry = BlocklistEntry.objects.get()
    assert (entry.phone_e164, entry.phone_hash) == ("", phone_hash(E164))
    assert not PushInbox.objects.exists()
    assert not AccessAttempt.objects.exists()
    assert IdempotencyKey.objects.get().body == {"items": [{"mobile": "*"}], "n": "*"}


@pytest.mark.parametrize("spelling", [NATIONAL, E164, "86 131 1234 5678", "+86 131-1234-5678"])
def test_any_spelling_of_the_number_finds_it(account, spelling):
    _plant_everywhere(account)
    erase_mobile(number=spelling, dry_run=False)
    assert _where(NATIONAL) == []


def _snapshot() -> dict[str, list[Any]]:
    return {
        model._meta.db_table: sorted(map(repr, model.objects.values_list(*_text_columns(model))))
        for model in _scanned_models()
        if _text_columns(model)
    }


def test_a_dry_run_counts_what_a_real_run_erases_and_changes_nothing(account):
    _plant_everywhere(account)
    before = _snapshot()

    dry = erase_mobile(number=NATIONAL, dry_run=True)

    assert _snapshot() == before
    real = erase_mobile(number=NATIONAL, dry_run=False)
    assert dry.touched == real.touched > 0
    assert [(t.table, t.erased, t.cut, t.deleted) for t in dry.tables] == [
        (t.table, t.erased, t.cut, t.deleted) for t in real.tables
    ]


def test_a_record_still_on_its_way_is_held_and_erased_once_it_ends():
    record = send_record(receive_phone=NATIONAL, state=RecordState.SUBMITTED)

    report = erase_mobile(number=NATIONAL, dry_run=False)

    assert report.held == 1
    assert SendRecord.objects.get(pk=record.pk).phone_e164 == E164
    SendRecord.objects.filter(pk=record.pk).update(state=RecordState.DELIVERED)
    assert erase_mobile(number=NATIONAL, dry_run=False).held == 0
    assert SendRecord.objects.get(pk=record.pk).phone_e164 == ""


def test_a_second_run_finds_nothing(account):
    _plant_everywhere(account)
    erase_mobile(number=NATIONAL, dry_run=False)
    assert erase_mobile(number=NATIONAL, dry_run=False).touched == 0


def test_the_command_prints_what_it_touched_per_table_and_masks_the_number(account):
    _plant_everywhere(account)
    out = io.StringIO()

    call_command("erase_mobile", NATIONAL, "--dry-run", stdout=out)

    text = out.getvalue()
    assert NATIONAL not in text
    assert "131****5678: would touch" in text
    assert "tbl_sms_send_record: erased 1, cut out of 1" in text
    assert SendRecord.objects.filter(phone_e164=E164).exists()
    call_command("erase_mobile", NATIONAL, stdout=io.StringIO())
    assert not SendRecord.objects.filter(phone_e164=E164).exists()


def test_the_command_refuses_what_is_not_a_mobile_number():
    with pytest.raises(CommandError, match="not a mobile number"):
        call_command("erase_mobile", "hello", stdout=io.StringIO())

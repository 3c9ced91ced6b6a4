"""The country allowlist (issue 26): with international sending on, a number whose calling code an
operator has not allowed for the tenant fails ``BLOCKED:COUNTRY``: never sent, never charged, its
webhook event written; the request succeeds for the rest. +86 is always allowed."""

from __future__ import annotations

import pytest

from gm_server_notify.errors import InvalidInput
from sms.guard import countries
from sms.guard import services as guard_services
from sms.models import AllowedCallingCode, BalanceLedger, LedgerReason, RecordState, SendRecord, WebhookEvent
from sms.webhooks import services as webhooks
from tests.support.platform import allow_international

pytestmark = pytest.mark.django_db

UK, SG, US = "+447911123456", "+6591234567", "+12015550123"
BLOCKED_UK = "BLOCKED:COUNTRY: +44 is not on your account's country allowlist; an operator must allow it"


def test_a_code_not_allowed_fails_blocked_country_uncharged_and_the_rest_goes_out(sender):
    allow_international(sender.user, 65)
    batch = sender.send(["13912340001", UK, SG], kind=2)
    assert sender.states(batch) == {
        "13912340001": ("queued", ""),
        UK: ("failed", BLOCKED_UK),
        SG: ("queued", ""),
    }
    blocked = SendRecord.objects.get(batch__uuid=batch, phone_e164=UK)
    assert (blocked.state, blocked.provider_code, blocked.segments, blocked.provider) == (
        RecordState.FAILED,
        "BLOCKED:COUNTRY",
        0,
        "",
    )
    assert blocked.finished_at is not None and blocked.queued_at is None
    # Reserved: the two numbers sent (one part each), not the blocked one.
    reserve = BalanceLedger.objects.get(tenant=sender.account, reason=LedgerReason.RESERVE)
    assert reserve.delta == -2 and sender.balance() == 998


def test_a_blocked_number_gets_its_webhook_event_like_any_final_state(sender, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    webhooks.set_callback(owner=sender.user, url="http://127.0.0.1:9/sms")
    allow_international(sender.user)
    batch = sender.send([UK], kind=2)
    event = WebhookEvent.objects.get()
    assert (
        event.record.batch.uuid.hex == batch.replace("-", "")
        and event.record.provider_code == "BLOCKED:COUNTRY"
    )


def test_plus_86_is_always_allowed_and_is_never_listed(sender):
    allow_international(sender.user)  # no code allowed
    assert sender.states(sender.send(["+8613912340001"], kind=2)) == {"13912340001": ("queued", "")}
    with pytest.raises(InvalidInput, match=r"\+86 is always allowed"):
        guard_services.allow_calling_code(account_id=sender.account.pk, calling_code=86)
    with pytest.raises(InvalidInput, match=r"\+999 is not a country calling code"):
        guard_services.allow_calling_code(account_id=sender.account.pk, calling_code=999)
    assert not AllowedCallingCode.objects.exists()


def test_codes_are_allowed_one_by_one_and_a_removed_code_blocks_the_next_send(sender):
    allow_international(sender.user, 44)
    account = sender.account
    assert guard_services.allow_calling_code(account_id=account.pk, calling_code=44) is False  # already
    assert guard_services.allow_calling_code(account_id=account.pk, calling_code=1) is True
    assert countries.allowed_codes(account) == {86, 44, 1}
    assert sender.states(sender.send([UK, US], kind=2)) == {UK: ("queued", ""), US: ("queued", "")}
    assert guard_services.disallow_calling_code(account_id=account.pk, calling_code=44) is True
    assert guard_services.disallow_calling_code(account_id=account.pk, calling_code=44) is False
    assert sender.states(sender.send([UK, US], kind=2)) == {UK: ("failed", BLOCKED_UK), US: ("queued", "")}


def test_with_international_off_the_allowlist_alone_sends_nothing_abroad(sender):
    guard_services.allow_calling_code(account_id=sender.account.pk, calling_code=44)
    assert sender.post([UK], kind=2).json()["error"] == "ER:0040"


def test_a_batch_of_only_blocked_numbers_is_accepted_and_charges_nothing(sender):
    allow_international(sender.user)
    batch = sender.send([UK], kind=1)
    assert sender.states(batch) == {UK: ("failed", BLOCKED_UK)}
    assert sender.balance() == 1000
    assert not BalanceLedger.objects.filter(reason=LedgerReason.RESERVE).exists()

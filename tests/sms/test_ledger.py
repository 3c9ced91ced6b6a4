"""sms/accounting/ledger.py: a balance changes only through the ledger, never below zero, and a
refund, reconciliation or settlement of a record is booked once, on the record's own account."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from gm_server_notify.errors import InsufficientBalance
from sms.accounting.ledger import (
    AlreadyBooked,
    change_balance,
    reconcile_billed,
    refund_records,
    settle_kept,
)
from sms.models import BalanceLedger, LedgerReason, MessageBatch, Station, TenantAccount
from tests.support.books import ledger_matches_balance
from tests.support.factories import UserFactory, send_record

pytestmark = pytest.mark.django_db


def _station(station_id: str = "T7442", balance: int = 0) -> Station:
    station = Station.objects.create(station_id=station_id)
    if balance:
        change_balance(station=station, delta=balance, reason=LedgerReason.RECHARGE, ref=uuid.uuid4().hex)
    return station


def _tenant(username: str = "dcs", balance: int = 0) -> TenantAccount:
    account = TenantAccount.objects.create(user=UserFactory(username=username))
    if balance:
        change_balance(tenant=account, delta=balance, reason=LedgerReason.RECHARGE, ref=uuid.uuid4().hex)
    return account


def _tenant_record(account: TenantAccount, **fields):
    batch = MessageBatch.objects.create(
        uuid=uuid.uuid4(), tenant=account, sign_id=1, temp_id=1, content="x", total=1
    )
    return send_record(station_id=None, batch=batch, **fields)


def _balance(account: Station | TenantAccount) -> int:
    return type(account).objects.get(pk=account.pk).balance_nums


def _books_straight(*accounts: Station | TenantAccount) -> bool:
    return all(
        ledger_matches_balance({"station" if isinstance(a, Station) else "tenant": a}) for a in accounts
    )


def _refs(reason: LedgerReason) -> list[tuple[str | None, int | None, str]]:
    """The entries of ``reason`` in the order they were booked: (station, tenant, ref)."""
    return list(
        BalanceLedger.objects.filter(reason=reason)
        .order_by("id")
        .values_list("station__station_id", "tenant", "ref")
    )


def test_a_change_returns_the_new_balance_and_leaves_it_on_the_account_passed_in():
    station = _station(balance=5)
    assert change_balance(station=station, delta=-2, reason=LedgerReason.RESERVE, ref="r1") == 3
    assert station.balance_nums == 3 == _balance(station)
    assert _books_straight(station)


@pytest.mark.parametrize(("balance", "need"), [(0, 2), (7, 9)])
def test_a_spend_beyond_the_balance_is_refused_naming_the_balance_and_the_need(balance, need):
    station = _station(balance=balance)
    # A refusal spoils the transaction it is in (the caller's send is refused whole): a block of its own.
    with pytest.raises(InsufficientBalance) as refused, transaction.atomic():
        change_balance(station=station, delta=-need, reason=LedgerReason.RESERVE, ref="r1")
    assert refused.value.message == f"balance is {balance}, the send needs {need}"  # docs/api-station.md
    assert refused.value.field == "balance"
    assert _balance(station) == balance
    assert not BalanceLedger.objects.filter(reason=LedgerReason.RESERVE).exists()


def test_change_balance_takes_exactly_one_account():
    station, account = _station(), _tenant()
    for accounts in ({}, {"station": station, "tenant": account}):
        with pytest.raises(ValueError) as refused:
            change_balance(**accounts, delta=1, reason=LedgerReason.RECHARGE, ref="r1")
        assert str(refused.value) == "change_balance needs exactly one of station or tenant"


def test_a_repeated_refund_raises_already_booked_naming_it_and_changes_nothing():
    station = _station(balance=5)
    change_balance(station=station, delta=1, reason=LedgerReason.REFUND, ref="42")
    with pytest.raises(AlreadyBooked) as repeated:
        change_balance(station=station, delta=1, reason=LedgerReason.REFUND, ref="42")
    assert str(repeated.value) == "refund 42 was booked already"
    assert _balance(station) == 6
    assert _books_straight(station)


def test_a_refund_gives_back_what_the_provider_billed_where_it_said_else_what_was_reserved():
    station = _station(balance=10)
    billed = send_record(segments=1, billed_parts=3)
    reserved = send_record(segments=2, receive_phone="13112345678")
    refund_records([billed, reserved])
    assert _balance(station) == 15
    assert billed.refunded and reserved.refunded
    assert _books_straight(station)


def test_refunds_of_tenant_records_go_back_to_each_tenant():
    first, second = _tenant("first", balance=1), _tenant("second")
    refund_records(
        [
            _tenant_record(first, segments=2),
            _tenant_record(second, segments=1),
            _tenant_record(second, segments=1, receive_phone="13112345678"),
        ]
    )
    assert (_balance(first), _balance(second)) == (3, 2)
    assert _books_straight(first, second)


def test_records_are_booked_stations_first_then_tenants_whatever_their_order():
    """Accounts are locked in one order (stations by id, then tenants), so two booking
    transactions never wait on each other's accounts: the ledger rows show the order."""
    _station("T2")
    _station("T1")
    account = _tenant()
    records = [
        _tenant_record(account),
        send_record(station_id="T2"),
        send_record(station_id="T1"),
        _tenant_record(account),
    ]
    refund_records(records)
    assert _refs(LedgerReason.REFUND) == [
        ("T1", None, str(records[2].pk)),
        ("T2", None, str(records[1].pk)),
        (None, account.pk, str(records[0].pk)),
        (None, account.pk, str(records[3].pk)),
    ]


def test_a_record_refunded_before_is_skipped_and_the_others_still_booked_in_the_same_transaction():
    station = _station(balance=5)
    first = send_record()
    refund_records([first])
    second = send_record(receive_phone="13112345678")
    again = send_record(receive_phone="13112349999")
    with transaction.atomic():
        refund_records([first, second, again])
        # A repeat is undone under its savepoint: the caller's transaction goes on.
        assert Station.objects.filter(pk=station.pk).exists()
    assert _balance(station) == 8
    assert [ref for _, _, ref in _refs(LedgerReason.REFUND)] == [str(first.pk), str(second.pk), str(again.pk)]
    assert _books_straight(station)


def test_a_provider_billing_more_than_the_balance_left_takes_what_is_left():
    station = _station(balance=1)
    record = send_record(segments=1, billed_parts=4)
    assert reconcile_billed([record]) == [record]
    assert _balance(station) == 0
    assert [entry.delta for entry in BalanceLedger.objects.filter(reason=LedgerReason.RECONCILE)] == [-1]
    assert _books_straight(station)


def test_reconciliation_books_only_records_whose_billed_parts_differ_from_the_reservation():
    station = _station(balance=5)
    unbilled = send_record(segments=1)
    same = send_record(segments=2, billed_parts=2, receive_phone="13112345678")
    fewer = send_record(segments=3, billed_parts=1, receive_phone="13112349999")
    assert reconcile_billed([unbilled, same, fewer]) == [fewer]
    assert _balance(station) == 7
    assert reconcile_billed([fewer]) == []  # once
    assert _books_straight(station)


def test_settling_kept_records_books_a_zero_entry_per_record_once():
    station = _station(balance=5)
    records = [send_record(), send_record(receive_phone="13112345678")]
    settle_kept(records)
    settle_kept(records)
    assert _balance(station) == 5
    assert list(BalanceLedger.objects.filter(reason=LedgerReason.SETTLE).values_list("delta", flat=True)) == [
        0,
        0,
    ]

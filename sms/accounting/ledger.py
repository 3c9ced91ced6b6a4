"""Balances: the one function that changes one, and the refund of records that failed unsent.

Every change of ``Station.balance_nums`` or ``TenantAccount.balance_nums`` is a ``BalanceLedger``
row written in the same transaction, so the ledger always sums to the balance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from django.db import IntegrityError, transaction
from django.db.models import F

from gm_server_notify.errors import InsufficientBalance
from sms.accounting import caps
from sms.models import BalanceLedger, LedgerReason, MessageBatch, SendRecord, Station, TenantAccount

# Entries whose ref is a record that may be handled twice (a refund, a reconciliation, a
# settlement): booked under a savepoint, so a repeat raises AlreadyBooked and changes nothing.
REPEATABLE_REASONS = frozenset({LedgerReason.REFUND, LedgerReason.RECONCILE, LedgerReason.SETTLE})
# What a tenant's caps count (sms.accounting.caps): its reservations, net of their refunds. What a
# provider billed beyond or below them (reconcile) is not a send the tenant asked for.
CAPPED_REASONS = frozenset({LedgerReason.RESERVE, LedgerReason.REFUND})


class AlreadyBooked(Exception):
    """A ledger entry with this (account, reason, ref) exists: the change was made before."""


def insufficient_balance(*, balance: int, needed: int) -> InsufficientBalance:
    """The refusal of a send the balance cannot cover (ER:0034 / the station's code), as the
    reservation raises it and the estimate reports it."""
    return InsufficientBalance(f"balance is {balance}, the send needs {needed}", field="balance")


def change_balance(
    *,
    station: Station | None = None,
    tenant: TenantAccount | None = None,
    delta: int,
    reason: LedgerReason,
    ref: str,
    usage_day: dt.date | None = None,
) -> int:
    """Add ``delta`` (negative to spend) to one account's balance and book it in the ledger.

    The balance can never go below zero, even under concurrency: the change is a conditional
    ``UPDATE … SET balance_nums = balance_nums + delta WHERE balance_nums >= -delta``. The
    ledger's unique ``(account, reason, ref)`` makes a repeated change (a second refund,
    reconciliation or settlement of the same record) raise ``AlreadyBooked`` and leave the
    balance untouched. Returns the new balance. Joins the caller's transaction.

    A tenant's reservation or refund with a ``usage_day`` (its batch's) is counted against the
    tenant's caps in the same transaction, while the conditional update holds the tenant's row
    (``sms.accounting.caps.book``): a reservation beyond a cap raises ``CapReached``. (Refunds of
    records, ``refund_records``, count theirs once per tenant and day instead.)
    """
    if (station is None) == (tenant is None):
        raise ValueError("change_balance needs exactly one of station or tenant")
    account = station if station is not None else tenant
    model = type(account)
    # A refund, a reconciliation and a settlement can be repeated (their ref is a record, which a
    # retry or a second report may book again); reservations, recharges and charges carry fresh
    # refs. Savepoints only where a repeat must be undone.
    repeatable = reason in REPEATABLE_REASONS
    with transaction.atomic(savepoint=repeatable):
        query = model.objects.filter(pk=account.pk)
        if delta < 0:
            query = query.filter(balance_nums__gte=-delta)
        if not query.update(balance_nums=F("balance_nums") + delta):
            current = model.objects.filter(pk=account.pk).values_list("balance_nums", flat=True).first()
            raise insufficient_balance(balance=current or 0, needed=-delta)
        balance_after = model.objects.filter(pk=account.pk).values_list("balance_nums", flat=True).get()
        entry = BalanceLedger(
            station=station, tenant=tenant, delta=delta, balance_after=balance_after, reason=reason, ref=ref
        )
        try:
            entry.save(force_insert=True)
        except IntegrityError as exc:  # the savepoint above undoes the balance change too
            raise AlreadyBooked(f"{reason} {ref} was booked already") from exc
        if tenant is not None and usage_day is not None and reason in CAPPED_REASONS:
            caps.book(tenant_id=tenant.pk, parts=-delta, day=usage_day)
    account.balance_nums = balance_after
    return balance_after


def _book_per_record(
    records: Sequence[SendRecord], *, reason: LedgerReason, amount: Callable[[SendRecord], int]
) -> list[SendRecord]:
    """Book ``amount(record)`` (positive gives back, negative takes) for each record on its
    account under ``reason``, once per record (a repeat is ``AlreadyBooked`` and skipped). A
    charge larger than the balance takes what is there (the balance never goes negative).
    Records of test batches (test mode) were never charged and are never booked. Returns the
    records booked now. Joins the caller's transaction."""
    if not records:
        return []
    rows = MessageBatch.objects.filter(pk__in={r.batch_id for r in records if r.batch_id})
    batches: dict[int, tuple[int, dt.date | None]] = {}  # id -> (tenant, the day its parts count in)
    test_batches = set()
    for batch_id, tenant_id, usage_day, test in rows.values_list("id", "tenant_id", "usage_day", "test"):
        batches[batch_id] = (tenant_id, usage_day)
        if test:
            test_batches.add(batch_id)
    batch_tenants = {batch_id: tenant_id for batch_id, (tenant_id, _) in batches.items()}
    records = [record for record in records if record.batch_id not in test_batches]
    stations = {
        station.station_id: station
        for station in Station.objects.filter(station_id__in={r.station_id for r in records if r.station_id})
    }
    tenants = {
        tenant.pk: tenant for tenant in TenantAccount.objects.filter(pk__in=set(batch_tenants.values()))
    }

    # Accounts are locked in one order (stations by id, then tenants by id), whatever order the
    # records come in, so two booking transactions never wait on each other's accounts.
    def account_order(record: SendRecord) -> tuple[int, str, int, int]:
        if record.station_id:
            return (0, record.station_id, 0, record.pk)
        return (1, "", batch_tenants[record.batch_id], record.pk)

    booked = []
    counted: dict[tuple[int, dt.date], int] = {}  # (tenant, its batch's usage day) -> parts given back
    for record in sorted(records, key=account_order):
        account = (
            {"station": stations[record.station_id]}
            if record.station_id
            else {"tenant": tenants[batch_tenants[record.batch_id]]}
        )
        delta = amount(record)
        try:
            try:
                change_balance(**account, delta=delta, reason=reason, ref=str(record.pk))
            except InsufficientBalance:
                holder = next(iter(account.values()))
                available = (
                    type(holder).objects.filter(pk=holder.pk).values_list("balance_nums", flat=True).get()
                )
                delta = -min(-delta, available)
                change_balance(**account, delta=delta, reason=reason, ref=str(record.pk))
        except AlreadyBooked:
            continue
        booked.append(record)
        usage_day = None if record.station_id else batches[record.batch_id][1]
        if usage_day is not None and reason in CAPPED_REASONS:
            key = (batch_tenants[record.batch_id], usage_day)
            counted[key] = counted.get(key, 0) + delta
    # The caps count a tenant's refunds once per tenant and day, not once per record (a failed
    # blast refunds thousands); its row is locked by the bookings above, in this transaction.
    for (tenant_id, day), delta in sorted(counted.items()):
        if delta:
            caps.book(tenant_id=tenant_id, parts=-delta, day=day)
    return booked


def refund_records(records: Sequence[SendRecord]) -> None:
    """Give back the segments of records that failed before a provider accepted them, once per
    record (a repeat is ``AlreadyBooked`` and skipped); marks each refunded record in memory.
    What a record cost is what the provider billed for it when it said (``billed_parts``),
    else what was reserved. Joins the caller's transaction."""
    for record in _book_per_record(records, reason=LedgerReason.REFUND, amount=record_cost):
        record.refunded = True


def record_cost(record: SendRecord) -> int:
    """What a record costs its account: the parts the provider billed when it said, else the
    segments reserved."""
    return record.billed_parts if record.billed_parts is not None else record.segments


def reconcile_billed(records: Sequence[SendRecord]) -> list[SendRecord]:
    """Book the difference between what the provider billed (``billed_parts``) and what was
    reserved (``segments``) for each accepted record where the two differ: a ``reconcile`` entry
    with the record as ref, once. The account ends charged what the provider billed (a charge
    beyond the balance takes what is left; the reconciliation view shows the rest). Returns the
    records booked. Joins the caller's transaction."""
    differing = [r for r in records if r.billed_parts is not None and r.billed_parts != r.segments]
    return _book_per_record(
        differing, reason=LedgerReason.RECONCILE, amount=lambda r: r.segments - r.billed_parts
    )


def settle_kept(records: Sequence[SendRecord]) -> None:
    """Book that records still unknown at the settle deadline stay billed (``SMS_UNKNOWN_POLICY``
    keep): a ``settle`` entry of 0 per record, once, so the ledger shows the decision."""
    _book_per_record(records, reason=LedgerReason.SETTLE, amount=lambda r: 0)

"""Reads that hold what we bill against what the providers bill (operators' reconciliation).

- ``billing_reconciliation``: per provider, for one local day, the parts we reserved for the
  records the provider accepted against the parts it said it billed (Tencent's ``Fee``), what the
  ledger booked for the difference, and the records that differ.
- ``station_template_drift``: ``SMS_STATION_TEMPLATES`` (the texts we count parts from) against
  the templates registered with the provider station messages go to (its adapter's
  ``approved_templates``): a registered text longer than ours bills more parts than we reserve.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum

from providers.registry import get_adapter
from providers.sandbox import NAME as SANDBOX
from sms.core.content import count_segments, station_templates
from sms.core.days import local_day_bounds
from sms.models import BalanceLedger, LedgerReason, MessageBatch, SendRecord, Station

# Differing records listed per provider and day (the totals count them all).
MAX_LISTED_DIFFERENCES = 500


@dataclass
class BilledDifference:
    record_id: int
    account: str
    reserved: int
    billed: int
    booked: int


@dataclass
class ProviderBilling:
    provider: str
    accepted: int = 0
    our_parts: int = 0
    their_parts: int = 0
    billed_our_parts: int = 0  # what we reserved for the records the provider gave a bill for
    unbilled_records: int = 0  # accepted records whose provider said nothing of its bill
    booked: int = 0  # the reconcile ledger entries' sum (negative: charged more)
    differing_records: int = 0
    differences: list[BilledDifference] = field(default_factory=list)

    @property
    def difference(self) -> int:
        """Parts the provider billed beyond what we reserved, over the records it said about."""
        return self.their_parts - self.billed_our_parts

    @property
    def unbooked(self) -> int:
        """Difference not charged to the accounts (their balance ran out): ours to carry."""
        return self.difference + self.booked


def billing_reconciliation(*, day: dt.date, provider: str = "") -> list[ProviderBilling]:
    """Our parts against each provider's for the records it accepted on ``day`` (local time)."""
    lower, upper = local_day_bounds(day, day)
    # One range of record_provider_submit_idx (provider, submitted_at, segments, billed_parts) per
    # provider, read from the index alone: a day's range without the provider cannot use that index
    # and read every record of every day. The providers come from the same index (a loose scan: one
    # lookup per distinct value).
    names = [provider] if provider else _providers_with_records()
    # Test mode's records went to the sandbox, which bills nothing: not reconciled. Left out by
    # the provider's name (only test records go there), so the range stays in the index alone.
    accepted = SendRecord.objects.filter(
        provider__in=[name for name in names if name and name != SANDBOX],
        submitted_at__gte=lower,
        submitted_at__lt=upper,
    )
    rows = (
        accepted.values("provider")
        .annotate(
            accepted=Count("id"),
            our_parts=Sum("segments"),
            billed_our_parts=Sum("segments", filter=Q(billed_parts__isnull=False)),
            their_parts=Sum("billed_parts"),
            unbilled=Count("id", filter=Q(billed_parts__isnull=True)),
            differing=Count("id", filter=Q(billed_parts__isnull=False) & ~Q(billed_parts=F("segments"))),
        )
        .order_by("provider")
    )
    report = []
    for row in rows:
        billing = ProviderBilling(
            provider=row["provider"],
            accepted=row["accepted"],
            our_parts=row["our_parts"] or 0,
            billed_our_parts=row["billed_our_parts"] or 0,
            their_parts=row["their_parts"] or 0,
            unbilled_records=row["unbilled"],
            differing_records=row["differing"],
        )
        if billing.differing_records:
            _list_differences(billing, accepted.filter(provider=billing.provider))
        report.append(billing)
    return report


def _list_differences(billing: ProviderBilling, accepted: QuerySet[SendRecord]) -> None:
    """The provider's differing records: the booked sum over all of them, the first
    ``MAX_LISTED_DIFFERENCES`` by id listed. They are found in the index range (provider,
    submitted_at, segments, billed_parts) alone, without an ORDER BY: ordered by id, the optimizer
    walked the primary key looking for them and read the whole table (8 s at 5,000,000 records,
    docs/performance.md section 9)."""
    rows = sorted(
        accepted.filter(billed_parts__isnull=False)
        .exclude(billed_parts=F("segments"))
        .order_by()
        .values_list("id", "station_id", "batch_id", "segments", "billed_parts")
    )
    tenants = dict(
        MessageBatch.objects.filter(pk__in={row[2] for row in rows if row[2]}).values_list("id", "tenant_id")
    )
    accounts = {row[0]: (row[1], tenants.get(row[2])) for row in rows}
    booked = _booked(accounts)
    billing.booked = sum(booked.values())
    billing.differences = [
        BilledDifference(
            record_id=record_id,
            account=station_id or f"tenant:{tenants.get(batch_id)}",
            reserved=segments,
            billed=billed_parts,
            booked=booked.get(record_id, 0),
        )
        for record_id, station_id, batch_id, segments, billed_parts in rows[:MAX_LISTED_DIFFERENCES]
    ]


def _providers_with_records() -> list[str]:
    return list(SendRecord.objects.order_by("provider").values_list("provider", flat=True).distinct())


def _booked(accounts: dict[int, tuple[str | None, int | None]]) -> dict[int, int]:
    """The reconcile ledger entries of these records (record id: (station code, tenant account
    id)), by record id. Read through the ledger's (account, reason, ref) unique indexes, so the
    accounts are named: by reason and ref alone the ledger, a row per reservation, would be read
    whole."""
    station_pks = dict(
        Station.objects.filter(station_id__in={code for code, _ in accounts.values() if code}).values_list(
            "station_id", "id"
        )
    )
    booked: dict[int, int] = {}
    ids = list(accounts)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        refs = [str(pk) for pk in chunk]
        stations = {station_pks[code] for code, _ in map(accounts.get, chunk) if code in station_pks}
        tenants = {tenant for code, tenant in map(accounts.get, chunk) if not code and tenant}
        entries = BalanceLedger.objects.filter(reason=LedgerReason.RECONCILE, ref__in=refs).filter(
            Q(station_id__in=stations) | Q(tenant_id__in=tenants)
        )
        for ref, delta in entries.values_list("ref", "delta"):
            booked[int(ref)] = booked.get(int(ref), 0) + delta
    return booked


@dataclass
class TemplateDrift:
    business_type: str
    template_id: str
    ours: str
    theirs: str | None  # None: not registered (or not approved) with the provider
    our_parts: int
    their_parts: int | None
    # Theirs with each parameter written ``{}`` (``RegisteredTemplate.comparable``), as ours is compared.
    theirs_comparable: str | None = None

    @property
    def agrees(self) -> bool:
        return self.theirs_comparable is not None and _comparable(self.ours) == self.theirs_comparable.strip()


# A sample of the longest values: an order id and a verify code as the station API accepts them.
SAMPLE_VALUES = {"order_id": "2026112500001234", "verify_code": "123456"}


def _comparable(text: str) -> str:
    """Our template with each of its named parameters (``{order_id}``) written ``{}``, as
    ``RegisteredTemplate.comparable`` writes the provider's."""
    for name in SAMPLE_VALUES:
        text = text.replace(f"{{{name}}}", "{}")
    return text.strip()


def _filled(comparable: str, value: str) -> str:
    return comparable.strip().replace("{}", value)


def station_template_drift(*, provider: str | None = None) -> list[TemplateDrift]:
    """Each station business type's local text against the text registered with ``provider``
    (by default ``SMS_STATION_PROVIDER``, where station messages go), whose adapter must offer
    ``approved_templates``. Raises ``ProviderError`` when it cannot be asked."""
    adapter = get_adapter(provider or settings.SMS_STATION_PROVIDER)
    ids = {
        business_type: adapter.template_id_for(int(business_type))
        for business_type in sorted(station_templates())
    }
    registered = adapter.approved_templates([template_id for template_id in ids.values() if template_id])
    sign = f"【{adapter.default_sign_name}】"
    drift = []
    for business_type, template_id in ids.items():
        ours = station_templates()[business_type]
        template = registered.get(template_id)
        value = SAMPLE_VALUES["verify_code" if "{verify_code}" in ours else "order_id"]
        drift.append(
            TemplateDrift(
                business_type=business_type,
                template_id=template_id,
                ours=ours,
                theirs=None if template is None else template.text,
                our_parts=count_segments(sign + _filled(_comparable(ours), value)),
                their_parts=None
                if template is None
                else count_segments(sign + _filled(template.comparable, value)),
                theirs_comparable=None if template is None else template.comparable,
            )
        )
    return drift

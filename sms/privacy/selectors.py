"""Where mobile numbers and message texts are stored, and finding one number in them.

``PERSONAL_TABLES`` is the inventory (docs/operations.md has it as a table): each table's columns
that hold a number by itself (``exact``) or may carry one inside a text, JSON or raw body
(``inside``), what those columns become when erased, and how retention treats the table.
``NOT_PERSONAL`` names every other text column of the apps' tables, so a new column must be
placed in one or the other (tests/sms/privacy/test_erase_mobile.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast

from audit.models import AuditEntry
from signatures.models import Signature
from sms.core.phones import is_douyin_ciphertext, parse_douyin_ciphertext, parse_mobile
from sms.models import (
    FINAL_STATES,
    NOT_FINAL_STATES,
    Alert,
    BalanceLedger,
    BlocklistEntry,
    Combo,
    DailyStatistics,
    IdempotencyKey,
    MessageBatch,
    PendingReport,
    PrefixPause,
    PushInbox,
    RechargeRecord,
    RejectedReport,
    RetentionCursor,
    SendRecord,
    Station,
    TenantAccount,
    TenantUsage,
    TrafficDayTotal,
    TrafficHour,
    TrafficHourTotal,
    TrafficOwnerDay,
    TrafficWatermark,
    Uplink,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from templates_mgmt.models import Template

# What a number becomes inside a text or payload it is cut out of.
CUT_MARK = "*"


@dataclass(frozen=True)
class PersonalTable:
    """One table's personal data.

    - ``exact``: columns holding a number by itself (any spelling: E.164, with or without ``+``,
      national); a row whose exact column is the number is the number's row.
    - ``inside``: text, JSON and binary columns a number (or a message text) may appear in.
    - ``erased``: what the personal columns become when a row is erased (by retention, or because
      it is the number's row); empty strings and an empty JSON object, so no NOT NULL, unique
      constraint or reader breaks. Tables without it are deleted row by row instead (unless
      ``cut_on_request``: erasure on request then cuts the number out and keeps the row).
    - ``age``: the column retention ages a row by (``None``: not under retention); ``final``:
      only rows matching it are erased by age (others hold retention's cursor until they end).
    - ``on_request_in_flight``: ``final`` also guards erasure on request (a record still being
      sent keeps its number until it ends).
    """

    model: type[models.Model]
    exact: tuple[str, ...] = ()
    inside: tuple[str, ...] = ()
    erased: dict[str, Any] = field(default_factory=dict)
    age: str | None = None
    final: Q | None = None
    on_request_in_flight: bool = False
    # Erasure on request cuts the number out of the row even where retention deletes rows.
    cut_on_request: bool = False
    why: str = ""

    @property
    def label(self) -> str:
        return self.model._meta.db_table

    @property
    def deletes(self) -> bool:
        return not self.erased


SEND_RECORD_ERASED: dict[str, Any] = {
    "receive_phone": "",
    "phone_e164": "",
    "receive_name": "",
    "sms_content": {},
    "content": "",
}

PERSONAL_TABLES: tuple[PersonalTable, ...] = (
    PersonalTable(
        SendRecord,
        exact=("phone_e164", "receive_phone"),
        inside=("receive_name", "content", "sms_content", "remark", "provider_message_id"),
        erased=SEND_RECORD_ERASED,
        age="created_at",
        final=Q(state__in=FINAL_STATES),
        on_request_in_flight=True,
        why="one row per recipient: the number, the name, the text and the request's fields; the "
        "gateway's message id is '<taskId>:<mobile>'",
    ),
    PersonalTable(
        MessageBatch,
        inside=("content",),
        erased={"content": ""},
        age="created_at",
        # Erased by age once nothing of it is held or still moving.
        final=Q(release_at__isnull=True)
        & ~Q(Exists(SendRecord.objects.filter(batch_id=OuterRef("pk"), state__in=NOT_FINAL_STATES))),
        why="a tenant call's rendered text (the same for every number of it)",
    ),
    PersonalTable(
        Uplink,
        exact=("phone",),
        inside=("text", "raw"),
        erased={"phone": "", "text": "", "raw": {}},
        age="created_at",
        why="a reply: its number, text and the provider's raw item",
    ),
    PersonalTable(
        PendingReport,
        exact=("phone",),
        inside=("provider_message_id", "description"),
        erased={"phone": ""},
        age="received_at",
        why="a report waiting for its record: the number it named (dropped after "
        "PENDING_REPORT_MAX_AGE_SECONDS anyway)",
    ),
    PersonalTable(
        RejectedReport,
        exact=("reported_phone",),
        inside=("provider_message_id",),
        erased={"reported_phone": ""},
        age="received_at",
        why="a report that did not fit its record: the number it named, masked",
    ),
    PersonalTable(
        PushInbox,
        inside=("body",),
        age="received_at",
        why="a provider push as it came (reports and uplinks: numbers and texts); deleted once applied",
    ),
    PersonalTable(
        IdempotencyKey,
        inside=("body",),
        age="created_at",
        cut_on_request=True,
        why="the answer a POST got, replayed for a repeated key (v1/message lists its numbers); "
        "purged after IDEMPOTENCY_TTL_SECONDS anyway",
    ),
    PersonalTable(
        BlocklistEntry,
        exact=("phone_e164",),
        inside=("source_text",),
        erased={"phone_e164": "", "source_text": ""},
        why="an opt-out: kept while it stands (its purpose); on request the number goes and "
        "phone_hash keeps the opt-out",
    ),
    PersonalTable(
        WebhookEvent,
        inside=("last_error",),
        erased={"last_error": ""},
        why="a record's event stores no payload (built from the record when pushed); a notice's payload "
        "(limit.warning) holds counts and dates only; a receiver's error text",
    ),
    PersonalTable(
        WebhookDelivery,
        inside=("error",),
        erased={"error": ""},
        why="a receiver's error text",
    ),
    PersonalTable(
        AccessAttempt,
        inside=("username", "get_data", "post_data", "path_info", "user_agent"),
        why="django-axes: a login attempt (a username may be a number); axes expires its attempts",
    ),
    PersonalTable(AccessLog, inside=("username", "path_info", "user_agent"), why="django-axes: logins"),
    PersonalTable(
        AccessFailureLog, inside=("username", "path_info", "user_agent"), why="django-axes: failed logins"
    ),
)

# Every other text column of the apps' tables, and why it holds no recipient's number or text.
NOT_PERSONAL: dict[type[models.Model], str] = {
    Station: "station ids, names and suspension reasons",
    TenantAccount: "the suspension reason",
    TenantUsage: "parts per tenant and China-time day or month",
    BalanceLedger: "reasons and references (record ids, batch uuids)",
    Combo: "package names",
    RechargeRecord: "recharge fields: combo, receipt, operator, client",
    DailyStatistics: "a station id",
    WebhookEndpoint: "a tenant's URL and signing secret",
    RetentionCursor: "table names",
    TrafficHour: "counts per hour and owner: station ids, tenant usernames, providers, calling codes (+86), "
    "states, provider codes",
    TrafficHourTotal: "counts per hour: providers, calling codes, states, provider codes",
    TrafficDayTotal: "counts per day: providers, calling codes, states, provider codes",
    TrafficOwnerDay: "counts per day and owner: station ids, tenant usernames, providers, calling codes",
    TrafficWatermark: "the traffic rollup's name",
    Signature: "a tenant's own signature and its proofs",
    Template: "a tenant's own template text (placeholders, not a recipient's values)",
    Alert: "rule names and messages naming providers, lanes, stations, tenants and number prefixes, "
    "never a number",
    PrefixPause: "a number prefix: the calling code and the national number without its last "
    "SMS_PUMPING_RANGE_DIGITS (at least one) digits, a range, never a number; the operator who lifted it",
    AuditEntry: "operators' actions: ids, reasons, before and after values; an erasure's entry holds the "
    "masked number and its keyed hash, never the number (append-only: nothing could erase it later)",
}
# Columns of the personal tables that hold no number: states, codes, ids, names of providers.
NOT_PERSONAL_COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    SendRecord: ("station_id", "state", "provider", "provider_code", "dispatch_id"),
    MessageBatch: ("callback_url",),
    Uplink: ("provider", "uplink_key", "sign", "extend", "station_id"),
    PendingReport: ("provider", "code"),
    RejectedReport: ("provider", "code", "reason"),
    PushInbox: ("provider", "kind", "content_type", "claim"),
    IdempotencyKey: ("scope", "path", "key", "request_hash", "state"),
    BlocklistEntry: ("phone_hash", "source"),
    WebhookEvent: ("url", "state", "kind", "payload"),
    WebhookDelivery: ("url", "outcome", "event_ids"),
    AccessAttempt: ("http_accept", "ip_address"),
    AccessLog: ("http_accept", "session_hash", "ip_address"),
    AccessFailureLog: ("http_accept", "ip_address"),
}


@dataclass(frozen=True)
class Spellings:
    """The ways a number is written in our tables, longest first (``+8613112345678``,
    ``8613112345678``, ``13112345678``); ``needle`` is the shortest, inside every other."""

    forms: tuple[str, ...]

    @property
    def needle(self) -> str:
        return self.forms[-1]

    def cut(self, text: str) -> str:
        for form in self.forms:
            text = text.replace(form, CUT_MARK)
        return text

    def cut_json(self, value: Any) -> Any:
        """``value`` with the number cut out of every string (keys too) and an integer that
        spells it replaced by the mark."""
        if isinstance(value, str):
            return self.cut(value)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return CUT_MARK if self.needle in str(value) else value
        if isinstance(value, list):
            return [self.cut_json(item) for item in value]
        if isinstance(value, dict):
            return {self.cut(str(key)): self.cut_json(item) for key, item in value.items()}
        return value

    def cut_bytes(self, body: bytes) -> bytes:
        for form in self.forms:
            body = body.replace(form.encode(), CUT_MARK.encode())
        return body


def spellings_of(number: str) -> Spellings:
    """Normalise ``number`` (any spelling; a Douyin phone ciphertext as given) with phonenumbers
    (``sms.core.phones``); ``InvalidPhone`` when it is not a mobile number."""
    text = number.strip()
    if is_douyin_ciphertext(text):
        return Spellings((parse_douyin_ciphertext(text).e164,))
    phone = parse_mobile(text)
    forms = dict.fromkeys([phone.e164, phone.e164.lstrip("+"), phone.national])
    return Spellings(tuple(sorted(forms, key=len, reverse=True)))


def _text_of(model: type[models.Model], name: str) -> str:
    return f"_{name}_text" if model._meta.get_field(name).get_internal_type() == "JSONField" else name


def exact_match(table: PersonalTable, spellings: Spellings) -> Q:
    """The rows whose exact columns are the number (nothing, for a table without such columns)."""
    query = Q(pk__in=[])
    for name in table.exact:
        query |= Q(**{f"{name}__in": spellings.forms})
    return query


def rows_with(table: PersonalTable, spellings: Spellings) -> QuerySet[Any]:
    """The rows of ``table`` that are the number's (``exact``) or carry it inside a text or JSON
    column. Binary columns are not searched by the database (``binary_rows_with``)."""
    model = table.model
    query = model.objects.all()
    inside = Q(pk__in=[])
    for name in table.inside:
        internal = model._meta.get_field(name).get_internal_type()
        if internal == "BinaryField":
            continue
        if internal == "JSONField":
            query = query.annotate(**{_text_of(model, name): Cast(name, TextField())})
        inside |= Q(**{f"{_text_of(model, name)}__contains": spellings.needle})
    return query.filter(exact_match(table, spellings) | inside)


def binary_rows_with(table: PersonalTable, spellings: Spellings) -> Iterator[Any]:
    """The rows of ``table`` whose binary columns carry the number, read in Python (the push
    inbox: small, drained every few seconds)."""
    names = [
        name
        for name in table.inside
        if table.model._meta.get_field(name).get_internal_type() == "BinaryField"
    ]
    if not names:
        return
    needle = spellings.needle.encode()
    for row in table.model.objects.only("pk", *names).iterator(chunk_size=500):
        if any(needle in bytes(getattr(row, name) or b"") for name in names):
            yield row

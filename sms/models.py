"""Tables of the station SMS domain (seed 000) and of the one sending pipeline.

Table names are the seed's where it names them (``tbl_sms_send_record``, ``tbl_sms_statistics``);
the others follow the same style.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import NullIf


class BusinessType(models.IntegerChoices):
    """Seed 000's business types."""

    MALL_ORDER = 0, "商城下单"
    PROXY_ORDER = 1, "代下订单"
    REGISTRATION = 2, "注册"


class SendStatus(models.IntegerChoices):
    """The status the API shows (seed 000): 0 sending, 1 success, 2 failed."""

    SENDING = 0, "开始发送"
    SUCCESS = 1, "发送成功"
    FAILED = 2, "发送失败"


class RecordState(models.TextChoices):
    """The finer internal state of a send record.

    ``created`` → ``queued`` → ``sending`` → ``submitted`` → ``delivered`` | ``failed``.
    ``scheduled``: a tenant record held until its batch's ``release_at`` (``send_at``, or the
    marketing hours), then ``queued``; tenants see it as ``queued``.
    ``delivered`` and ``failed`` are final and never change back. ``unknown``: no report by the
    report deadline, or a submit whose outcome is uncertain (the worker died or the provider timed
    out after the request left): not refunded, not counted; a late report or a pull still decides
    it, and at the settle deadline ``SMS_UNKNOWN_POLICY`` does (``sms.sending.sweeps.settle_unknown``).
    """

    CREATED = "created", "added, not started"
    SCHEDULED = "scheduled", "held until its batch's release time (send_at, marketing hours)"
    QUEUED = "queued", "waiting for a worker"
    SENDING = "sending", "claimed by a worker, provider request in flight"
    SUBMITTED = "submitted", "accepted by the provider, waiting for its report"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"
    UNKNOWN = "unknown", "outcome unknown: waiting for a late report or a pull"


class Lane(models.IntegerChoices):
    """Which dispatch queue and workers a record goes out through (``sms.sending.lanes``): verify
    codes never wait behind notices, and notices never behind a blast."""

    PRIORITY = 1, "priority"
    TRANSACTIONAL = 2, "transactional"
    BULK = 3, "bulk"


FINAL_STATES = (RecordState.DELIVERED, RecordState.FAILED)
# Every other state: the records still on their way (the gauge, the dashboard's pipeline depth).
NOT_FINAL_STATES = tuple(state for state in RecordState if state not in FINAL_STATES)


def sending_stuck_after() -> dt.timedelta:
    """How long a record may stay ``sending`` before its worker counts as dead: the sweep then
    resends or settles it, and the gauge and the dashboard count it as stuck."""
    return dt.timedelta(seconds=settings.SMS_SENDING_STUCK_SECONDS)


class Station(models.Model):
    """``tbl_sms_statistics``: one row per station, its balance (``balance_nums``) and totals.

    ``balance_nums`` changes only through ``sms.accounting.ledger.change_balance``; every change is a
    ``BalanceLedger`` row, and the ledger sums to the balance.
    """

    station_id = models.CharField(max_length=32, unique=True)
    station_name = models.CharField(max_length=128, blank=True, default="")
    balance_nums = models.BigIntegerField(default=0)
    total_recharge_nums = models.BigIntegerField(default=0)
    # Wide enough that recharges within the per-recharge ceiling can never overflow it.
    total_recharge_money = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    # Non-empty: an operator suspended the station's sending, for this reason (sms.sending.suspension).
    suspended_reason = models.CharField(max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tbl_sms_statistics"
        constraints = [
            models.CheckConstraint(condition=Q(balance_nums__gte=0), name="station_balance_not_negative"),
        ]
        indexes = [models.Index(fields=["station_name"], name="station_name_idx")]

    def __str__(self) -> str:
        return self.station_id


class TenantAccount(models.Model):
    """A v1 tenant's SMS balance (seed 001's ``v2/charge`` adds to it)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sms_account"
    )
    balance_nums = models.BigIntegerField(default=0)
    # Non-empty: an operator suspended the tenant's sending, for this reason (sms.sending.suspension).
    suspended_reason = models.CharField(max_length=255, blank=True, default="", db_default="")
    # What the tenant pays per part, in fen (the console's revenue); null: SMS_TENANT_DEFAULT_PRICE_FEN.
    price_fen_per_part = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True, help_text="fen per part; empty: the default"
    )
    # Capabilities an operator grants (sms.guard.capabilities; a refused one is ER:0040-ER:0043).
    # International is off until an operator allows it and the calling codes (AllowedCallingCode):
    # abroad is where SMS pumping costs money. The others keep what every tenant could do before.
    international_enabled = models.BooleanField(
        default=False,
        db_default=False,
        help_text="may send outside +86, to the calling codes allowed below (ER:0040 when off)",
    )
    marketing_enabled = models.BooleanField(
        default=True, db_default=True, help_text="may send marketing templates, type 3 (ER:0041 when off)"
    )
    scheduling_enabled = models.BooleanField(
        default=True, db_default=True, help_text="may send with send_at (ER:0042 when off)"
    )
    uplinks_enabled = models.BooleanField(
        default=True, db_default=True, help_text="may read replies with GET v1/uplink (ER:0043 when off)"
    )
    # The hash (Django's make_password) of the tenant's test password, "" for none: requests signed
    # in with it run in test mode (sms.tenant_api.credentials; docs/api-platform.md "Test mode").
    test_password = models.CharField(max_length=128, blank=True, default="", db_default="")
    # Caps on the parts reserved per China-time day and month (sms.accounting.caps): the operator's
    # (the admin; null: no cap), and the tenant's own (PUT v1/limits; at most the operator's; null:
    # the operator's). The lower of the two holds.
    daily_cap_parts = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="parts a China-time day; empty: no cap"
    )
    monthly_cap_parts = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="parts a China-time month; empty: no cap"
    )
    own_daily_cap_parts = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="the tenant's own daily cap (PUT v1/limits); empty: the operator's"
    )
    own_monthly_cap_parts = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="the tenant's own monthly cap (PUT v1/limits); empty: the operator's"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tbl_sms_tenant_account"
        constraints = [
            models.CheckConstraint(condition=Q(balance_nums__gte=0), name="tenant_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"tenant:{self.user_id}"


class AllowedCallingCode(models.Model):
    """A calling code (``44`` for +44) a tenant may send to once its ``international_enabled`` capability
    is on; an operator adds them one by one in the admin (each add and removal is audited). +86 is
    always allowed and never listed. A number outside the list fails ``BLOCKED:COUNTRY``
    (``sms.guard.countries``)."""

    tenant = models.ForeignKey(TenantAccount, on_delete=models.CASCADE, related_name="allowed_calling_codes")
    calling_code = models.PositiveSmallIntegerField(
        help_text="the country calling code, without +: 44 for +44"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tbl_sms_allowed_calling_code"
        ordering = ["calling_code"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "calling_code"], name="allowed_calling_code_once"),
        ]

    def __str__(self) -> str:
        return f"+{self.calling_code}"


class PrefixPause(models.Model):
    """The pumping guard (``sms.guard.pumping``) paused a tenant's sends to one number prefix: the
    calling code and the national number without its last ``SMS_PUMPING_RANGE_DIGITS`` digits
    (``+86 1391234``: a range of 10,000 numbers, never a number). In force until ``until``, or
    until an operator lifts it in the admin (``lifted_at``, audited). Records to the prefix fail
    ``PAUSED:PREFIX`` meanwhile."""

    tenant = models.ForeignKey(TenantAccount, on_delete=models.CASCADE, related_name="prefix_pauses")
    prefix = models.CharField(max_length=24, help_text="calling code and national digits: +86 1391234")
    codes = models.PositiveIntegerField(help_text="verify codes asked for to the prefix within the hour")
    limit = models.PositiveIntegerField(help_text="SMS_PUMPING_MAX_PER_PREFIX_HOUR when it tripped")
    started_at = models.DateTimeField()
    until = models.DateTimeField(help_text="in force until then, unless lifted before")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        db_table = "tbl_sms_prefix_pause"
        indexes = [
            # a send reads its tenant's pauses in force; the alert rule every pause in force.
            models.Index(fields=["tenant", "lifted_at", "until"], name="prefix_pause_tenant_idx"),
            models.Index(fields=["lifted_at", "until"], name="prefix_pause_in_force_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix} of tenant:{self.tenant_id}"


class UsagePeriod(models.TextChoices):
    DAILY = "daily", "China-time day"
    MONTHLY = "monthly", "China-time month"
    # Test mode's messages (records and test replies, not parts) of a China-time day: its own
    # ceiling, SMS_TEST_MODE_DAILY_MESSAGES (sms.accounting.caps.book_test).
    TEST_DAILY = "test", "test mode's China-time day"


class TenantUsage(models.Model):
    """Parts reserved for a tenant in one China-time day or month, net of their refunds: what its
    caps are checked against (``sms.accounting.caps``), so that no check scans send records. Changed
    only inside ``sms.accounting.ledger.change_balance``, in the transaction of the reservation or
    refund and after the tenant's row is locked there. A ``test`` row counts test mode's messages
    of a day instead (``caps.book_test``, under the same lock), against its own ceiling."""

    tenant = models.ForeignKey(TenantAccount, on_delete=models.CASCADE, related_name="usage")
    period = models.CharField(max_length=8, choices=UsagePeriod.choices)
    # The day, or the first day of the month.
    start = models.DateField()
    parts = models.BigIntegerField(default=0)
    # When this period's warning (SMS_CAP_WARNING_PERCENT of its cap) went out: once a period.
    warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tbl_sms_tenant_usage"
        verbose_name_plural = "tenant usage"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "period", "start"], name="tenant_usage_once"),
            models.CheckConstraint(condition=Q(parts__gte=0), name="tenant_usage_not_negative"),
        ]
        indexes = [models.Index(fields=["period", "start"], name="tenant_usage_period_idx")]

    def __str__(self) -> str:
        return f"tenant:{self.tenant_id} {self.period} {self.start}: {self.parts}"


class LedgerReason(models.TextChoices):
    RECHARGE = "recharge", "recharge"
    CHARGE = "charge", "v2/charge"
    RESERVE = "reserve", "reserved for a send"
    REFUND = "refund", "refund of a failed send"
    # What the provider billed for a record less what we reserved for it
    # (sms.accounting.ledger.reconcile_billed).
    RECONCILE = "reconcile", "provider billed other parts than reserved"
    # A record still unknown at the settle deadline, kept billed (SMS_UNKNOWN_POLICY=keep): delta 0.
    SETTLE = "settle", "unknown at the settle deadline, kept billed"


class BalanceLedger(models.Model):
    """One row per change of a balance. ``(account, reason, ref)`` is unique: a refund or a
    reservation for the same record can never be booked twice."""

    station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger"
    )
    tenant = models.ForeignKey(
        TenantAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger"
    )
    delta = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reason = models.CharField(max_length=16, choices=LedgerReason.choices)
    ref = models.CharField(max_length=64, help_text="recharge id, record id or batch uuid")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tbl_sms_balance_ledger"
        constraints = [
            models.CheckConstraint(
                condition=Q(station__isnull=False, tenant__isnull=True)
                | Q(station__isnull=True, tenant__isnull=False),
                name="ledger_one_account",
            ),
            models.UniqueConstraint(fields=["station", "reason", "ref"], name="ledger_station_once"),
            models.UniqueConstraint(fields=["tenant", "reason", "ref"], name="ledger_tenant_once"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.delta:+d} ({self.ref})"


class Combo(models.Model):
    """``tbl_sms_combo``: an SMS package a station can buy. ``unit_price`` is in fen."""

    name = models.CharField(max_length=64)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    sms_nums = models.PositiveIntegerField()
    unit = models.CharField(max_length=8, default="条")
    unit_price = models.PositiveIntegerField(help_text="fen per message")
    is_custom = models.BooleanField(default=False, help_text="any quantity and amount may be recharged")
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "tbl_sms_combo"
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class RechargeRecord(models.Model):
    """``tbl_sms_recharge_record``: a station's purchase, with who booked it and the receipt."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="recharges")
    combo = models.ForeignKey(Combo, on_delete=models.PROTECT, related_name="+")
    combo_name = models.CharField(max_length=64, help_text="the combo's name when bought")
    recharge_nums = models.PositiveIntegerField()
    recharge_money = models.DecimalField(max_digits=12, decimal_places=2)
    # Seed 000 types the recharge's unit_price ``O Float``: kept as sent, up to 4 decimals (fen per
    # message, the combo's whole-fen price when not sent).
    unit_price = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="fen per message, as sent"
    )
    deal_code = models.CharField(max_length=128, blank=True, default="")
    # The receipt as the database's unique key: NULL for "no receipt" (an empty deal_code), which
    # a unique index never compares, so empty codes repeat freely while a real receipt is booked
    # once per station even if the service's station lock were bypassed (MariaDB has no partial
    # indexes, hence the generated column).
    receipt_key = models.GeneratedField(
        expression=NullIf("deal_code", Value("")),
        output_field=models.CharField(max_length=128, null=True),
        db_persist=True,
    )
    remark = models.CharField(max_length=255, blank=True, default="")
    operator_name = models.CharField(max_length=64)
    client_name = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="the service client (or admin:<user>) that booked it",
    )
    recharge_date = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "tbl_sms_recharge_record"
        indexes = [
            models.Index(fields=["station", "recharge_date", "id"], name="recharge_station_date_idx"),
            models.Index(fields=["station", "deal_code"], name="recharge_station_receipt_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["station", "receipt_key"], name="recharge_station_receipt_once"),
        ]

    def __str__(self) -> str:
        return f"recharge {self.pk}: {self.recharge_nums}"


class MessageBatch(models.Model):
    """One tenant ``v1/message`` call: the uuid the client polls with."""

    uuid = models.UUIDField(unique=True)
    tenant = models.ForeignKey(TenantAccount, on_delete=models.PROTECT, related_name="batches")
    sign_id = models.BigIntegerField()
    temp_id = models.BigIntegerField()
    content = models.TextField()
    total = models.PositiveIntegerField()
    # ``callback_url`` of POST v1/message: where this batch's webhook events go instead of the
    # tenant's v1/callback URL (empty: the tenant's).
    callback_url = models.CharField(max_length=500, blank=True, default="", db_default="")
    # The template's type when sent (1 verify code, 2 notice, 3 marketing; 0 for batches older than
    # the column): marketing is held outside SMS_MARKETING_HOURS and skips opted-out numbers.
    template_type = models.PositiveSmallIntegerField(default=0, db_default=0)
    # send_at of POST v1/message, as asked (null: at once).
    send_at = models.DateTimeField(null=True, blank=True)
    # When its ``scheduled`` records go out (beat's sms.release_scheduled), on the business clock;
    # null once nothing of it is held.
    release_at = models.DateTimeField(null=True, blank=True)
    # Sent with the tenant's test password: never charged, never handed to a real provider (the
    # sandbox decides it), never counted; seen only in test mode (docs/api-platform.md "Test mode").
    test = models.BooleanField(default=False, db_default=False)
    # The China-time day (business clock) its parts count in for the tenant's caps, and so the day
    # and month its refunds give back to (sms.accounting.caps); null for batches older than it.
    usage_day = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tbl_sms_message_batch"
        verbose_name_plural = "message batches"
        indexes = [models.Index(fields=["release_at"], name="batch_release_idx")]

    def __str__(self) -> str:
        return str(self.uuid)


class SendRecord(models.Model):
    """``tbl_sms_send_record``: one row per recipient. Its id is seed 000's ``task_id``."""

    # Who sent it: a station (seed 000) or a tenant batch (seed 001).
    station_id = models.CharField(max_length=32, null=True, blank=True)
    batch = models.ForeignKey(
        MessageBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="records"
    )
    restaurant_id = models.BigIntegerField(null=True, blank=True)
    receive_name = models.CharField(max_length=64, null=True, blank=True)
    # A Douyin phone ciphertext (seed 003's post_tel, up to 512 characters) is kept in both as given.
    receive_phone = models.CharField(
        max_length=512,
        help_text="as the client gave it, normalised digits; a Douyin phone ciphertext as given",
    )
    phone_e164 = models.CharField(max_length=512, help_text="+8613112341234, or a Douyin phone ciphertext")
    business_type = models.SmallIntegerField(choices=BusinessType.choices, null=True, blank=True)
    sms_content = models.JSONField(
        default=dict, blank=True, help_text="the structured content of the request"
    )
    content = models.TextField(help_text="the rendered text, signature included")
    segments = models.PositiveSmallIntegerField(help_text="billed messages (reserved from our count)")
    # The parts the provider said it billed (Tencent's Fee), when its answer says; the difference to
    # ``segments`` is booked once as a ``reconcile`` ledger entry.
    billed_parts = models.PositiveSmallIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=RecordState.choices, default=RecordState.CREATED)
    status = models.SmallIntegerField(choices=SendStatus.choices, default=SendStatus.SENDING)
    remark = models.CharField(max_length=255, blank=True, default="", help_text="why it failed")
    provider = models.CharField(max_length=16, blank=True, default="")
    provider_message_id = models.CharField(max_length=64, null=True, blank=True)
    provider_code = models.CharField(max_length=64, blank=True, default="")
    # Our id for the provider request that carried this record (the gateway's taskId); a resend
    # reuses it only for a provider declared to drop a repeated id (sms.sending.pipeline).
    dispatch_id = models.CharField(max_length=40, blank=True, default="", db_index=True)
    # Decided when the record is written (``sms.sending.lanes``); records older than the column are
    # transactional.
    lane = models.PositiveSmallIntegerField(
        choices=Lane.choices, default=Lane.TRANSACTIONAL, db_default=Lane.TRANSACTIONAL
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    refunded = models.BooleanField(default=False)
    # Its batch's ``test``, kept on the record for routing (only the sandbox takes it) and for the
    # readers that must leave it out (traffic, reconciliation, uplink matching).
    test = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # When the record became ``unknown``: the settle deadline counts from here.
    unknown_at = models.DateTimeField(null=True, blank=True)
    # Its validity's end (``sms.sending.validity``): not handed to a provider by then, it fails
    # ``EXPIRED`` and is refunded instead of arriving late. Null: no validity.
    expires_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tbl_sms_send_record"
        indexes = [
            # send_record/get: a station's records in a date range, newest first. The filter and
            # search columns ride along so the type/status filters and the substring search are
            # checked inside the index (index condition pushdown), fetching only matching rows.
            # Descending: MariaDB pushes index conditions down only on forward index reads.
            models.Index(
                fields=[
                    "station_id",
                    "-created_at",
                    "-id",
                    "business_type",
                    "status",
                    "receive_phone",
                    "receive_name",
                ],
                name="record_station_search_idx",
            ),
            # delivery reports find records by the provider's id.
            models.Index(fields=["provider", "provider_message_id"], name="record_provider_msg_idx"),
            # v1/message?uuid=: a batch's records, and its counts per state from the index alone.
            models.Index(fields=["batch", "id"], name="record_batch_idx"),
            models.Index(fields=["batch", "state"], name="record_batch_state_idx"),
            # the sweeper: records left queued or sending too long.
            models.Index(fields=["state", "updated_at"], name="record_state_updated_idx"),
            # the validity sweep: waiting records whose validity has passed (sms.sending.validity).
            models.Index(fields=["state", "expires_at"], name="record_state_expires_idx"),
            # the age of each lane's oldest waiting record (the metric, the console, the alert).
            models.Index(fields=["state", "lane", "queued_at"], name="record_lane_waiting_idx"),
            # the operators' reconciliation: a provider's accepted records per day, their parts and
            # the parts it billed read from the index alone (sms.accounting.reconciliation).
            models.Index(
                fields=["provider", "submitted_at", "segments", "billed_parts"],
                name="record_provider_submit_idx",
            ),
            # uplinks: the last message a number received (sms.delivery.uplinks.match_record).
            models.Index(fields=["phone_e164", "created_at"], name="record_phone_created_idx"),
            # the traffic rollup: the records of one hour (sms.accounting.traffic).
            models.Index(fields=["created_at"], name="record_created_idx"),
            # test mode's records in a state, taken off the console's live counts (they are few).
            models.Index(fields=["test", "state"], name="record_test_state_idx"),
        ]
        # Operators see masked numbers everywhere in the admin unless granted this.
        permissions = [("view_full_mobile", "Can see full mobile numbers of send records")]

    def __str__(self) -> str:
        return f"record {self.pk}"


class DailyStatistics(models.Model):
    """Per station per local day: what statistics read instead of scanning send records.

    ``total_send_nums`` counts records started that day; ``success_send_nums`` and
    ``send_failed_nums`` count those of them that ended delivered or failed (booked on the
    record's day, so success + failed never exceeds total).
    """

    station_id = models.CharField(max_length=32)
    send_date = models.DateField()
    total_send_nums = models.PositiveIntegerField(default=0)
    success_send_nums = models.PositiveIntegerField(default=0)
    send_failed_nums = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "tbl_sms_daily_statistics"
        verbose_name_plural = "daily statistics"
        constraints = [
            models.UniqueConstraint(fields=["station_id", "send_date"], name="daily_station_date_once")
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.send_date}"


class PushInbox(models.Model):
    """A provider push as it came (``tbl_sms_push_inbox``): written by the push endpoint with one
    insert and acknowledged, then applied by a worker with thousands of others in set-based batches
    and deleted (``sms.delivery.intake.drain_inbox``). A drain claims its rows (``claim``,
    ``claimed_at``) in a short transaction; a claim older than the drain's deadline (its worker
    died) is taken over, and applying a push twice changes nothing (reports and uplinks are
    idempotent)."""

    provider = models.CharField(max_length=16)
    kind = models.CharField(max_length=8)  # "status" or "uplink"
    body = models.BinaryField()
    content_type = models.CharField(max_length=100, blank=True, default="")
    received_at = models.DateTimeField()
    claim = models.CharField(max_length=32, blank=True, default="", db_default="")
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tbl_sms_push_inbox"
        verbose_name_plural = "push inboxes"
        indexes = [models.Index(fields=["claim", "id"], name="push_inbox_claim_idx")]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} push {self.pk}"


class PendingReport(models.Model):
    """A delivery report that matched no record yet: it can arrive before the worker has
    committed the provider's message id. Applied as soon as the id is recorded (and by a beat
    sweep for the race where both commit at once)."""

    provider = models.CharField(max_length=16)
    provider_message_id = models.CharField(max_length=64)
    delivered = models.BooleanField()
    code = models.CharField(max_length=64, blank=True, default="")
    description = models.CharField(max_length=255, blank=True, default="")
    # The number the report named: checked against the record when it is applied.
    phone = models.CharField(max_length=24, blank=True, default="", db_default="")
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "tbl_sms_pending_report"
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_message_id"], name="pending_report_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_message_id}"


class RejectedReport(models.Model):
    """A delivery report that named a record of ours but did not fit it: another provider's
    record, or another number than the record's. It is never applied (it may be forged: a report
    only needs a record's id to look real), kept here for operators and counted in
    ``sms_reports_rejected_total``. Dropped with the pending reports after
    ``PENDING_REPORT_MAX_AGE_SECONDS``."""

    provider = models.CharField(max_length=16)
    provider_message_id = models.CharField(max_length=64, blank=True, default="")
    record_id = models.BigIntegerField(null=True, blank=True)
    reported_phone = models.CharField(max_length=24, blank=True, default="", help_text="masked")
    delivered = models.BooleanField()
    code = models.CharField(max_length=64, blank=True, default="")
    reason = models.CharField(max_length=32)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "tbl_sms_rejected_report"

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_message_id} ({self.reason})"


class IdempotencyKey(models.Model):
    """A caller's ``Idempotency-Key`` on a POST that creates a record or moves money, with the
    answer it got: the same key and body answer the same again and change nothing
    (``sms.core.idempotency``). Kept ``IDEMPOTENCY_TTL_SECONDS``; beat purges older ones."""

    PROCESSING, DONE = "processing", "done"

    scope = models.CharField(max_length=64, help_text="the caller: service client or tenant user")
    path = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, default=PROCESSING)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    locked_at = models.DateTimeField()

    class Meta:
        db_table = "tbl_idempotency_key"
        constraints = [
            models.UniqueConstraint(fields=["scope", "path", "key"], name="idempotency_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.path} {self.key}"


class Uplink(models.Model):
    """``tbl_sms_uplink``: a reply SMS a provider passed on (pushed or pulled), stored once, and
    the send it answers.

    ``uplink_key`` is its natural key (``providers.base.InboundMessage.natural_key``: the
    provider's id where it has one, else the number, masked or not, the time received and the
    text): a repeated push, or a pull of what was pushed, is not a second row (``(provider,
    uplink_key)`` is unique; rows are inserted with insert-ignore). The match (``sms.delivery.uplinks``) is
    the send record the number last received within ``SMS_UPLINK_MATCH_DAYS``, preferring the
    uplink's signature or extension; the station or tenant (and the tenant's batch) are copied
    from it so each one's list reads one index.
    """

    provider = models.CharField(max_length=16)
    uplink_key = models.CharField(max_length=64)
    phone = models.CharField(max_length=24, help_text="as the provider gave it (E.164, 11 digits or masked)")
    text = models.TextField()
    sign = models.CharField(max_length=64, blank=True, default="")
    extend = models.CharField(max_length=32, blank=True, default="")
    received_at = models.DateTimeField(help_text="the provider's time; when we took it if it gave none")
    raw = models.JSONField(default=dict, blank=True)
    # The send it answers (null: no send to that number within the match window).
    record = models.ForeignKey(
        SendRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="uplinks"
    )
    station_id = models.CharField(max_length=32, null=True, blank=True)
    tenant = models.ForeignKey(
        TenantAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="uplinks"
    )
    batch = models.ForeignKey(
        MessageBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="uplinks"
    )
    # A reply recorded through ``POST v1/test/uplink`` to a test message: listed in test mode only.
    test = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tbl_sms_uplink"
        constraints = [
            models.UniqueConstraint(fields=["provider", "uplink_key"], name="uplink_once"),
        ]
        indexes = [
            # /sms/uplink/get and v1/uplink: one station's or tenant's, newest first.
            models.Index(fields=["station_id", "-received_at", "-id"], name="uplink_station_idx"),
            models.Index(fields=["tenant", "-received_at", "-id"], name="uplink_tenant_idx"),
            models.Index(fields=["phone", "received_at"], name="uplink_phone_idx"),
        ]

    def __str__(self) -> str:
        return f"uplink {self.pk} via {self.provider}"


class WebhookEndpoint(models.Model):
    """A tenant's callback URL (``PUT v1/callback``) and the secret its pushes are signed with
    (HMAC-SHA256; the secret is kept as it is, since signing needs it, and is never logged nor shown
    in the admin). Deleting the row (``DELETE v1/callback``) stops every push of the tenant."""

    tenant = models.OneToOneField(TenantAccount, on_delete=models.CASCADE, related_name="webhook")
    url = models.CharField(max_length=500)
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tbl_sms_webhook_endpoint"

    def __str__(self) -> str:
        return f"webhook of tenant:{self.tenant_id}"


class WebhookEventState(models.TextChoices):
    PENDING = "pending", "waiting to be pushed (or for its next retry)"
    DELIVERED = "delivered", "the receiver answered 2xx"
    DEAD = "dead", "every retry failed; an operator may redeliver it"
    CANCELLED = "cancelled", "the tenant deleted its callback before it was pushed"


class WebhookEventKind(models.TextChoices):
    STATUS = "message.status", "a record's final state"
    LIMIT_WARNING = "limit.warning", "a cap's warning threshold reached"


class WebhookEvent(models.Model):
    """The outbox: one row per tenant record that reached a final state, written in the same
    transaction as the state change (``sms.webhooks.outbox``), pushed by ``sms.webhooks.services``;
    and one per tenant notice (a cap's warning), written with the change it tells of.
    One per record (``record`` is unique): a final state is never pushed twice as two events.
    ``url`` is where it goes, fixed when it is written (the batch's ``callback_url``, else the
    tenant's URL then: ``from_batch`` tells which; a tenant's new URL takes over its pending events
    of the second kind). Its primary key is the ``event_id`` receivers dedupe on."""

    # The record whose final state it pushes (``kind`` message.status); null for a tenant notice
    # carried in ``payload`` (``limit.warning``: sms.accounting.caps).
    record = models.OneToOneField(
        SendRecord, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_event"
    )
    kind = models.CharField(
        max_length=32,
        choices=WebhookEventKind.choices,
        default=WebhookEventKind.STATUS,
        db_default="message.status",
    )
    payload = models.JSONField(null=True, blank=True)
    # No foreign key constraint: inserting 10,000 events must not take a shared lock on the
    # tenant's row, which every send of the tenant locks first.
    tenant = models.ForeignKey(
        TenantAccount, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    url = models.CharField(max_length=500)
    from_batch = models.BooleanField(default=False)
    state = models.CharField(
        max_length=16, choices=WebhookEventState.choices, default=WebhookEventState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tbl_sms_webhook_event"
        indexes = [
            # beat: pending events due (a lost task); a target's due events.
            models.Index(fields=["state", "next_attempt_at"], name="webhook_event_due_idx"),
            models.Index(fields=["tenant", "state", "next_attempt_at"], name="webhook_event_tenant_idx"),
        ]

    def __str__(self) -> str:
        return f"event {self.pk} ({self.state})"


class WebhookDeliveryOutcome(models.TextChoices):
    DELIVERED = "delivered", "the receiver answered 2xx"
    FAILED = "failed", "failed; its events will be retried"
    DEAD = "dead", "failed, and some of its events had no retry left"


class WebhookDelivery(models.Model):
    """One POST to a receiver (``GET v1/callback/deliveries``, the admin): when, what it answered,
    how many events it carried and which."""

    tenant = models.ForeignKey(
        TenantAccount, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    url = models.CharField(max_length=500)
    outcome = models.CharField(max_length=16, choices=WebhookDeliveryOutcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True, default="")
    event_count = models.PositiveSmallIntegerField()
    event_ids = models.JSONField(default=list, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    attempted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tbl_sms_webhook_delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["tenant", "-id"], name="webhook_delivery_tenant_idx"),
            models.Index(fields=["tenant", "outcome", "-id"], name="webhook_delivery_outcome_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.outcome})"


class OptOutSource(models.TextChoices):
    UPLINK = "uplink", "a reply with an opt-out keyword"
    API = "api", "POST v1/blocklist"


class BlocklistEntry(models.Model):
    """``tbl_sms_blocklist``: a number that opted out of a tenant's marketing (template type 3),
    under one signature or, with ``sign_id`` 0, under every signature of the tenant. Marketing to
    it is not sent (``failed``, ``OPTED_OUT``, not charged); notices and verify codes are. Where it
    came from is kept: the reply (its text and time) or the API."""

    EVERY_SIGNATURE = 0

    tenant = models.ForeignKey(TenantAccount, on_delete=models.CASCADE, related_name="blocklist")
    sign_id = models.BigIntegerField(help_text="the signature it applies to; 0: every signature")
    # Empty once the number was erased (``manage.py erase_mobile``): the entry still holds by its hash.
    phone_e164 = models.CharField(max_length=24, blank=True)
    # HMAC-SHA256 of the number under SMS_PHONE_HASH_KEY (``sms.core.phones.phone_hash``): what
    # opt-outs are matched and kept unique by.
    phone_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=16, choices=OptOutSource.choices)
    uplink = models.ForeignKey(
        Uplink, null=True, blank=True, on_delete=models.SET_NULL, related_name="opt_outs"
    )
    source_text = models.CharField(max_length=64, blank=True, default="", help_text="the reply's text")
    source_at = models.DateTimeField(help_text="when the reply was received, or the API call made")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tbl_sms_blocklist"
        verbose_name_plural = "blocklist entries"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "sign_id", "phone_hash"], name="blocklist_hash_once_per_signature"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="blocklist_tenant_idx"),
            models.Index(fields=["tenant", "phone_hash"], name="blocklist_tenant_hash_idx"),
            # erase_mobile finds a number's entries.
            models.Index(fields=["phone_e164"], name="blocklist_phone_idx"),
        ]

    def __str__(self) -> str:
        return f"opt-out of tenant:{self.tenant_id} sign {self.sign_id}"


class RetentionCursor(models.Model):
    """How far retention (``sms.privacy.services.erase_expired``) has gone through one table: every
    row of ``table`` below ``next_id`` older than the retention was erased, except those in
    ``held_ids``: rows that were not final yet (a send record still moving, a batch with such
    records), looked at again on every run until they end. Should more be held than the list keeps,
    ``next_id`` stays at the first one left out. Losing a row costs a rescan, never a wrong erasure."""

    table = models.CharField(max_length=64, unique=True)
    next_id = models.BigIntegerField(default=0)
    held_ids = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tbl_sms_retention_cursor"

    def __str__(self) -> str:
        return f"{self.table} from {self.next_id}"


class TrafficChannel(models.TextChoices):
    STATION = "station", "station"
    TENANT = "tenant", "tenant"


class TrafficKind(models.TextChoices):
    VERIFY = "verify", "verify code"
    NOTICE = "notice", "notice"
    MARKETING = "marketing", "marketing"
    ORDER = "order", "order"


class TrafficCounts(models.Model):
    """The keys and measures every traffic row has (``TrafficHour``, ``TrafficHourTotal``,
    ``TrafficDayTotal``)."""

    day = models.DateField(help_text="the China-time date the records were created on")
    channel = models.CharField(max_length=8, choices=TrafficChannel.choices)
    provider = models.CharField(max_length=16, blank=True, default="", help_text="empty: never handed to one")
    region = models.CharField(
        max_length=8, blank=True, default="", help_text="calling code: +86; empty: unknown"
    )
    kind = models.CharField(max_length=16, choices=TrafficKind.choices)
    state = models.CharField(max_length=16, choices=RecordState.choices)
    records = models.PositiveIntegerField(default=0)
    parts = models.PositiveIntegerField(default=0, help_text="segments")
    charged_parts = models.PositiveIntegerField(default=0, help_text="segments of records not refunded")
    provider_parts = models.PositiveIntegerField(
        default=0, help_text="parts the provider billed (its count, else the segments) of records it accepted"
    )
    latency_buckets = models.JSONField(
        default=dict, blank=True, help_text="{upper bound in ms: records}, submit to report"
    )
    provider_codes = models.JSONField(default=dict, blank=True, help_text="{provider code: records} (failed)")
    first_record_id = models.BigIntegerField(help_text="an example record of the row")

    class Meta:
        abstract = True


class TrafficMeasures(TrafficCounts):
    """A traffic row of one hour."""

    hour = models.DateTimeField(help_text="start of the China-time hour the records were created in")

    class Meta:
        abstract = True


class TrafficHour(TrafficMeasures):
    """All traffic, stations' and tenants', per China-time hour of creation: one row per
    (hour, channel, owner, provider, region, kind, state). Kept by ``sms.accounting.traffic``
    (recomputed from the send records of each hour that changed); what the console's JSON reads
    when it asks about one station or tenant, or per owner."""

    owner = models.CharField(max_length=150, help_text="the station_id, or the tenant's username")

    class Meta:
        db_table = "tbl_sms_traffic_hour"
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "channel", "owner", "provider", "region", "kind", "state"],
                name="traffic_hour_once",
            )
        ]
        indexes = [
            models.Index(fields=["day", "channel", "owner"], name="traffic_day_owner_idx"),
            # one station's or tenant's counts per state, day or hour, read from the index alone.
            models.Index(
                fields=[
                    "owner",
                    "day",
                    "channel",
                    "state",
                    "hour",
                    "provider",
                    "region",
                    "kind",
                    "records",
                    "parts",
                ],
                name="traffic_owner_cover_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.channel}:{self.owner} {self.state}"


class TrafficHourTotal(TrafficMeasures):
    """``TrafficHour`` summed over the owners: one row per (hour, channel, provider, region, kind,
    state), written in the same transaction. What the console reads when no station or tenant is
    asked about: a few dozen rows an hour rather than one per active owner."""

    class Meta:
        db_table = "tbl_sms_traffic_hour_total"
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "channel", "provider", "region", "kind", "state"], name="traffic_total_once"
            )
        ]
        indexes = [models.Index(fields=["day", "channel", "state"], name="traffic_total_day_idx")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.channel} {self.state}"


class TrafficDayTotal(TrafficCounts):
    """``TrafficHourTotal`` summed over each China-time day: one row per (day, channel, provider,
    region, kind, state), rewritten with the day's hours. What the console reads for a range of
    days when no station or tenant is asked about (a hundred-odd rows a day)."""

    class Meta:
        db_table = "tbl_sms_traffic_day_total"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel", "provider", "region", "kind", "state"],
                name="traffic_day_total_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.state}"


class TrafficOwnerDay(models.Model):
    """``TrafficHour`` summed over each China-time day and over the states, per owner: one row per
    (day, channel, owner, provider, region, kind). Rewritten with the day's hours; what the
    console's money, balances, top owners and one owner's latency read (a few rows per owner and
    day)."""

    day = models.DateField()
    channel = models.CharField(max_length=8, choices=TrafficChannel.choices)
    owner = models.CharField(max_length=150)
    provider = models.CharField(max_length=16, blank=True, default="")
    region = models.CharField(max_length=8, blank=True, default="")
    kind = models.CharField(max_length=16, choices=TrafficKind.choices)
    records = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    parts = models.PositiveIntegerField(default=0)
    charged_parts = models.PositiveIntegerField(default=0)
    provider_parts = models.PositiveIntegerField(default=0)
    # The day's delivered and failed records' latency buckets, merged: one owner's latency over 90
    # days reads ~500 of these rows instead of ~3,600 hourly rows scattered over the hour table
    # (469 ms p95 at 5,000,000 records).
    latency_buckets = models.JSONField(
        default=dict,
        blank=True,
        help_text="{upper bound in ms: records}, submit to report (delivered and failed)",
    )

    class Meta:
        db_table = "tbl_sms_traffic_owner_day"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "owner", "provider", "region", "kind", "day"],
                name="traffic_owner_day_once",
            )
        ]
        indexes = [
            # money, balances and top owners over a range of days: this index alone, read in the
            # order they group by (no temporary table: 0.5 s to 0.1 s over 90 days, 1,100 owners).
            models.Index(
                fields=[
                    "channel",
                    "owner",
                    "provider",
                    "region",
                    "day",
                    "kind",
                    "records",
                    "delivered",
                    "failed",
                    "parts",
                    "charged_parts",
                    "provider_parts",
                ],
                name="traffic_owner_day_cover_idx",
            ),
            # the rollup rewrites a day.
            models.Index(fields=["day"], name="traffic_owner_day_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}:{self.owner}"


class TrafficWatermark(models.Model):
    """How far the traffic rollup has read send records by ``updated_at`` (one row). Each hour's
    recompute locks this row first, so two recomputes never overlap."""

    name = models.CharField(max_length=32, unique=True)
    updated_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tbl_sms_traffic_watermark"

    def __str__(self) -> str:
        return f"{self.name} until {self.updated_before}"


class AlertRule(models.TextChoices):
    """The operators' alert rules (``sms.alerts.rules``; thresholds in docs/configuration.md)."""

    PROVIDER_BALANCE = "provider_balance", "provider balance below N days of use"
    ACCOUNT_BALANCE = "account_balance", "station or tenant balance low"
    DELIVERY_RATE = "delivery_rate", "provider delivery rate low"
    QUEUE_AGE = "queue_age", "oldest queued record too old"
    REPORT_LAG = "report_lag", "delivery reports late"
    WEBHOOK_DEAD = "webhook_dead", "dead webhook events"
    RECONCILIATION = "reconciliation", "billing reconciliation difference"
    PREFIX_PAUSED = "prefix_paused", "a tenant's number prefix paused by the pumping guard"
    TENANT_CAP = "tenant_cap", "tenant near its daily or monthly cap"


class AlertState(models.TextChoices):
    OPEN = "open", "open"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    RESOLVED = "resolved", "resolved"


class Alert(models.Model):
    """One occurrence of a rule's condition on one subject (a provider, a lane, an account, or ""
    for the whole service), from when beat saw it until it cleared (``sms.alerts.services``).

    At most one unresolved alert per (rule, subject): ``unresolved`` is True until it resolves,
    then NULL, and a unique index over (rule, subject, unresolved) admits many NULLs (MySQL and
    SQLite alike, which have no partial unique index).

    ``notice`` is the notice it still owes (opened, reminder, resolved) and ``notice_channels`` the
    channels that have not yet taken it (email, webhook): a failed channel is tried again at the
    next evaluation."""

    rule = models.CharField(max_length=32, choices=AlertRule.choices)
    subject = models.CharField(max_length=160, blank=True, default="")
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.OPEN)
    unresolved = models.BooleanField(null=True, default=True, editable=False)
    value = models.FloatField(help_text="the rule's input when last evaluated")
    threshold = models.FloatField()
    message = models.CharField(max_length=500)
    opened_at = models.DateTimeField()
    last_evaluated_at = models.DateTimeField()
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notice = models.CharField(max_length=16, blank=True, default="")
    notice_channels = models.CharField(max_length=64, blank=True, default="")
    acknowledged_by = models.CharField(max_length=150, blank=True, default="")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tbl_sms_alert"
        constraints = [
            models.UniqueConstraint(fields=["rule", "subject", "unresolved"], name="alert_unresolved_once"),
        ]
        indexes = [
            models.Index(fields=["unresolved", "rule"], name="alert_unresolved_idx"),
            models.Index(fields=["state", "-opened_at"], name="alert_state_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.subject}".strip()

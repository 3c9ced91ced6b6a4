"""Input parsing and output shapes of the tenant API (seed 001's field names), and its schema's
components."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from gm_server_notify.api.fields import MAX_DATE, MIN_DATE, IdField, UnixSecondsField
from gm_server_notify.api.paging import OffsetPageSerializer, offset_list_schema
from sms.core.phones import display_mobile
from sms.sending import validity
from sms.tenant_api import services as tenant_services

# ``send_at`` and v1/uplink's ``since``: Unix seconds within the dates the API takes
# (fields.MIN_DATE … MAX_DATE).
MIN_UNIX = int(dt.datetime.combine(MIN_DATE, dt.time.min, tzinfo=dt.UTC).timestamp())


MAX_UNIX = int(dt.datetime.combine(MAX_DATE, dt.time.max, tzinfo=dt.UTC).timestamp())


class MessageRequest(serializers.Serializer):
    sign_id = IdField(help_text="指定使用的签名: one of your signatures, passed review")
    temp_id = IdField(help_text="指定使用的模版: a template of that signature, passed review")
    mobiles = serializers.ListField(
        child=serializers.CharField(max_length=32, allow_blank=True),
        min_length=1,
        max_length=tenant_services.MAX_MOBILES_PER_MESSAGE,
        help_text="指定发送的号码: 1 to 10,000 mobiles, mainland bare or +86, other countries with +CC; "
        "a number listed twice is sent once",
    )
    params = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True),
        required=False,
        default=list,
        max_length=20,
        help_text="added: the values of the template's {1}, {2} … in order (no line break, link or 【】; "
        "a verify-code template takes ASCII letters and digits only)",
    )
    callback_url = serializers.CharField(
        max_length=500,
        required=False,
        default="",
        allow_blank=True,
        help_text="added: this batch's webhook events go here instead of the v1/callback URL "
        "(http or https, public addresses only; v1/callback must be set: its secret signs them)",
    )
    send_at = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=MIN_UNIX,
        max_value=MAX_UNIX,
        help_text="added: Unix seconds, at most 30 days ahead: the batch is accepted and billed now "
        "and held (its mobiles show queued) until then; marketing also until the marketing hours",
    )

    validity_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=validity.MIN_SECONDS,
        max_value=validity.MAX_SECONDS,
        help_text="added: seconds, 10 to 172800 (48 h): a mobile not handed to a provider within this long "
        "after the batch may first be sent (now, or its send_at or marketing hours) fails with reason "
        "`EXPIRED: …` and is refunded instead of arriving late; omitted or null: no validity",
    )

    def validate_send_at(self, value: int | None) -> dt.datetime | None:
        return None if value is None else dt.datetime.fromtimestamp(value, tz=dt.UTC)


class EstimateNumber(serializers.Serializer):
    mobile = serializers.CharField(help_text="the entry of `mobiles`, as given (in the request's order)")
    valid = serializers.BooleanField(
        help_text="false: not a mobile number we can send to, or a repeat of an earlier entry (sent once); "
        "true for a valid number, blocked ones included"
    )
    reason = serializers.CharField(
        help_text="why it would not be sent: the parse error of an invalid number, `duplicate of an "
        "earlier entry (…)`, or the reason it would fail at once, uncharged (`OPTED_OUT: …`, `LIMITED: "
        "verify codes to this mobile: 1 per 60s`); empty for a number that would be sent"
    )
    encoding = serializers.ChoiceField(
        choices=["GSM-7", "UCS-2"],
        allow_null=True,
        help_text="the alphabet its text is billed in (mainland numbers: UCS-2; others GSM-7 when the "
        "text fits it); null when it would not be sent",
    )
    parts = serializers.IntegerField(help_text="the parts it would be billed (0 when it would not be sent)")


class EstimateRefusal(serializers.Serializer):
    error = serializers.CharField(help_text="the `ER:00xx` code POST v1/message would answer")
    message = serializers.CharField(help_text="its message, as POST v1/message would write it")


class EstimateOut(serializers.Serializer):
    numbers = EstimateNumber(many=True, help_text="one item per entry of `mobiles`, in order")
    parts = serializers.IntegerField(help_text="the parts the send would reserve (every number sent)")
    blocked = serializers.IntegerField(
        help_text="valid numbers that would fail at once, uncharged (opted out, over a verify-code limit)"
    )
    cost = serializers.CharField(
        help_text="`parts` at your price per part, in yuan, 4 decimals (a hundredth of a fen), as a string"
    )
    refusal = EstimateRefusal(
        allow_null=True,
        help_text="null: POST v1/message with this body would be accepted now; else the refusal it would "
        "answer that the estimate itself does not: an invalid mobile (ER:0033), the balance (ER:0034), "
        "the daily or monthly cap (ER:0038, ER:0039); in test mode, test mode's daily ceiling (ER:0045)",
    )


class LimitsPeriod(serializers.Serializer):
    start = serializers.CharField(
        help_text="YYYY-MM-DD: the current China-time day, or its month's first day"
    )
    operator_cap = serializers.IntegerField(
        allow_null=True, help_text="parts the operator allows in the period; null: no cap"
    )
    own_cap = serializers.IntegerField(
        allow_null=True, help_text="your own cap (PUT v1/limits); null: the operator's"
    )
    cap = serializers.IntegerField(allow_null=True, help_text="the cap that holds: the lower of the two")
    used = serializers.IntegerField(
        help_text="parts reserved in the period, net of refunds (a send counts on the day it is accepted)"
    )
    remaining = serializers.IntegerField(
        allow_null=True, help_text="cap - used (never below 0); null: no cap"
    )
    warning_at = serializers.IntegerField(
        allow_null=True, help_text="the used parts at which the limit.warning event goes out; null: no cap"
    )
    warned = serializers.BooleanField(help_text="whether this period's limit.warning went out")


class LimitsOut(serializers.Serializer):
    daily = LimitsPeriod(help_text="the current China-time day")
    monthly = LimitsPeriod(help_text="the current China-time month")
    warning_percent = serializers.IntegerField(
        help_text="SMS_CAP_WARNING_PERCENT: the percent of a cap at which it warns"
    )


# A cap in parts: beyond any balance root can charge, within a BIGINT.
MAX_CAP_PARTS = 10**12


class LimitsRequest(serializers.Serializer):
    daily = serializers.IntegerField(
        min_value=0,
        max_value=MAX_CAP_PARTS,
        allow_null=True,
        help_text="your daily cap in parts, at most the operator's; null: the operator's",
    )
    monthly = serializers.IntegerField(
        min_value=0,
        max_value=MAX_CAP_PARTS,
        allow_null=True,
        help_text="your monthly cap in parts, at most the operator's; null: the operator's",
    )


BATCH_UUID = "the batch's uuid, as POST v1/message answered it"


class MessageQuery(OffsetPageSerializer):
    uuid = serializers.UUIDField(help_text=BATCH_UUID)
    page_size = serializers.IntegerField(
        required=False,
        default=1000,
        min_value=1,
        max_value=tenant_services.MAX_MOBILES_PER_MESSAGE,
        help_text="mobiles per page, 1 to 10,000",
    )


class MessageAccepted(serializers.Serializer):
    uuid = serializers.CharField(
        help_text="执行任务的唯一标识: the batch's id, for GET and DELETE v1/message"
    )


class MessageCancelQuery(serializers.Serializer):
    uuid = serializers.UUIDField(help_text=BATCH_UUID)


class MessageCancelled(serializers.Serializer):
    uuid = serializers.CharField(help_text="the batch")
    cancelled = serializers.IntegerField(
        help_text="mobiles this call cancelled (failed, CANCELLED, refunded)"
    )
    already_cancelled = serializers.IntegerField(help_text="mobiles an earlier call cancelled")
    already_gone = serializers.IntegerField(
        help_text="mobiles already handed to a provider, or final before (refused at accept included)"
    )


class MessageItem(serializers.Serializer):
    mobile = serializers.CharField(help_text="the number as sent")
    state = serializers.ChoiceField(
        choices=["queued", "sending", "delivered", "failed", "unknown"],
        help_text="unknown: no report by the deadline, or the provider's answer was lost; a late "
        "report or a pull still decides it",
    )
    reason = serializers.CharField(help_text="why it failed or is unknown; empty otherwise")


class MessageCounts(serializers.Serializer):
    queued = serializers.IntegerField(help_text="waiting for a worker, or held (send_at, marketing hours)")
    sending = serializers.IntegerField(help_text="handed to the provider, waiting for its report")
    delivered = serializers.IntegerField(help_text="delivered")
    failed = serializers.IntegerField(
        help_text="failed (refused, undelivered, limited, opted out, cancelled, expired)"
    )
    unknown = serializers.IntegerField(help_text="no report by the deadline, or the submit's answer was lost")


class MessageProgress(serializers.Serializer):
    uuid = serializers.CharField(help_text="the batch")
    total = serializers.IntegerField(help_text="distinct mobiles in the batch")
    counts = MessageCounts(help_text="mobiles per state, one key per state")
    items = MessageItem(many=True, help_text="this page's mobiles with their state")
    page = serializers.IntegerField(help_text="the page answered, from 1")
    page_size = serializers.IntegerField(help_text="mobiles per page, as asked")


class TenantBalanceOut(serializers.Serializer):
    balance = serializers.IntegerField(help_text="messages left")


class ChargeRequest(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="充值用户: the username")
    charge = serializers.IntegerField(
        min_value=1, max_value=100_000_000, help_text="充值数量: messages to add, a positive integer"
    )


class ChargeOut(serializers.Serializer):
    message = serializers.CharField(help_text="`ok`")
    balance = serializers.IntegerField(help_text="the user's balance after the charge")


class UplinkQuery(OffsetPageSerializer):
    since = serializers.IntegerField(
        required=False,
        min_value=MIN_UNIX,
        max_value=MAX_UNIX,
        help_text="Unix seconds: only uplinks received at or after it",
    )


class TenantUplinkItem(serializers.Serializer):
    mobile = serializers.SerializerMethodField(help_text="the number as the provider gave it")
    text = serializers.CharField(help_text="the reply's text")
    sign = serializers.CharField(
        help_text="the signature the provider says it was sent to; empty when it does not say"
    )
    received_at = UnixSecondsField(help_text="Unix seconds: the provider's time of the reply")
    uuid = serializers.SerializerMethodField(help_text="the v1/message uuid it answers")

    def get_mobile(self, uplink: Any) -> str:
        return display_mobile(uplink.phone)

    def get_uuid(self, uplink: Any) -> str | None:
        return str(uplink.batch.uuid) if uplink.batch is not None else None


TenantUplinkList = offset_list_schema("TenantUplinkList", TenantUplinkItem)


class TestUplinkRequest(serializers.Serializer):
    mobile = serializers.CharField(
        max_length=32, help_text="the number replying: one your test messages went to (any spelling)"
    )
    content = serializers.CharField(
        max_length=tenant_services.MAX_TEST_UPLINK_CHARS,
        trim_whitespace=False,
        help_text="the reply's text, 1 to 500 characters",
    )


class CallbackRequest(serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text="http or https; public addresses only")
    rotate_secret = serializers.BooleanField(
        required=False, default=False, help_text="answer a new secret (each time it is true)"
    )


class CallbackSetOut(serializers.Serializer):
    url = serializers.CharField(help_text="the URL set")
    secret = serializers.CharField(
        allow_null=True,
        help_text="64 hex characters: shown on the first PUT and when rotate_secret is true, else null",
    )
    secret_hint = serializers.CharField(help_text="the secret's last 4 characters")


class CallbackOut(serializers.Serializer):
    url = serializers.CharField(allow_null=True, help_text="null: no callback set")
    secret_hint = serializers.CharField(allow_null=True, help_text="the secret's last 4 characters")


DELIVERY_STATUSES = ["delivered", "failed", "dead"]


class DeliveriesQuery(OffsetPageSerializer):
    status = serializers.ChoiceField(
        choices=DELIVERY_STATUSES,
        required=False,
        help_text="delivered (2xx), failed (retried later) or dead (some of its events had no retry left)",
    )


class DeliveryItem(serializers.Serializer):
    id = serializers.CharField(help_text="the POST's id")
    attempted_at = UnixSecondsField(help_text="Unix seconds: when it was made")
    url = serializers.CharField(help_text="where it went")
    status = serializers.ChoiceField(
        choices=DELIVERY_STATUSES,
        source="outcome",
        help_text="delivered (2xx), failed (its events will be retried) or dead (some had no retry left)",
    )
    http_status = serializers.IntegerField(
        allow_null=True, help_text="the receiver's status; null: no answer"
    )
    error = serializers.CharField(help_text="what went wrong; empty when delivered")
    event_count = serializers.IntegerField(help_text="events in the POST (at most 100)")


DeliveryList = offset_list_schema("DeliveryList", DeliveryItem)


class BlocklistQuery(OffsetPageSerializer):
    mobile = serializers.CharField(max_length=32, required=False, help_text="only this number's entries")


class BlocklistChange(serializers.Serializer):
    mobiles = serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1,
        max_length=tenant_services.MAX_MOBILES_PER_MESSAGE,
        help_text="1 to 10,000 valid mobile numbers (any spelling)",
    )
    sign_id = IdField(
        required=False,
        allow_null=True,
        default=None,
        help_text="one of your signatures; omitted: every signature",
    )


class BlocklistChanged(serializers.Serializer):
    added = serializers.IntegerField(required=False, help_text="POST: entries that were new")
    removed = serializers.IntegerField(required=False, help_text="DELETE: entries removed")


class BlocklistItem(serializers.Serializer):
    mobile = serializers.CharField(
        source="phone_e164",
        help_text="the number, E.164 (+8613112345678); empty once the number was erased on request "
        "(the opt-out still holds)",
    )
    sign_id = serializers.SerializerMethodField(help_text="null: every signature of the tenant")
    source = serializers.ChoiceField(
        choices=["uplink", "api"], help_text="uplink: an opt-out reply; api: POST v1/blocklist"
    )
    source_text = serializers.CharField(help_text="the reply's text (source uplink)")
    source_at = UnixSecondsField(help_text="Unix seconds: when the reply came or the call was made")

    def get_sign_id(self, entry: Any) -> str | None:
        return str(entry.sign_id) if entry.sign_id else None


BlocklistList = offset_list_schema("BlocklistList", BlocklistItem)

"""Input parsing and output shapes of the station ``/sms/*`` API (field names are seed 000's)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

from gm_server_notify.api.fields import BIGINT_MAX, BoundedDateField, IdField, SeedDateTimeField
from gm_server_notify.api.paging import PageRequestSerializer
from gm_server_notify.strict_json import strict_json
from sms.core.phones import DOUYIN_CIPHERTEXT_MAX_LENGTH, display_mobile
from sms.models import Combo, RechargeRecord, SendRecord, Station, Uplink
from sms.station_api.selectors import MAX_RANGE_DAYS

STATION_ID = {"max_length": 32, "trim_whitespace": True}


def query_data(query: QueryDict, list_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """Query parameters as a plain dict; a list field may be repeated (``a=1&a=2``),
    comma-separated (``a=1,2``) or a JSON array (``a=["1","2"]``)."""
    data: dict[str, Any] = {key: query.get(key) for key in query if key not in list_fields}
    for name in list_fields:
        values: list[str] = []
        for raw in query.getlist(name) + query.getlist(f"{name}[]"):
            text = raw.strip()
            if text.startswith("["):
                try:
                    parsed = strict_json(text)
                except ValueError as exc:
                    raise serializers.ValidationError({name: ["not a JSON array"]}) from exc
                if not isinstance(parsed, list):
                    raise serializers.ValidationError({name: ["not a JSON array"]})
                values += [str(item) for item in parsed]
            else:
                values += [part.strip() for part in text.split(",") if part.strip()]
        if values:
            data[name] = values
    return data


def _check_range(attrs: dict[str, Any]) -> dict[str, Any]:
    start: dt.date | None = attrs.get("start_date")
    end: dt.date | None = attrs.get("end_date")
    if start and end:
        if end < start:
            raise serializers.ValidationError({"end_date": ["must not be before start_date"]})
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise serializers.ValidationError(
                {"end_date": [f"the range may span at most {MAX_RANGE_DAYS} days"]}
            )
    return attrs


# --- Requests ----------------------------------------------------------------------------------


class SendAddRequest(serializers.Serializer):
    station_id = serializers.CharField(**STATION_ID)
    restaurant_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=BIGINT_MAX
    )
    receive_name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    receive_phone = serializers.CharField(
        max_length=DOUYIN_CIPHERTEXT_MAX_LENGTH,
        help_text=(
            "mainland mobile, or +CC for other countries, or a Douyin phone ciphertext "
            "($…$…$1$$, kept as given: sent through the Douyin shop gateway)"
        ),
    )
    # Optional in seed 000; without it the answer is 1002 naming the keys the type needs.
    sms_content = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=64),
        required=False,
        default=dict,
        allow_null=True,
        help_text=(
            "order_id + sms_signature for business_type 0 and 1; verify_code (4 to 6 digits) + "
            "sms_signature for 2; no 【】 in values, the signature without brackets inside its name. "
            "douyin_order_id (digits, types 0 and 1): a Douyin shop's order, sent by order id through "
            "the Douyin shop gateway, with the fields its template's variables name (FW199_TEMPLATES)"
        ),
    )
    business_type = serializers.IntegerField(help_text="0 mall order, 1 order on behalf, 2 registration")


class SendAddResponseData(serializers.Serializer):
    task_id = serializers.IntegerField()


class SendStartRequest(serializers.Serializer):
    task_id = IdField()


class StationQuery(serializers.Serializer):
    station_id = serializers.CharField(**STATION_ID)


class DateRangeQuery(StationQuery):
    start_date = BoundedDateField()
    end_date = BoundedDateField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _check_range(attrs)


class RechargeRecordQuery(PageRequestSerializer):
    station_id = serializers.CharField(**STATION_ID)
    start_date = BoundedDateField(required=False)
    end_date = BoundedDateField(required=False)
    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _check_range(attrs)


class RechargeCreateRequest(serializers.Serializer):
    combo_id = IdField()
    station_id = serializers.CharField(**STATION_ID)
    station_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=128)
    recharge_nums = serializers.IntegerField(min_value=1, max_value=100_000_000)
    recharge_money = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    operator_name = serializers.CharField(max_length=64)
    deal_code = serializers.CharField(required=False, allow_blank=True, default="", max_length=128)
    remark = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    # Seed 000: ``O Float``. Kept as sent, up to 4 decimals (more is the parameter error).
    unit_price = serializers.DecimalField(
        required=False,
        allow_null=True,
        max_digits=12,
        decimal_places=4,
        min_value=0,
        help_text="fen per message, up to 4 decimals; defaults to the combo's",
    )


class SendRecordQuery(PageRequestSerializer, DateRangeQuery):
    search_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    business_type = serializers.ChoiceField(choices=[0, 1, 2], required=False)
    status = serializers.ChoiceField(choices=[0, 1, 2], required=False)


class UplinkQuery(PageRequestSerializer):
    """``/sms/uplink/get`` (added beyond seed 000): a station's uplinks, optionally by the day
    they were received (both days included)."""

    station_id = serializers.CharField(**STATION_ID)
    start_date = BoundedDateField(required=False)
    end_date = BoundedDateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _check_range(attrs)


class StatisticsDetailQuery(PageRequestSerializer):
    station_ids = serializers.ListField(
        child=serializers.CharField(**STATION_ID), required=False, max_length=1000
    )
    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


# --- Responses ---------------------------------------------------------------------------------


class ComboOut(serializers.ModelSerializer):
    class Meta:
        model = Combo
        fields = ["id", "name", "price", "sms_nums", "unit", "unit_price"]


class BalanceOut(serializers.Serializer):
    sms_balance = serializers.IntegerField()


class DailyRowOut(serializers.Serializer):
    send_date = serializers.CharField(help_text="YYYY-MM-DD")
    total_send_nums = serializers.IntegerField()
    success_send_nums = serializers.IntegerField()
    send_failed_nums = serializers.IntegerField()


class RechargeRecordOut(serializers.ModelSerializer):
    recharge_date = SeedDateTimeField()
    station_id = serializers.CharField(source="station.station_id")
    combo_id = serializers.IntegerField()

    class Meta:
        model = RechargeRecord
        fields = [
            "recharge_date",
            "station_id",
            "combo_id",
            "combo_name",
            "recharge_nums",
            "recharge_money",
            "deal_code",
            "remark",
            "operator_name",
        ]


class SendRecordOut(serializers.ModelSerializer):
    task_id = serializers.IntegerField(source="id")
    send_time = SeedDateTimeField(source="created_at")

    class Meta:
        model = SendRecord
        fields = [
            "task_id",
            "business_type",
            "receive_name",
            "receive_phone",
            "remark",
            "restaurant_id",
            "send_time",
            "status",
        ]


class MobileField(serializers.CharField):
    """A stored number as the API lists it (``sms.core.phones.display_mobile``)."""

    def to_representation(self, value: Any) -> str:
        return display_mobile(str(value))


class StationUplinkOut(serializers.ModelSerializer):
    mobile = MobileField(source="phone")
    content = serializers.CharField(source="text")
    receive_time = SeedDateTimeField(source="received_at")
    task_id = serializers.IntegerField(
        source="record_id", allow_null=True, help_text="the send record (task_id) it answers"
    )

    class Meta:
        model = Uplink
        fields = ["mobile", "content", "sign", "receive_time", "task_id"]


class OverviewOut(serializers.Serializer):
    gm_balance = serializers.IntegerField(
        help_text="the station provider's package balance; its last known value when it cannot say now, "
        "0 before its first answer"
    )
    saas_balance = serializers.CharField()
    saas_recharge_money = serializers.CharField()


class StationStatisticsOut(serializers.ModelSerializer):
    sms_balance = serializers.IntegerField(source="balance_nums")

    class Meta:
        model = Station
        fields = ["station_id", "station_name", "sms_balance", "total_recharge_money", "total_recharge_nums"]

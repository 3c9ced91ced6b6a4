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

STATION_ID = {
    "max_length": 32,
    "trim_whitespace": True,
    "help_text": "站点id: the station's id (at most 32 characters)",
}
BUSINESS_TYPES = "业务类型: 0 mall order (商城下单), 1 order on behalf (代下订单), 2 registration (注册)"
START_DATE = "开始日期: the first day (YYYY-MM-DD, China time), 2000-01-01 to 2099-12-31"
END_DATE = f"结束日期: the last day, included; at most {MAX_RANGE_DAYS} days after start_date"


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
        required=False,
        allow_null=True,
        min_value=0,
        max_value=BIGINT_MAX,
        help_text="店铺id: the customer's shop, kept with the record",
    )
    receive_name = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=64,
        help_text="收信方姓名: the receiver's name, kept with the record",
    )
    receive_phone = serializers.CharField(
        max_length=DOUYIN_CIPHERTEXT_MAX_LENGTH,
        help_text=(
            "收信方手机号码: a mainland mobile (bare or +86…), another country's with its +CC prefix, "
            "or a Douyin phone ciphertext ($…$…$1$$, kept as given: sent through the Douyin shop gateway)"
        ),
    )
    # Optional in seed 000; without it the answer is 1002 naming the keys the type needs.
    sms_content = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=64),
        required=False,
        default=dict,
        allow_null=True,
        help_text=(
            "短信内容, matching business_type: "
            "order_id + sms_signature for business_type 0 and 1; verify_code (4 to 6 digits) + "
            "sms_signature for 2; no 【】 in values, the signature without brackets inside its name. "
            "douyin_order_id (digits, types 0 and 1): a Douyin shop's order, sent by order id through "
            "the Douyin shop gateway, with the fields its template's variables name (FW199_TEMPLATES)"
        ),
    )
    business_type = serializers.IntegerField(help_text=BUSINESS_TYPES + "; 2 sends a verify code")


class SendAddResponseData(serializers.Serializer):
    task_id = serializers.IntegerField(
        help_text="任务id: the record added (pass it to send/start; send_record/get lists it)"
    )


class SendStartRequest(serializers.Serializer):
    task_id = IdField(help_text="短信任务id: the task_id send/add answered")


class StationQuery(serializers.Serializer):
    station_id = serializers.CharField(**STATION_ID)


class DateRangeQuery(StationQuery):
    start_date = BoundedDateField(help_text=START_DATE)
    end_date = BoundedDateField(help_text=END_DATE)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _check_range(attrs)


class RechargeRecordQuery(PageRequestSerializer):
    station_id = serializers.CharField(**STATION_ID)
    start_date = BoundedDateField(required=False, help_text=START_DATE + " (optional)")
    end_date = BoundedDateField(required=False, help_text=END_DATE + " (optional)")
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="查询字段: part of the deal code, remark, operator or combo name",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _check_range(attrs)


class RechargeCreateRequest(serializers.Serializer):
    combo_id = IdField(help_text="套餐id: a combo of combo/get (1-3 are bought whole; 4 takes any quantity)")
    station_id = serializers.CharField(**STATION_ID)
    station_name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=128,
        help_text="the station's name, for statistics_detail/get's q (added beyond seed 000)",
    )
    recharge_nums = serializers.IntegerField(
        min_value=1,
        max_value=100_000_000,
        help_text="充值条数(条): messages added; a fixed combo's own sms_nums; at most SMS_RECHARGE_MAX_NUMS",
    )
    recharge_money = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        help_text="充值金额(元): what was paid, two decimals, not checked against the price; at most "
        "SMS_RECHARGE_MAX_MONEY",
    )
    operator_name = serializers.CharField(max_length=64, help_text="操作人: who booked it")
    deal_code = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=128,
        help_text="到账凭证: the receipt; a receipt is credited once per station (empty: no receipt)",
    )
    remark = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=255, help_text="备注: a note"
    )
    # Seed 000: ``O Float``. Kept as sent, up to 4 decimals (more is the parameter error).
    unit_price = serializers.DecimalField(
        required=False,
        allow_null=True,
        max_digits=12,
        decimal_places=4,
        min_value=0,
        help_text="单价: fen per message, kept as sent, up to 4 decimals; defaults to the combo's",
    )


class SendRecordQuery(PageRequestSerializer, DateRangeQuery):
    search_text = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="搜索关键字: part of the phone number or of the receiver's name",
    )
    business_type = serializers.ChoiceField(
        choices=[0, 1, 2],
        required=False,
        help_text="业务类型: 0 mall order, 1 order on behalf, 2 registration; omitted: 0 and 1",
    )
    status = serializers.ChoiceField(
        choices=[0, 1, 2],
        required=False,
        help_text="发送状态: 0 sending, 1 success, 2 failed; omitted: 1 and 2",
    )


class UplinkQuery(PageRequestSerializer):
    """``/sms/uplink/get`` (added beyond seed 000): a station's uplinks, optionally by the day
    they were received (both days included)."""

    station_id = serializers.CharField(**STATION_ID)
    start_date = BoundedDateField(
        required=False, help_text="the first day received (YYYY-MM-DD, China time; optional)"
    )
    end_date = BoundedDateField(required=False, help_text=END_DATE + " (optional)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _check_range(attrs)


class StatisticsDetailQuery(PageRequestSerializer):
    station_ids = serializers.ListField(
        child=serializers.CharField(**STATION_ID),
        required=False,
        max_length=1000,
        help_text="站点id列表: only these stations (repeated, comma-separated or a JSON array; at most 1000)",
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="搜索关键字: part of the station id or name",
    )


# --- Responses ---------------------------------------------------------------------------------


def described(**help_texts: str) -> dict[str, dict[str, str]]:
    """A ModelSerializer's ``extra_kwargs`` giving each field its API description (the models'
    help_texts are written for operators)."""
    return {name: {"help_text": text} for name, text in help_texts.items()}


class ComboOut(serializers.ModelSerializer):
    class Meta:
        model = Combo
        fields = ["id", "name", "price", "sms_nums", "unit", "unit_price"]
        extra_kwargs = described(
            id="套餐id: the combo_id of recharge_record/create",
            name="套餐名字",
            price="套餐价格: yuan, two decimals",
            sms_nums="套餐条数: messages in the combo (the custom combo takes any quantity)",
            unit="单位",
            unit_price="单价(分): fen per message",
        )


class BalanceOut(serializers.Serializer):
    sms_balance = serializers.IntegerField(
        help_text="短信余额: messages left; 0 for a station that never recharged"
    )


class DailyRowOut(serializers.Serializer):
    send_date = serializers.CharField(help_text="发送时间: the day, YYYY-MM-DD (China time)")
    total_send_nums = serializers.IntegerField(help_text="总的发送数量: messages added that day and started")
    success_send_nums = serializers.IntegerField(help_text="发送成功数: of those, delivered")
    send_failed_nums = serializers.IntegerField(help_text="发送失败数: of those, failed")


class RechargeRecordOut(serializers.ModelSerializer):
    recharge_date = SeedDateTimeField(help_text="充值时间: Beijing time, YYYY-MM-DD HH:MM:SS")
    station_id = serializers.CharField(source="station.station_id", help_text="站点id")
    combo_id = serializers.IntegerField(help_text="套餐id")

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
        extra_kwargs = described(
            combo_name="套餐名称: the combo's name when bought",
            recharge_nums="充值条数(条): messages added",
            recharge_money="充值金额(元): what was paid",
            deal_code="到账凭证: the receipt (may be empty)",
            remark="备注",
            operator_name="操作人",
        )


class SendRecordOut(serializers.ModelSerializer):
    task_id = serializers.IntegerField(
        source="id", help_text="任务id: send/add's task_id (added beyond seed 000)"
    )
    send_time = SeedDateTimeField(source="created_at", help_text="发送时间: when the record was added")

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
        extra_kwargs = described(
            business_type=BUSINESS_TYPES,
            receive_name="收信方姓名 (商户名), as sent",
            receive_phone="发送电话: the number as sent; a Douyin phone ciphertext as given",
            remark="如果发送失败, 此字段表示失败原因: the failure reason (the provider's code and text); "
            "`outcome unknown: …` while no report decided it",
            restaurant_id="店铺id (商户id), as sent",
            status="发送状态码: 0 sending (开始发送, also an outcome not yet known), 1 success, 2 failed",
        )


class MobileField(serializers.CharField):
    """A stored number as the API lists it (``sms.core.phones.display_mobile``)."""

    def to_representation(self, value: Any) -> str:
        return display_mobile(str(value))


class StationUplinkOut(serializers.ModelSerializer):
    mobile = MobileField(
        source="phone",
        help_text="the number as the provider gave it (a masked 131****1234 when the provider masked it)",
    )
    content = serializers.CharField(source="text", help_text="the reply's text")
    receive_time = SeedDateTimeField(source="received_at", help_text="when the provider received it")
    task_id = serializers.IntegerField(
        source="record_id", allow_null=True, help_text="the send record (task_id) it answers"
    )

    class Meta:
        model = Uplink
        fields = ["mobile", "content", "sign", "receive_time", "task_id"]
        extra_kwargs = described(
            sign="the signature the provider says it was sent to; empty when it does not say"
        )


class OverviewOut(serializers.Serializer):
    gm_balance = serializers.IntegerField(
        help_text="运营商套餐余额: the station provider's package balance; its last known value when it "
        "cannot say now, 0 before its first answer"
    )
    saas_balance = serializers.CharField(help_text="SaaS客户短信余额: the sum of the stations' balances")
    saas_recharge_money = serializers.CharField(
        help_text="SaaS客户充值金额: the sum of all recharges, yuan, two decimals"
    )


class StationStatisticsOut(serializers.ModelSerializer):
    sms_balance = serializers.IntegerField(source="balance_nums", help_text="剩余短信数量: messages left")

    class Meta:
        model = Station
        fields = ["station_id", "station_name", "sms_balance", "total_recharge_money", "total_recharge_nums"]
        extra_kwargs = described(
            station_id="站点id",
            station_name="the station's name (empty until a recharge names it)",
            total_recharge_money="充值金额: every recharge's money, yuan, two decimals",
            total_recharge_nums="总购买条数: every recharge's messages",
        )

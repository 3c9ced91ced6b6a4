"""The station ``/sms/*`` API of seed 000. Views parse, call one service or selector, render.

Class names are the seed's (``sms/station_api/views.py/SmsSendAddView`` …). Tencent's push at
``/sms/callback`` is with the other provider pushes in ``sms/pushes/views.py``. Each view declares
the scope its caller's service client needs (gm_server_notify.api.auth): send/add and send/start
need send, recharge_record/create needs recharge, every GET needs read. Each also says where its
request names the station (``station_source``), so that a client bound to stations reaches only
its own (sms.station_api.binding). Each operation's schema
(summary, description, examples, every answer) is written for the API's users, from
docs/api-station.md.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from gm_server_notify.api.envelope import StationCode, station_ok
from gm_server_notify.api.paging import PageRequest
from gm_server_notify.api.schema import (
    STATION_EVERY_STATION,
    STATION_KEYED,
    STATION_OTHER_STATION,
    STATION_READ,
    STATION_SUSPENDED,
    STATION_TAG,
    Refusal,
    answers,
    body_example,
    query_example,
    station_null_ok,
    station_ok_answer,
    station_post,
    station_refusal,
)
from gm_server_notify.api.views import parse
from sms.core.idempotency import IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, idempotent
from sms.station_api import selectors, services
from sms.station_api.binding import StationSource, StationView
from sms.station_api.serializers import (
    BalanceOut,
    ComboOut,
    DailyRowOut,
    DateRangeQuery,
    OverviewOut,
    RechargeCreateRequest,
    RechargeRecordOut,
    RechargeRecordQuery,
    SendAddRequest,
    SendAddResponseData,
    SendRecordOut,
    SendRecordQuery,
    SendStartRequest,
    StationQuery,
    StationStatisticsOut,
    StationUplinkOut,
    StatisticsDetailQuery,
    UplinkQuery,
    query_data,
)

TAGS = [STATION_TAG]
PAGING = (
    "Paged: `limit` (default 10, at most 100), `reverse`, and `page_obj` passed back from the previous "
    "answer's `pagination` (see the API's description)."
)


def _bad(msg: str, when: str = "", name: str = "") -> Refusal:
    return station_refusal(StationCode.INVALID_PARAMETER, msg, when=when, name=name)


# A day range of the GETs that take one (sms.station_api.serializers._check_range).
BAD_RANGE = _bad(
    "end_date: the range may span at most 366 days",
    when="a missing or malformed parameter; a reversed range, or one longer than 366 days",
)


class SmsSendAddView(StationView):
    required_scope = "send"
    station_source = StationSource.BODY

    @extend_schema(
        tags=TAGS,
        summary="添加发送短信任务: add a message (validate, reserve its cost, write the record)",
        description="""\
Validates the request, renders the text, counts its billed segments, reserves them from the
station's balance and writes the record. Nothing is written or reserved when any check fails. The
message is not sent until `send/start` is called with the answered `task_id` (`tbl_sms_send_record`'s
id).

- `business_type`: 0 mall order, 1 order on behalf, 2 registration. `sms_content` must match it:
  `order_id` + `sms_signature` for 0 and 1, `verify_code` (4 to 6 ASCII digits) + `sms_signature`
  for 2. Values are at most 64 characters and may not hold `【` or `】`; the signature's `[]` or
  `【】` brackets are normalised, a bracket left inside its name is `1002`.
- `receive_phone`: a mainland mobile, bare or as `+86…`; another country's only with its `+CC`
  prefix (it goes to the international provider). Fixed lines and malformed numbers are `1002`.
- The text is `【signature】` followed by the type's template (`signature: ` outside the mainland),
  at most 500 characters. Segments: 70 UCS-2 units for one message, 67 per part beyond; a number
  outside the mainland is billed in GSM-7 septets (160, then 153) when the text fits that alphabet.
- **Douyin shop orders**: with `sms_content.douyin_order_id` (1 to 32 digits), or a `receive_phone`
  that is a Douyin phone ciphertext, the message goes through the Douyin shop gateway (fw199) with
  its template for the business type (0 or 1 only), whose variables `sms_content` must fill; it
  never goes to another provider.
- **Limits**: verify codes (type 2) to one mobile are limited by `SMS_VERIFY_LIMITS` (default
  `1/60s,5/1h,10/1d`) and `SMS_STATION_DAILY_CAP` caps a station's messages per China-time day:
  beyond either, `1008` (HTTP 429) naming the limit, nothing written.
- A station that never recharged, or whose balance is too small, is `1006`; a station an operator
  suspended is `1010`. Concurrent sends never take a balance below zero.
- Safe to retry with an `Idempotency-Key` header.""",
        request=SendAddRequest,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED],
        examples=[
            body_example(
                "verify code",
                {
                    "station_id": "T7442",
                    "receive_phone": "13112341234",
                    "sms_content": {"verify_code": "112095", "sms_signature": "[去采购报价单]"},
                    "business_type": 2,
                },
            ),
            body_example(
                "order notice",
                {
                    "station_id": "T7442",
                    "restaurant_id": 2841,
                    "receive_name": "王先生",
                    "receive_phone": "13112341234",
                    "sms_content": {"order_id": "PL0001", "sms_signature": "去采购"},
                    "business_type": 0,
                },
            ),
        ],
        responses=answers(
            station_ok_answer(
                "SendAddResponse",
                SendAddResponseData(help_text="响应消息: the record added"),
                {"task_id": 22},
                description="`code` 0: the record is written and its cost reserved; start it with send/start",
            ),
            *station_post("send"),
            STATION_OTHER_STATION,
            _bad(
                "receive_phone: '12345' is not a valid mobile number: wrong length",
                when="a missing or wrong parameter, or sms_content not matching business_type (msg names it)",
                name="bad phone",
            ),
            _bad("sms_content: verify_code, sms_signature required for business_type 2", name="content"),
            *STATION_KEYED,
            station_refusal(
                StationCode.INSUFFICIENT_BALANCE,
                "station T7442 has no SMS balance; recharge first",
                when="the station never recharged, or its balance cannot cover the message",
            ),
            STATION_SUSPENDED,
            station_refusal(
                StationCode.THROTTLED,
                "receive_phone: verify codes to this mobile: 1 per 60s",
                when="a verify-code limit of the mobile (`SMS_VERIFY_LIMITS`)",
                name="verify-code limit",
            ),
            station_refusal(
                StationCode.THROTTLED,
                "the station's daily cap of 1000 messages is reached",
                when="the station's daily cap (`SMS_STATION_DAILY_CAP`)",
                name="daily cap",
            ),
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = parse(SendAddRequest, request.data)
        record = services.create_station_send(**data)
        return station_ok({"task_id": record.pk})


class SmsSendStartView(StationView):
    required_scope = "send"
    station_source = StationSource.TASK

    @extend_schema(
        tags=TAGS,
        summary="发送短信: start an added message (starting twice sends once)",
        description="""\
Queues the record `send/add` wrote; a worker sends it after the request's transaction commits.
Starting a record that is already started (or finished) answers ok and does nothing: a record is
sent once however often it is started. The day's `total_send_nums` (`data_center/get`) counts the
record when it is started. Follow the outcome with `send_record/get` (`status` 1 or 2).""",
        request=SendStartRequest,
        examples=[body_example("start", {"task_id": 22})],
        responses=answers(
            station_null_ok("`code` 0: queued (or already started); `data` is null"),
            *station_post("send"),
            STATION_OTHER_STATION,
            _bad("task_id: A valid integer is required.", name="task_id"),
            station_refusal(
                StationCode.NOT_FOUND,
                "task_id: task 22 does not exist",
                when="no station record has this task_id",
            ),
            STATION_SUSPENDED,
        ),
    )
    def post(self, request: Request) -> Response:
        data = parse(SendStartRequest, request.data)
        services.start_station_send(task_id=data["task_id"])
        return station_ok(None)


class ComboGetView(StationView):
    required_scope = "read"
    station_source = StationSource.NONE

    @extend_schema(
        tags=TAGS,
        summary="获取套餐包: the combos a station can buy",
        description="""\
The active combos, for `recharge_record/create`'s `combo_id`. A data migration installs four:
2000 messages at 200.00 (10 fen each), 5000 at 450.00, 10000 at 800.00, and `自定义套餐包` (id 4),
the custom combo for any quantity. No parameters; the same for every client, bound to stations
or not.""",
        responses=answers(
            station_ok_answer(
                "ComboList",
                ComboOut(many=True, help_text="响应内容: the combos"),
                [
                    {
                        "id": 1,
                        "name": "套餐包: 2000条",
                        "price": "200.00",
                        "sms_nums": 2000,
                        "unit": "条",
                        "unit_price": 10,
                    },
                    {
                        "id": 4,
                        "name": "自定义套餐包",
                        "price": "0.00",
                        "sms_nums": 0,
                        "unit": "条",
                        "unit_price": 3,
                    },
                ],
            ),
            *STATION_READ,
        ),
    )
    def get(self, request: Request) -> Response:
        return station_ok(ComboOut(selectors.active_combos(), many=True).data)


class BalanceGetView(StationView):
    required_scope = "read"
    station_source = StationSource.QUERY

    @extend_schema(
        tags=TAGS,
        summary="获取短信余额: a station's SMS balance",
        description="""\
The station's remaining messages (`balance_nums` of its `tbl_sms_statistics` row). A station that
never recharged has 0.""",
        parameters=[StationQuery],
        examples=query_example("T7442", station_id="T7442"),
        responses=answers(
            station_ok_answer(
                "BalanceResponse", BalanceOut(help_text="响应内容: the balance"), {"sms_balance": 178}
            ),
            _bad("station_id: This field is required.", name="station_id"),
            *STATION_READ,
            STATION_OTHER_STATION,
        ),
    )
    def get(self, request: Request) -> Response:
        data = parse(StationQuery, query_data(request.query_params))
        return station_ok({"sms_balance": selectors.station_balance(station_id=data["station_id"])})


class DataCenterGetView(StationView):
    required_scope = "read"
    station_source = StationSource.QUERY

    @extend_schema(
        tags=TAGS,
        summary="获取短信近期每天发送详情: a station's sends per day",
        description="""\
One row per day of `[start_date, end_date]` (both included, China time), days without sends
filled with zeros, read from the per-day aggregate (never from the send records). A record counts
in `total_send_nums` on the day it was added once it is started, and in `success_send_nums` or
`send_failed_nums` of that same day when its report arrives, so success + failed ≤ total on every
row. A reversed range, or one longer than 366 days, is `1002`.""",
        parameters=[DateRangeQuery],
        examples=query_example(
            "a week of T7442", station_id="T7442", start_date="2026-11-17", end_date="2026-11-23"
        ),
        responses=answers(
            station_ok_answer(
                "DataCenterResponse",
                DailyRowOut(many=True, help_text="响应内容: one row per day, oldest first"),
                [
                    {
                        "send_date": "2026-11-22",
                        "total_send_nums": 0,
                        "success_send_nums": 0,
                        "send_failed_nums": 0,
                    },
                    {
                        "send_date": "2026-11-23",
                        "total_send_nums": 100,
                        "success_send_nums": 90,
                        "send_failed_nums": 10,
                    },
                ],
            ),
            BAD_RANGE,
            *STATION_READ,
            STATION_OTHER_STATION,
        ),
    )
    def get(self, request: Request) -> Response:
        data = parse(DateRangeQuery, query_data(request.query_params))
        return station_ok(selectors.cached_daily_send_statistics(**data))


class RechargeRecordGetView(StationView):
    required_scope = "read"
    station_source = StationSource.QUERY

    @extend_schema(
        tags=TAGS,
        summary="获取充值记录: a station's recharges",
        description=f"""\
The station's recharges, newest first. `station_id` is required; `start_date`/`end_date`
(optional) bound `recharge_date`; `q` matches the deal code, remark, operator or combo name.
{PAGING}""",
        parameters=[RechargeRecordQuery],
        examples=query_example("T7442's last ten", station_id="T7442", limit=10),
        responses=answers(
            station_ok_answer(
                "RechargeRecordList",
                RechargeRecordOut(many=True, help_text="响应信息: this page's recharges"),
                [
                    {
                        "recharge_date": "2026-11-23 21:05:11",
                        "station_id": "T7442",
                        "combo_id": 4,
                        "combo_name": "自定义套餐包",
                        "recharge_nums": 10,
                        "recharge_money": "0.30",
                        "deal_code": "测试",
                        "remark": "测试",
                        "operator_name": "superadmin",
                    }
                ],
                paged=True,
            ),
            BAD_RANGE,
            _bad("page_obj: page_obj is not a cursor returned by this endpoint", name="page_obj"),
            *STATION_READ,
            STATION_OTHER_STATION,
        ),
    )
    def get(self, request: Request) -> Response:
        data = parse(RechargeRecordQuery, query_data(request.query_params))
        page = selectors.recharge_records_page(
            station_id=data["station_id"],
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
            q=data["q"],
            page=PageRequest.from_validated(data),
        )
        return station_ok(RechargeRecordOut(page.items, many=True).data, pagination=page.pagination)


class RechargeRecordCreateView(StationView):
    required_scope = "recharge"
    station_source = StationSource.BODY

    @extend_schema(
        tags=TAGS,
        summary="创建充值记录: recharge a station (creates it on its first recharge)",
        description="""\
Books a purchase and adds `recharge_nums` to the station's balance in the same transaction, with a
ledger row; the station is created on its first recharge. Where the seed is silent:

- a fixed combo (ids 1-3) is bought whole: `recharge_nums` must equal its `sms_nums` (`1002`
  otherwise); the custom combo (4) takes any positive quantity. `recharge_money` is what was paid
  (≥ 0, two decimals) and is not checked against the price: operators book discounts;
- `unit_price` is fen per message, kept as sent up to 4 decimals; it defaults to the combo's;
- an unknown `combo_id` is `1004`;
- a receipt is credited once per station: a `deal_code` already booked for the station with the
  same combo, quantity, money and unit price answers `code` 0 again and credits nothing (a retry is
  safe); with other values it is `1007` (HTTP 409) naming the first booking. An empty `deal_code`
  is no receipt;
- one recharge adds at most `SMS_RECHARGE_MAX_NUMS` messages (default 10,000,000) and
  `SMS_RECHARGE_MAX_MONEY` (default 1,000,000.00); more is `1002`.

The service client that booked it is kept with the record. Safe to retry with an
`Idempotency-Key` header.""",
        request=RechargeCreateRequest,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED],
        examples=[
            body_example(
                "custom combo",
                {
                    "combo_id": 4,
                    "recharge_money": "0.30",
                    "recharge_nums": 10,
                    "deal_code": "测试",
                    "remark": "测试",
                    "station_id": "T7442",
                    "operator_name": "superadmin",
                },
            )
        ],
        responses=answers(
            station_null_ok("`code` 0: the balance is credited (or the receipt was already); `data` is null"),
            *station_post("recharge"),
            STATION_OTHER_STATION,
            _bad(
                "recharge_nums: combo 1 holds 2000 messages",
                when="a missing or wrong parameter (msg names it): a fixed combo not bought whole, a ceiling",
                name="combo",
            ),
            *STATION_KEYED,
            station_refusal(
                StationCode.NOT_FOUND, "combo_id: combo 99 does not exist", when="an unknown `combo_id`"
            ),
            station_refusal(
                StationCode.CONFLICT,
                "deal_code: deal_code 20261125-001 was recharged already, as 10 messages for 0.30 (record 7)",
                when="the `deal_code` was booked for this station with other values",
                name="receipt",
            ),
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = parse(RechargeCreateRequest, request.data)
        # The client that booked it, for audit (request.user is its ServiceClient).
        services.recharge_station(**data, client_name=request.user.name)
        return station_ok(None)


class SendRecordGetView(StationView):
    required_scope = "read"
    station_source = StationSource.QUERY

    @extend_schema(
        tags=TAGS,
        summary="获取站点发送记录: a station's messages and their outcome",
        description=f"""\
The station's messages added within `[start_date, end_date]`, newest first. As the seed says:
without `business_type` only mall and proxy orders (0 and 1) are listed; without `status` only
success and failure (1 and 2). `search_text` matches part of the phone number or of the receiver's
name. `send_time` is when the record was added; `remark` holds the failure reason. A record whose
outcome is not known yet (no report by the deadline) shows `status` 0 with `remark`
`outcome unknown: …`; a late report still makes it 1 or 2. A reversed range, or one longer than
366 days, is `1002`. {PAGING}""",
        parameters=[SendRecordQuery],
        examples=query_example(
            "T7442's verify codes",
            station_id="T7442",
            start_date="2026-11-23",
            end_date="2026-11-23",
            business_type=2,
        ),
        responses=answers(
            station_ok_answer(
                "SendRecordList",
                SendRecordOut(many=True, help_text="响应内容: this page's messages"),
                [
                    {
                        "task_id": 22,
                        "business_type": 2,
                        "receive_name": None,
                        "receive_phone": "13112341234",
                        "remark": "",
                        "restaurant_id": None,
                        "send_time": "2026-11-23 21:05:12",
                        "status": 1,
                    }
                ],
                paged=True,
            ),
            BAD_RANGE,
            *STATION_READ,
            STATION_OTHER_STATION,
        ),
    )
    def get(self, request: Request) -> Response:
        data = parse(SendRecordQuery, query_data(request.query_params))
        page = selectors.send_records_page(
            station_id=data["station_id"],
            start_date=data["start_date"],
            end_date=data["end_date"],
            search_text=data["search_text"],
            business_type=data.get("business_type"),
            status=data.get("status"),
            page=PageRequest.from_validated(data),
        )
        return station_ok(SendRecordOut(page.items, many=True).data, pagination=page.pagination)


class StatisticsOverviewGetView(StationView):
    required_scope = "read"
    station_source = StationSource.ALL

    @extend_schema(
        tags=TAGS,
        summary="统计概览: the platform's balances and recharges",
        description="""\
`gm_balance` is the default provider's remaining package balance from its own API, cached for
`PROVIDER_BALANCE_CACHE_SECONDS` (a cold cache waits at most `PROVIDER_BALANCE_TIMEOUT`); when the
provider cannot say, the last amount it answered, and 0 before its first answer. `saas_balance` is
the sum of the stations' balances, `saas_recharge_money` the sum of their recharges, both strings
as in the seed. No parameters. It covers every station: a client bound to stations gets `1012`.""",
        responses=answers(
            station_ok_answer(
                "OverviewResponse",
                OverviewOut(help_text="响应内容: the totals"),
                {"gm_balance": 30366, "saas_balance": "153690", "saas_recharge_money": "21981.31"},
            ),
            *STATION_READ,
            STATION_EVERY_STATION,
        ),
    )
    def get(self, request: Request) -> Response:
        return station_ok(selectors.cached_statistics_overview())


class StatisticsDetailGetView(StationView):
    required_scope = "read"
    station_source = StationSource.ALL

    @extend_schema(
        tags=TAGS,
        summary="所有站点短信统计: every station's balance and recharges",
        description=f"""\
Every station, by station id, with its balance and recharge totals. `station_ids` keeps only those
stations: repeated (`station_ids=T1&station_ids=T2`), comma-separated (`station_ids=T1,T2`) or a
JSON array; `q` matches part of the station id or name. It reads every station: a client bound to
stations gets `1012`, whatever `station_ids` says. {PAGING}""",
        parameters=[StatisticsDetailQuery],
        examples=query_example("two stations", station_ids=["T7442", "T7443"]),
        responses=answers(
            station_ok_answer(
                "StationStatisticsList",
                StationStatisticsOut(many=True, help_text="响应消息: this page's stations"),
                [
                    {
                        "station_id": "T7442",
                        "station_name": "",
                        "sms_balance": 179,
                        "total_recharge_money": "20.31",
                        "total_recharge_nums": 211,
                    }
                ],
                paged=True,
            ),
            _bad("station_ids: not a JSON array", name="station_ids"),
            *STATION_READ,
            STATION_EVERY_STATION,
        ),
    )
    def get(self, request: Request) -> Response:
        data = parse(StatisticsDetailQuery, query_data(request.query_params, list_fields=("station_ids",)))
        page = selectors.cached_station_statistics_page(
            station_ids=data.get("station_ids", []), q=data["q"], page=PageRequest.from_validated(data)
        )
        return station_ok(StationStatisticsOut(page.items, many=True).data, pagination=page.pagination)


class UplinkGetView(StationView):
    """Added beyond seed 000: the replies to a station's messages (docs/api-station.md)."""

    required_scope = "read"
    station_source = StationSource.QUERY

    @extend_schema(
        tags=TAGS,
        summary="获取站点上行短信: replies to a station's messages (added beyond seed 000)",
        description=f"""\
The replies (uplinks) that answer the station's messages, newest first by the time the provider
received them. `station_id` is required; `start_date` and `end_date` (optional, at most 366 days
apart) bound the day received. `task_id` is the send record the reply answers, `sign` the
signature the provider says it was sent to (empty when it does not say), `mobile` the number as the
provider gave it (masked when the provider masked it). Each reply is stored once however often it
arrives. {PAGING}""",
        parameters=[UplinkQuery],
        examples=query_example("T7442's replies", station_id="T7442", start_date="2026-11-23"),
        responses=answers(
            station_ok_answer(
                "StationUplinkList",
                StationUplinkOut(many=True, help_text="响应内容: this page's replies"),
                [
                    {
                        "mobile": "13112341234",
                        "content": "已收到，谢谢",
                        "sign": "",
                        "receive_time": "2026-11-23 21:07:40",
                        "task_id": 22,
                    }
                ],
                paged=True,
            ),
            BAD_RANGE,
            *STATION_READ,
            STATION_OTHER_STATION,
        ),
    )
    def get(self, request: Request) -> Response:
        data = parse(UplinkQuery, query_data(request.query_params))
        page = selectors.station_uplinks_page(
            station_id=data["station_id"],
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
            page=PageRequest.from_validated(data),
        )
        return station_ok(StationUplinkOut(page.items, many=True).data, pagination=page.pagination)

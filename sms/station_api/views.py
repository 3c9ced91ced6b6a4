"""The station ``/sms/*`` API of seed 000. Views parse, call one service or selector, render.

Class names are the seed's (``sms/station_api/views.py/SmsSendAddView`` …). Tencent's push at
``/sms/callback`` is with the other provider pushes in ``sms/pushes/views.py``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from gm_server_notify.api.envelope import station_ok
from gm_server_notify.api.paging import PageRequest
from gm_server_notify.api.schema import STATION_ERROR, station_envelope
from gm_server_notify.api.views import StationAPIView, parse
from sms.core.idempotency import IDEMPOTENCY_KEY, idempotent
from sms.station_api import selectors, services
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

ERRORS = {400: STATION_ERROR, 401: STATION_ERROR, 403: STATION_ERROR, 404: STATION_ERROR}
# The POSTs that take an Idempotency-Key: 409 while the key's first request runs (or a receipt
# booked with other values), 422 when the key comes with another body.
KEYED_ERRORS = {**ERRORS, 409: STATION_ERROR, 422: STATION_ERROR}
# Each view declares the scope its caller's service client needs (gm_server_notify.api.auth):
# send/add and send/start need send, recharge_record/create needs recharge, every GET needs read.
NULL_OK = station_envelope("StationOk")
TAG = ["sms (station)"]


class SmsSendAddView(StationAPIView):
    required_scope = "send"

    @extend_schema(
        tags=TAG,
        summary="添加发送短信任务: validate, reserve balance, write the record",
        request=SendAddRequest,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: station_envelope("SendAddResponse", SendAddResponseData()), **KEYED_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = parse(SendAddRequest, request.data)
        record = services.create_station_send(**data)
        return station_ok({"task_id": record.pk})


class SmsSendStartView(StationAPIView):
    required_scope = "send"

    @extend_schema(
        tags=TAG,
        summary="发送短信: queue an added record (starting twice sends once)",
        request=SendStartRequest,
        responses={200: NULL_OK, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = parse(SendStartRequest, request.data)
        services.start_station_send(task_id=data["task_id"])
        return station_ok(None)


class ComboGetView(StationAPIView):
    required_scope = "read"

    @extend_schema(
        tags=TAG,
        summary="获取套餐包",
        responses={200: station_envelope("ComboList", ComboOut(many=True)), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return station_ok(ComboOut(selectors.active_combos(), many=True).data)


class BalanceGetView(StationAPIView):
    required_scope = "read"

    @extend_schema(
        tags=TAG,
        summary="获取短信余额",
        parameters=[StationQuery],
        responses={200: station_envelope("BalanceResponse", BalanceOut()), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        data = parse(StationQuery, query_data(request.query_params))
        return station_ok({"sms_balance": selectors.station_balance(station_id=data["station_id"])})


class DataCenterGetView(StationAPIView):
    required_scope = "read"

    @extend_schema(
        tags=TAG,
        summary="获取短信近期每天发送详情 (one row per day, zero-filled)",
        parameters=[DateRangeQuery],
        responses={200: station_envelope("DataCenterResponse", DailyRowOut(many=True)), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        data = parse(DateRangeQuery, query_data(request.query_params))
        return station_ok(selectors.daily_send_statistics(**data))


class RechargeRecordGetView(StationAPIView):
    required_scope = "read"

    @extend_schema(
        tags=TAG,
        summary="获取充值记录",
        parameters=[RechargeRecordQuery],
        responses={
            200: station_envelope("RechargeRecordList", RechargeRecordOut(many=True), paged=True),
            **ERRORS,
        },
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


class RechargeRecordCreateView(StationAPIView):
    required_scope = "recharge"

    @extend_schema(
        tags=TAG,
        summary="创建充值记录 (creates the station on its first recharge)",
        request=RechargeCreateRequest,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: NULL_OK, **KEYED_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = parse(RechargeCreateRequest, request.data)
        # The client that booked it, for audit (request.user is its ServiceClient).
        services.recharge_station(**data, client_name=request.user.name)
        return station_ok(None)


class SendRecordGetView(StationAPIView):
    required_scope = "read"

    @extend_schema(
        tags=TAG,
        summary="获取站点发送记录",
        parameters=[SendRecordQuery],
        responses={200: station_envelope("SendRecordList", SendRecordOut(many=True), paged=True), **ERRORS},
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


class StatisticsOverviewGetView(StationAPIView):
    required_scope = "read"

    @extend_schema(
        tags=TAG,
        summary="统计概览",
        responses={200: station_envelope("OverviewResponse", OverviewOut()), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return station_ok(selectors.statistics_overview())


class StatisticsDetailGetView(StationAPIView):
    required_scope = "read"

    @extend_schema(
        tags=TAG,
        summary="所有站点短信统计",
        parameters=[
            StatisticsDetailQuery,
            OpenApiParameter(
                "station_ids", str, many=True, description="repeated, comma-separated or a JSON array"
            ),
        ],
        responses={
            200: station_envelope("StationStatisticsList", StationStatisticsOut(many=True), paged=True),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        data = parse(StatisticsDetailQuery, query_data(request.query_params, list_fields=("station_ids",)))
        page = selectors.station_statistics_page(
            station_ids=data.get("station_ids", []), q=data["q"], page=PageRequest.from_validated(data)
        )
        return station_ok(StationStatisticsOut(page.items, many=True).data, pagination=page.pagination)


class UplinkGetView(StationAPIView):
    """Added beyond seed 000: the replies to a station's messages (docs/api-station.md)."""

    required_scope = "read"

    @extend_schema(
        tags=TAG,
        summary="获取站点上行短信 (added beyond seed 000): replies to the station's messages",
        parameters=[UplinkQuery],
        responses={
            200: station_envelope("StationUplinkList", StationUplinkOut(many=True), paged=True),
            **ERRORS,
        },
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

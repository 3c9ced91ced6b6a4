"""The console's JSON at /dashboard/api/* (staff only; docs/operations.md "Console JSON API"):
each view checks the query, calls one selector and renders its answer as JSON, or as CSV with
``?format=csv``. Not signed in as staff: 403 JSON, never a login redirect; a bad parameter: 400
``{"error": ...}`` naming it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from sms.console import selectors
from sms.console.params import BadQuery, TrafficQuery, parse_query
from sms.core.csv_files import csv_response
from sms.core.staff import staff_api

FORMATS = ("json", "csv")


def _staff_api(view: Callable[[HttpRequest], selectors.Answer]) -> Callable[[HttpRequest], HttpResponse]:
    @wraps(view)
    def answer(request: HttpRequest) -> HttpResponse:
        output = request.GET.get("format", "json")
        try:
            if output not in FORMATS:
                raise BadQuery("format: json or csv")
            result = view(request)
        except BadQuery as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        if output == "csv":
            return _csv(result, name=view.__name__)
        return JsonResponse(result.body, json_dumps_params={"ensure_ascii": False})

    return require_GET(staff_api(answer))


def _csv(result: selectors.Answer, *, name: str) -> HttpResponse:
    return csv_response(result.header, result.rows, filename=f"{name}.csv")


def _query(request: HttpRequest) -> TrafficQuery:
    return parse_query(request.GET, today=timezone.localdate())


@_staff_api
def summary(request: HttpRequest) -> selectors.Answer:
    return selectors.traffic_summary(query=_query(request))


@_staff_api
def series(request: HttpRequest) -> selectors.Answer:
    return selectors.traffic_series(query=_query(request))


@_staff_api
def failures(request: HttpRequest) -> selectors.Answer:
    return selectors.traffic_failures(query=_query(request))


@_staff_api
def latency(request: HttpRequest) -> selectors.Answer:
    return selectors.traffic_latency(query=_query(request))


@_staff_api
def money(request: HttpRequest) -> selectors.Answer:
    return selectors.traffic_money(query=_query(request))


@_staff_api
def balances(request: HttpRequest) -> selectors.Answer:
    return selectors.traffic_balances(query=_query(request))


@_staff_api
def top(request: HttpRequest) -> selectors.Answer:
    return selectors.traffic_top(query=_query(request))


@_staff_api
def health(request: HttpRequest) -> selectors.Answer:
    return selectors.traffic_health()

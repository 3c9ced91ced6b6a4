"""Service clients bound to stations: a client of ``SMS_SERVICE_CLIENTS`` with ``"stations"``
reaches only those stations on every ``/sms/*`` call.

The rule lives here and nowhere else. Each station view says where its request names the station
(``station_source``); ``StationBinding``, a permission checked after the scope and before the view
runs, refuses a bound client that names another station (403, code 1012). Being a permission, it
runs before the view's ``Idempotency-Key`` replay and before anything is read or written.

The station ids are read as the view's serializer reads them (the same field), so a value the
check would skip as malformed is one the view refuses as ``1002`` too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from gm_server_notify.api.auth import STATION_NOT_BOUND, HasServiceScope, ServiceClient
from gm_server_notify.api.views import StationAPIView
from sms.station_api import selectors
from sms.station_api.serializers import STATION_ID, SendStartRequest


class StationSource(enum.Enum):
    """Where a station view's request names the station it acts on or reads."""

    QUERY = "query"  # ?station_id=
    BODY = "body"  # the JSON body's station_id
    TASK = "task"  # the body's task_id: the station of that send record
    NONE = "none"  # no station: the answer is the same for every client (combo/get)
    ALL = "all"  # every station (statistics_overview, statistics_detail): unbound clients only


def _station_ids(values: list[Any]) -> list[str]:
    """The values as the view's station_id field reads them; malformed ones (which the view
    refuses as 1002) are left out."""
    field = serializers.CharField(**STATION_ID)
    ids = []
    for value in values:
        try:
            ids.append(field.run_validation(value))
        except serializers.ValidationError:
            continue
    return ids


def named_stations(request: Request, source: StationSource) -> list[str]:
    """The stations a request names, read where its view reads them."""
    if source is StationSource.QUERY:
        return _station_ids(request.query_params.getlist("station_id"))
    if source is StationSource.BODY:
        data = request.data
        return (
            _station_ids([data["station_id"]]) if isinstance(data, Mapping) and "station_id" in data else []
        )
    if source is StationSource.TASK:
        parsed = SendStartRequest(data=request.data)
        if not parsed.is_valid():
            return []  # the view answers 1002
        station = selectors.station_of_record(task_id=parsed.validated_data["task_id"])
        return [] if station is None else [station]  # None: the view answers 1004
    return []


class StationBinding(BasePermission):
    """A client bound to stations reaches only those: another station named in the query or the
    body, the record of another station (send/start), or a read of every station is refused. An
    unbound client passes; a view that does not say where it names its station refuses every bound
    client (closed until it says)."""

    code = STATION_NOT_BOUND

    def has_permission(self, request: Request, view: Any) -> bool:
        client = request.user
        if not isinstance(client, ServiceClient) or not client.bound:
            return True
        source = getattr(view, "station_source", None)
        if source is StationSource.NONE:
            return True
        if not isinstance(source, StationSource) or source is StationSource.ALL:
            self.message = (
                f"service client {client.name!r} is bound to stations; this call reads every station"
            )
            return False
        foreign = [station for station in named_stations(request, source) if not client.reaches(station)]
        if foreign:
            self.message = f"service client {client.name!r} may not reach station {foreign[0]}"
            return False
        return True


class StationView(StationAPIView):
    """A ``/sms/*`` station view: the caller needs the view's scope, and a client bound to
    stations reaches only its own (``station_source`` says where the request names one)."""

    permission_classes = [HasServiceScope, StationBinding]
    station_source: StationSource | None = None

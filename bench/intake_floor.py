"""The floors of the intake benchmark (``bench/intake.py``), served by the same gunicorn settings
as the project (``DJANGO_SETTINGS_MODULE=bench.intake_floor``); they live only in the benchmark:

- ``POST /floor/push``: a bare Django view that stores the body in the push inbox with the same
  one insert as a push, nothing else: no token, no parsing, no drain request, no DRF.
- ``POST /floor/empty``: a bare Django view that answers ``{"status": "ok"}``: Django's request
  path alone, the cost every Django endpoint pays before its own work.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from gm_server_notify.settings import *  # noqa: F403 - the product's settings, one override below

ROOT_URLCONF = "bench.intake_floor"

_INSERT = (
    "INSERT INTO tbl_sms_push_inbox (provider, kind, body, content_type, received_at, claim)"
    " VALUES ('gateway', 'status', %s, 'application/json', %s, '')"
)


@csrf_exempt
def push_floor(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [request.body, timezone.now()])
    return JsonResponse({"status": "ok"})


@csrf_exempt
def empty_floor(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("floor/push", push_floor),
    path("floor/empty", empty_floor),
    path("healthz", lambda request: JsonResponse({"status": "ok"})),
]

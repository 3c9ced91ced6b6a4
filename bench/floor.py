"""The floor of the accepting-sends benchmark: a bare Django view that does the same one INSERT
and one broker publish as a send, with no validation, no balance and no DRF. It lives only in
the benchmark (``DJANGO_SETTINGS_MODULE=bench.floor``), never in the product."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from gm_server_notify.celery import app as celery_app
from gm_server_notify.settings import *  # noqa: F403 - the product's settings, one override below

ROOT_URLCONF = "bench.floor"
FLOOR_QUEUE = "bench_floor"

_INSERT = (
    "INSERT INTO tbl_sms_send_record (station_id, receive_phone, phone_e164, business_type, sms_content,"
    " content, segments, state, status, remark, provider, provider_code, dispatch_id, attempts, refunded,"
    " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 1, 'created', 0, '', '', '', '', 0, 0, %s, %s)"
)


@csrf_exempt
def floor_view(request: HttpRequest) -> JsonResponse:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT, ["T7442", "13112341234", "+8613112341234", 2, "{}", "【去采购】floor", now, now]
        )
        record_id = cursor.lastrowid
    celery_app.send_task("bench.floor_noop", args=[record_id], queue=FLOOR_QUEUE)
    return JsonResponse({"code": 0, "msg": "ok", "data": {"task_id": record_id}})


urlpatterns = [path("floor", floor_view), path("healthz", lambda request: JsonResponse({"status": "ok"}))]

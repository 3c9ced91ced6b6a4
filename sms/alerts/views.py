"""The alerts in the console (staff only): the page /dashboard/alerts with its Acknowledge
buttons, and the JSON API ``GET /dashboard/api/alerts`` (``?state=``, ``?format=csv``) and
``POST /dashboard/api/alerts/<id>/ack``. Acknowledging goes through the staff session and its
CSRF token, and writes the audit log (``sms.alerts.services.acknowledge``)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from audit.services import Actor
from sms.alerts import selectors, services
from sms.alerts.notify import as_json
from sms.core.csv_files import csv_response
from sms.core.staff import staff_api
from sms.models import Alert, AlertState

CSV_COLUMNS = (
    "id",
    "rule",
    "subject",
    "state",
    "value",
    "threshold",
    "message",
    "opened_at",
    "last_notified_at",
    "acknowledged_by",
    "acknowledged_at",
    "resolved_at",
)


def _state(request: HttpRequest) -> str | None:
    state = (request.GET.get("state") or "").strip()
    return state if state in ("", *AlertState.values) else None


@require_GET
@staff_api
def alerts_api(request: HttpRequest) -> HttpResponse:
    state = _state(request)
    if state is None:
        return JsonResponse({"error": f"state must be one of {', '.join(AlertState.values)}"}, status=400)
    rows = [as_json(alert) for alert in selectors.alerts(state=state)]
    if request.GET.get("format") == "csv":
        table = ([row.get(name) for name in CSV_COLUMNS] for row in rows)
        return csv_response(CSV_COLUMNS, table, filename="alerts.csv")
    return JsonResponse({"state": state, "alerts": rows})


@require_POST
@staff_api
def acknowledge_api(request: HttpRequest, alert_id: int) -> HttpResponse:
    try:
        alert, changed = services.acknowledge(alert_id=alert_id, actor=Actor.admin(request))
    except Alert.DoesNotExist:
        return JsonResponse({"error": "no such alert"}, status=404)
    except services.AlertResolved:
        return JsonResponse({"error": "the alert is resolved: nothing to acknowledge"}, status=409)
    return JsonResponse({"acknowledged": changed, "alert": as_json(alert)})


@staff_member_required
@require_GET
@ensure_csrf_cookie  # a script acknowledging through the API takes its token from here
def alerts_page(request: HttpRequest) -> HttpResponse:
    state = _state(request) or ""
    return render(
        request,
        "sms/alerts.html",
        {"alerts": selectors.alerts(state=state), "state": state, "states": AlertState.values},
    )


@staff_member_required
@require_POST
def acknowledge_page(request: HttpRequest, alert_id: int) -> HttpResponse:
    """The page's Acknowledge button: acknowledge, then back to the list."""
    try:
        services.acknowledge(alert_id=alert_id, actor=Actor.admin(request))
    except (Alert.DoesNotExist, services.AlertResolved):
        pass  # the list shows its state
    return redirect("alerts")

"""The alerts in the console: the staff-only JSON list (state filter, CSV), the acknowledgement
endpoint (CSRF-protected staff session, idempotent, one audit entry), the page with its
Acknowledge button, and the read-only admin."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client

from audit.models import AuditAction, AuditEntry
from sms.models import Alert, AlertRule, AlertState
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


def make_alert(
    now: dt.datetime, *, rule=AlertRule.QUEUE_AGE, subject="priority", state=AlertState.OPEN, minutes=0
):
    return Alert.objects.create(
        rule=rule,
        subject=subject,
        state=state,
        unresolved=None if state == AlertState.RESOLVED else True,
        value=120,
        threshold=30,
        message=f"{subject} lane: the oldest queued record has waited 120 s (threshold 30 s)",
        opened_at=now - dt.timedelta(minutes=minutes),
        last_evaluated_at=now,
        resolved_at=now if state == AlertState.RESOLVED else None,
    )


@pytest.fixture
def staff() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="operator", is_staff=True))
    return client


def csrf_token(client: Client) -> str:
    client.get("/dashboard/alerts")
    return client.cookies["csrftoken"].value


def test_the_list_is_for_staff_only_and_answers_403_json_to_others(client, tenant):
    assert client.get("/dashboard/api/alerts").status_code == 403
    client.force_login(tenant)
    response = client.get("/dashboard/api/alerts")
    assert response.status_code == 403 and "error" in response.json()
    response = client.post("/dashboard/api/alerts/1/ack")
    assert response.status_code == 403 and "error" in response.json()
    assert client.get("/dashboard/alerts").status_code == 302  # the page: to the login


def test_the_list_puts_open_alerts_first_and_filters_by_state(staff, now):
    resolved = make_alert(now, subject="bulk", state=AlertState.RESOLVED)
    acked = make_alert(now, subject="transactional", state=AlertState.ACKNOWLEDGED, minutes=1)
    old_open = make_alert(now, rule=AlertRule.REPORT_LAG, subject="", minutes=30)
    new_open = make_alert(now, subject="priority", minutes=2)
    body = staff.get("/dashboard/api/alerts").json()
    assert [row["id"] for row in body["alerts"]] == [new_open.pk, old_open.pk, acked.pk, resolved.pk]
    assert body["alerts"][0]["rule"] == "queue_age" and body["alerts"][0]["value"] == 120
    only_open = staff.get("/dashboard/api/alerts?state=open").json()["alerts"]
    assert {row["id"] for row in only_open} == {new_open.pk, old_open.pk}
    assert staff.get("/dashboard/api/alerts?state=bogus").status_code == 400


def test_the_list_exports_as_csv(staff, now):
    alert = make_alert(now)
    response = staff.get("/dashboard/api/alerts?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["id"], row["rule"], row["subject"], row["state"]) == (
        str(alert.pk),
        "queue_age",
        "priority",
        "open",
    )
    assert row["message"] == alert.message


def test_acknowledging_writes_one_audit_entry_and_twice_is_once(staff, now):
    alert = make_alert(now)
    token = csrf_token(staff)
    response = staff.post(f"/dashboard/api/alerts/{alert.pk}/ack", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged"] is True and body["alert"]["state"] == "acknowledged"
    assert body["alert"]["acknowledged_by"] == "operator"
    again = staff.post(f"/dashboard/api/alerts/{alert.pk}/ack", HTTP_X_CSRFTOKEN=token)
    assert again.status_code == 200 and again.json()["acknowledged"] is False
    assert again.json()["alert"]["acknowledged_at"] == body["alert"]["acknowledged_at"]
    [entry] = AuditEntry.objects.filter(action=AuditAction.ALERT_ACKNOWLEDGEMENT)
    assert (entry.actor, entry.actor_kind, entry.target_type, entry.target_id) == (
        "operator",
        "admin",
        "sms.alert",
        str(alert.pk),
    )
    assert entry.before == {"state": "open", "acknowledged_by": "", "acknowledged_at": None}
    assert entry.after["state"] == "acknowledged" and entry.after["acknowledged_by"] == "operator"


def test_acknowledging_needs_the_csrf_token(staff, now):
    alert = make_alert(now)
    assert staff.post(f"/dashboard/api/alerts/{alert.pk}/ack").status_code == 403
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN
    assert not AuditEntry.objects.filter(action=AuditAction.ALERT_ACKNOWLEDGEMENT).exists()


def test_acknowledging_a_missing_or_resolved_alert_is_refused_without_an_entry(staff, now):
    resolved = make_alert(now, state=AlertState.RESOLVED)
    token = csrf_token(staff)
    assert staff.post("/dashboard/api/alerts/999999/ack", HTTP_X_CSRFTOKEN=token).status_code == 404
    assert staff.post(f"/dashboard/api/alerts/{resolved.pk}/ack", HTTP_X_CSRFTOKEN=token).status_code == 409
    assert staff.get("/dashboard/api/alerts/1/ack").status_code == 405
    assert not AuditEntry.objects.filter(action=AuditAction.ALERT_ACKNOWLEDGEMENT).exists()


def test_the_page_lists_alerts_and_its_button_acknowledges(staff, now):
    open_alert = make_alert(now)
    make_alert(now, subject="bulk", state=AlertState.RESOLVED)
    page = staff.get("/dashboard/alerts").content.decode()
    assert page.index(f'id="alert-{open_alert.pk}"') < page.index('data-subject="bulk"')
    assert page.count('class="acknowledge"') == 1
    token = csrf_token(staff)
    response = staff.post(f"/dashboard/alerts/{open_alert.pk}/ack", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/dashboard/alerts"
    open_alert.refresh_from_db()
    assert open_alert.state == AlertState.ACKNOWLEDGED
    assert 'class="acknowledge"' not in staff.get("/dashboard/alerts").content.decode()


def test_an_empty_list_says_so(staff):
    assert "No alerts" in staff.get("/dashboard/alerts").content.decode()


def test_the_admin_shows_alerts_read_only(now):
    alert = make_alert(now)
    admin = Client()
    admin.force_login(UserFactory(username="root-admin", is_staff=True, is_superuser=True))
    assert admin.get("/admin/sms/alert/").status_code == 200
    page = admin.get(f"/admin/sms/alert/{alert.pk}/change/")
    assert page.status_code == 200 and 'name="state"' not in page.content.decode()
    assert admin.get("/admin/sms/alert/add/").status_code == 403
    assert admin.post(f"/admin/sms/alert/{alert.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Alert.objects.filter(pk=alert.pk).exists()


def test_an_acknowledgement_whose_audit_entry_cannot_be_written_is_not_made(staff, now, monkeypatch):
    """The entry is written in the acknowledgement's transaction."""
    from django.db import DatabaseError

    from audit.models import AuditEntry as Entry

    alert = make_alert(now)
    token = csrf_token(staff)

    def refuse(*args, **kwargs):
        raise DatabaseError("audit table unavailable")

    monkeypatch.setattr(Entry.objects, "create", refuse)
    with pytest.raises(DatabaseError):
        staff.post(f"/dashboard/api/alerts/{alert.pk}/ack", HTTP_X_CSRFTOKEN=token)
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_at) == (AlertState.OPEN, None)

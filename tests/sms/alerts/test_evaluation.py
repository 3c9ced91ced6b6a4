"""Beat's evaluation: an alert opens once, is noticed at once, repeated at most hourly while
open and unacknowledged, resolves itself when its condition clears (and says so); its notices
go by email and to the operator webhook, each best effort: one failing never stops the other,
and a failed notice is sent at the next evaluation."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from django.core import mail
from django.core.cache import cache

from audit.services import Actor
from sms.alerts import services
from sms.models import Alert, AlertRule, AlertState, Lane, RecordState, SendRecord
from sms.webhooks.services import SIGNATURE_HEADER, verify_signature
from tests.support.factories import send_record

pytestmark = pytest.mark.django_db
OPERATOR = Actor(name="operator", kind="admin")


@pytest.fixture
def emailed(settings):
    settings.SMS_ALERT_EMAILS = ["ops@gm.example", "oncall@gm.example"]
    return settings


@pytest.fixture
def stuck(now) -> SendRecord:
    """A verify code queued 2 minutes before ``now`` (threshold 30 s)."""
    return send_record(state=RecordState.QUEUED, lane=Lane.PRIORITY, queued_at=now - dt.timedelta(minutes=2))


def queue_alerts() -> list[Alert]:
    return list(Alert.objects.filter(rule=AlertRule.QUEUE_AGE).order_by("id"))


def test_an_alert_opens_once_and_is_repeated_at_most_hourly(emailed, stuck, now):
    services.evaluate(now=now)
    assert len(mail.outbox) == 1
    for minutes in (1, 30, 59):
        services.evaluate(now=now + dt.timedelta(minutes=minutes))
    [alert] = queue_alerts()
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    assert alert.opened_at == now and alert.last_notified_at == now
    assert alert.value == pytest.approx(59 * 60 + 120)  # its value follows the input
    services.evaluate(now=now + dt.timedelta(minutes=60))
    assert len(mail.outbox) == 2 and "STILL OPEN" in mail.outbox[1].subject
    services.evaluate(now=now + dt.timedelta(minutes=119))
    assert len(mail.outbox) == 2
    services.evaluate(now=now + dt.timedelta(minutes=120))
    assert len(mail.outbox) == 3
    assert len(queue_alerts()) == 1


def test_an_acknowledged_alert_is_not_repeated_but_its_resolution_is_told(emailed, stuck, now):
    services.evaluate(now=now)
    [alert] = queue_alerts()
    services.acknowledge(alert_id=alert.pk, actor=OPERATOR, now=now + dt.timedelta(minutes=5))
    services.evaluate(now=now + dt.timedelta(hours=3))
    assert len(mail.outbox) == 1
    stuck.delete()
    services.evaluate(now=now + dt.timedelta(hours=3, minutes=1))
    [alert] = queue_alerts()
    assert (alert.state, alert.acknowledged_by) == (AlertState.RESOLVED, "operator")
    assert len(mail.outbox) == 2 and "RESOLVED" in mail.outbox[1].subject


def test_an_alert_resolves_itself_when_the_condition_clears_and_a_new_one_opens_if_it_returns(
    emailed, stuck, now
):
    services.evaluate(now=now)
    SendRecord.objects.filter(pk=stuck.pk).update(state=RecordState.SUBMITTED)
    later = now + dt.timedelta(minutes=3)
    evaluation = services.evaluate(now=later)
    [alert] = queue_alerts()
    assert evaluation.resolved == [alert.pk]
    assert (alert.state, alert.unresolved, alert.resolved_at) == (AlertState.RESOLVED, None, later)
    assert "RESOLVED" in mail.outbox[-1].subject and alert.message in mail.outbox[-1].body
    services.evaluate(now=later + dt.timedelta(minutes=1))
    assert len(mail.outbox) == 2  # the resolution is told once
    send_record(state=RecordState.QUEUED, lane=Lane.PRIORITY, queued_at=later)
    services.evaluate(now=later + dt.timedelta(minutes=2))
    first, second = queue_alerts()
    assert (first.state, second.state) == (AlertState.RESOLVED, AlertState.OPEN)


def test_at_most_one_unresolved_alert_per_rule_and_subject_is_a_constraint(now):
    from django.db import IntegrityError, transaction

    fields = {"rule": AlertRule.REPORT_LAG, "subject": "", "value": 1, "threshold": 0, "message": "m"}
    Alert.objects.create(**fields, opened_at=now, last_evaluated_at=now)
    Alert.objects.create(
        **fields, opened_at=now, last_evaluated_at=now, state=AlertState.RESOLVED, unresolved=None
    )
    Alert.objects.create(
        **fields, opened_at=now, last_evaluated_at=now, state=AlertState.RESOLVED, unresolved=None
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(**fields, opened_at=now, last_evaluated_at=now, state=AlertState.ACKNOWLEDGED)


def test_an_evaluation_already_running_is_not_overlapped(stuck, now):
    cache.add(services.LOCK_KEY, "another", timeout=60)
    assert services.evaluate(now=now).skipped == "locked"
    assert queue_alerts() == []
    cache.delete(services.LOCK_KEY)
    assert services.evaluate(now=now).skipped == ""
    assert len(queue_alerts()) == 1


def test_the_email_names_the_alert_and_goes_to_the_configured_recipients(emailed, stuck, now):
    services.evaluate(now=now)
    [message] = mail.outbox
    [alert] = queue_alerts()
    assert message.to == ["ops@gm.example", "oncall@gm.example"]
    assert message.from_email == "alerts@gm.example"
    assert message.subject.startswith("[gm_server_notify] OPEN: priority lane")
    assert alert.message in message.body
    assert "threshold 30" in message.body and "/dashboard/alerts" in message.body
    assert "13112341234" not in message.body  # never a number


def test_the_webhook_gets_a_signed_json_post(settings, receiver, stuck, now):
    settings.SMS_ALERT_WEBHOOK_URL = receiver.url
    settings.SMS_ALERT_WEBHOOK_SECRET = "s3cret"
    services.evaluate(now=now)
    [(headers, body)] = receiver.posts
    [alert] = queue_alerts()
    payload = json.loads(body)
    assert payload["alerts"] == [
        {
            "id": alert.pk,
            "rule": "queue_age",
            "subject": "priority",
            "state": "open",
            "notice": "opened",
            "value": alert.value,
            "threshold": 30.0,
            "message": alert.message,
            "opened_at": now.isoformat(),
            "last_notified_at": None,
            "acknowledged_by": "",
            "acknowledged_at": None,
            "resolved_at": None,
        }
    ]
    assert headers["Content-Type"] == "application/json"
    assert verify_signature("s3cret", body, headers[SIGNATURE_HEADER], tolerance=300)
    assert not verify_signature("other", body, headers[SIGNATURE_HEADER], tolerance=300)


def test_the_webhook_is_unsigned_without_a_secret(settings, receiver, stuck, now):
    settings.SMS_ALERT_WEBHOOK_URL = receiver.url
    services.evaluate(now=now)
    [(headers, _)] = receiver.posts
    assert SIGNATURE_HEADER not in headers


def test_a_failing_smtp_server_does_not_stop_the_webhook_and_is_retried(
    emailed, receiver, stuck, now, caplog
):
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the connection is refused
    emailed.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    emailed.EMAIL_HOST, emailed.EMAIL_PORT, emailed.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    emailed.SMS_ALERT_WEBHOOK_URL = receiver.url
    with caplog.at_level(logging.WARNING, logger="sms.alerts.notify"):
        evaluation = services.evaluate(now=now)
    assert evaluation.failed == ["email"] and evaluation.sent == {"webhook": 1}
    assert len(receiver.posts) == 1
    assert "the email could not be sent" in caplog.text and "ops@gm.example" not in caplog.text
    [alert] = queue_alerts()
    assert (alert.notice, alert.notice_channels, alert.last_notified_at) == ("opened", "email", None)

    emailed.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    services.evaluate(now=now + dt.timedelta(minutes=1))
    assert len(mail.outbox) == 1 and "OPEN" in mail.outbox[0].subject
    assert len(receiver.posts) == 1  # the webhook had it already
    alert.refresh_from_db()
    assert (alert.notice_channels, alert.last_notified_at) == ("", now + dt.timedelta(minutes=1))


def test_a_failing_webhook_does_not_stop_the_email_and_is_retried(emailed, receiver, stuck, now, caplog):
    emailed.SMS_ALERT_WEBHOOK_URL = receiver.url
    receiver.status = 500
    with caplog.at_level(logging.WARNING, logger="sms.alerts.notify"):
        evaluation = services.evaluate(now=now)
    assert evaluation.failed == ["webhook"] and len(mail.outbox) == 1
    assert "answered HTTP 500" in caplog.text
    receiver.status = 200
    services.evaluate(now=now + dt.timedelta(minutes=1))
    assert len(receiver.posts) == 2 and json.loads(receiver.posts[1][1])["alerts"][0]["notice"] == "opened"
    assert len(mail.outbox) == 1


def test_an_unreachable_webhook_does_not_break_the_evaluation(settings, stuck, now):
    settings.SMS_ALERT_WEBHOOK_URL = "http://127.0.0.1:9/alerts"  # discard port: refused
    evaluation = services.evaluate(now=now)
    assert evaluation.failed == ["webhook"]
    assert [alert.state for alert in queue_alerts()] == [AlertState.OPEN]


def test_without_channels_nothing_is_owed(stuck, now):
    services.evaluate(now=now)
    [alert] = queue_alerts()
    assert (alert.notice, alert.notice_channels) == ("", "")


def test_an_evaluation_runs_as_many_queries_with_many_records_as_with_few(now):
    """Bounded reads: no query per record, per alert input or per account beyond the rules' own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.support.factories import many_records

    def queries() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            services.evaluate(now=now)
        return len(captured.captured_queries)

    many_records(5, provider="tencent", state=RecordState.DELIVERED, submitted_at=now - dt.timedelta(hours=1))
    many_records(1, provider="tencent", state=RecordState.SUBMITTED, submitted_at=now - dt.timedelta(hours=4))
    few = queries()
    assert Alert.objects.filter(rule=AlertRule.REPORT_LAG).count() == 1
    many_records(
        500, provider="tencent", state=RecordState.DELIVERED, submitted_at=now - dt.timedelta(hours=2)
    )
    many_records(
        500, provider="tencent", state=RecordState.SUBMITTED, submitted_at=now - dt.timedelta(hours=3)
    )
    assert queries() == few


def test_beat_runs_the_evaluation_every_minute_on_the_reports_queue():
    from django.conf import settings

    from sms import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["evaluate-alerts"]
    assert entry["task"] == tasks.evaluate_alerts.name == "sms.evaluate_alerts"
    assert (
        entry["schedule"] == dt.timedelta(seconds=settings.SMS_ALERT_EVERY_SECONDS) == dt.timedelta(minutes=1)
    )
    assert settings.CELERY_TASK_ROUTES["sms.evaluate_alerts"] == {"queue": "sms_reports"}


def test_the_task_evaluates(stuck):
    from sms import tasks

    tasks.evaluate_alerts()
    assert [alert.subject for alert in queue_alerts()] == ["priority"]

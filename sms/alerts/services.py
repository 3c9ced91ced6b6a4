"""Evaluating the alert rules into ``Alert`` rows, sending their notices, and acknowledging them.

- ``evaluate`` (beat, ``sms.evaluate_alerts``): measures the rules (``sms.alerts.rules``), then in
  one transaction opens an alert for each new (rule, subject) whose condition holds, reminds of
  each still open and unacknowledged one whose last notice is ``SMS_ALERT_REPEAT_SECONDS`` old,
  and resolves each whose condition has cleared; then sends the notices owed, each channel once
  per evaluation (one email, one webhook POST). A channel that fails keeps its notices owed, to be
  tried at the next evaluation. A cache lock keeps two evaluations from overlapping.
- ``acknowledge``: an operator acknowledges an open alert (no more reminders), with its audit entry.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import Actor, record, snapshot
from sms.alerts import notify, rules
from sms.models import Alert, AlertState

logger = logging.getLogger(__name__)

LOCK_KEY = "sms:alerts:evaluating"
LOCK_SECONDS = 300
# Notices sent per channel and evaluation (the rest go at the next).
MAX_NOTICES = 200
ACK_FIELDS = ("state", "acknowledged_by", "acknowledged_at")


@dataclass
class Evaluation:
    """What one evaluation did."""

    skipped: str = ""  # "locked": another evaluation was running
    opened: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # channel -> alerts noticed
    failed: list[str] = field(default_factory=list)  # channels that failed


def evaluate(*, now: dt.datetime | None = None) -> Evaluation:
    """Measure, open, remind, resolve and notify (see the module's docstring)."""
    token = uuid.uuid4().hex
    try:
        locked = cache.add(LOCK_KEY, token, timeout=LOCK_SECONDS)
    except Exception as exc:  # noqa: BLE001 - without the cache, evaluate unlocked (the constraint holds)
        logger.warning("alerts: the lock could not be taken (%s)", type(exc).__name__)
        locked = True
    if not locked:
        return Evaluation(skipped="locked")
    try:
        now = now or timezone.now()
        inputs = rules.measure(now=now)
        evaluation = _apply(inputs=inputs, now=now)
        _send_notices(evaluation=evaluation, now=now)
        return evaluation
    finally:
        try:
            if cache.get(LOCK_KEY) == token:
                cache.delete(LOCK_KEY)
        except Exception:  # noqa: BLE001 - the lock expires by itself
            pass


def _owe(alert: Alert, notice: str, owed_to: list[str]) -> None:
    alert.notice = notice if owed_to else ""
    alert.notice_channels = ",".join(owed_to)


@transaction.atomic
def _apply(*, inputs: rules.Inputs, now: dt.datetime) -> Evaluation:
    evaluation = Evaluation()
    owed_to = notify.channels()
    found = {(finding.rule.value, finding.subject): finding for finding in rules.findings(inputs)}
    repeat = dt.timedelta(seconds=settings.SMS_ALERT_REPEAT_SECONDS)
    for alert in Alert.objects.select_for_update().filter(unresolved=True).order_by("id"):
        finding = found.pop((alert.rule, alert.subject), None)
        if finding is not None:
            alert.value, alert.threshold, alert.message = (
                finding.value,
                finding.threshold,
                finding.message[:500],
            )
            alert.last_evaluated_at = now
            last = alert.last_notified_at or alert.opened_at
            if alert.state == AlertState.OPEN and not alert.notice_channels and now - last >= repeat:
                _owe(alert, "reminder", owed_to)
                evaluation.reminded.append(alert.pk)
            alert.save()
        elif alert.rule in inputs.measured and (alert.rule, alert.subject) not in inputs.unmeasured:
            alert.state, alert.unresolved, alert.resolved_at, alert.last_evaluated_at = (
                AlertState.RESOLVED,
                None,
                now,
                now,
            )
            _owe(alert, "resolved", owed_to)
            alert.save()
            evaluation.resolved.append(alert.pk)
    for (rule, subject), finding in found.items():
        alert = Alert(
            rule=rule,
            subject=subject[:160],
            value=finding.value,
            threshold=finding.threshold,
            message=finding.message[:500],
            opened_at=now,
            last_evaluated_at=now,
        )
        _owe(alert, "opened", owed_to)
        alert.save()
        evaluation.opened.append(alert.pk)
    if evaluation.opened or evaluation.resolved:
        logger.info("alerts: %d opened, %d resolved", len(evaluation.opened), len(evaluation.resolved))
    return evaluation


def _send_notices(*, evaluation: Evaluation, now: dt.datetime) -> None:
    """Each configured channel gets the notices it still owes, in one message; a channel no
    longer configured owes nothing."""
    configured = set(notify.channels())
    owing = list(Alert.objects.exclude(notice_channels="").order_by("id")[:MAX_NOTICES])
    taken: dict[int, set[str]] = {alert.pk: set() for alert in owing}
    for channel in notify.SENDERS:
        alerts = [alert for alert in owing if channel in alert.notice_channels.split(",")]
        if not alerts or channel not in configured:
            for alert in alerts:
                taken[alert.pk].add(channel)
            continue
        if notify.SENDERS[channel](alerts):
            evaluation.sent[channel] = len(alerts)
            for alert in alerts:
                taken[alert.pk].add(channel)
        else:
            evaluation.failed.append(channel)
    for alert in owing:
        left = [c for c in alert.notice_channels.split(",") if c and c not in taken[alert.pk]]
        changes = {"notice_channels": ",".join(left)}
        if not left:
            changes["notice"] = ""
            if configured & taken[alert.pk]:
                changes["last_notified_at"] = now
        Alert.objects.filter(pk=alert.pk, notice_channels=alert.notice_channels).update(**changes)


class AlertResolved(Exception):
    """A resolved alert is not acknowledged: there is nothing left to silence."""


def acknowledge(*, alert_id: int, actor: Actor, now: dt.datetime | None = None) -> tuple[Alert, bool]:
    """Acknowledge an open alert: it is not repeated any more, and resolves as any other. Answers
    the alert and whether it changed; acknowledging an acknowledged alert changes nothing and
    writes no entry. Raises ``Alert.DoesNotExist``, or ``AlertResolved``."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.state == AlertState.ACKNOWLEDGED or (
            alert.state == AlertState.RESOLVED and alert.acknowledged_at
        ):
            return alert, False
        if alert.state == AlertState.RESOLVED:
            raise AlertResolved
        before = snapshot(alert, ACK_FIELDS)
        alert.state = AlertState.ACKNOWLEDGED
        alert.acknowledged_by = actor.name[:150]
        alert.acknowledged_at = now or timezone.now()
        if alert.notice == "reminder":  # a reminder not sent yet is no longer wanted
            alert.notice, alert.notice_channels = "", ""
        alert.save(update_fields=[*ACK_FIELDS, "notice", "notice_channels"])
        record(
            actor=actor,
            action=AuditAction.ALERT_ACKNOWLEDGEMENT,
            target=alert,
            before=before,
            after=snapshot(alert, ACK_FIELDS),
        )
    return alert, True

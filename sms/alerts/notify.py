"""Where alert notices go: email through Django's mail backend (``SMS_ALERT_EMAILS``) and the
operator webhook (``SMS_ALERT_WEBHOOK_URL``, a JSON POST signed as tenant webhooks are,
``X-GM-Signature: t=<unix>,v1=<HMAC-SHA256(secret, "<t>.<body>")>``, when
``SMS_ALERT_WEBHOOK_SECRET`` is set). Both are best effort: each sender answers whether the notice
went, logs why not (the error's type and status only: no address, secret or number), and never
raises; ``sms.alerts.services`` tries a channel that failed again at the next evaluation."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import requests
from django.conf import settings
from django.core.mail import send_mail

from sms.models import Alert
from sms.webhooks.services import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

EMAIL, WEBHOOK = "email", "webhook"
NOTICE_WORDS = {"opened": "OPEN", "reminder": "STILL OPEN", "resolved": "RESOLVED"}


def channels() -> list[str]:
    """The channels configured now."""
    configured = []
    if settings.SMS_ALERT_EMAILS:
        configured.append(EMAIL)
    if settings.SMS_ALERT_WEBHOOK_URL:
        configured.append(WEBHOOK)
    return configured


def as_json(alert: Alert) -> dict[str, Any]:
    """An alert as the webhook, the JSON API and the CSV show it."""

    def instant(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": alert.pk,
        "rule": alert.rule,
        "subject": alert.subject,
        "state": alert.state,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
        "opened_at": instant(alert.opened_at),
        "last_notified_at": instant(alert.last_notified_at),
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": instant(alert.acknowledged_at),
        "resolved_at": instant(alert.resolved_at),
    }


def email_text(alerts: Sequence[Alert]) -> tuple[str, str]:
    """The subject and body of one email carrying these alerts' notices."""
    first = alerts[0]
    subject = f"[gm_server_notify] {NOTICE_WORDS.get(first.notice, first.notice)}: {first.message}"
    if len(alerts) > 1:
        subject = f"[gm_server_notify] {len(alerts)} alert notices: {first.message}"
    lines = []
    for alert in alerts:
        lines.append(f"{NOTICE_WORDS.get(alert.notice, alert.notice)} - {alert.message}")
        lines.append(
            f"  rule {alert.rule}, subject {alert.subject or '-'}, value {alert.value:g}, "
            f"threshold {alert.threshold:g}, opened {alert.opened_at.isoformat()}"
            + (f", resolved {alert.resolved_at.isoformat()}" if alert.resolved_at else "")
        )
    lines.append("")
    lines.append("List and acknowledge them on /dashboard/alerts (an acknowledged alert is not repeated).")
    return subject[:200], "\n".join(lines) + "\n"


def send_email(alerts: Sequence[Alert]) -> bool:
    subject, body = email_text(alerts)
    try:
        send_mail(
            subject, body, settings.DEFAULT_FROM_EMAIL, list(settings.SMS_ALERT_EMAILS), fail_silently=False
        )
    except Exception as exc:  # noqa: BLE001 - best effort: retried at the next evaluation
        logger.warning("alerts: the email could not be sent (%s)", type(exc).__name__)
        return False
    return True


def webhook_body(alerts: Sequence[Alert]) -> bytes:
    payload = {"alerts": [{**as_json(alert), "notice": alert.notice} for alert in alerts]}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def send_webhook(alerts: Sequence[Alert]) -> bool:
    body = webhook_body(alerts)
    headers = {"Content-Type": "application/json", "User-Agent": "gm_server_notify-alerts"}
    if settings.SMS_ALERT_WEBHOOK_SECRET:
        headers[SIGNATURE_HEADER] = signature_header(
            settings.SMS_ALERT_WEBHOOK_SECRET, body, int(time.time())
        )
    try:
        response = requests.post(
            settings.SMS_ALERT_WEBHOOK_URL,
            data=body,
            headers=headers,
            timeout=settings.SMS_ALERT_WEBHOOK_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        logger.warning("alerts: the operator webhook could not be reached (%s)", type(exc).__name__)
        return False
    if not 200 <= response.status_code < 300:
        logger.warning("alerts: the operator webhook answered HTTP %s", response.status_code)
        return False
    return True


SENDERS = {EMAIL: send_email, WEBHOOK: send_webhook}

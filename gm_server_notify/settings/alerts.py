"""Operators' alerts (docs/operations.md, "Alerts"): the rules' thresholds, how often beat
evaluates them, and where a notice goes (email through Django's mail backend, an operator webhook)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from gm_server_notify.settings.environment import env, env_list

# --- Evaluation -----------------------------------------------------------------------------------------
# How often beat evaluates the rules; how long an open alert nobody acknowledged waits before its
# notice is repeated.
SMS_ALERT_EVERY_SECONDS = env.int("SMS_ALERT_EVERY_SECONDS", default=60)
SMS_ALERT_REPEAT_SECONDS = env.int("SMS_ALERT_REPEAT_SECONDS", default=3600)

# --- The rules' thresholds ----------------------------------------------------------------------------------
# A provider balance lasting fewer days than this at its last 7 days' use.
SMS_ALERT_PROVIDER_BALANCE_DAYS = env.float("SMS_ALERT_PROVIDER_BALANCE_DAYS", default=3.0)
# A station (that has ever recharged) or tenant with fewer messages left than this; 0 turns it off.
SMS_ALERT_ACCOUNT_BALANCE_MIN = env.int("SMS_ALERT_ACCOUNT_BALANCE_MIN", default=100)
# A provider delivering fewer than this percent of its last SMS_ALERT_DELIVERY_WINDOW final
# records, judged once it has at least SMS_ALERT_DELIVERY_MIN_RECORDS of them.
SMS_ALERT_DELIVERY_RATE_MIN = env.float("SMS_ALERT_DELIVERY_RATE_MIN", default=80.0)
SMS_ALERT_DELIVERY_WINDOW = env.int("SMS_ALERT_DELIVERY_WINDOW", default=200)
SMS_ALERT_DELIVERY_MIN_RECORDS = env.int("SMS_ALERT_DELIVERY_MIN_RECORDS", default=50)
# A lane's oldest queued record older than this many seconds (the Prometheus rules' thresholds).
SMS_ALERT_QUEUE_AGE_SECONDS = {
    "priority": env.int("SMS_ALERT_QUEUE_AGE_PRIORITY_SECONDS", default=30),
    "transactional": env.int("SMS_ALERT_QUEUE_AGE_TRANSACTIONAL_SECONDS", default=300),
    "bulk": env.int("SMS_ALERT_QUEUE_AGE_BULK_SECONDS", default=1800),
}
# The oldest record the provider accepted and has not reported on, older than this many seconds.
SMS_ALERT_REPORT_LAG_SECONDS = env.int("SMS_ALERT_REPORT_LAG_SECONDS", default=1800)
# At least this many dead tenant webhook events.
SMS_ALERT_WEBHOOK_DEAD_MIN = env.int("SMS_ALERT_WEBHOOK_DEAD_MIN", default=1)
# Yesterday's parts billed by a provider beyond (or below) ours by more than this.
SMS_ALERT_RECONCILIATION_PARTS = env.int("SMS_ALERT_RECONCILIATION_PARTS", default=0)
# The slow inputs (a provider's last 7 days' parts, yesterday's reconciliation) are measured at
# most this often.
SMS_ALERT_SLOW_INPUT_SECONDS = env.int("SMS_ALERT_SLOW_INPUT_SECONDS", default=900)

# --- Where notices go ------------------------------------------------------------------------------------
SMS_ALERT_EMAILS = env_list("SMS_ALERT_EMAILS", default="")
SMS_ALERT_WEBHOOK_URL = env.str("SMS_ALERT_WEBHOOK_URL", default="")
SMS_ALERT_WEBHOOK_SECRET = env.str("SMS_ALERT_WEBHOOK_SECRET", default="")
SMS_ALERT_WEBHOOK_TIMEOUT = env.float("SMS_ALERT_WEBHOOK_TIMEOUT", default=5.0)
if SMS_ALERT_WEBHOOK_URL and not SMS_ALERT_WEBHOOK_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("SMS_ALERT_WEBHOOK_URL must be an http(s) URL")

# Django's mail backend (SMTP); the alert emails are its only use.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="gm-server-notify@localhost")

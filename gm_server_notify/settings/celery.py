"""Celery: the broker, how tasks are acknowledged and published, the queues and which task runs
on which, the beat schedule, and the workers' heartbeat that /readyz reads."""

from __future__ import annotations

from datetime import timedelta

from kombu import Queue

from gm_server_notify.settings.alerts import SMS_ALERT_EVERY_SECONDS
from gm_server_notify.settings.console import SMS_TRAFFIC_ROLLUP_SECONDS
from gm_server_notify.settings.core import TIME_ZONE
from gm_server_notify.settings.environment import VAR_DIR, env
from gm_server_notify.settings.privacy import SMS_RETENTION_EVERY_SECONDS

# --- The broker: kombu's filesystem transport under var/ by default, Redis or RabbitMQ in production
# kombu's filesystem transport ignores the host, but warns on every connection that has none.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # An unacknowledged task (its worker was killed) is delivered again after this long.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
    }
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
    # This transport has no event loop: the worker's timer thread sleeps up to this long between
    # checks, and a warm shutdown waits for it (1 s by default; a Redis or AMQP broker has no such
    # thread).
    CELERY_WORKER_TIMER_PRECISION = 0.1

# --- Tasks: acknowledged late, never eager, publishes retried ------------------------------------
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish that meets a broker restarting is retried for about ten seconds (0, 0.5, 1, 1, … s)
# before it is given up to the re-dispatch sweep: a broker restart does not leave work waiting.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": env.int("CELERY_PUBLISH_MAX_RETRIES", default=10),
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Queues, and which task goes to which ------------------------------------------------------------
CELERY_TASK_DEFAULT_QUEUE = "default"
# Dispatch and report work on queues of their own, so a flood of one never starves the other.
# Tenant webhooks (sms.webhooks.services) have a queue of their own too, consumed by a worker of their own
# under make run: a slow receiver never takes a slot the sending pipeline needs.
# Dispatches go on one of three lanes, each a queue with workers of its own (sms/sending/lanes.py): a
# verify code never waits behind a notice, nor a notice behind a blast. The pipeline names the queue
# of each dispatch it publishes; the route below is for a dispatch published without one.
CELERY_TASK_QUEUES = (
    Queue("default"),
    Queue("sms_priority"),
    Queue("sms_transactional"),
    Queue("sms_bulk"),
    Queue("sms_reports"),
    Queue("sms_webhooks"),
)
CELERY_TASK_ROUTES = {
    "sms.apply_provider_push": {"queue": "sms_reports"},
    "sms.drain_push_inbox": {"queue": "sms_reports"},
    "sms.purge_idempotency_keys": {"queue": "sms_reports"},
    "sms.dispatch_records": {"queue": "sms_transactional"},
    "sms.dispatch_bulk_turn": {"queue": "sms_bulk"},
    "sms.sweep_pending_reports": {"queue": "sms_reports"},
    "sms.pull_reports": {"queue": "sms_reports"},
    "sms.pull_uplinks": {"queue": "sms_reports"},
    "sms.sweep_stale_records": {"queue": "sms_reports"},
    "sms.refresh_provider_balances": {"queue": "sms_reports"},
    "sms.deliver_webhooks": {"queue": "sms_webhooks"},
    "sms.sweep_webhooks": {"queue": "sms_webhooks"},
    "sms.release_scheduled": {"queue": "sms_reports"},
    "sms.erase_expired_personal_data": {"queue": "sms_reports"},
    "sms.roll_up_traffic": {"queue": "sms_reports"},
    "sms.evaluate_alerts": {"queue": "sms_reports"},
}

# --- Beat: the sweeps, pulls and refreshes, and how often --------------------------------------------
_SWEEP_SECONDS = env.int("SMS_SWEEP_SECONDS", default=15)
# Beat wakes at least this often: a stop it was asked for (SIGTERM, Ctrl-C) happens at a wake-up
# (gm_server_notify/celery.py), so make run's Ctrl-C is not held up by a long sleep.
CELERY_BEAT_MAX_LOOP_INTERVAL = 1
CELERY_BEAT_SCHEDULE = {
    # The push inbox: each push asks for a drain (at most once a second); this is the safety net.
    "drain-push-inbox": {
        "task": "sms.drain_push_inbox",
        "schedule": timedelta(seconds=env.int("SMS_INBOX_DRAIN_SECONDS", default=5)),
        "options": {"expires": 30},
    },
    "sweep-pending-reports": {
        "task": "sms.sweep_pending_reports",
        "schedule": timedelta(seconds=_SWEEP_SECONDS),
    },
    "sweep-stale-records": {"task": "sms.sweep_stale_records", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    "pull-reports": {"task": "sms.pull_reports", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    "pull-uplinks": {"task": "sms.pull_uplinks", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    "refresh-provider-balances": {
        "task": "sms.refresh_provider_balances",
        "schedule": timedelta(seconds=env.int("PROVIDER_BALANCE_REFRESH_SECONDS", default=300)),
    },
    "purge-idempotency-keys": {"task": "sms.purge_idempotency_keys", "schedule": timedelta(hours=1)},
    "sweep-webhooks": {"task": "sms.sweep_webhooks", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    # Held batches (send_at, marketing hours) go out within one sweep of their time.
    "release-scheduled": {"task": "sms.release_scheduled", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    # Retention (sms/privacy/): numbers and texts older than SMS_PERSONAL_DATA_RETENTION_DAYS.
    "erase-expired-personal-data": {
        "task": "sms.erase_expired_personal_data",
        "schedule": timedelta(seconds=SMS_RETENTION_EVERY_SECONDS),
        "options": {"expires": 60},
    },
    # The console's traffic rows (sms/accounting/traffic.py): the hours whose records changed.
    "roll-up-traffic": {
        "task": "sms.roll_up_traffic",
        "schedule": timedelta(seconds=SMS_TRAFFIC_ROLLUP_SECONDS),
        "options": {"expires": 60},
    },
    # Operators' alerts (sms/alerts/): the rules, their notices and their resolution.
    "evaluate-alerts": {
        "task": "sms.evaluate_alerts",
        "schedule": timedelta(seconds=SMS_ALERT_EVERY_SECONDS),
        "options": {"expires": SMS_ALERT_EVERY_SECONDS},
    },
    "worker-heartbeat": {
        "task": "gm_server_notify.tasks.record_worker_heartbeat",
        "schedule": timedelta(seconds=env.int("WORKER_HEARTBEAT_SECONDS", default=30)),
    },
}

# --- The workers' heartbeat and /readyz ------------------------------------------------------------
# /readyz counts the workers as down when the last heartbeat is older than this (three missed beats).
READINESS_HEARTBEAT_MAX_AGE = env.int(
    "READINESS_HEARTBEAT_MAX_AGE", default=3 * env.int("WORKER_HEARTBEAT_SECONDS", default=30)
)
# How long /readyz waits for each dependency to answer.
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=2.0)

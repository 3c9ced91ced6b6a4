"""Logs: one JSON object per line (or plain text for a terminal), each with the request id, every
mainland mobile number masked."""

from __future__ import annotations

from gm_server_notify.settings.environment import env

# --- Level and format ---------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# json (one object per line, for log shippers) or plain (for a terminal).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")

# --- Handlers, filters and formatters -----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "gm_server_notify.logging.RequestIdFilter"},
        "mask_phones": {"()": "gm_server_notify.logging.MaskPhonesFilter"},
    },
    "formatters": {
        # Times in ISO 8601, UTC (docs/operations.md, "Logs").
        "json": {
            "()": "gm_server_notify.logging.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {
            "()": "gm_server_notify.logging.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in ("json", "plain") else "json",
            "filters": ["request_id", "mask_phones"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django logs every 4xx with the request path; our handlers log what matters.
        "django.request": {"level": "ERROR"},
        # billiard's (Celery's process pool): in our format; Celery would give it a format of its own.
        "multiprocessing": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

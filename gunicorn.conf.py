"""gunicorn settings for the web process (make run, docker-compose, benchmarks)."""

import logging
import os
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging
from pythonjsonlogger.json import JsonFormatter

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
keepalive = 5
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "0") == "1" else None
errorlog = "-"
# The path, never the query string (provider callbacks carry ?token=); the time is the line's own.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}i)s'
# Under make run the control socket is make run's, in its var dir, not one in $HOME that every
# gunicorn on the machine would take over.
if os.environ.get("GM_VAR_DIR"):
    control_socket = os.path.join(os.environ["GM_VAR_DIR"], "gunicorn.ctl")


def _iso_time(created: float) -> str:
    # gm_server_notify.logging.iso_time's clock (importing that module would load Django and
    # Celery into gunicorn's master).
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class _Json(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", "-")
        return super().format(record)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso_time(record.created)


class _Plain(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso_time(record.created)


class Logger(glogging.Logger):
    """gunicorn's error and access lines in the form of the service's own (LOG_FORMAT: json or
    plain), with the one clock of every log line: ISO 8601, UTC (docs/operations.md, "Logs")."""

    def _set_handler(
        self, log: logging.Logger, output: Any, fmt: logging.Formatter, stream: Any = None
    ) -> None:
        if os.environ.get("LOG_FORMAT", "json") == "plain":
            fmt = _Plain("%(asctime)s %(levelname)s %(name)s [-] %(message)s")
        else:
            fmt = _Json(
                "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        super()._set_handler(log, output, fmt, stream)

    def now(self) -> str:
        # %(t)s in an access_log_format
        return "[" + _iso_time(datetime.now(UTC).timestamp()) + "]"


logger_class = Logger


def child_exit(server: Any, worker: Any) -> None:
    """Multiprocess metrics (PROMETHEUS_MULTIPROC_DIR, set by scripts/run.sh): drop a dead
    worker's live gauges from what /metrics reports."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

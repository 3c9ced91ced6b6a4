"""gunicorn settings for the web process (make run, docker-compose, benchmarks)."""

import os
from typing import Any

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
keepalive = 5
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "0") == "1" else None
errorlog = "-"


def child_exit(server: Any, worker: Any) -> None:
    """Multiprocess metrics (PROMETHEUS_MULTIPROC_DIR, set by scripts/run.sh): drop a dead
    worker's live gauges from what /metrics reports."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

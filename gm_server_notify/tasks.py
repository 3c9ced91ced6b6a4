"""Project-wide Celery tasks."""

from celery import shared_task

from gm_server_notify import health


@shared_task(name="gm_server_notify.tasks.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat() -> None:
    """Beat runs this every WORKER_HEARTBEAT_SECONDS; /healthz reports how old the last one is."""
    health.record_worker_heartbeat()

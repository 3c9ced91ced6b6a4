"""Publishing a task by name, with one retry on a fresh broker connection."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app

logger = logging.getLogger(__name__)


def send_task(name: str, **options: Any) -> None:
    """Publish ``name`` (``Celery.send_task``'s options); once more on a fresh connection when
    the pooled one fails. After a broker restart a pooled connection can keep a dead channel,
    and kombu then raises (``AttributeError``: no ``client``) instead of reconnecting: a dispatch
    published after a commit was lost until the re-dispatch sweep (tests/e2e/test_chaos.py,
    redis-stop). The failed connection is collected, so the pool's next use connects afresh;
    the pools stay open (kombu's ``force_close_all`` would close them for good, and every later
    publish of the process failed with "Acquire on closed pool"). A second failure is raised:
    the caller's sweep publishes again."""
    with current_app.producer_or_acquire() as producer:
        try:
            current_app.send_task(name, producer=producer, **options)
            return
        except Exception:
            logger.warning("publishing %s failed; retrying on a fresh broker connection", name, exc_info=True)
            pooled = getattr(producer, "__connection__", None)
            if pooled is not None:
                pooled.collect()
    with current_app.connection_for_write() as connection:
        current_app.send_task(name, connection=connection, **options)

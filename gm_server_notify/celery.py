"""The Celery application: configured from Django settings (``CELERY_*``)."""

import os
import signal
from types import FrameType

from celery import Celery
from celery.beat import Service
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gm_server_notify.settings")

app = Celery("gm_server_notify")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def stop_beat_between_ticks(sender: Service, **_: object) -> None:
    """SIGTERM and SIGINT ask beat to stop at its next wake-up (at most
    ``CELERY_BEAT_MAX_LOOP_INTERVAL`` away) instead of Celery's own handler, which saves the
    schedule and raises SystemExit wherever beat happens to be: landing mid-publish or mid-save it
    could end beat with exit status 1, which supervisord reports as a stop it had to force. The
    handler only sets a flag: no logging or file writes from inside a signal handler."""

    def request_stop(signum: int, frame: FrameType | None) -> None:
        sender._is_shutdown.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

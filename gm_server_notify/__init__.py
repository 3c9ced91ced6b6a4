"""gm_server_notify: the SMS back end of the food-supply SaaS platform."""

from gm_server_notify.celery import app as celery_app

__all__ = ("celery_app",)

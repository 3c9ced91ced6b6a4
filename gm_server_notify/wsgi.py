"""WSGI entry point (gunicorn gm_server_notify.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gm_server_notify.settings")
application = get_wsgi_application()

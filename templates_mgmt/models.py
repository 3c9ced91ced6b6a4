"""Tables of the templates_mgmt app."""

from django.db import models  # noqa: F401

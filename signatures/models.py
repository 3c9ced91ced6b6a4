"""Tables of the signatures app."""

from django.db import models  # noqa: F401

"""Tables of the providers app."""

from django.db import models  # noqa: F401

"""Serializer fields both API families share, bounded so that no value a caller can send reaches
the database as something it cannot hold (an id beyond BIGINT, a date that overflows when turned
into a UTC instant): such input is the family's parameter error, never a 500."""

from __future__ import annotations

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# MySQL BIGINT: every id and integer column the API writes or looks up.
BIGINT_MAX = 2**63 - 1
# Dates the API takes (a day in Asia/Shanghai, turned into UTC bounds): documented in the API docs.
MIN_DATE = dt.date(2000, 1, 1)
MAX_DATE = dt.date(2099, 12, 31)
SEED_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class IdField(serializers.IntegerField):
    """A positive id (1 … 2**63-1)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)


class BoundedDateField(serializers.DateField):
    """A ``YYYY-MM-DD`` date from 2000-01-01 to 2099-12-31."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        message = f"must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}"
        self.validators.append(MinValueValidator(MIN_DATE, message=message))
        self.validators.append(MaxValueValidator(MAX_DATE, message=message))


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$",
        "example": "2026-11-25 03:36:48",
        "description": "Beijing time, YYYY-MM-DD HH:MM:SS (the seed's format)",
    }
)
class SeedDateTimeField(serializers.DateTimeField):
    """A time rendered as the seed shows it, ``2026-11-25 03:36:48`` in Beijing time, and described
    so in the OpenAPI schema (not as RFC 3339 ``date-time``, which it is not)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("format", SEED_DATETIME_FORMAT)
        super().__init__(**kwargs)


@extend_schema_field({"type": "integer", "description": "Unix seconds", "example": 1764000000})
class UnixSecondsField(serializers.Field):
    """A time as Unix seconds, as seed 001 shows times (``created_at``, ``received_at``, …)."""

    def to_representation(self, value: dt.datetime) -> int:
        return int(value.timestamp())

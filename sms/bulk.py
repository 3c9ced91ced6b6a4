"""Bulk writes of many rows whose new values differ row by row."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def bulk_save(rows: Sequence[Model], fields: Sequence[str], *, batch_size: int = 1000) -> None:
    """Write ``fields`` of existing ``rows`` as one upsert per batch.

    ``QuerySet.bulk_update`` builds one ``CASE WHEN id = …`` per field and row, which costs
    seconds for a few thousand rows; ``INSERT … ON DUPLICATE KEY UPDATE`` (``ON CONFLICT`` on
    SQLite/PostgreSQL) writes the same in milliseconds. Only ``fields`` change in the database;
    note that Django fills ``auto_now``/``auto_now_add`` fields of the objects in memory.
    """
    if not rows:
        return
    model = type(rows[0])
    unique_fields = (
        [model._meta.pk.name] if connection.features.supports_update_conflicts_with_target else None
    )
    model.objects.bulk_create(
        rows,
        update_conflicts=True,
        update_fields=list(fields),
        unique_fields=unique_fields,
        batch_size=batch_size,
    )

"""The per-station per-day aggregate (``tbl_sms_daily_statistics``) that statistics read.

Every writer of records (adding, outcomes, reports, sweeps) counts what it changed with
``count_daily`` and calls ``bump_daily_statistics`` in the same transaction, as its last write:
the aggregate never disagrees with the records, and statistics never scan send records.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from datetime import date
from typing import Any

from django.db import connection

from sms.core.days import local_date
from sms.models import DailyStatistics, SendRecord

# Counts to add to the aggregate, per (station, day): ``total``, ``success``, ``failed``.
DailyCounts = dict[tuple[str, date], Counter[str]]

_DAILY_FIELDS = {"total": "total_send_nums", "success": "success_send_nums", "failed": "send_failed_nums"}


def count_daily(counts: DailyCounts, record: SendRecord, outcome: str) -> None:
    """Add one ``outcome`` of ``record`` to ``counts``; tenant records have no station and are
    not in the station aggregate."""
    if record.station_id:
        counts.setdefault((record.station_id, local_date(record.created_at)), Counter())[outcome] += 1


def bump_daily_statistics(changes: DailyCounts) -> None:
    """Add counts to the per-station per-day aggregate: one ``INSERT … ON DUPLICATE KEY UPDATE``
    per (station, day), in (station, day) order.

    Call inside the transaction that changes the records, so the two never disagree, and as its
    last write, so the row lock is held only until the commit. One upsert statement takes the row's
    exclusive lock at once; the former update-then-insert took a shared lock on a duplicate insert
    and deadlocked when two transactions then both upgraded it (MySQL 1213 under concurrent starts).
    """
    table = connection.ops.quote_name(DailyStatistics._meta.db_table)
    columns = [_DAILY_FIELDS[key] for key in ("total", "success", "failed")]
    if connection.vendor == "mysql":
        on_conflict = "ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = {c} + VALUES({c})" for c in columns)
    else:  # SQLite (the embedded default) and PostgreSQL
        on_conflict = "ON CONFLICT (station_id, send_date) DO UPDATE SET " + ", ".join(
            f"{c} = {table}.{c} + excluded.{c}" for c in columns
        )
    sql = (
        f"INSERT INTO {table} (station_id, send_date, {', '.join(columns)}) "
        f"VALUES (%s, %s, %s, %s, %s) {on_conflict}"
    )
    with connection.cursor() as cursor:
        for (station_id, day), counts in sorted(changes.items()):
            values = [counts.get(key, 0) for key in ("total", "success", "failed")]
            if any(values):
                cursor.execute(sql, [station_id, day, *values])


def zero_filled_days(
    start_date: dt.date, end_date: dt.date, counts: dict[dt.date, tuple[int, int, int]]
) -> list[dict[str, Any]]:
    """One row per day of ``[start_date, end_date]`` from ``counts`` (day → total, success,
    failed), days without sends filled with zeros."""
    result = []
    for offset in range((end_date - start_date).days + 1):
        day = start_date + dt.timedelta(days=offset)
        total, success, failed = counts.get(day, (0, 0, 0))
        result.append(
            {
                "send_date": day.isoformat(),
                "total_send_nums": total or 0,
                "success_send_nums": success or 0,
                "send_failed_nums": failed or 0,
            }
        )
    return result

"""``manage.py rebuild_traffic --from YYYY-MM-DD --to YYYY-MM-DD``: recompute the console's
traffic rows (``sms.accounting.traffic``) of every hour of those China-time days from the send
records, one hour per transaction. Safe while beat runs: each hour's recompute is locked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sms.accounting import traffic


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from exc


class Command(BaseCommand):
    help = "Recompute the console's traffic rows of the China-time days given, from the send records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="first", required=True, help="first China-time day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last China-time day, YYYY-MM-DD")

    def handle(self, *args: Any, first: str, last: str, **options: Any) -> None:
        first_day, last_day = _day(first), _day(last)
        if last_day < first_day:
            raise CommandError("--to is before --from")
        hours = traffic.rebuild(first_day=first_day, last_day=last_day)
        self.stdout.write(f"recomputed {hours} hour(s) from {first_day} to {last_day}")

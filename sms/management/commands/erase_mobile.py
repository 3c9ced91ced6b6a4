"""``manage.py erase_mobile NUMBER [--dry-run]``: erasure on request. Finds the number (any
spelling) in every table that stores numbers or texts and erases it there; opt-outs keep their
hash, so the number stays opted out. Prints per table what it touched (``--dry-run``: only
counts). Send records still on their way are left and counted as held: run it again once they
end (docs/operations.md, "Retention and erasure")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import Actor
from sms.core.phones import InvalidPhone
from sms.privacy.services import erase_mobile


class Command(BaseCommand):
    help = "Erase a mobile number from every table (the opt-out hash stays); --dry-run only counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("number", help="the mobile number, any spelling (+8613112345678, 13112345678)")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be erased, change nothing"
        )

    def handle(self, *args: Any, number: str, dry_run: bool, **options: Any) -> None:
        try:
            report = erase_mobile(number=number, dry_run=dry_run, actor=Actor.command())
        except InvalidPhone as exc:
            raise CommandError(f"not a mobile number: {exc}") from exc
        verb = "would touch" if dry_run else "touched"
        self.stdout.write(f"{report.masked_number}: {verb} {report.touched} row(s)")
        for table in report.tables:
            if table.touched or table.held:
                self.stdout.write(
                    f"  {table.table}: erased {table.erased}, cut out of {table.cut}, "
                    f"deleted {table.deleted}, held {table.held}"
                )
        if report.held:
            self.stdout.write(
                f"{report.held} send record(s) are still on their way and were left: run again once they end"
            )

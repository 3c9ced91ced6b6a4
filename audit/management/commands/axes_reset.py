"""axes' ``axes_reset`` (every attempt), each cleared attempt written to the audit log."""

from typing import Any

from axes.management.commands import axes_reset

from audit.management.commands._reset import reset_and_report


class Command(axes_reset.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        reset_and_report(self, "manage.py axes_reset", [(None, None)])

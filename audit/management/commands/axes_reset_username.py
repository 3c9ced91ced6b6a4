"""axes' ``axes_reset_username``, each cleared attempt written to the audit log."""

from typing import Any

from axes.management.commands import axes_reset_username

from audit.management.commands._reset import reset_and_report


class Command(axes_reset_username.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        line = " ".join(["manage.py axes_reset_username", *options["username"]])
        reset_and_report(self, line, [(None, name) for name in options["username"]])

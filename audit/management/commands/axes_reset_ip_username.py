"""axes' ``axes_reset_ip_username``, each cleared attempt written to the audit log."""

from typing import Any

from axes.management.commands import axes_reset_ip_username

from audit.management.commands._reset import reset_and_report


class Command(axes_reset_ip_username.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        reset_and_report(self, [(options["ip"], options["username"])])

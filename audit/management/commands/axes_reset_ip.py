"""axes' ``axes_reset_ip``, each cleared attempt written to the audit log."""

from typing import Any

from axes.management.commands import axes_reset_ip

from audit.management.commands._reset import reset_and_report


class Command(axes_reset_ip.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        line = " ".join(["manage.py axes_reset_ip", *options["ip"]])
        reset_and_report(self, line, [(ip, None) for ip in options["ip"]])

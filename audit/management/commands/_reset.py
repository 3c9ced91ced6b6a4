"""The shared body of this app's ``axes_reset*`` commands: axes' own, audited."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from audit.lockouts import reset_lockouts
from audit.services import Actor


def reset_and_report(command: BaseCommand, line: str, pairs: list[tuple[str | None, str | None]]) -> None:
    """Clear each ``(ip, username)`` pair's attempts and print what axes' command prints; the
    entries' reason is the command ``line``."""
    actor = Actor.command()
    count = sum(reset_lockouts(actor=actor, ip=ip, username=name, reason=line) for ip, name in pairs)
    command.stdout.write(f"{count} attempts removed." if count else "No attempts found.")

"""``manage.py check_station_templates``: SMS_STATION_TEMPLATES against the templates registered
with the provider station messages go to (``SMS_STATION_PROVIDER``, or ``--provider``), as its
adapter's ``approved_templates`` lists them. Exits non-zero when a text differs or is missing: our
part count, which reserves the balance, would not be what the provider bills."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.base import ProviderError
from sms.accounting.reconciliation import station_template_drift


class Command(BaseCommand):
    help = "Compare SMS_STATION_TEMPLATES with the templates registered with a template provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--provider", default="", help="a provider with registered templates (SMS_STATION_PROVIDER)"
        )

    def handle(self, *args: Any, provider: str, **options: Any) -> None:
        provider = provider or settings.SMS_STATION_PROVIDER
        try:
            drift = station_template_drift(provider=provider)
        except ProviderError as exc:
            raise CommandError(f"cannot ask {provider} for its templates: {exc}") from exc
        problems = 0
        for item in drift:
            name = f"type {item.business_type} template {item.template_id or '-'}"
            if item.agrees:
                self.stdout.write(f"{name}: same text ({item.our_parts} part(s))")
                continue
            problems += 1
            if item.theirs is None:
                self.stdout.write(f"{name}: not registered (approved) with {provider}")
            else:
                self.stdout.write(
                    f"{name}: texts differ; "
                    f"ours {item.our_parts} part(s), {provider} bills {item.their_parts}\n"
                    f"  ours:   {item.ours}\n  theirs: {item.theirs}"
                )
        if problems:
            raise CommandError(f"{problems} station template(s) differ from {provider}'s")

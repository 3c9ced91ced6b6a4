"""``manage.py create_api_user NAME --password PW [--root]``: a tenant (or root) of the v1/v2 API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction


class Command(BaseCommand):
    help = "Create (or update the password of) a v1 API tenant; --root makes it a superuser for v2."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--root", action="store_true", help="superuser: may call v2/*")

    def handle(self, *args: Any, username: str, password: str, root: bool, **options: Any) -> None:
        user_model = get_user_model()
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        with transaction.atomic():
            user, created = user_model.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_active = True
            if root:
                user.is_superuser = True
                user.is_staff = True
            user.save()
        kind = "root user" if user.is_superuser else "tenant"
        self.stdout.write(f"{'created' if created else 'updated'} {kind} {username}")

"""``manage.py create_api_user NAME [--root | --test]``: a tenant (or root) of the v1/v2 API, or
with ``--test`` the test password of an existing one (docs/api-platform.md "Test mode").

The password never travels on the command line (shell history, ``ps``): it is read from
``API_USER_PASSWORD`` when set (scripts, CI secrets), else prompted for twice without echo when
stdin is a terminal. The old ``--password PW`` is refused with a message saying so. The live and
the test password of a user always differ: each mode is known by its password.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from gm_server_notify.errors import DomainError
from sms.tenant_api import credentials

PASSWORD_VARIABLE = "API_USER_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create (or update the password of) a v1 API tenant; --root makes it a superuser for v2; "
        "--test sets (or replaces) the test password of an existing one. "
        f"The password comes from {PASSWORD_VARIABLE} or, on a terminal, a prompt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--root", action="store_true", help="superuser: may call v2/*")
        parser.add_argument(
            "--test",
            action="store_true",
            help="set the test password of an existing user (its requests then run in test mode); "
            "the live password, signatures and templates are left as they are",
        )
        # Only to refuse it with an explanation: a password on the command line ends up in history.
        parser.add_argument("--password", help=argparse.SUPPRESS)

    def handle(
        self, *args: Any, username: str, root: bool, test: bool, password: str | None, **options: Any
    ) -> None:
        if password is not None:
            raise CommandError(
                f"--password is not accepted (it would be kept in shell history and shown by ps): "
                f"set {PASSWORD_VARIABLE} or run the command on a terminal to be prompted"
            )
        if root and test:
            raise CommandError("--root and --test do not go together: a test password is never root's")
        password = self._read_password()
        user_model = get_user_model()
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if test:
            try:
                had = credentials.set_test_password(username=username, password=password)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(f"{'replaced' if had else 'set'} the test password of {username}")
            return
        if credentials.is_test_password(username=username, password=password):
            raise CommandError("the live password must differ from the test password")
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

    def _read_password(self) -> str:
        password = os.environ.get(PASSWORD_VARIABLE, "")
        if password:
            return password
        if not sys.stdin.isatty():
            raise CommandError(f"no password: set {PASSWORD_VARIABLE} or run on a terminal to be prompted")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("the passwords did not match")
        if not password:
            raise CommandError("the password is empty")
        return password

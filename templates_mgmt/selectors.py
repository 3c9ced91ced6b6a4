"""Reads of templates."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from templates_mgmt.models import Template


def templates_of(*, owner: AbstractBaseUser) -> QuerySet[Template]:
    """The owner's templates, newest first: a tenant never sees another's."""
    return Template.objects.filter(owner=owner).order_by("-id")

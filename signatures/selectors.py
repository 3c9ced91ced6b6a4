"""Reads of signatures."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from signatures.models import Signature


def signatures_of(*, owner: AbstractBaseUser) -> QuerySet[Signature]:
    """The owner's signatures, newest first: a tenant never sees another's."""
    return Signature.objects.filter(owner=owner).order_by("-id")


def signature_of(*, owner: AbstractBaseUser, sign_id: int) -> Signature | None:
    return Signature.objects.filter(owner=owner, pk=sign_id).first()

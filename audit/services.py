"""Writing the audit log: ``record`` is the one way in. Call it inside the transaction of the change
it describes, so the entry and the change commit (or roll back) together."""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models

from audit.models import ActorKind, AuditAction, AuditEntry
from gm_server_notify.lockout import client_address


@dataclass(frozen=True)
class Actor:
    """Who did it: a username (an operator in the admin, root on the v2 API, a tenant on the v1
    API), or the OS user of a management command, or ``system``; the kind says which; the client
    address if from a request."""

    name: str
    kind: str
    address: str = ""

    @classmethod
    def from_request(cls, request: Any, *, kind: str) -> Actor:
        return cls(name=request.user.get_username(), kind=kind, address=client_address(request))

    @classmethod
    def admin(cls, request: Any) -> Actor:
        return cls.from_request(request, kind=ActorKind.ADMIN)

    @classmethod
    def v2_api(cls, request: Any) -> Actor:
        return cls.from_request(request, kind=ActorKind.V2_API)

    @classmethod
    def v1_api(cls, request: Any) -> Actor:
        """A tenant changing its own settings on the v1 API (its caps: ``PUT v1/limits``)."""
        return cls.from_request(request, kind=ActorKind.V1_API)

    @classmethod
    def command(cls) -> Actor:
        """The OS user who ran ``manage.py`` (the command line goes in the entry's reason)."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
        return cls(name=name, kind=ActorKind.COMMAND)


SYSTEM = Actor(name="system", kind=ActorKind.SYSTEM)


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The stored values of ``fields`` of ``obj`` (all its concrete fields when None), foreign keys
    as their ids; JSON-ready through ``DjangoJSONEncoder`` (decimals and times as strings)."""
    wanted = None if fields is None else set(fields)
    return {
        field.attname: field.value_from_object(obj)
        for field in obj._meta.concrete_fields
        if wanted is None or field.name in wanted or field.attname in wanted
    }


def target_of(target: models.Model | tuple[str, object]) -> tuple[str, str]:
    """``(type, id)``: a model instance is its ``app_label.model`` and primary key."""
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk)
    kind, ident = target
    return kind, str(ident)


def record(
    *,
    actor: Actor,
    action: AuditAction | str,
    target: models.Model | tuple[str, object],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str = "",
) -> AuditEntry:
    """Append one entry to the audit log: ``actor`` did ``action`` to ``target``, changing it from
    ``before`` to ``after`` (``None`` for a row created or removed)."""
    target_type, target_id = target_of(target)
    return AuditEntry.objects.create(
        actor=actor.name[:150],
        actor_kind=actor.kind,
        action=action,
        target_type=target_type[:64],
        target_id=target_id[:255],
        before=before,
        after=after,
        reason=reason,
        client_address=actor.address[:64],
    )

"""Provider pushes in tests without a worker: a push is stored and acknowledged by the endpoint;
a worker applies it a moment later (``sms.delivery.intake.drain_inbox``). These tests do that
step themselves, where the e2e tests wait for a real worker to."""

from __future__ import annotations

from collections.abc import Callable

from sms.delivery import intake


def apply_stored_pushes() -> int:
    """Apply every stored push, as the worker's drain does; the number of pushes applied."""
    return intake.drain_inbox().pushes


def applied(predicate: Callable[[], bool]) -> bool:
    """For a wait loop: apply what the live service has stored since, then ask ``predicate``."""
    apply_stored_pushes()
    return predicate()

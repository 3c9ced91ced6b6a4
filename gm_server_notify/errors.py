"""Domain errors raised by services; each API family renders them in its own body."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. ``field`` names the offending input, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def describe(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(DomainError):
    """Input that is well-formed but not acceptable (bad phone, content not matching the type)."""


class NotFound(DomainError):
    """An id that names nothing the caller may see."""


class InsufficientBalance(DomainError):
    """The balance cannot cover the send."""


class Conflict(DomainError):
    """The request contradicts the current state."""

"""What every adapter needs to read the providers' wire formats, in one place: Beijing-time and
Unix timestamps, and strict JSON for pushed bodies. (Phone numbers as providers write them are
``providers.numbers``; a provider's HTTP answer is read by ``ProviderAdapter.answer_json``.)"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.utils import timezone

from gm_server_notify.strict_json import strict_json
from providers.base import CallbackParseError

logger = logging.getLogger(__name__)
T = TypeVar("T")


def beijing_time(text: Any) -> dt.datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` in Beijing time (the service's zone) as an aware datetime."""
    try:
        naive = dt.datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return None
    return timezone.make_aware(naive, timezone.get_default_timezone())


def from_unix(value: Any) -> dt.datetime | None:
    """Unix seconds as an aware UTC datetime, or None when it is not one."""
    try:
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def json_body(body: bytes) -> Any:
    """A pushed body as strict JSON; ``CallbackParseError`` saying why when it is not."""
    try:
        return strict_json(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CallbackParseError(f"body is not strict JSON: {exc}") from exc


def each_item(items: Iterable[Any], parse: Callable[[Any], T], *, what: str) -> list[T]:
    """Parse each item of a pushed batch on its own: a malformed item is logged and skipped, so it
    never costs the batch's other items; a batch in which no item parses is a
    ``CallbackParseError``."""
    parsed, errors = [], []
    for item in items:
        try:
            parsed.append(parse(item))
        except CallbackParseError as exc:
            errors.append(str(exc))
    if errors:
        logger.warning("%s: %s malformed item(s) skipped: %s", what, len(errors), errors[0])
        if not parsed:
            raise CallbackParseError(errors[0])
    return parsed
